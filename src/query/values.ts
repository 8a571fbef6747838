/**
 * BSON value helpers over decoded JS values: type detection, the MongoDB cross-type comparison
 * order, deep equality (field order matters, as in MongoDB), safe cloning and safe property access.
 * Pure functions; nothing here touches Object.prototype.
 */
import { Decimal128, Long } from 'bson';
import { LargetableError } from '../errors.ts';

export type Document = { [key: string]: unknown };

/** Keys that are never read or written through ordinary property access. */
export const RESERVED_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

const hasOwn = Object.prototype.hasOwnProperty;

/** Own property or undefined (never walks the prototype chain). */
export function getOwn(obj: object, key: string): unknown {
  return hasOwn.call(obj, key) ? (obj as Record<string, unknown>)[key] : undefined;
}

export function hasOwnKey(obj: object, key: string): boolean {
  return hasOwn.call(obj, key);
}

/** Set an own data property, safely even for the key `__proto__`. */
export function setOwn(obj: object, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
  } else {
    (obj as Record<string, unknown>)[key] = value;
  }
}

export function bsonTypeTag(v: unknown): string | undefined {
  if (v === null || typeof v !== 'object') return undefined;
  const t = (v as { _bsontype?: unknown })._bsontype;
  return typeof t === 'string' ? t : undefined;
}

/** A plain document: a non-array object that is neither a bson value, a Date, a RegExp nor a typed array. */
export function isPlainObject(v: unknown): v is Document {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

export function isNumeric(v: unknown): boolean {
  if (typeof v === 'number' || typeof v === 'bigint') return true;
  const t = bsonTypeTag(v);
  return t === 'Long' || t === 'Decimal128' || t === 'Int32' || t === 'Double';
}

/** Numeric value as a JS double (Long and Decimal128 are approximated). */
export function toDouble(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  const t = bsonTypeTag(v);
  if (t === 'Long') return (v as Long).toNumber();
  if (t === 'Decimal128') return decimalToNumber(v as Decimal128);
  if (t === 'Int32' || t === 'Double') return (v as { value: number }).value;
  return NaN;
}

function decimalToNumber(d: Decimal128): number {
  const s = d.toString();
  if (s === 'NaN' || s === '-NaN') return NaN;
  if (s === 'Infinity') return Infinity;
  if (s === '-Infinity') return -Infinity;
  return parseFloat(s);
}

/** Canonical type rank in MongoDB's BSON comparison order. */
export function typeRank(v: unknown): number {
  if (v === undefined || v === null) return 2;
  switch (typeof v) {
    case 'number':
    case 'bigint':
      return 3;
    case 'string':
      return 4;
    case 'boolean':
      return 9;
    case 'object':
      break;
    default:
      return 100; // functions, symbols: never valid in documents
  }
  if (Array.isArray(v)) return 6;
  if (v instanceof Date) return 10;
  if (v instanceof RegExp) return 12;
  const t = bsonTypeTag(v);
  if (t !== undefined) {
    switch (t) {
      case 'MinKey':
        return 1;
      case 'MaxKey':
        return 14;
      case 'Long':
      case 'Decimal128':
      case 'Int32':
      case 'Double':
        return 3;
      case 'BSONSymbol':
        return 4;
      case 'Binary':
        return 7;
      case 'ObjectId':
        return 8;
      case 'Timestamp':
        return 11;
      case 'BSONRegExp':
        return 12;
      case 'Code':
        return 13;
      case 'DBRef':
        return 5;
      default:
        return 5;
    }
  }
  if (v instanceof Uint8Array) return 7;
  return 5;
}

/** MongoDB $type name of a value (missing => 'missing'). */
export function typeName(v: unknown): string {
  if (v === undefined) return 'missing';
  if (v === null) return 'null';
  switch (typeof v) {
    case 'number':
      return Number.isInteger(v) && !Object.is(v, -0) && v >= -2147483648 && v <= 2147483647 ? 'int' : 'double';
    case 'bigint':
      return 'long';
    case 'string':
      return 'string';
    case 'boolean':
      return 'bool';
    default:
      break;
  }
  if (Array.isArray(v)) return 'array';
  if (v instanceof Date) return 'date';
  if (v instanceof RegExp) return 'regex';
  const t = bsonTypeTag(v);
  switch (t) {
    case undefined:
      return v instanceof Uint8Array ? 'binData' : 'object';
    case 'ObjectId':
      return 'objectId';
    case 'Long':
      return 'long';
    case 'Decimal128':
      return 'decimal';
    case 'Int32':
      return 'int';
    case 'Double':
      return 'double';
    case 'Binary':
      return 'binData';
    case 'BSONRegExp':
      return 'regex';
    case 'Timestamp':
      return 'timestamp';
    case 'MinKey':
      return 'minKey';
    case 'MaxKey':
      return 'maxKey';
    case 'Code':
      return 'javascript';
    case 'BSONSymbol':
      return 'symbol';
    case 'DBRef':
      return 'object';
    default:
      return 'object';
  }
}

/** Compare strings by code point (== UTF-8 byte order, MongoDB's default binary collation). */
export function compareStrings(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) {
      const xs = x >= 0xd800 && x <= 0xdfff;
      const ys = y >= 0xd800 && y <= 0xdfff;
      if (xs !== ys) return xs ? 1 : -1; // a surrogate (>= U+10000) sorts after any BMP unit
      return x < y ? -1 : 1;
    }
  }
  return a.length < b.length ? -1 : a.length > b.length ? 1 : 0;
}

