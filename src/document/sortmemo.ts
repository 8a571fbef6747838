/**
 * Sort values of documents kept by bounded top-k reads (exec.ts `topKGate`), by document key, in
 * typed arrays: no object, string or heap number per document.
 *
 * A range + sort + limit drops almost every candidate by its sort value once the top-k is full, but
 * it has to read that value, which costs a store lookup (~1 µs) unless something remembers it. A
 * document-cache entry per candidate (the value kept beside a copy of its bytes, or beside no bytes)
 * cost ~200-550 bytes of fresh JS heap or slab each, ~16,000 of them per query at 100,000 documents:
 * page faults (~13 µs per 4 KiB page on the bench VM), scavenges copying them and their promotion.
 * Here a document costs one 8-byte slot and a record of its key, field and value (~40 bytes).
 *
 * A value is kept for one field per document (the last one read): the field's id (`fieldId`) is
 * stored with it. Every committed write to a document drops its value (`drop`, from the engine's
 * commit, whether or not the document cache holds the document), so a value found is the one of
 * the latest committed document. Only reads of the live view use it.
 */

import { readU32LE, writeU32LE } from '../storage/codec.ts';

/** Longest document key kept (a longer one is never memoized: its reads take the full path). */
const keyBytesMax = 255;
/** Record header: key length (1 byte), field id (4 bytes), value (8 bytes, a double), little-endian. */
const headerBytes = 13;
/** Field names remembered before their map starts over (ids are never reused, so an id a query holds stays its field's). */
const fieldNamesMax = 4096;
const slotsMin = 256;
const chunkBits = 16;
const chunkBytes = 1 << chunkBits;

const f64 = new Float64Array(1);
const f64b = new Uint8Array(f64.buffer);

export class SortMemos {
  /** Open addressing by the key's hash: slot i is [hash, record offset] at 2i, 2i + 1; offset -1 empty, -2 dropped. */
  private slots = new Int32Array(0);
  private mask = -1;
  /**
   * Records: [key length, field id, value, key bytes], appended to chunks of `chunkBytes` (a record
   * at offset `at` is in chunk at >>> chunkBits; growth copies none); dropped ones stay until the
   * table starts over.
   */
  private chunks: Uint8Array[] = [];
  private used = 0;
  /** Live values, and slots taken by dropped ones (both count toward the load). */
  count = 0;
  private dead = 0;
  private fields = new Map<string, number>();
  private nextField = 0;
  /** Most bytes the table may take (slots and records); past it, it starts over empty. */
  private readonly maxBytes: number;
  constructor(maxBytes: number) {
    // record offsets are int32s
    this.maxBytes = Math.min(maxBytes, 2 ** 30);
  }

  /** Bytes the table's arrays take. */
  get bytes(): number {
    return this.slots.byteLength + this.chunks.length * chunkBytes;
  }

  /** The id of sort field `name` (for `set` and `fieldAt`): one per name while it is remembered, never another name's. */
  fieldId(name: string): number {
    const i = this.fields.get(name);
    if (i !== undefined) return i;
    if (this.fields.size >= fieldNamesMax) this.fields.clear();
    const id = this.nextField++;
    this.fields.set(name, id);
    return id;
  }

  /**
   * The slot of the document key pre[0, preLen) + b[off, off + len) (its hash h), or -1. Its field
   * (`fieldAt`) and value (`valueAt`) are read from the slot.
   */
  find(h: number, pre: Uint8Array, preLen: number, b: Uint8Array, off: number, len: number): number {
    if (this.count === 0) return -1;
    const slots = this.slots;
    const chunks = this.chunks;
    const n = preLen + len;
    for (let i = h & this.mask; ; i = (i + 1) & this.mask) {
      const r = slots[2 * i + 1]!;
      if (r === -1) return -1;
      if (r < 0 || slots[2 * i] !== h) continue;
      const pool = chunks[r >>> chunkBits]!;
      const at = r & (chunkBytes - 1);
      if (pool[at] !== n) continue;
      const k = at + headerBytes;
      let j = 0;
      while (j < preLen && pool[k + j] === pre[j]) j++;
      if (j < preLen) continue;
      while (j < n && pool[k + j] === b[off + j - preLen]) j++;
      if (j === n) return i;
    }
  }

  /** The field id of slot i (`find`). */
  fieldAt(i: number): number {
    const r = this.slots[2 * i + 1]!;
    const pool = this.chunks[r >>> chunkBits]!;
    return readU32LE(pool, (r & (chunkBytes - 1)) + 1);
  }

