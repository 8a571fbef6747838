/**
 * Field access on raw BSON without decoding the document: locate top-level fields by their UTF-8
 * name bytes, read scalars in place, and test simple filters (`compileRawFilter`) on the bytes.
 *
 * The raw filter handles a conjunction of top-level fields, each with literal equality or
 * `$eq $gt $gte $lt $lte $in` against numbers, strings and booleans (the common shapes). Its answer
 * is three-valued: true/false when the bytes decide it with exactly the semantics of
 * query/filter.ts on the decoded document, `undefined` when a value it does not read in place is
 * involved (Long, Decimal128, ...): the caller then decodes and runs the full matcher.
 */
import { ObjectId } from 'bson';
import { isPlainObject, type Document } from '../query/values.ts';

const utf8e = new TextEncoder();
const utf8d = new TextDecoder();

export function i32(b: Uint8Array, o: number): number {
  return b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24);
}

/** Byte length of the value of an element of BSON type `t` starting at `o`, or -1 if unknown. */
export function valueLength(b: Uint8Array, t: number, o: number): number {
  switch (t) {
    case 1: // double
    case 9: // date
    case 17: // timestamp
    case 18: // int64
      return 8;
    case 2: // string
    case 13: // code
    case 14: // symbol
      return 4 + i32(b, o);
    case 3: // document
    case 4: // array
    case 15: // code with scope
      return i32(b, o);
    case 5: // binary
      return 5 + i32(b, o);
    case 6: // undefined
    case 10: // null
    case 127: // maxKey
    case 255: // minKey
      return 0;
    case 7: // ObjectId
      return 12;
    case 8: // bool
      return 1;
    case 16: // int32
      return 4;
    case 19: // decimal128
      return 16;
    case 11: {
      // regex: two cstrings
      let e = o;
      while (b[e] !== 0) e++;
      e++;
      while (b[e] !== 0) e++;
      return e + 1 - o;
    }
    case 12: // DBPointer
      return 4 + i32(b, o) + 12;
    default:
      return -1;
  }
}

const f64 = new Float64Array(1);
const f64b = new Uint8Array(f64.buffer);

export function readDouble(b: Uint8Array, o: number): number {
  for (let i = 0; i < 8; i++) f64b[i] = b[o + i]!;
  return f64[0]!;
}

/** True if the NUL-terminated name at `ns` equals `name` (UTF-8 bytes). */
function nameIs(b: Uint8Array, ns: number, name: Uint8Array): boolean {
  const n = name.length;
  for (let i = 0; i < n; i++) if (b[ns + i] !== name[i]) return false;
  return b[ns + n] === 0;
}

/**
 * Offsets of the values of top-level fields `names` (UTF-8 bytes) in the document b[off, off +
 * len) (default: all of b), written to `vo` (value offset in b, -1 when missing) and `ty` (BSON
 * type). Returns false on bytes it cannot walk.
 */
export function locate(b: Uint8Array, names: Uint8Array[], vo: Int32Array, ty: Uint8Array, off = 0, len = b.length): boolean {
  const want = names.length;
  vo.fill(-1, 0, want);
  const end = off + len - 1;
  let o = off + 4;
  let found = 0;
  while (o < end && found < want) {
    const t = b[o]!;
    const ns = o + 1;
    let ne = ns;
    while (b[ne] !== 0) ne++;
    const v = ne + 1;
    const vl = valueLength(b, t, v);
    if (vl < 0 || v + vl > end) return false;
    const nl = ne - ns;
    for (let j = 0; j < want; j++) {
      const nm = names[j]!;
      if (nm.length === nl && vo[j] === -1 && nameIs(b, ns, nm)) {
        vo[j] = v;
        ty[j] = t;
        found++;
        break;
      }
    }
    o = v + vl;
  }
  return true;
}

// ------------------------------------------------------------------ raw filters

/** A scalar test on one value in place: true/false, or undefined when it cannot tell. */
interface ScalarTest {
  num?: (v: number) => boolean;
  /** string value given as bytes [s, e) */
  str?: (b: Uint8Array, s: number, e: number) => boolean;
  bool?: (v: boolean) => boolean;
}

/** A three-valued test of the raw document b[off, off + len) (default: all of b). */
export type RawTest = (b: Uint8Array, off?: number, len?: number) => boolean | undefined;

function wellFormed(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (!(d >= 0xdc00 && d <= 0xdfff)) return false;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) return false;
  }
  return true;
}

function bytesEq(want: Uint8Array): (b: Uint8Array, s: number, e: number) => boolean {
  const n = want.length;
  return (b, s, e) => {
    if (e - s !== n) return false;
    for (let i = 0; i < n; i++) if (b[s + i] !== want[i]) return false;
    return true;
  };
}

