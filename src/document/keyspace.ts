/**
 * The document layer's keyspace inside the byte store (docs/FORMAT.md, "Documents").
 *
 *   0x01                                   -> format version (1 byte)
 *   0x02                                   -> catalog (BSON)
 *   0x03 collId:u32                        -> collection counters (BSON {count, bytes})
 *   0x10 collId:u32 enc(_id)               -> document (BSON)
 *   0x11 indexId:u32 enc(k1)..enc(kn) enc(_id) -> enc(_id)          (desc fields complemented)
 *   0x12 indexId:u32 ...                   -> plugin-private state
 *   0x04                                   -> last change-log sequence number (u64)
 *   0x13 slot:u32                          -> change log ring entry (seq:u64 + record), slot = seq % changeLogEntriesMax
 */
import { ObjectId } from 'bson';
import { ByteWriter, prefixEnd, Tag, writeValue } from './keycodec.ts';
import { ByteSlab } from './slab.ts';

export const documentFormatVersion = 1;

export const Prefix = {
  version: 0x01,
  catalog: 0x02,
  counters: 0x03,
  document: 0x10,
  index: 0x11,
  plugin: 0x12,
  changeLog: 0x13,
  changeSeq: 0x04,
} as const;

export const versionKey = Uint8Array.of(Prefix.version);
export const catalogKey = Uint8Array.of(Prefix.catalog);

function withId(prefix: number, id: number, extra = 0): ByteWriter {
  const w = new ByteWriter(16 + extra);
  w.byte(prefix);
  w.u32(id);
  return w;
}

export function countersKey(collId: number): Uint8Array {
  return withId(Prefix.counters, collId).finish();
}

export function collectionPrefix(collId: number): Uint8Array {
  return withId(Prefix.document, collId).finish();
}

export function documentKey(collId: number, encodedId: Uint8Array): Uint8Array {
  const out = new Uint8Array(documentKeyPrefixBytes + encodedId.length);
  out[0] = Prefix.document;
  setDocumentKeyCollection(out, collId);
  out.set(encodedId, documentKeyPrefixBytes);
  return out;
}

/** Bytes of a document key before the encoded _id (prefix, collection id). */
export const documentKeyPrefixBytes = 5;

/** Writes the collection id of document key `key` (e.g. one built for collection 0 before the collection was known). */
export function setDocumentKeyCollection(key: Uint8Array, collId: number): void {
  key[1] = (collId >>> 24) & 0xff;
  key[2] = (collId >>> 16) & 0xff;
  key[3] = (collId >>> 8) & 0xff;
  key[4] = collId & 0xff;
}

/** Document keys of inserts: views into shared slabs (see `documentKeyOf`). */
const keySlab = new ByteSlab(16 * 1024);

/**
 * `documentKey(collId, encodeId(id))` in one allocation when `id` is an ASCII string (the point
 * read's common case); the same bytes either way. With `shared`, such a key is a view into a
 * shared slab instead (no ArrayBuffer and backing store of its own: ~160 bytes of garbage less per
 * insert): for keys held only while a write is staged and committed (an insert's: the store
 * copies the keys it writes; whoever keeps one longer copies it). The caller may write into it
 * (`setDocumentKeyCollection`).
 */
export function documentKeyOf(collId: number, id: unknown, shared = false): Uint8Array {
  if (typeof id === 'string' && id.length <= 256) {
    const n = id.length;
    const out = shared ? keySlab.take(n + 7) : new Uint8Array(n + 7);
    let i = 0;
    for (; i < n; i++) {
      const c = id.charCodeAt(i);
      if (c >= 0x80) break;
      out[i + 6] = c + 1;
    }
    if (i === n) {
      out[0] = Prefix.document;
      out[1] = (collId >>> 24) & 0xff;
      out[2] = (collId >>> 16) & 0xff;
      out[3] = (collId >>> 8) & 0xff;
      out[4] = collId & 0xff;
      out[5] = Tag.string;
      return out; // out[n + 6] = 0: the string's terminator
    }
  }
  return documentKey(collId, encodeId(id));
}

