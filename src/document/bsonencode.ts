/**
 * A BSON encoder for the common document shapes (plain objects and arrays of strings, numbers,
 * booleans, null, Dates and ObjectIds), writing the same bytes as `BSON.serialize` into one reused
 * scratch buffer and returning an exact-size copy. Anything else (undefined, bigint, Long, Binary,
 * Decimal128, RegExp, Uint8Array, Map, class instances, toBSON, keys with NUL, cycles, very deep
 * or very large documents) makes it give up: the caller then uses `BSON.serialize`, which handles
 * (or refuses) it exactly as before.
 *
 * Why: bson's serializer allocates a frame, a key array and a path Set per nested object and a
 * Long per Date, then copies the result out of its internal buffer into a pooled slice (which the
 * document cache copies once more to own it); inserts spend a large share of their time there.
 */
import { ObjectId } from 'bson';
import { isPlainObject, RESERVED_KEYS } from '../query/values.ts';
import { documentDepthMax } from '../limits.ts';
import { ByteSlab } from './slab.ts';

/** Over this size bson's own buffer (17 MiB) decides what happens. */
const bytesMax = 17 * 1024 * 1024;
/** Deeper than this (documents are refused past 100 levels) bson decides (cycles, errors). */
const depthMax = 200;
/** While `encodeFastValidated` runs: names are checked, and nesting stops below documentDepthMax. */
let validating = false;
let depthLimit = depthMax;
/** The scratch buffer is replaced after use once it grew past this. */
const scratchKeepMax = 1024 * 1024;

const GIVE_UP = new Error('encodeFast: not handled');
const hasOwn = Object.prototype.hasOwnProperty;
const utf8 = new TextEncoder();

/** Where the encoder writes: the scratch, or (`encodeInSlab`) the shared slab's free part. */
let buf: Uint8Array = new Uint8Array(4096);
let dv: DataView = new DataView(buf.buffer);
/** The encoder's scratch buffer (and its view), grown as needed. */
let scratch = buf;
let scratchDv = dv;
/** The end of what the encoder may write in `buf` (its length, or the slab item's window). */
let limit = buf.length;
/** Thrown by `ensure` when a document written in place outgrows its window of the slab. */
const NO_ROOM = new Error('encodeFast: no room in the slab');

function ensure(need: number): void {
  if (need <= limit) return;
  if (buf !== scratch) throw NO_ROOM;
  if (need > bytesMax) throw GIVE_UP;
  let n = buf.length * 2;
  while (n < need) n *= 2;
  const next = new Uint8Array(Math.min(n, bytesMax));
  next.set(buf);
  setScratch(next);
}

function setScratch(b: Uint8Array): void {
  buf = scratch = b;
  dv = scratchDv = new DataView(b.buffer);
  limit = b.length;
}

/** Strings longer than this are written by the native encoder (~5x faster at 200 characters; slower for short ones). */
const utf8LoopMax = 32;

/**
 * A runtime's native UTF-8 encoder: writes `s` into `b` at `o` (lone surrogates as U+FFFD, as
 * `TextEncoder` does; `b` has room for `3 * s.length` bytes there) and returns the bytes written.
 * Installed by the platform (Node: its buffer class's `utf8Write`, called on a plain Uint8Array:
 * no view of the scratch and no result object per string, as `encodeInto` takes and returns);
 * null: `TextEncoder.encodeInto` (Deno, browsers).
 */
export type Utf8Write = (b: Uint8Array, s: string, o: number) => number;
let utf8Write: Utf8Write | null = null;

/** Installs (or with null removes) the native string encoder; returns the previous one. */
export function installUtf8Write(f: Utf8Write | null): Utf8Write | null {
  const prev = utf8Write;
  utf8Write = f;
  return prev;
}

/** `s` (with room for 3 bytes per character at `o`) written natively; returns the end. */
function writeUtf8Native(b: Uint8Array, s: string, o: number): number {
  return o + (utf8Write !== null ? utf8Write(b, s, o) : utf8.encodeInto(s, b.subarray(o)).written);
}

/** UTF-8 bytes of `s` at `o` (lone surrogates as U+FFFD, as TextEncoder does); returns the end. */
function writeUtf8(s: string, o: number): number {
  const n = s.length;
  ensure(o + n * 3 + 1);
  const b = buf;
  if (n > utf8LoopMax) return writeUtf8Native(b, s, o);
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) return writeUtf8Native(b, i === 0 ? s : s.slice(i), o);
    b[o++] = c;
  }
  return o;
}

/** An element name: UTF-8 without NUL, then the terminating 0. */
function writeKey(k: string, o: number): number {
  const n = k.length;
  if (n <= utf8LoopMax) {
    // the common short ASCII name: checked for NUL and written in one pass
    ensure(o + n * 3 + 1);
    const b = buf;
    const o0 = o;
    for (let i = 0; i < n; i++) {
      const c = k.charCodeAt(i);
      if (c === 0) throw GIVE_UP;
      if (c >= 0x80) return writeKeySlow(k, o0);
      b[o++] = c;
    }
    b[o] = 0;
    return o + 1;
  }
  return writeKeySlow(k, o);
}