function eqScalar(x: unknown): ScalarTest | undefined {
  if (typeof x === 'number') {
    if (Number.isNaN(x)) return { num: (v) => Number.isNaN(v) };
    return { num: (v) => v === x };
  }
  if (typeof x === 'string') return wellFormed(x) ? { str: bytesEq(utf8e.encode(x)) } : undefined;
  if (typeof x === 'boolean') return { bool: (v) => v === x };
  return undefined;
}

function rangeScalar(op: string, x: unknown): ScalarTest | undefined {
  if (typeof x !== 'number') return undefined;
  const acceptEq = op === '$gte' || op === '$lte';
  // NaN equals NaN in query comparisons but is neither greater nor less than any number
  if (Number.isNaN(x)) return { num: (v) => acceptEq && Number.isNaN(v) };
  switch (op) {
    case '$gt':
      return { num: (v) => v > x };
    case '$gte':
      return { num: (v) => v >= x };
    case '$lt':
      return { num: (v) => v < x };
    default:
      return { num: (v) => v <= x };
  }
}

function inScalar(list: unknown): ScalarTest | undefined {
  if (!Array.isArray(list)) return undefined;
  const strings = new Set<string>();
  const numbers = new Set<number>();
  let nan = false;
  const bools = new Set<boolean>();
  for (const x of list) {
    if (typeof x === 'string') {
      if (!wellFormed(x)) return undefined;
      strings.add(x);
    } else if (typeof x === 'number') {
      if (Number.isNaN(x)) nan = true;
      else numbers.add(x === 0 ? 0 : x);
    } else if (typeof x === 'boolean') bools.add(x);
    else return undefined;
  }
  return {
    num: (v) => (Number.isNaN(v) ? nan : numbers.has(v === 0 ? 0 : v)),
    str: strings.size === 0 ? () => false : (b, s, e) => strings.has(utf8d.decode(b.subarray(s, e))),
    bool: (v) => bools.has(v),
  };
}

/**
 * One operator on the value at `o` (type `t`): the value itself and, for an array, each element
 * (filter.ts `anyExpand`). undefined when a value of a type not read in place could decide it.
 */
function testValue(st: ScalarTest, b: Uint8Array, t: number, o: number, top: boolean): boolean | undefined {
  switch (t) {
    case 1:
      return st.num ? st.num(readDouble(b, o)) : false;
    case 16:
      return st.num ? st.num(i32(b, o)) : false;
    case 2:
      return st.str ? st.str(b, o + 4, o + 4 + i32(b, o) - 1) : false;
    case 8:
      return st.bool ? st.bool(b[o] === 1) : false;
    case 10: // null: never equal to / in range of a number, string or boolean
    case 3: // an embedded document neither
      return false;
    case 4: {
      if (!top) return false; // arrays inside arrays are compared whole: never equal to a scalar
      const end = o + i32(b, o) - 1;
      let p = o + 4;
      let unknown = false;
      while (p < end) {
        const et = b[p]!;
        let ne = p + 1;
        while (b[ne] !== 0) ne++;
        const v = ne + 1;
        const len = valueLength(b, et, v);
        if (len < 0) return undefined;
        const r = testValue(st, b, et, v, false);
        if (r === true) return true;
        if (r === undefined) unknown = true;
        p = v + len;
      }
      return unknown ? undefined : false;
    }
    default:
      return undefined;
  }
}

/**
 * A raw test equal to compileFilter(filter).test on the decoded document, or undefined when the
 * filter has a shape the raw test does not cover.
 */
export function compileRawFilter(filter: Document): RawTest | undefined {
  const names: Uint8Array[] = [];
  const tests: ScalarTest[][] = [];
  for (const key of Object.keys(filter)) {
    if (key.length === 0 || key.charCodeAt(0) === 36 || key.includes('.') || key.includes('\0') || !wellFormed(key)) return undefined;
    const cond = filter[key];
    const ops: ScalarTest[] = [];
    if (isPlainObject(cond)) {
      const ks = Object.keys(cond);
      if (ks.length === 0) return undefined;
      for (const op of ks) {
        const arg = cond[op];
        let st: ScalarTest | undefined;
        if (op === '$eq') st = eqScalar(arg);
        else if (op === '$gt' || op === '$gte' || op === '$lt' || op === '$lte') st = rangeScalar(op, arg);
        else if (op === '$in') st = inScalar(arg);
        if (!st) return undefined;
        ops.push(st);
      }
    } else {
      const st = eqScalar(cond);
      if (!st) return undefined;
      ops.push(st);
    }
    names.push(utf8e.encode(key));
    tests.push(ops);
  }
  if (names.length === 0) return undefined;
  const vo = new Int32Array(names.length);
  const ty = new Uint8Array(names.length);
  return (b, off = 0, len = b.length) => {
    if (!locate(b, names, vo, ty, off, len)) return undefined;
    let unknown = false;
    for (let j = 0; j < names.length; j++) {
      const o = vo[j]!;
      const ops = tests[j]!;
      if (o < 0) return false; // missing: never equal to / in range of a number, string or boolean
      const t = ty[j]!;
      for (const st of ops) {
        const r = testValue(st, b, t, o, true);
        if (r === false) return false;
        if (r === undefined) unknown = true;
      }
    }
    return unknown ? undefined : true;
  };
}