function compareNumbers(a: unknown, b: unknown): number {
  const la = bsonTypeTag(a) === 'Long' || typeof a === 'bigint';
  const lb = bsonTypeTag(b) === 'Long' || typeof b === 'bigint';
  if (la && lb) {
    const x = typeof a === 'bigint' ? a : (a as Long).toBigInt();
    const y = typeof b === 'bigint' ? b : (b as Long).toBigInt();
    return x < y ? -1 : x > y ? 1 : 0;
  }
  const x = toDouble(a);
  const y = toDouble(b);
  // NaN sorts below every other number and equals itself.
  if (Number.isNaN(x)) return Number.isNaN(y) ? 0 : -1;
  if (Number.isNaN(y)) return 1;
  if (x < y) return -1;
  if (x > y) return 1;
  if (x === y && (la || lb) && Number.isInteger(x)) {
    // Exact tie-break when a double equals a Long after rounding.
    const xi = typeof a === 'number' ? (Number.isInteger(a) ? BigInt(a) : undefined) : la ? (typeof a === 'bigint' ? a : (a as Long).toBigInt()) : undefined;
    const yi = typeof b === 'number' ? (Number.isInteger(b) ? BigInt(b) : undefined) : lb ? (typeof b === 'bigint' ? b : (b as Long).toBigInt()) : undefined;
    if (xi !== undefined && yi !== undefined) return xi < yi ? -1 : xi > yi ? 1 : 0;
  }
  return 0;
}

function bytesOf(v: unknown): Uint8Array {
  if (v instanceof Uint8Array) return v;
  const b = v as { buffer?: Uint8Array; id?: Uint8Array };
  if (b.buffer instanceof Uint8Array) return b.buffer;
  return new Uint8Array(0);
}

function compareBytes(x: Uint8Array, y: Uint8Array): number {
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) {
    const d = (x[i] as number) - (y[i] as number);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return x.length < y.length ? -1 : x.length > y.length ? 1 : 0;
}

function regexParts(v: unknown): [string, string] {
  if (v instanceof RegExp) return [v.source, v.flags];
  const r = v as { pattern: string; options: string };
  return [r.pattern, r.options];
}