/** `documentKeyScratch`'s buffer (an ASCII string _id of up to 256 characters, or an ObjectId) and its views by length. */
const scratchBuf = new Uint8Array(256 + 7);
const scratchViews: (Uint8Array | undefined)[] = [];

/**
 * `documentKeyOf(collId, id)` written into one reused buffer when `id` is an ASCII string or an
 * ObjectId (a view of it, valid until the next call: for a synchronous probe of the store, which
 * keeps no key it is asked for; copy it to keep it or to await with it), else a new array. Spares
 * a point read the allocation of its key.
 */
export function documentKeyScratch(collId: number, id: unknown): Uint8Array {
  let n: number;
  const out = scratchBuf;
  if (typeof id === 'string') {
    n = id.length;
    if (n > 256) return documentKeyOf(collId, id);
    for (let i = 0; i < n; i++) {
      const c = id.charCodeAt(i);
      if (c >= 0x80) return documentKeyOf(collId, id);
      out[i + 6] = c + 1;
    }
    out[5] = Tag.string;
    out[n + 6] = 0; // the string's terminator
    n += 7;
  } else if (id instanceof ObjectId) {
    const b = id.id;
    if (b.length !== 12) return documentKeyOf(collId, id);
    out[5] = Tag.objectId;
    out.set(b, 6);
    n = 18;
  } else return documentKeyOf(collId, id);
  out[0] = Prefix.document;
  out[1] = (collId >>> 24) & 0xff;
  out[2] = (collId >>> 16) & 0xff;
  out[3] = (collId >>> 8) & 0xff;
  out[4] = collId & 0xff;
  return (scratchViews[n] ??= out.subarray(0, n));
}

export function encodeId(id: unknown): Uint8Array {
  // fast path: an ASCII string _id (tag, chars + 1, terminator), exactly what writeValue writes
  if (typeof id === 'string' && id.length <= 256) {
    const out = new Uint8Array(id.length + 2);
    out[0] = Tag.string;
    let ascii = true;
    for (let i = 0; i < id.length; i++) {
      const c = id.charCodeAt(i);
      if (c >= 0x80) {
        ascii = false;
        break;
      }
      out[i + 1] = c + 1;
    }
    if (ascii) return out;
  }
  const w = new ByteWriter(16);
  writeValue(w, id);
  return w.finish();
}

export function indexPrefix(indexId: number): Uint8Array {
  return withId(Prefix.index, indexId).finish();
}

export function pluginPrefix(indexId: number): Uint8Array {
  return withId(Prefix.plugin, indexId).finish();
}

/** Change-log ring slot key: `13 slot:u32` with slot = seq % changeLogEntriesMax. */
export function changeLogSlotKey(slot: number): Uint8Array {
  const out = new Uint8Array(changeLogSlotKeyBytes);
  writeChangeLogSlotKey(out, 0, slot);
  return out;
}

export const changeLogSlotKeyBytes = 5;

/** Writes changeLogSlotKey(slot) into out[o, o + changeLogSlotKeyBytes). */
export function writeChangeLogSlotKey(out: Uint8Array, o: number, slot: number): void {
  out[o] = Prefix.changeLog;
  out[o + 1] = (slot >>> 24) & 0xff;
  out[o + 2] = (slot >>> 16) & 0xff;
  out[o + 3] = (slot >>> 8) & 0xff;
  out[o + 4] = slot & 0xff;
}

/** Key holding the last change sequence number written (u64 value). */
export const changeSeqKey = Uint8Array.of(Prefix.changeSeq);

export const changeLogStart = Uint8Array.of(Prefix.changeLog);
export const changeLogEnd = Uint8Array.of(Prefix.changeLog + 1);

export function rangeOfPrefix(p: Uint8Array): { gte: Uint8Array; lt: Uint8Array | undefined } {
  return { gte: p, lt: prefixEnd(p) };
}