/**
 * True if the document holds a value bson decodes as a view of its input (Binary, also inside
 * embedded documents and arrays; code-with-scope and unknown types count as such too).
 */
export function hasBinary(b: Uint8Array): boolean {
  const end = b.length - 1;
  let o = 4;
  while (o < end) {
    const t = b[o]!;
    if (t === 0) {
      o++; // end of an embedded document or array
      continue;
    }
    let ne = o + 1;
    while (b[ne] !== 0) ne++;
    const v = ne + 1;
    if (t === 5 || t === 15) return true;
    if (t === 3 || t === 4) {
      o = v + 4;
      continue;
    }
    const len = valueLength(b, t, v);
    if (len < 0) return true;
    o = v + len;
  }
  return false;
}

/**
 * The value of top-level field `name` (UTF-8 bytes) of the document b[off, off + len) (default:
 * all of b) when it is a double or an int32, else undefined (missing, another type, or bytes it
 * cannot walk).
 */
export function numberField(b: Uint8Array, name: Uint8Array, off = 0, len = b.length): number | undefined {
  const p = numberFieldAt(b, name, off, len);
  return p < 0 ? undefined : numberAt(b, p);
}

/** Where `numberField`'s value is, without reading it: 2 x its offset, + 1 for an int32; -1 when there is none. */
export function numberFieldAt(b: Uint8Array, name: Uint8Array, off: number, len: number): number {
  const end = off + len - 1;
  const nl = name.length;
  let o = off + 4;
  while (o < end) {
    const t = b[o]!;
    const ns = o + 1;
    let ne = ns;
    while (b[ne] !== 0) ne++;
    const v = ne + 1;
    if (ne - ns === nl && nameIs(b, ns, name)) {
      if (t === 1) return 2 * v;
      if (t === 16) return 2 * v + 1;
      return -1;
    }
    const vl = valueLength(b, t, v);
    if (vl < 0) return -1;
    o = v + vl;
  }
  return -1;
}

/** The number at position `p` (>= 0) of `numberFieldAt`. */
export function numberAt(b: Uint8Array, p: number): number {
  return (p & 1) === 1 ? i32(b, (p - 1) / 2) : readDouble(b, p / 2);
}

/**
 * The order of `numberField(...)` against `w` as `compareValues` has it for two numbers (-1, 0 or
 * 1; NaN sorts before every other number), or 2 when the field is not a double or an int32. Read
 * and compared here without a call that takes or returns the double: such a call, not inlined,
 * boxes it in a new heap number (measured at 1M documents: 16 MB per top-k scan through the gate,
 * one per document, with `numberField` + `compareValues` and with helpers for the read and the
 * comparison alike).
 */
export function compareNumberField(b: Uint8Array, name: Uint8Array, off: number, len: number, w: number): number {
  const p = numberFieldAt(b, name, off, len);
  if (p < 0) return 2;
  let x: number;
  // both reads inline: a call's result merged with the double would box the double too
  if ((p & 1) === 1) {
    const o = (p - 1) / 2;
    x = b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24);
  } else {
    const o = p / 2;
    for (let i = 0; i < 8; i++) f64b[i] = b[o + i]!;
    x = f64[0]!;
  }
  if (x < w) return -1;
  if (x > w) return 1;
  if (x === w) return 0;
  return Number.isNaN(x) ? (Number.isNaN(w) ? 0 : -1) : 1;
}

// ------------------------------------------------------------------ fast whole-document decode

const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
/** Thrown inside decodeFast when the bytes hold something it leaves to bson. */
const GIVE_UP = new Error('decodeFast: not handled');

const fc = String.fromCharCode;

/**
 * Scratch char-code arrays by length (9..24): a string of 9 or more characters is built by one
 * `fromCharCode.apply` over them, flat. Built by concatenating 8-character pieces, a string of 13 or
 * more characters is a cons string (V8 makes no flat copy below kMinLength): ~100 B of heap instead of
 * ~32 for a 16-character `_id`, kept as long as the caller keeps the document.
 */
const asciiCodes: number[][] = Array.from({ length: 25 }, (_, n) => new Array<number>(n).fill(0));

/**
 * ASCII strings of up to `shortMax` characters decoded before, by a hash of their bytes: values
 * such as a city, a tag or a status repeat across documents, and a result of 50,000 documents then
 * holds one string per distinct value instead of one per document (~24 B each). V8's JSON.parse
 * shares short strings the same way (it internalizes values of up to 10 characters). Strings are
 * immutable, so sharing one is invisible to the caller.
 */
const shortMax = 10;
const shortSlots = 4096;
const shortCache: string[] = new Array<string>(shortSlots).fill('');
/** Slot i's string as bytes: its length at i * 16, its bytes after it (0: empty slot). */
const shortBytes = new Uint8Array(shortSlots * 16);