function writeKeySlow(k: string, o: number): number {
  if (k.includes('\0')) throw GIVE_UP;
  const end = writeUtf8(k, o);
  ensure(end + 1);
  buf[end] = 0;
  return end + 1;
}

/** Element names of the first array indexes, built once (no string per element). */
const indexNames: readonly string[] = Array.from({ length: 256 }, (_, i) => String(i));
function indexName(i: number): string {
  return i < indexNames.length ? indexNames[i]! : String(i);
}

/** A plain object that bson serializes field by field (no `_bsontype`, no `toBSON`). */
function plainDocument(v: unknown): v is Record<string, unknown> {
  return isPlainObject(v) && !('_bsontype' in v) && typeof v['toBSON'] !== 'function';
}

function writeElement(key: string, v: unknown, o: number, depth: number): number {
  // the type byte goes first; the key follows it
  const t = o;
  o = writeKey(key, o + 1);
  switch (typeof v) {
    case 'string': {
      buf[t] = 0x02;
      const start = o + 4;
      const end = writeUtf8(v, start);
      ensure(end + 1);
      dv.setInt32(o, end - start + 1, true);
      buf[end] = 0;
      return end + 1;
    }
    case 'number': {
      ensure(o + 8);
      if (Number.isSafeInteger(v) && v <= 0x7fffffff && v >= -0x80000000 && !Object.is(v, -0)) {
        buf[t] = 0x10;
        dv.setInt32(o, v, true);
        return o + 4;
      }
      buf[t] = 0x01;
      dv.setFloat64(o, v, true);
      return o + 8;
    }
    case 'boolean':
      ensure(o + 1);
      buf[t] = 0x08;
      buf[o] = v ? 1 : 0;
      return o + 1;
    case 'object':
      return writeObjectValue(v, t, o, depth);
    default:
      throw GIVE_UP; // undefined, bigint, symbol, function
  }
}

/**
 * An object value (null, array, Date, ObjectId, embedded document) after its type byte's place
 * `t` and its name: a function of its own, so that `writeElement`, which every field runs, stays
 * short (V8 optimizes a short function after fewer calls, and compiles it faster).
 */
function writeObjectValue(v: object | null, t: number, o: number, depth: number): number {
  if (v === null) {
    buf[t] = 0x0a;
    return o;
  }
  if (Array.isArray(v)) {
    if (Object.getPrototypeOf(v) !== Array.prototype) throw GIVE_UP;
    buf[t] = 0x04;
    return writeArray(v, o, depth + 1);
  }
  if (v instanceof Date) {
    const ms = v.getTime();
    if (!Number.isFinite(ms) || Object.getPrototypeOf(v) !== Date.prototype) throw GIVE_UP;
    ensure(o + 8);
    buf[t] = 0x09;
    const hi = Math.floor(ms / 4294967296);
    dv.setUint32(o, ms - hi * 4294967296, true);
    dv.setInt32(o + 4, hi, true);
    return o + 8;
  }
  if (v instanceof ObjectId) {
    ensure(o + 12);
    buf[t] = 0x07;
    // bson's own (untyped) writer of the 12 bytes, as BSON.serialize calls it; `id` copies
    const w = (v as unknown as { serializeInto?: (b: Uint8Array, i: number) => number }).serializeInto;
    if (typeof w === 'function') {
      if (w.call(v, buf, o) !== 12) throw GIVE_UP;
    } else {
      const id = v.id;
      if (id.length !== 12) throw GIVE_UP;
      buf.set(id, o);
    }
    return o + 12;
  }
  if (!plainDocument(v)) throw GIVE_UP;
  buf[t] = 0x03;
  return writeObject(v, o, depth + 1);
}

function writeObject(doc: Record<string, unknown>, o: number, depth: number): number {
  if (depth > depthLimit) throw GIVE_UP;
  const start = o;
  ensure(o + 5);
  o += 4;
  // for-in over own names (bson's Object.keys order): no key array per object (V8 walks the
  // shape's cached names; an inherited enumerable name is skipped, as Object.keys leaves it out)
  for (const k in doc) {
    if (!hasOwn.call(doc, k)) continue;
    // validating: a name validateDocument refuses ('$' first, or reserved); NUL writeKey refuses
    if (validating && (k.charCodeAt(0) === 36 || ((k.length === 9 || k.length === 11) && RESERVED_KEYS.has(k)))) throw GIVE_UP;
    o = writeElement(k, doc[k], o, depth);
  }
  ensure(o + 1);
  buf[o++] = 0;
  dv.setInt32(start, o - start, true);
  return o;
}

