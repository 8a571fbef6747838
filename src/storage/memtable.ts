/**
 * The memtable: a skiplist of keys in unsigned byte order; each node holds the key's versions,
 * newest first. Keys and values are views into the batch buffers they arrived in (no per-key
 * copies). Single-threaded JS: iteration is safe during inserts; nodes are never removed.
 */
import { compareBytes } from './codec.ts';

const levelMax = 12;

export interface MemVersion {
  seq: number;
  /** null marks a deletion (tombstone). */
  value: Uint8Array | null;
  older: MemVersion | null;
}

/** First 4 bytes of a key as an unsigned big-endian number (zero-padded): a cheap first compare. */
export function keyPrefix(k: Uint8Array): number {
  const n = k.length;
  return ((n > 0 ? k[0]! << 24 : 0) | (n > 1 ? k[1]! << 16 : 0) | (n > 2 ? k[2]! << 8 : 0) | (n > 3 ? k[3]! : 0)) >>> 0;
}

export class MemNode {
  readonly key: Uint8Array;
  /** keyPrefix(key): different prefixes order keys without a byte loop. */
  readonly p0: number;
  newest: MemVersion | null;
  readonly next: (MemNode | null)[];
  constructor(key: Uint8Array, level: number, newest: MemVersion | null) {
    this.key = key;
    this.p0 = keyPrefix(key);
    this.newest = newest;
    this.next = new Array<MemNode | null>(level).fill(null);
  }
  /** Newest version with seq <= snap, or null. */
  visible(snap: number): MemVersion | null {
    let v = this.newest;
    while (v !== null && v.seq > snap) v = v.older;
    return v;
  }
}

export class Memtable {
  readonly head = new MemNode(new Uint8Array(0), levelMax, null);
  level = 1;
  /** Approximate bytes held (keys, values, node overhead). */
  bytes = 0;
  count = 0;
  minSeq = Infinity;
  maxSeq = 0;
  /** WAL files whose records this memtable holds; removable once it is flushed. */
  walFiles: number[] = [];
  private readonly prev: MemNode[] = new Array<MemNode>(levelMax);
  private rnd = 0x2545f491;

  private randomLevel(): number {
    let l = 1;
    // xorshift32; p = 1/4 per level
    let x = this.rnd;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.rnd = x;
    while (l < levelMax && (x & 3) === 0) {
      l++;
      x >>>= 2;
    }
    return l;
  }

  put(key: Uint8Array, seq: number, value: Uint8Array | null): void {
    const prev = this.prev;
    const kp = keyPrefix(key);
    let x = this.head;
    for (let i = this.level - 1; i >= 0; i--) {
      for (;;) {
        const n = x.next[i]!;
        if (n === null) break;
        const c = n.p0 !== kp ? n.p0 - kp : compareBytes(n.key, key);
        if (c < 0) x = n;
        else {
          if (c === 0) {
            n.newest = { seq, value, older: n.newest };
            this.account(seq, value, 24);
            return;
          }
          break;
        }
      }
      prev[i] = x;
    }
    const lvl = this.randomLevel();
    if (lvl > this.level) {
      for (let i = this.level; i < lvl; i++) prev[i] = this.head;
      this.level = lvl;
    }
    const node = new MemNode(key, lvl, { seq, value, older: null });
    for (let i = 0; i < lvl; i++) {
      const p = prev[i]!;
      node.next[i] = p.next[i]!;
      p.next[i] = node;
    }
    this.count++;
    this.account(seq, value, 64 + key.length + lvl * 8);
  }

  private account(seq: number, value: Uint8Array | null, overhead: number): void {
    this.bytes += overhead + (value === null ? 0 : value.length) + 24;
    if (seq < this.minSeq) this.minSeq = seq;
    if (seq > this.maxSeq) this.maxSeq = seq;
  }

  /** First node with key >= `key` (or > when `exclusive`). */
  seekGE(key: Uint8Array, exclusive = false): MemNode | null {
    const kp = keyPrefix(key);
    let x = this.head;
    for (let i = this.level - 1; i >= 0; i--) {
      for (;;) {
        const n = x.next[i]!;
        if (n === null) break;
        const c = n.p0 !== kp ? n.p0 - kp : compareBytes(n.key, key);
        if (c < 0 || (exclusive && c === 0)) x = n;
        else break;
      }
    }
    return x.next[0]!;
  }

  /** Last node with key < `key` (or <= when `inclusive`); null if none. */
  seekLT(key: Uint8Array, inclusive = false): MemNode | null {
    const kp = keyPrefix(key);
    let x = this.head;
    for (let i = this.level - 1; i >= 0; i--) {
      for (;;) {
        const n = x.next[i]!;
        if (n === null) break;
        const c = n.p0 !== kp ? n.p0 - kp : compareBytes(n.key, key);
        if (c < 0 || (inclusive && c === 0)) x = n;
        else break;
      }
    }
    return x === this.head ? null : x;
  }

  first(): MemNode | null {
    return this.head.next[0]!;
  }

  last(): MemNode | null {
    let x = this.head;
    for (let i = this.level - 1; i >= 0; i--) {
      for (;;) {
        const n = x.next[i]!;
        if (n === null) break;
        x = n;
      }
    }
    return x === this.head ? null : x;
  }

  /** Exact node for `key`, or null. */
  find(key: Uint8Array): MemNode | null {
    const n = this.seekGE(key);
    return n !== null && compareBytes(n.key, key) === 0 ? n : null;
  }
}