/**
 * A runtime's native UTF-8 decoder of b[s, e) that replaces each invalid sequence with U+FFFD
 * and makes a flat string (on Node the native `utf8Slice` of its buffer class, called on a plain Uint8Array), installed by
 * the platform (`installUtf8Slice`); null: `TextDecoder` only (Deno, browsers).
 */
export type Utf8Slice = (b: Uint8Array, s: number, e: number) => string;
let utf8Slice: Utf8Slice | null = null;

/** Installs (or with null removes) the native string decoder; returns the previous one. */
export function installUtf8Slice(f: Utf8Slice | null): Utf8Slice | null {
  const prev = utf8Slice;
  utf8Slice = f;
  return prev;
}

/**
 * b[s, e) decoded strictly (invalid UTF-8 throws a TypeError, as `utf8Strict`), by the native
 * decoder: without a view of the bytes and `TextDecoder`'s wrapper. A string without U+FFFD came
 * from valid bytes (every invalid sequence becomes one); one with it (invalid bytes, or a real
 * U+FFFD) is decoded again strictly. The documents bench's 200-byte strings: ~95 -> ~72 ns.
 */
function strNative(f: Utf8Slice, b: Uint8Array, s: number, e: number): string {
  const r = f(b, s, e);
  return r.indexOf('\uFFFD') === -1 ? r : utf8Strict.decode(b.subarray(s, e));
}

function str(b: Uint8Array, s: number, e: number): string {
  const n = e - s;
  if (n <= shortMax) return shortStr(b, s, e, n);
  const f = utf8Slice;
  if (f !== null) return strNative(f, b, s, e);
  if (n > 24) return utf8Strict.decode(b.subarray(s, e));
  for (let i = s; i < e; i++) if (b[i]! >= 0x80) return utf8Strict.decode(b.subarray(s, e));
  return ascii(b, s, n);
}

/** `str` of 0 < n <= shortMax bytes: the cached string with these bytes, else a new one (cached). */
function shortStr(b: Uint8Array, s: number, e: number, n: number): string {
  // slot by a hash of every byte: values that differ in one byte only ('city07', 'city17') must not
  // share a slot (by the length and three of the bytes, the documents bench's cities and tags did,
  // five or more to a slot, and missed the cache at every other document); the same loop finds a
  // byte that is not ASCII (such a string is never cached)
  let h = n;
  let or = 0;
  for (let i = s; i < e; i++) {
    const c = b[i]!;
    or |= c;
    h = Math.imul(h ^ c, 0x01000193);
  }
  if (or >= 0x80) return utf8Strict.decode(b.subarray(s, e));
  const slot = (Math.imul(h ^ (h >>> 15), 0x9e3779b1) >>> 20) & (shortSlots - 1);
  const at = slot << 4;
  if (shortBytes[at] === n) {
    let i = 0;
    while (i < n && shortBytes[at + 1 + i] === b[s + i]) i++;
    if (i === n) return shortCache[slot]!;
  }
  shortBytes[at] = n;
  for (let i = 0; i < n; i++) shortBytes[at + 1 + i] = b[s + i]!;
  return (shortCache[slot] = ascii(b, s, n));
}

/** The ASCII string of the n (at most 24) bytes from s, flat. */
function ascii(b: Uint8Array, s: number, n: number): string {
  switch (n) {
    case 0:
      return '';
    case 1:
      return fc(b[s]!);
    case 2:
      return fc(b[s]!, b[s + 1]!);
    case 3:
      return fc(b[s]!, b[s + 1]!, b[s + 2]!);
    case 4:
      return fc(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!);
    case 5:
      return fc(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!);
    case 6:
      return fc(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!);
    case 7:
      return fc(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!);
    case 8:
      return fc(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!);
    default: {
      const codes = asciiCodes[n]!;
      for (let i = 0; i < n; i++) codes[i] = b[s + i]!;
      return fc.apply(null, codes);
    }
  }
}

/**
 * Field names seen before, by a hash of their bytes: documents of a collection repeat the same
 * names, and reusing the (internalized) string skips building and internalizing it again.
 */
const nameSlots = 256;
const nameCache: (string | undefined)[] = new Array(nameSlots).fill(undefined);

/** The field name b[s, e) (a cached string when one with these bytes was decoded before). */
function fieldName(b: Uint8Array, s: number, e: number): string {
  const n = e - s;
  if (n > 32) return str(b, s, e);
  let h = n;
  for (let i = s; i < e; i++) {
    const c = b[i]!;
    if (c >= 0x80) return str(b, s, e);
    h = (h * 31 + c) | 0;
  }
  const slot = (h ^ (h >>> 8)) & (nameSlots - 1);
  const cached = nameCache[slot];
  if (cached !== undefined && cached.length === n) {
    let i = 0;
    while (i < n && cached.charCodeAt(i) === b[s + i]) i++;
    if (i === n) return cached;
  }
  const name = str(b, s, e);
  nameCache[slot] = name;
  return name;
}