function writeArray(a: unknown[], o: number, depth: number): number {
  if (depth > depthLimit) throw GIVE_UP;
  const start = o;
  ensure(o + 5);
  o += 4;
  for (let i = 0; i < a.length; i++) o = writeElement(indexName(i), a[i], o, depth);
  ensure(o + 1);
  buf[o++] = 0;
  dv.setInt32(start, o - start, true);
  return o;
}

/**
 * The BSON bytes of `doc` (a private, exact-size Uint8Array), equal to `BSON.serialize(doc)`; or
 * undefined when the document holds something this encoder leaves to bson.
 */
export function encodeFast(doc: object): Uint8Array | undefined {
  return encodeFastTo(doc, false);
}

/**
 * Short encodings of `encodeFastShared` are views into a shared slab instead of arrays of their
 * own: a short-lived ArrayBuffer costs its malloc'd, zeroed backing store and its release after
 * GC (measured ~1.7 us of CPU per 400-byte array on the bench VM, much of it fresh pages faulted
 * in). Nothing writes into a slab's used part again; a slab lives while any view of it does.
 */
const slab = new ByteSlab(32 * 1024);
const slabItemMax = 4 * 1024;

/**
 * `encodeFast`, but the bytes may be a read-only view into a larger shared buffer (when short):
 * for callers that hold them only while a write is staged and committed (whoever keeps them
 * longer copies them, as the document cache does with views).
 */
export function encodeFastShared(doc: object, room = 0, reserved?: Reserved): Uint8Array | undefined {
  return encodeFastTo(doc, true, room, reserved);
}

/**
 * `encodeFastShared` of a document that is also checked as `validateDocument` checks it, in the
 * same pass: undefined unless the document is one this encoder writes and validateDocument plainly
 * accepts (no field name starting with '$', reserved or holding NUL, no nesting at
 * documentDepthMax). The encoder writes only values validateDocument accepts; the size limit
 * and the `_id` rules (not an array) are the caller's. On undefined the caller validates (which
 * throws the exact refusal) and encodes the usual way: one walk of the document instead of two.
 */
export function encodeFastValidated(doc: object, room = 0, reserved?: Reserved): Uint8Array | undefined {
  validating = true;
  depthLimit = documentDepthMax - 1;
  try {
    return encodeFastTo(doc, true, room, reserved);
  } finally {
    validating = false;
    depthLimit = depthMax;
  }
}

/**
 * Where `encodeFastShared` and `encodeFastValidated` put the room they reserved before the bytes
 * they return (0: none; `room` when the bytes are a view into a shared slab): those bytes of the
 * same buffer are the caller's to fill (e.g. a record header, so that header and document are one
 * contiguous value). The caller owns it and reuses it (no object per encode).
 */
export interface Reserved {
  room: number;
}

function encodeFastTo(doc: object, shared: boolean, room = 0, reserved?: Reserved): Uint8Array | undefined {
  if (reserved !== undefined) reserved.room = 0;
  if (!plainDocument(doc)) return undefined;
  let out: Uint8Array | undefined;
  try {
    if (shared && !lastLarge) {
      out = encodeInSlab(doc, room);
      if (out !== undefined) {
        if (reserved !== undefined) reserved.room = room;
        return out;
      }
    }
    const end = writeObject(doc, 0, 0);
    if (shared) lastLarge = end + room > slabItemMax;
    if (shared && !lastLarge) {
      out = slab.copy(buf, end, room);
      if (reserved !== undefined) reserved.room = room;
    } else out = buf.slice(0, end);
  } catch (err) {
    if (err !== GIVE_UP) throw err;
  }
  if (buf.length > scratchKeepMax) setScratch(new Uint8Array(4096));
  return out;
}

/**
 * The last document encoded into the scratch did not fit a slab item: the next goes there too
 * without a try in place (a run of large documents is not written twice each).
 */
let lastLarge = false;

/** The DataView of the slab array the encoder wrote into last (one per slab, not per document). */
let slabDv: DataView | undefined;
let slabDvOf: Uint8Array | undefined;

/**
 * The document written straight into the slab's free part, after `room` reserved bytes: no copy
 * out of the scratch (and no view of it to copy from). Undefined when it does not fit what is left
 * of the slab (or slabItemMax with its room): then the caller encodes into the scratch (copied into
 * a new slab). What a failed try wrote lies past the slab's used part, which only `copy` hands out
 * (overwriting it): never read.
 */
function encodeInSlab(doc: Record<string, unknown>, room: number): Uint8Array | undefined {
  const s = slab.current();
  const from = slab.freeAt();
  const at = from + room;
  if (at + 5 > s.length) return undefined;
  if (slabDvOf !== s) {
    slabDv = new DataView(s.buffer, s.byteOffset, s.byteLength);
    slabDvOf = s;
  }
  buf = s;
  dv = slabDv!;
  limit = Math.min(s.length, from + slabItemMax);
  try {
    return slab.claim(at, writeObject(doc, at, 0));
  } catch (err) {
    if (err !== NO_ROOM) throw err;
    return undefined;
  } finally {
    buf = scratch;
    dv = scratchDv;
    limit = scratch.length;
  }
}