  /** The value of slot i (`find`). */
  valueAt(i: number): number {
    const r = this.slots[2 * i + 1]!;
    const pool = this.chunks[r >>> chunkBits]!;
    const v = (r & (chunkBytes - 1)) + 5;
    for (let k = 0; k < 8; k++) f64b[k] = pool[v + k]!;
    return f64[0]!;
  }

  /** Keeps value x of field `field` (an id) for the document key pre[0, preLen) + b[off, off + len) (hash h). */
  set(h: number, pre: Uint8Array, preLen: number, b: Uint8Array, off: number, len: number, field: number, x: number): void {
    const n = preLen + len;
    if (n > keyBytesMax) return;
    let i = this.find(h, pre, preLen, b, off, len);
    if (i < 0) {
      const rec = headerBytes + n;
      const grow = (this.count + this.dead + 1) * 2 > this.slots.length >> 1;
      // the record's chunk: the current one, else the next (one kept from before a restart, or a new one)
      let c = this.used >>> chunkBits;
      if (c < this.chunks.length && (this.used & (chunkBytes - 1)) + rec > chunkBytes) c++;
      const fresh = c >= this.chunks.length;
      if ((grow || fresh) && this.bytes + (grow ? this.slots.byteLength * 3 : 0) + (fresh ? chunkBytes : 0) > this.maxBytes) {
        // full: start over in the same memory (values are only a cache of what the documents hold)
        if (this.count === 0 && this.dead === 0) return;
        this.restart();
        c = 0;
      }
      if ((this.count + this.dead + 1) * 2 > this.slots.length >> 1) this.grow();
      if (c >= this.chunks.length) this.chunks.push(new Uint8Array(chunkBytes));
      if (c !== this.used >>> chunkBits) this.used = c << chunkBits;
      i = h & this.mask;
      while (this.slots[2 * i + 1]! >= 0) i = (i + 1) & this.mask;
      if (this.slots[2 * i + 1] === -2) this.dead--;
      const r = this.used;
      const pool = this.chunks[r >>> chunkBits]!;
      const at = r & (chunkBytes - 1);
      pool[at] = n;
      const k = at + headerBytes;
      for (let j = 0; j < preLen; j++) pool[k + j] = pre[j]!;
      for (let j = 0; j < len; j++) pool[k + preLen + j] = b[off + j]!;
      this.used = r + rec;
      this.slots[2 * i] = h;
      this.slots[2 * i + 1] = r;
      this.count++;
    }
    const r = this.slots[2 * i + 1]!;
    const pool = this.chunks[r >>> chunkBits]!;
    const at = r & (chunkBytes - 1);
    writeU32LE(pool, at + 1, field);
    f64[0] = x;
    for (let k = 0; k < 8; k++) pool[at + 5 + k] = f64b[k]!;
  }

  /** Drops the value kept for document key `key` (hash h), if any: the document was written. */
  drop(key: Uint8Array, h: number): void {
    if (this.count === 0) return;
    const i = this.find(h, key, key.length, key, 0, 0);
    if (i < 0) return;
    this.slots[2 * i + 1] = -2;
    this.count--;
    this.dead++;
  }

  /** Drops every value (and the memory). */
  clear(): void {
    this.empty();
  }

  /** Drops every value, keeping the slots and record chunks for the next ones (no fresh memory to fault in). */
  private restart(): void {
    this.slots.fill(-1);
    this.used = 0;
    this.count = 0;
    this.dead = 0;
  }

  private empty(): void {
    this.slots = new Int32Array(0);
    this.mask = -1;
    this.chunks = [];
    this.used = 0;
    this.count = 0;
    this.dead = 0;
  }

  /**
   * Rehashes into four times the slots (or as many, when dropped values made most of the load):
   * fewer rehashes and less fresh memory in all than doubling (each new array is page faults).
   */
  private grow(): void {
    const old = this.slots;
    const oldCap = old.length >> 1;
    const cap = Math.max(slotsMin, (this.count + 1) * 4 > oldCap ? oldCap * 4 : oldCap);
    const slots = new Int32Array(2 * cap).fill(-1);
    const mask = cap - 1;
    for (let s = 0; s < old.length; s += 2) {
      const r = old[s + 1]!;
      if (r < 0) continue;
      let i = old[s]! & mask;
      while (slots[2 * i + 1] !== -1) i = (i + 1) & mask;
      slots[2 * i] = old[s]!;
      slots[2 * i + 1] = r;
    }
    this.slots = slots;
    this.mask = mask;
    this.dead = 0;
  }
}