/**
 * The value of type `t` at `v` (its element ends before `stop`), decoded; its end in `valueEnd`.
 * Throws GIVE_UP on a type or bytes it leaves to bson.
 */
function decodeValue(b: Uint8Array, t: number, v: number, stop: number): unknown {
  let value: unknown;
  let next: number;
  switch (t) {
    case 1:
      value = readDouble(b, v);
      next = v + 8;
      break;
    case 2: {
      const n = i32(b, v);
      if (n <= 0 || v + 4 + n > stop || b[v + 4 + n - 1] !== 0) throw GIVE_UP;
      value = str(b, v + 4, v + 4 + n - 1);
      next = v + 4 + n;
      break;
    }
    case 3:
    case 4:
      value = decodeInto(b, v, t === 4);
      next = v + i32(b, v);
      break;
    case 7:
      value = new ObjectId(b.subarray(v, v + 12));
      next = v + 12;
      break;
    case 8:
      if (b[v] !== 0 && b[v] !== 1) throw GIVE_UP;
      value = b[v] === 1;
      next = v + 1;
      break;
    case 9:
      value = new Date(i32(b, v + 4) * 4294967296 + (i32(b, v) >>> 0));
      next = v + 8;
      break;
    case 10:
      value = null;
      next = v;
      break;
    case 16:
      value = i32(b, v);
      next = v + 4;
      break;
    default:
      throw GIVE_UP;
  }
  if (next > stop) throw GIVE_UP;
  valueEnd = next;
  return value;
}

/** Where the value `decodeValue` decoded last ends (a module variable: no result object per value). */
let valueEnd = 0;

/**
 * Decoded documents are made without object literals: V8 tracks an allocation site per literal
 * and, once most of what one site made survived a scavenge (a query's result held by its caller),
 * allocates everything that site makes in the old generation from then on ("pretenuring"). Every
 * later point read's document then went to the old space, garbage there until a full collection
 * (the documents bench: 20,000 gets after one indexed query grew the old space by ~20 MB).
 * `new PlainObject()` makes the same plain object (prototype Object.prototype) with no such site,
 * so short-lived documents die young.
 */
function PlainObject(this: Document): void {}
PlainObject.prototype = Object.prototype;
const newPlainObject = (): Document => new (PlainObject as unknown as new () => Document)();

function decodeInto(b: Uint8Array, o: number, arr: boolean): Document | unknown[] {
  const size = i32(b, o);
  const stop = o + size - 1;
  if (size < 5 || stop >= b.length || b[stop] !== 0) throw GIVE_UP;
  if (arr) return decodeArray(b, o + 4, stop);
  const out: Document = newPlainObject();
  o += 4;
  while (o < stop) {
    const t = b[o]!;
    const ns = o + 1;
    let ne = ns;
    while (b[ne] !== 0) ne++;
    if (ne >= stop) throw GIVE_UP;
    // '$' names (DBRef promotion) and '__proto__' are bson's to handle
    if (b[ns] === 0x24 || (ne - ns === 9 && b[ns] === 0x5f && b[ns + 1] === 0x5f)) throw GIVE_UP;
    const value = decodeValue(b, t, ne + 1, stop);
    out[fieldName(b, ns, ne)] = value;
    o = valueEnd;
  }
  if (o !== stop) throw GIVE_UP;
  return out;
}

/**
 * The array whose elements run from `o` to `stop`. Up to 4 values are held in locals and leave as
 * one array literal of exactly their count; a longer array grows from a literal of its first 5.
 * (An array grown by stores from [] keeps a backing store of 17 slots for 3 values, for as long as
 * the caller keeps the document.)
 */
function decodeArray(b: Uint8Array, o: number, stop: number): unknown[] {
  let n = 0;
  let v0: unknown, v1: unknown, v2: unknown, v3: unknown;
  let list: unknown[] | undefined;
  while (o < stop) {
    const t = b[o]!;
    let ne = o + 1;
    while (b[ne] !== 0) ne++;
    if (ne >= stop) throw GIVE_UP;
    const value = decodeValue(b, t, ne + 1, stop);
    switch (n) {
      case 0:
        v0 = value;
        break;
      case 1:
        v1 = value;
        break;
      case 2:
        v2 = value;
        break;
      case 3:
        v3 = value;
        break;
      case 4:
        list = [v0, v1, v2, v3, value];
        break;
      default:
        list!.push(value);
    }
    n++;
    o = valueEnd;
  }
  if (o !== stop) throw GIVE_UP;
  switch (n) {
    case 0:
      return [];
    case 1:
      return [v0];
    case 2:
      return [v0, v1];
    case 3:
      return [v0, v1, v2];
    case 4:
      return [v0, v1, v2, v3];
    default:
      return list!;
  }
}

// ------------------------------------------------------------------ top-level shapes

