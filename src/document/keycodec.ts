/**
 * Order-preserving, self-delimiting byte encoding of BSON values (docs/FORMAT.md, "Documents").
 *
 * Invariant: for values a, b of the index-comparable kinds, compareBytes(encode(a), encode(b)) has
 * the sign of MongoDB's BSON comparison (type bracket first, then value). Every encoding is
 * prefix-free, so encodings can be concatenated (compound keys + _id) and the bytewise complement of
 * an encoding sorts in reverse (descending index fields).
 *
 * Numbers of every BSON kind (int32, double, Long, Decimal128) share one bracket and are compared as
 * float64 (NaN below -Infinity, -0 == 0); Longs beyond 2^53 and Decimal128 may tie with a neighbour,
 * which is why index scans are always re-checked against the filter.
 */
import { Binary, Code, Decimal128, Long, MaxKey, MinKey, ObjectId, Timestamp, BSONRegExp, Double, Int32 } from 'bson';

export const Tag = {
  minKey: 0x05,
  nul: 0x0a,
  number: 0x14,
  string: 0x1e,
  object: 0x28,
  array: 0x32,
  binary: 0x3c,
  objectId: 0x46,
  boolFalse: 0x50,
  boolTrue: 0x51,
  date: 0x5a,
  timestamp: 0x64,
  regex: 0x6e,
  code: 0x73,
  maxKey: 0x78,
} as const;

/** Growable byte buffer used by the encoders. */
export class ByteWriter {
  buf: Uint8Array;
  len = 0;
  constructor(capacity = 64) {
    this.buf = new Uint8Array(capacity);
  }
  ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }
  byte(b: number): void {
    this.ensure(1);
    this.buf[this.len++] = b;
  }
  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }
  u32(v: number): void {
    this.ensure(4);
    const b = this.buf;
    b[this.len++] = (v >>> 24) & 0xff;
    b[this.len++] = (v >>> 16) & 0xff;
    b[this.len++] = (v >>> 8) & 0xff;
    b[this.len++] = v & 0xff;
  }
  finish(): Uint8Array {
    return this.len === this.buf.length ? this.buf : this.buf.slice(0, this.len);
  }
}

const f64 = new Float64Array(1);
const f64b = new Uint8Array(f64.buffer);
const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function writeOrderedDouble(w: ByteWriter, x: number): void {
  if (Number.isNaN(x)) {
    // NaN sorts below every number: all-zero body is below the encoding of -Infinity.
    w.ensure(8);
    for (let i = 0; i < 8; i++) w.buf[w.len++] = 0;
    return;
  }
  f64[0] = x === 0 ? 0 : x;
  w.ensure(8);
  const neg = (f64b[littleEndian ? 7 : 0]! & 0x80) !== 0;
  for (let i = 0; i < 8; i++) {
    const b = f64b[littleEndian ? 7 - i : i]!;
    w.buf[w.len++] = neg ? ~b & 0xff : i === 0 ? b ^ 0x80 : b;
  }
}

/**
 * writeValue of a number, or of an ASCII string of up to `asciiMax` characters, into
 * out[o, ...) (room for 9 bytes, or the string's length + 2): the same bytes, written with no
 * call per byte. Returns the end, or -1 (nothing written that counts) for any other value.
 * For building many short keys in unoptimized code (an insert's index entries).
 */