/** MongoDB's BSON comparison order across types. Returns -1, 0 or 1. */
export function compareValues(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') {
    if (a < b) return -1;
    if (a > b) return 1;
    if (a === b) return 0;
    return Number.isNaN(a) ? (Number.isNaN(b) ? 0 : -1) : 1;
  }
  if (typeof a === 'string' && typeof b === 'string') return compareStrings(a, b);
  const ra = typeRank(a);
  const rb = typeRank(b);
  if (ra !== rb) return ra < rb ? -1 : 1;
  switch (ra) {
    case 1:
    case 2:
    case 14:
      return 0;
    case 3:
      return compareNumbers(a, b);
    case 4:
      return compareStrings(String(a), String(b));
    case 5:
      return compareDocuments(a as Document, b as Document);
    case 6:
      return compareArrays(a as unknown[], b as unknown[]);
    case 7: {
      const x = bytesOf(a);
      const y = bytesOf(b);
      if (x.length !== y.length) return x.length < y.length ? -1 : 1;
      const sa = (a as { sub_type?: number }).sub_type ?? 0;
      const sb = (b as { sub_type?: number }).sub_type ?? 0;
      if (sa !== sb) return sa < sb ? -1 : 1;
      return compareBytes(x, y);
    }
    case 8:
      return compareBytes((a as { id: Uint8Array }).id, (b as { id: Uint8Array }).id);
    case 9:
      return a === b ? 0 : a ? 1 : -1;
    case 10: {
      const x = (a as Date).getTime();
      const y = (b as Date).getTime();
      if (Number.isNaN(x)) return Number.isNaN(y) ? 0 : -1;
      if (Number.isNaN(y)) return 1;
      return x < y ? -1 : x > y ? 1 : 0;
    }
    case 11: {
      const x = (a as Long).toBigInt ? (a as unknown as Long).toBigInt() : 0n;
      const y = (b as Long).toBigInt ? (b as unknown as Long).toBigInt() : 0n;
      return x < y ? -1 : x > y ? 1 : 0;
    }
    case 12: {
      const [pa, fa] = regexParts(a);
      const [pb, fb] = regexParts(b);
      const c = compareStrings(pa, pb);
      return c !== 0 ? c : compareStrings(fa, fb);
    }
    default:
      return compareStrings(String(a), String(b));
  }
}

function compareArrays(a: unknown[], b: unknown[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const c = compareValues(a[i], b[i]);
    if (c !== 0) return c;
  }
  return a.length < b.length ? -1 : a.length > b.length ? 1 : 0;
}

function compareDocuments(a: Document, b: Document): number {
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  const n = Math.min(ka.length, kb.length);
  for (let i = 0; i < n; i++) {
    const x = a[ka[i] as string];
    const y = b[kb[i] as string];
    const rx = typeRank(x);
    const ry = typeRank(y);
    if (rx !== ry) return rx < ry ? -1 : 1;
    const ck = compareStrings(ka[i] as string, kb[i] as string);
    if (ck !== 0) return ck;
    const cv = compareValues(x, y);
    if (cv !== 0) return cv;
  }
  return ka.length < kb.length ? -1 : ka.length > kb.length ? 1 : 0;
}

/**
 * MongoDB equality: numbers equal across numeric types (1 == Long(1)), NaN equals NaN, -0 equals 0,
 * embedded documents equal only with the same fields in the same order. null and missing are NOT
 * equal here (callers handle `{field: null}` matching missing).
 */
export function valuesEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if ((a === undefined) !== (b === undefined)) return false;
  return compareValues(a, b) === 0;
}

/** Deep-clone plain objects and arrays; bson values, Dates and others are shared (treated immutable). */
export function cloneValue<T>(v: T): T {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) {
    const out = new Array(v.length);
    for (let i = 0; i < v.length; i++) out[i] = cloneValue(v[i]);
    return out as T;
  }
  if (v instanceof Date) return new Date(v.getTime()) as T;
  if (!isPlainObject(v)) return v;
  const out: Document = {};
  for (const k of Object.keys(v)) setOwn(out, k, cloneValue((v as Document)[k]));
  return out as T;
}

export function badQuery(message: string, details?: Record<string, unknown>): LargetableError {
  return new LargetableError('BAD_QUERY', message, details ? { details } : {});
}

/** Truthiness in the aggregation sense: false, null, undefined, 0 (any numeric type) are false. */
export function isTruthy(v: unknown): boolean {
  if (v === undefined || v === null || v === false) return false;
  if (isNumeric(v)) {
    const d = toDouble(v);
    return d !== 0;
  }
  return true;
}

export function makeDecimal(n: number): Decimal128 {
  return Decimal128.fromString(String(n));
}