/**
 * A top-level field-name sequence seen repeatedly (documents of a collection mostly share one), with
 * a function that builds the document with one constructor of its own (the fields assigned by name
 * in order, its instances sized for them): a document of a known shape is built along one fixed
 * chain of layouts instead of by one generic keyed store (and layout lookup) per field.
 */
interface Shape {
  /** The names' UTF-8 bytes, one after the other; name j ends at ends[j]. */
  readonly bytes: Uint8Array;
  readonly ends: Int32Array;
  readonly build: (v: unknown[]) => Document;
  /**
   * The whole document decoded in one straight pass compiled for these names (each checked
   * against constant bytes, its value of the type it had when the shape was built read inline,
   * any other type by `decodeValue`), from its first element at `o` to its terminator at `stop`;
   * undefined when the names are not exactly these (the caller walks it field by field).
   * Undefined for shapes whose names are too long to compile so.
   */
  readonly decode: ShapeDecode | undefined;
  /** Set when it builds a document, cleared by a miss on its slot: a shape in use is not replaced. */
  used: boolean;
}

/** Fields a shape has at most, and bytes its names have at most. */
const shapeFieldsMax = 32;
const shapeNameBytesMax = 1024;
const shapeSlots = 64;
const shapes: (Shape | undefined)[] = new Array(shapeSlots).fill(undefined);
/**
 * Misses per slot while its shape (if any) is not in use: a shape is built on the
 * `shapeBuildAfter`-th, so two shapes sharing a slot do not replace each other back and forth.
 */
const shapeMisses = new Int32Array(shapeSlots);
/** Shapes built so far: each further 256 doubles the sightings a new one needs (bounded compile work). */
let shapesBuilt = 0;
/** False once the runtime refuses `Function` (a Content-Security-Policy without 'unsafe-eval'). */
let shapesOn = true;
// per top-level field of the document being decoded: value, name start and end (reused)
const topVals: unknown[] = new Array(shapeFieldsMax).fill(undefined);
const topNs = new Int32Array(shapeFieldsMax);
const topNe = new Int32Array(shapeFieldsMax);

function shapeBuildAfter(): number {
  return 3 << Math.min(12, shapesBuilt >>> 8);
}

/** True if shape `sh` has exactly the `n` names topNs/topNe delimit in `b`. */
function shapeIs(sh: Shape, b: Uint8Array, n: number): boolean {
  const ends = sh.ends;
  if (ends.length !== n) return false;
  const sb = sh.bytes;
  let p = 0;
  for (let j = 0; j < n; j++) {
    const ns = topNs[j]!;
    const len = topNe[j]! - ns;
    if (ends[j]! - p !== len) return false;
    for (let i = 0; i < len; i++) if (sb[p + i] !== b[ns + i]) return false;
    p += len;
  }
  return true;
}

/** A shape for the `n` names (their strings given), or undefined when the runtime refuses to compile one. */
function newShape(b: Uint8Array, n: number, names: string[]): Shape | undefined {
  let total = 0;
  for (let j = 0; j < n; j++) total += topNe[j]! - topNs[j]!;
  const bytes = new Uint8Array(total);
  const ends = new Int32Array(n);
  let p = 0;
  for (let j = 0; j < n; j++) {
    bytes.set(b.subarray(topNs[j]!, topNe[j]!), p);
    p += topNe[j]! - topNs[j]!;
    ends[j] = p;
  }
  // a constructor whose prototype is Object.prototype (a plain object, no allocation site: see
  // PlainObject) assigning the fields in order. JSON.stringify quotes any name as a valid string
  // literal; '__proto__' (the one setter on Object.prototype) and '$' names never get here; a
  // repeated name keeps its first position and its last value, as with decodeInto's assignments
  const args = names.slice(0, n).map((_, j) => `x${j}`).join(', ');
  let src = `function D(${args}) {`;
  for (let j = 0; j < n; j++) src += `this[${JSON.stringify(names[j])}] = x${j};`;
  src += '} D.prototype = Object.prototype;';
  src += `const build = (v) => new D(${names.slice(0, n).map((_, j) => `v[${j}]`).join(', ')});`;
  src += total <= shapeDecodeNameBytesMax ? `const decode = ${shapeDecodeSource(b, n, args)}; return { build, decode };` : 'return { build, decode: undefined };';
  try {
    const made = new Function('h', src)(shapeHelpers) as { build: (v: unknown[]) => Document; decode: ShapeDecode | undefined };
    return { bytes, ends, build: made.build, decode: made.decode, used: false };
  } catch {
    shapesOn = false;
    return undefined;
  }
}

/** A shape's compiled decoder (`Shape.decode`). */
type ShapeDecode = (b: Uint8Array, o: number, stop: number, id: string | undefined) => Document | undefined;

/** Name bytes a shape has at most for a compiled decoder (each name byte is a compare in its code). */
const shapeDecodeNameBytesMax = 256;

/** What a compiled shape decoder calls (`h` in its source). */
const shapeHelpers = {
  i32,
  readDouble,
  str,
  decodeValue,
  isAsciiString,
  valueEnd: (): number => valueEnd,
  giveUp: (): never => {
    throw GIVE_UP;
  },
};

