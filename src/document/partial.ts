/**
 * Partial decoding: decode only the top-level fields a filter (and sort) reads, so scans test most
 * documents without decoding them whole. Safe because a filter's result depends only on the
 * top-level fields its paths start with (filters with $expr/$where/$text/$jsonSchema are excluded).
 */
import { BSON } from 'bson';
import type { Document } from '../query/values.ts';
import { isPlainObject } from '../query/values.ts';
import { i32, readDouble, valueLength } from './bsonraw.ts';

const bsonOptions = { promoteLongs: false } as const;
const utf8 = new TextEncoder();

/** Wanted field names as latin-1 strings of their UTF-8 bytes (compared against raw names). */
export type FieldSet = Set<string>;

function latin1OfUtf8(s: string): string {
  const b = utf8.encode(s);
  let out = '';
  for (let i = 0; i < b.length; i++) out += String.fromCharCode(b[i]!);
  return out;
}

/** Switch for A/B measurements (bench only). */
export const partialDecoding = { enabled: true };

const UNSAFE = new Set(['$expr', '$where', '$text', '$jsonSchema', '$function', '$accumulator']);

function collect(filter: Document, out: Set<string>): boolean {
  for (const [k, v] of Object.entries(filter)) {
    if (k.startsWith('$')) {
      if (k === '$and' || k === '$or' || k === '$nor') {
        if (!Array.isArray(v)) return false;
        for (const f of v) if (!isPlainObject(f) || !collect(f, out)) return false;
        continue;
      }
      if (k === '$comment') continue;
      return false;
    }
    if (containsUnsafe(v)) return false;
    const dot = k.indexOf('.');
    out.add(dot < 0 ? k : k.slice(0, dot));
  }
  return true;
}

function containsUnsafe(v: unknown): boolean {
  if (Array.isArray(v)) return v.some(containsUnsafe);
  if (!isPlainObject(v)) return false;
  for (const [k, x] of Object.entries(v)) if (UNSAFE.has(k) || containsUnsafe(x)) return true;
  return false;
}

/**
 * The top-level fields a filter + sort read, or undefined when partial decoding is not safe or not
 * useful (no fields).
 */
export function partialFields(filter: Document, sort?: Document): FieldSet | undefined {
  if (!partialDecoding.enabled) return undefined;
  const names = new Set<string>();
  if (!collect(filter, names)) return undefined;
  if (sort) for (const k of Object.keys(sort)) names.add(k.split('.')[0]!);
  if (names.size === 0) return undefined;
  const out: FieldSet = new Set();
  for (const n of names) out.add(latin1OfUtf8(n));
  return out;
}

const utf8d = new TextDecoder();

/** Decode only `fields` of a BSON document (simple types inline, others through BSON.deserialize). */
export function decodeFields(bytes: Uint8Array, fields: FieldSet): Document {
  const out: Document = {};
  const end = bytes.length - 1;
  let o = 4;
  let found = 0;
  let mini: [number, number][] | undefined;
  while (o < end && found < fields.size) {
    const t = bytes[o]!;
    const ns = o + 1;
    let ne = ns;
    while (bytes[ne] !== 0) ne++;
    const vo = ne + 1;
    const vl = valueLength(bytes, t, vo);
    // a copy: bson's Binary values are views of its input, which may be a transient store buffer
    if (vl < 0 || vo + vl > end) return BSON.deserialize(bytes.slice(), bsonOptions);
    let name = '';
    for (let i = ns; i < ne; i++) name += String.fromCharCode(bytes[i]!);
    if (fields.has(name)) {
      found++;
      const key = /[^\x00-\x7f]/.test(name) ? utf8d.decode(bytes.subarray(ns, ne)) : name;
      switch (t) {
        case 1:
          setField(out, key, readDouble(bytes, vo));
          break;
        case 2:
          setField(out, key, utf8d.decode(bytes.subarray(vo + 4, vo + vl - 1)));
          break;
        case 16:
          setField(out, key, i32(bytes, vo));
          break;
        case 8:
          setField(out, key, bytes[vo] === 1);
          break;
        case 10:
          setField(out, key, null);
          break;
        case 4: {
          const arr = decodeSimpleArray(bytes, vo, vo + vl);
          if (arr) {
            setField(out, key, arr);
            break;
          }
          (mini ??= []).push([o, vo + vl]);
          break;
        }
        default:
          (mini ??= []).push([o, vo + vl]);
      }
    }
    o = vo + vl;
  }
  if (mini) {
    let total = 5;
    for (const [a, b] of mini) total += b - a;
    const buf = new Uint8Array(total);
    let p = 4;
    for (const [a, b] of mini) {
      buf.set(bytes.subarray(a, b), p);
      p += b - a;
    }
    buf[p] = 0;
    new DataView(buf.buffer).setInt32(0, total, true);
    const rest = BSON.deserialize(buf, bsonOptions);
    for (const k of Object.keys(rest)) setField(out, k, rest[k]);
  }
  return out;
}

/** Arrays of strings / int32 / doubles / booleans / nulls decoded inline; undefined for anything else. */
function decodeSimpleArray(b: Uint8Array, start: number, stop: number): unknown[] | undefined {
  const out: unknown[] = [];
  let o = start + 4;
  const end = stop - 1;
  while (o < end) {
    const t = b[o]!;
    let ne = o + 1;
    while (b[ne] !== 0) ne++;
    const vo = ne + 1;
    switch (t) {
      case 2: {
        const n = i32(b, vo);
        out.push(utf8d.decode(b.subarray(vo + 4, vo + 4 + n - 1)));
        o = vo + 4 + n;
        break;
      }
      case 16:
        out.push(i32(b, vo));
        o = vo + 4;
        break;
      case 1:
        out.push(readDouble(b, vo));
        o = vo + 8;
        break;
      case 8:
        out.push(b[vo] === 1);
        o = vo + 1;
        break;
      case 10:
        out.push(null);
        o = vo;
        break;
      default:
        return undefined;
    }
  }
  return out;
}

function setField(o: Document, k: string, v: unknown): void {
  if (k === '__proto__') Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  else o[k] = v;
}