export function writeScalarInto(out: Uint8Array, o: number, v: unknown, asciiMax: number): number {
  if (typeof v === 'number') {
    out[o++] = Tag.number;
    if (v !== v) {
      for (let i = 0; i < 8; i++) out[o++] = 0;
      return o;
    }
    f64[0] = v === 0 ? 0 : v;
    if (littleEndian) {
      const neg = (f64b[7]! & 0x80) !== 0;
      if (neg) for (let i = 7; i >= 0; i--) out[o++] = ~f64b[i]! & 0xff;
      else {
        out[o++] = f64b[7]! ^ 0x80;
        for (let i = 6; i >= 0; i--) out[o++] = f64b[i]!;
      }
      return o;
    }
    const neg = (f64b[0]! & 0x80) !== 0;
    if (neg) for (let i = 0; i < 8; i++) out[o++] = ~f64b[i]! & 0xff;
    else {
      out[o++] = f64b[0]! ^ 0x80;
      for (let i = 1; i < 8; i++) out[o++] = f64b[i]!;
    }
    return o;
  }
  if (typeof v !== 'string' || v.length > asciiMax) return -1;
  out[o++] = Tag.string;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c >= 0x80) return -1;
    out[o++] = c + 1;
  }
  out[o++] = 0;
  return o;
}

function readOrderedDouble(b: Uint8Array, o: number): number {
  let allZero = true;
  for (let i = 0; i < 8; i++) if (b[o + i] !== 0) allZero = false;
  if (allZero) return NaN;
  const neg = (b[o]! & 0x80) === 0;
  for (let i = 0; i < 8; i++) {
    const v = b[o + i]!;
    f64b[littleEndian ? 7 - i : i] = neg ? ~v & 0xff : i === 0 ? v ^ 0x80 : v;
  }
  return f64[0]!;
}

/** Strings: each UTF-16 code unit as 1..3 order-preserving bytes, lead byte never 0; 0x00 ends. */
function writeString(w: ByteWriter, s: string): void {
  w.ensure(s.length * 3 + 1);
  const buf = w.buf;
  let n = w.len;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    // code point order (UTF-8 byte order): surrogates sort above U+E000..U+FFFF
    if (c >= 0xd800) c = c < 0xe000 ? c + 0x2000 : c - 0x800;
    if (c < 0x80) buf[n++] = c + 1;
    else if (c < 0x4000) {
      buf[n++] = 0x81 + (c >>> 8);
      buf[n++] = c & 0xff;
    } else {
      buf[n++] = 0xc1;
      buf[n++] = c >>> 8;
      buf[n++] = c & 0xff;
    }
  }
  buf[n++] = 0;
  w.len = n;
}

function readString(b: Uint8Array, o: number): [string, number] {
  let s = '';
  for (;;) {
    const lead = b[o++]!;
    if (lead === 0) return [s, o];
    if (lead <= 0x80) s += String.fromCharCode(lead - 1);
    else if (lead < 0xc1) {
      s += String.fromCharCode(((lead - 0x81) << 8) | b[o]!);
      o += 1;
    } else {
      let c = (b[o]! << 8) | b[o + 1]!;
      if (c >= 0xd800) c = c >= 0xf800 ? c - 0x2000 : c + 0x800;
      s += String.fromCharCode(c);
      o += 2;
    }
  }
}

function bsonType(v: object): string | undefined {
  return (v as { _bsontype?: string })._bsontype;
}

/** Numeric value of any BSON number kind, or undefined. */
export function numericValue(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (v !== null && typeof v === 'object') {
    const t = bsonType(v);
    if (t === 'Long') return (v as Long).toNumber();
    if (t === 'Double') return (v as Double).value;
    if (t === 'Int32') return (v as Int32).value;
    if (t === 'Decimal128') return Number.parseFloat((v as Decimal128).toString());
  }
  return undefined;
}