/**
 * Source of `Shape.decode` for the `n` names topNs/topNe delimit in `b` (their types the types
 * there): per field, its name's bytes and terminator compared with constants (a mismatch, or a
 * document that ends first, answers undefined: the caller walks it field by field and finds what
 * it is), then its value: a string, int32, double or date (the type the field had here) read
 * inline with `decodeValue`'s checks, any other type by `decodeValue` itself; the id shortcut
 * for a leading string `_id` as `decodeTop`'s. A document of the shape is then decoded without a
 * scan for each name's end, a compare loop per name, or the scratch array of values.
 */
function shapeDecodeSource(b: Uint8Array, n: number, args: string): string {
  let src = '(b, o, stop, id) => { const i32 = h.i32, str = h.str, dv = h.decodeValue; let t = 0, v = 0, k = 0;';
  for (let j = 0; j < n; j++) {
    const ns = topNs[j]!;
    const ne = topNe[j]!;
    const nl = ne - ns;
    // the element: its type byte at o, the name at o + 1, its terminator at o + 1 + nl (before stop)
    src += `if (o + ${nl + 1} >= stop) return undefined; t = b[o];`;
    const cmp: string[] = [];
    for (let i = 0; i < nl; i++) cmp.push(`b[o + ${i + 1}] !== ${b[ns + i]!}`);
    cmp.push(`b[o + ${nl + 1}] !== 0`);
    src += `if (${cmp.join(' || ')}) return undefined; v = o + ${nl + 2};`;
    const x = `x${j}`;
    const generic = `{ ${x} = dv(b, t, v, stop); o = h.valueEnd(); }`;
    const isId = j === 0 && nl === 3 && b[ns] === 0x5f && b[ns + 1] === 0x69 && b[ns + 2] === 0x64;
    let inline: string;
    switch (b[ns - 1]) {
      case 2:
        inline = `if (t === 2) { k = i32(b, v); if (k <= 0 || v + 4 + k > stop || b[v + 3 + k] !== 0) h.giveUp(); ${x} = str(b, v + 4, v + 3 + k); o = v + 4 + k; } else ${generic}`;
        if (isId) inline = `if (t === 2 && id !== undefined && h.isAsciiString(b, v, stop, id)) { ${x} = id; o = h.valueEnd(); } else ${inline}`;
        break;
      case 16:
        inline = `if (t === 16) { if (v + 4 > stop) h.giveUp(); ${x} = i32(b, v); o = v + 4; } else ${generic}`;
        break;
      case 1:
        inline = `if (t === 1) { if (v + 8 > stop) h.giveUp(); ${x} = h.readDouble(b, v); o = v + 8; } else ${generic}`;
        break;
      case 9:
        inline = `if (t === 9) { if (v + 8 > stop) h.giveUp(); ${x} = new Date(i32(b, v + 4) * 4294967296 + (i32(b, v) >>> 0)); o = v + 8; } else ${generic}`;
        break;
      default:
        inline = generic;
    }
    src += `let ${x}; ${inline}`;
  }
  return `${src} return o === stop ? new D(${args}) : undefined; }`;
}

/**
 * The top-level document at b[off, off + len) (its size checked by the caller); `id`: see
 * `decodeFastAt`.
 */
function decodeTop(b: Uint8Array, off: number, len: number, id: string | undefined): Document {
  const stop = off + len - 1;
  if (b[stop] !== 0) throw GIVE_UP;
  // the common case, one collection's documents one after the other: the last shape used decodes
  // the document in one compiled pass when its names are that shape's
  const last = lastShape;
  if (last !== undefined && last.decode !== undefined) {
    const d = last.decode(b, off + 4, stop, id);
    if (d !== undefined) {
      last.used = true;
      return d;
    }
  }
  // else the names are compared with the last shape used as they are walked; only a mismatch
  // hashes them to find a shape
  const lb = last?.bytes;
  const le = last?.ends;
  let same = last !== undefined;
  let o = off + 4;
  let n = 0;
  let p = 0;
  while (o < stop) {
    if (n === shapeFieldsMax) {
      // too many fields for a shape: decoded again field by field; the scratch drops its values
      topVals.fill(undefined);
      return decodeInto(b, off, false) as Document;
    }
    const t = b[o]!;
    const ns = o + 1;
    let ne = ns;
    while (b[ne] !== 0) ne++;
    if (ne >= stop) throw GIVE_UP;
    // '$' names (DBRef promotion) and '__proto__' are bson's to handle
    if (b[ns] === 0x24 || (ne - ns === 9 && b[ns] === 0x5f && b[ns + 1] === 0x5f)) throw GIVE_UP;
    if (same) {
      const nl = ne - ns;
      if (n >= le!.length || le![n]! - p !== nl) same = false;
      else {
        for (let i = 0; i < nl; i++) {
          if (lb![p + i] !== b[ns + i]) {
            same = false;
            break;
          }
        }
        p += nl;
      }
    }
    // a leading string _id with the bytes of `id` is `id` (no new string; strings are immutable)
    if (n === 0 && id !== undefined && t === 2 && ne - ns === 3 && b[ns] === 0x5f && b[ns + 1] === 0x69 && b[ns + 2] === 0x64 && isAsciiString(b, ne + 1, stop, id)) topVals[0] = id;
    else topVals[n] = decodeValue(b, t, ne + 1, stop);
    topNs[n] = ns;
    topNe[n] = ne;
    n++;
    o = valueEnd;
  }
  if (o !== stop) throw GIVE_UP;
  let out: Document;
  if (same && n === le!.length) {
    out = last!.build(topVals);
    last!.used = true;
  } else out = decodeTopSlow(b, n);
  // the values are the caller's now: the scratch keeps no reference to them
  for (let j = 0; j < n; j++) topVals[j] = undefined;
  return out;
}

/**
 * True when the BSON string value at `v` (its element ends before `stop`) holds exactly the
 * characters of `s`, all ASCII (then its bytes are the string's and nothing else decodes to it);
 * where it ends goes to `valueEnd`, as `decodeValue`'s would.
 */
function isAsciiString(b: Uint8Array, v: number, stop: number, s: string): boolean {
  const n = s.length;
  if (i32(b, v) !== n + 1 || v + 5 + n > stop || b[v + 4 + n] !== 0) return false;
  for (let i = 0; i < n; i++) {
    const c = b[v + 4 + i]!;
    if (c >= 0x80 || c !== s.charCodeAt(i)) return false;
  }
  valueEnd = v + 5 + n;
  return true;
}

/** The shape used last (tried first by the next document). */
let lastShape: Shape | undefined;

/** `decodeTop` of a document whose names are not the last shape's: the shape of its slot, or field by field. */
function decodeTopSlow(b: Uint8Array, n: number): Document {
  let h = 0;
  let nameBytes = 0;
  for (let j = 0; j < n; j++) {
    const ns = topNs[j]!;
    const ne = topNe[j]!;
    for (let i = ns; i < ne; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
    h = Math.imul(h ^ (ne - ns), 0x01000193);
    nameBytes += ne - ns;
  }
  const slot = (h ^ (h >>> 16)) & (shapeSlots - 1);
  const sh = shapes[slot];
  if (sh !== undefined && shapeIs(sh, b, n)) {
    sh.used = true;
    lastShape = sh;
    return sh.build(topVals);
  }
  const out: Document = newPlainObject();
  const names: string[] = [];
  for (let j = 0; j < n; j++) {
    const name = fieldName(b, topNs[j]!, topNe[j]!);
    names.push(name);
    out[name] = topVals[j];
  }
  if (sh !== undefined && sh.used) sh.used = false;
  else if (shapesOn && n > 0 && nameBytes <= shapeNameBytesMax && ++shapeMisses[slot]! >= shapeBuildAfter()) {
    shapeMisses[slot] = 0;
    shapesBuilt++;
    const built = newShape(b, n, names);
    shapes[slot] = built;
    if (built !== undefined) lastShape = built;
  }
  return out;
}

/**
 * The document decoded exactly as bson's deserialize (promoteLongs: false) would, when it holds
 * only doubles, strings, documents, arrays, ObjectIds, booleans, dates, nulls and int32s (the common case);
 * undefined otherwise (the caller decodes with bson). Never returns views of `b`. `id`: see `decodeFastAt`.
 */
export function decodeFast(b: Uint8Array, id?: string): Document | undefined {
  return decodeFastAt(b, 0, b.length, id);
}

/** Where `decodeFastAt` puts the bytes it reads ahead (a use, so that the loads stay). */
let touched = 0;

/**
 * `decodeFast` of the document held in b[off, off + len) (e.g. inside a store block), without a
 * view of it. `id`: a string the document's _id may be (a point read's): when the document's first
 * field is a string _id of exactly its characters, all ASCII, the document gets `id` itself
 * instead of a new string decoded from the bytes (the same value: strings are immutable).
 */
export function decodeFastAt(b: Uint8Array, off: number, len: number, id?: string): Document | undefined {
  if (len < 5 || off + len > b.length || i32(b, off) !== len) return undefined;
  // one byte of every 64-byte line of the document's first 2 KiB first: independent loads that
  // the CPU has in flight together, where the walk reaches each line only through lengths read on
  // the one before (a chain of cache misses on a document read from a random block)
  let t = 0;
  for (let p = off + 64, end = off + (len < 2048 ? len : 2048); p < end; p += 64) t |= b[p]!;
  touched ^= t;
  try {
    return decodeTop(b, off, len, id);
  } catch (e) {
    topVals.fill(undefined); // no value of a document it gave up on stays referenced
    if (e === GIVE_UP || e instanceof TypeError) return undefined;
    throw e;
  }
}