/** Type bracket tag of a value (missing/undefined count as null). */
export function tagOf(v: unknown): number {
  if (v === null || v === undefined) return Tag.nul;
  switch (typeof v) {
    case 'number':
    case 'bigint':
      return Tag.number;
    case 'string':
      return Tag.string;
    case 'boolean':
      return v ? Tag.boolTrue : Tag.boolFalse;
    case 'object':
      break;
    default:
      return Tag.nul;
  }
  if (Array.isArray(v)) return Tag.array;
  if (v instanceof Date) return Tag.date;
  if (v instanceof RegExp) return Tag.regex;
  if (v instanceof Uint8Array) return Tag.binary;
  switch (bsonType(v)) {
    case 'Long':
    case 'Double':
    case 'Int32':
    case 'Decimal128':
      return Tag.number;
    case 'ObjectId':
      return Tag.objectId;
    case 'Binary':
      return Tag.binary;
    case 'Timestamp':
      return Tag.timestamp;
    case 'BSONRegExp':
      return Tag.regex;
    case 'MinKey':
      return Tag.minKey;
    case 'MaxKey':
      return Tag.maxKey;
    case 'BSONSymbol':
      return Tag.string;
    case 'Code':
      return Tag.code;
    default:
      return Tag.object;
  }
}

/** Append the encoding of `v` (tag + body). */
export function writeValue(w: ByteWriter, v: unknown): void {
  const tag = tagOf(v);
  w.byte(tag);
  switch (tag) {
    case Tag.nul:
    case Tag.minKey:
    case Tag.maxKey:
    case Tag.boolFalse:
    case Tag.boolTrue:
      return;
    case Tag.number:
      writeOrderedDouble(w, numericValue(v)!);
      return;
    case Tag.string:
      writeString(w, typeof v === 'string' ? v : String((v as { value: string }).value));
      return;
    case Tag.objectId: {
      const id = (v as ObjectId).id;
      w.bytes(id);
      return;
    }
    case Tag.date: {
      const t = (v as Date).getTime();
      writeOrderedDouble(w, Number.isNaN(t) ? NaN : t);
      return;
    }
    case Tag.timestamp: {
      const ts = v as Timestamp;
      w.u32(ts.high >>> 0);
      w.u32(ts.low >>> 0);
      return;
    }
    case Tag.binary: {
      const bin = v instanceof Uint8Array ? v : (v as Binary).buffer.subarray(0, (v as Binary).position);
      const sub = v instanceof Uint8Array ? 0 : (v as Binary).sub_type;
      w.u32(bin.length);
      w.byte(sub);
      w.bytes(bin);
      return;
    }
    case Tag.regex: {
      const re = v instanceof RegExp ? { pattern: v.source, options: v.flags } : (v as BSONRegExp);
      writeString(w, re.pattern);
      writeString(w, re.options);
      return;
    }
    case Tag.code:
      writeString(w, String((v as { code: unknown }).code));
      return;
    case Tag.array: {
      for (const el of v as unknown[]) writeValue(w, el);
      w.byte(0);
      return;
    }
    case Tag.object: {
      // MongoDB compares objects field by field: value type, then field name, then value.
      const o = v as Record<string, unknown>;
      for (const k of Object.keys(o)) {
        const fv = o[k];
        if (fv === undefined) continue;
        const start = w.len;
        writeValue(w, fv);
        // move the tag in front of the name: re-encode as tag, name, body
        const enc = w.buf.slice(start, w.len);
        w.len = start;
        w.byte(enc[0]!);
        writeString(w, k);
        w.bytes(enc.subarray(1));
      }
      w.byte(0);
      return;
    }
  }
}

export function encodeValue(v: unknown): Uint8Array {
  const w = new ByteWriter(32);
  writeValue(w, v);
  return w.finish();
}

/** Decode one value at `o`; returns [value, nextOffset]. `flip` complements bytes (descending). */
export function readValue(src: Uint8Array, o: number, flip = false): [unknown, number] {
  const b = flip ? complementFrom(src, o) : src;
  const start = flip ? 0 : o;
  const [v, end] = readValueAt(b, start);
  return [v, flip ? o + end : end];
}

function complementFrom(src: Uint8Array, o: number): Uint8Array {
  const out = new Uint8Array(src.length - o);
  for (let i = 0; i < out.length; i++) out[i] = ~src[o + i]! & 0xff;
  return out;
}

function readValueAt(b: Uint8Array, o: number): [unknown, number] {
  const tag = b[o++];
  switch (tag) {
    case Tag.nul:
      return [null, o];
    case Tag.minKey:
      return [new MinKey(), o];
    case Tag.maxKey:
      return [new MaxKey(), o];
    case Tag.boolFalse:
      return [false, o];
    case Tag.boolTrue:
      return [true, o];
    case Tag.number:
      return [readOrderedDouble(b, o), o + 8];
    case Tag.string:
      return readString(b, o);
    case Tag.objectId:
      return [new ObjectId(b.slice(o, o + 12)), o + 12];
    case Tag.date:
      return [new Date(readOrderedDouble(b, o)), o + 8];
    case Tag.timestamp: {
      const high = ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
      const low = ((b[o + 4]! << 24) | (b[o + 5]! << 16) | (b[o + 6]! << 8) | b[o + 7]!) >>> 0;
      return [new Timestamp({ t: high, i: low }), o + 8];
    }
    case Tag.binary: {
      const len = ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
      const sub = b[o + 4]!;
      return [new Binary(b.slice(o + 5, o + 5 + len), sub), o + 5 + len];
    }
    case Tag.regex: {
      const [p, o1] = readString(b, o);
      const [f, o2] = readString(b, o1);
      return [new BSONRegExp(p, f), o2];
    }
    case Tag.code: {
      const [c, n] = readString(b, o);
      return [new Code(c), n];
    }
    case Tag.array: {
      const arr: unknown[] = [];
      while (b[o] !== 0) {
        const [v, n] = readValueAt(b, o);
        arr.push(v);
        o = n;
      }
      return [arr, o + 1];
    }
    case Tag.object: {
      const obj: Record<string, unknown> = {};
      while (b[o] !== 0) {
        const t = b[o]!;
        const [k, n] = readString(b, o + 1);
        // reassemble tag + body into a contiguous view for the recursive read
        const tmp = new Uint8Array(1 + b.length - n);
        tmp[0] = t;
        tmp.set(b.subarray(n), 1);
        const [v, end] = readValueAt(tmp, 0);
        Object.defineProperty(obj, k, { value: v, enumerable: true, writable: true, configurable: true });
        o = n + end - 1;
      }
      return [obj, o + 1];
    }
    default:
      throw new Error(`assertion failed: unknown key tag ${tag}`);
  }
}

export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

/** Smallest byte string greater than every string with prefix `p` (undefined: none exists). */
export function prefixEnd(p: Uint8Array): Uint8Array | undefined {
  const out = p.slice();
  for (let i = out.length - 1; i >= 0; i--) {
    if (out[i] !== 0xff) {
      out[i]!++;
      return out.subarray(0, i + 1);
    }
  }
  return undefined;
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function complement(b: Uint8Array): Uint8Array {
  const out = new Uint8Array(b.length);
  for (let i = 0; i < b.length; i++) out[i] = ~b[i]! & 0xff;
  return out;
}

/** Latin-1 string of bytes, used as a Map key. */
/** bytesKey's argument lists for keys up to 64 bytes, one per length (reused: `apply` copies them). */
const charScratch: number[][] = [];

export function bytesKey(b: Uint8Array): string {
  // one flat string (a concatenation loop builds a rope that every Map lookup has to flatten)
  const n = b.length;
  if (n <= 64) {
    // `apply` with a typed array first copies it into a new list; a plain array of small
    // integers it reads as it is (measured ~1.5x faster, and no garbage per key)
    let s = charScratch[n];
    if (s === undefined) charScratch[n] = s = new Array<number>(n).fill(0);
    for (let i = 0; i < n; i++) s[i] = b[i]!;
    return String.fromCharCode.apply(null, s);
  }
  if (b.length <= 4096) return String.fromCharCode.apply(null, b as unknown as number[]);
  let s = '';
  for (let i = 0; i < b.length; i += 4096) s += String.fromCharCode.apply(null, b.subarray(i, i + 4096) as unknown as number[]);
  return s;
}

export function keyBytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}
