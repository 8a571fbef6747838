/**
 * Merging iterators over a version (memtables + segment runs). Sources yield entries in key
 * order (ascending, or descending when reverse) with all versions of a key adjacent; the merge
 * consumes every version of the current key and keeps the newest one visible at the snapshot.
 */
import { compareBytes } from './codec.ts';
import { type Memtable, NIL } from './memtable.ts';
export { compareRanges } from './memtable.ts';
import { type Block, BlockScratch, kindDel, runBufferBytes, type Segment } from './segment.ts';

export interface Source {
  valid: boolean;
  /** Current key as a byte range (no allocation): kbuf[koff, koff+klen). */
  kbuf: Uint8Array;
  koff: number;
  klen: number;
  seq: number;
  del: boolean;
  value(): Uint8Array;
  /** Current value as a byte range (vlen -1 for a tombstone). */
  vbuf(): Uint8Array;
  voff(): number;
  vlen(): number;
  /** Position at the first entry >= target (forward) or the last entry <= target (reverse); null = start/end. */
  seek(target: Uint8Array | null): Promise<void> | undefined;
  /** Advance one entry in the iteration direction. */
  next(): Promise<void> | undefined;
}

const empty = new Uint8Array(0);
/**
 * Bytes (on disk) of blocks a forward scan keeps requested ahead of the one it reads, once it
 * reads from storage: topped up by one read of up to this many bytes when less than half is left.
 */
const readaheadBytes = runBufferBytes;

/** Memtable source: one entry per node (its newest version visible at `snap`). */
export class MemSource implements Source {
  valid = false;
  kbuf: Uint8Array = empty;
  koff = 0;
  klen = 0;
  seq = 0;
  del = false;
  readonly mem: Memtable;
  readonly fwd: boolean;
  readonly snap: number;
  private node = NIL;
  private ver = NIL;
  constructor(mem: Memtable, fwd: boolean, snap: number) {
    this.mem = mem;
    this.fwd = fwd;
    this.snap = snap;
  }
  value(): Uint8Array {
    return this.mem.value(this.ver) ?? empty;
  }
  vbuf(): Uint8Array {
    return this.mem.valBuf(this.ver);
  }
  voff(): number {
    return this.mem.valOff(this.ver);
  }
  vlen(): number {
    return this.mem.valLen(this.ver);
  }
  private settle(): void {
    const m = this.mem;
    for (;;) {
      const n = this.node;
      if (n === NIL) {
        this.valid = false;
        return;
      }
      const v = m.visible(n, this.snap);
      if (v !== NIL) {
        this.valid = true;
        this.kbuf = m.keyBuf(n);
        this.koff = m.keyOff(n);
        this.klen = m.keyLen(n);
        this.seq = m.seq(v);
        this.del = m.isDel(v);
        this.ver = v;
        return;
      }
      this.node = this.fwd ? m.next(n) : m.prevOf(n);
    }
  }
  seek(target: Uint8Array | null): undefined {
    if (this.fwd) this.node = target === null ? this.mem.first() : this.mem.seekGE(target);
    else this.node = target === null ? this.mem.last() : this.mem.seekLT(target, true);
    this.settle();
    return undefined;
  }
  next(): undefined {
    const n = this.node;
    if (n === NIL) return undefined;
    this.node = this.fwd ? this.mem.next(n) : this.mem.prevOf(n);
    this.settle();
    return undefined;
  }
}

/** Source over a run of non-overlapping segments sorted by key (an L0 segment is a run of one). */
export class RunSource implements Source {
  valid = false;
  kbuf: Uint8Array = empty;
  koff = 0;
  klen = 0;
  seq = 0;
  del = false;
  private si = 0;
  private bi = 0;
  private ei = 0;
  private blk: Block | null = null;
  readonly segs: readonly Segment[];
  readonly fwd: boolean;
  /** Whether blocks read from disk enter the block cache (not for compaction's one pass). */
  readonly fill: boolean;
  /**
   * Without `fill` (compaction's one pass), blocks read from disk are decoded into two scratch
   * buffers used in turn: the current block and the one before it stay valid, older ones are
   * overwritten (the reader copies what it keeps longer, e.g. the last key).
   */
  private readonly scratch: BlockScratch[] | null;
  private slot = 0;
  constructor(segs: readonly Segment[], fwd: boolean, fill = true) {
    this.segs = segs;
    this.fwd = fwd;
    this.fill = fill;
    this.scratch = fill ? null : [new BlockScratch(), new BlockScratch()];
    let bytes = 0;
    for (const sg of segs) bytes += sg.meta.size;
    this.stream = fill && fwd && segs.length > 0 && bytes > segs[0]!.cache.budgetBytes;
  }

  // entry position copied out of the (shared, cached) block's scratch fields at decode time:
  // other readers may decode entries of the same block between our awaits
  private valStart = 0;
  private valLen = 0;

  value(): Uint8Array {
    return this.blk!.data.subarray(this.valStart, this.valStart + this.valLen);
  }
  vbuf(): Uint8Array {
    return this.blk!.data;
  }
  voff(): number {
    return this.valStart;
  }
  vlen(): number {
    return this.del ? -1 : this.valLen;
  }
  /** The current key as a view (allocates; for tests and tools). */
  keyBytes(): Uint8Array {
    return this.kbuf.subarray(this.koff, this.koff + this.klen);
  }

  /**
   * Readahead of a forward scan: once two of its blocks had to be read from storage (in all, not
   * necessarily in a row: the count is never reset), the blocks of the next `readaheadBytes` of
   * the segment are kept requested (into the block cache), in runs read with one request each.
   */
  private misses = 0;
  private aheadSeg = -1;
  private ahead = -1;
  /**
   * A forward scan of a run larger than the block cache streams: its readahead reads runs of
   * blocks into buffers of their own (`Segment.readRun`), one run in use and the next one
   * requested, instead of into the cache, which could not keep them for a second pass anyway and
   * whose other blocks they would evict (and each block cached is a buffer of its own).
   */
  private readonly stream: boolean;
  private runSeg = -1;
  private runFirst = 0;
  private runLast = -1;
  private run: Promise<Block[]> | null = null;
  private nextSeg = -1;
  private nextFirst = 0;
  private nextLast = -1;
  private nextRun: Promise<Block[]> | null = null;

  /** Requests the blocks from (si, bi) on, up to `readaheadBytes`, as the next run (the following segment when si is past its last block). */
  private requestRun(si: number, bi: number): void {
    this.nextRun = null;
    let seg = this.segs[si];
    if (seg !== undefined && bi >= seg.blocks) {
      si++;
      bi = 0;
      seg = this.segs[si];
    }
    if (seg === undefined || seg.blocks === 0) return;
    const start = seg.blockOffset(bi);
    let last = bi;
    while (last + 1 < seg.blocks && seg.blockOffset(last + 1) + seg.blockLength(last + 1) - start <= readaheadBytes) last++;
    this.nextSeg = si;
    this.nextFirst = bi;
    this.nextLast = last;
    this.nextRun = seg.readRun(bi, last);
    // a run the scan never reaches (closed early, or it failed) is not an unhandled rejection; a
    // failure the scan does reach is reported by its await
    this.nextRun.catch(() => undefined);
  }

  /** Block (si, bi) of a streaming scan: from the current run, else the next one, else a new one. */
  private async streamLoad(): Promise<void> {
    const si = this.si;
    const bi = this.bi;
    if (this.run === null || this.runSeg !== si || bi < this.runFirst || bi > this.runLast) {
      if (this.nextRun === null || this.nextSeg !== si || bi < this.nextFirst || bi > this.nextLast) this.requestRun(si, bi);
      this.run = this.nextRun!;
      this.runSeg = this.nextSeg;
      this.runFirst = this.nextFirst;
      this.runLast = this.nextLast;
      this.requestRun(si, this.runLast + 1);
    }
    const blocks = await this.run;
    this.blk = blocks[bi - this.runFirst]!;
  }

  private load(): Promise<void> | undefined {
    const seg = this.segs[this.si]!;
    const c = seg.cachedBlock(this.bi);
    if (this.fill && this.fwd) {
      if (c === undefined) this.misses++;
      if (this.misses >= 2 && this.stream) {
        if (c === undefined) return this.streamLoad();
      } else if (this.misses >= 2) {
        if (this.aheadSeg !== this.si || this.ahead < this.bi) {
          this.aheadSeg = this.si;
          this.ahead = this.bi;
        }
        const n = seg.blocks;
        const from = this.ahead + 1;
        if (from < n && seg.blockOffset(from) - seg.blockOffset(this.bi) < readaheadBytes / 2) {
          const start = seg.blockOffset(from);
          let last = from;
          while (last + 1 < n && seg.blockOffset(last + 1) + seg.blockLength(last + 1) - start <= readaheadBytes) last++;
          this.ahead = Math.max(this.ahead, seg.prefetchRun(from, last));
        }
      }
    }
    if (c !== undefined) {
      this.blk = c;
      return undefined;
    }
    if (this.scratch !== null) {
      this.slot ^= 1;
      return seg.blockInto(this.bi, this.scratch[this.slot]!).then((b) => {
        this.blk = b;
      });
    }
    return seg.block(this.bi, this.fill).then((b) => {
      this.blk = b;
    });
  }

  private decode(): void {
    const b = this.blk!;
    b.at(this.ei);
    this.valid = true;
    this.kbuf = b.data;
    this.koff = b.keyStart;
    this.klen = b.keyLen;
    this.seq = b.seq;
    this.del = b.kind === kindDel;
    this.valStart = b.valStart;
    this.valLen = b.valLen;
  }

  async seek(target: Uint8Array | null): Promise<void> {
    const segs = this.segs;
    this.valid = false;
    this.blk = null;
    this.misses = 0;
    this.aheadSeg = -1;
    if (segs.length === 0) return;
    if (this.fwd) {
      if (target === null) {
        this.si = 0;
        this.bi = 0;
        this.ei = 0;
      } else {
        let lo = 0;
        let hi = segs.length;
        while (lo < hi) {
          const m = (lo + hi) >>> 1;
          if (compareBytes(segs[m]!.meta.largest, target) < 0) lo = m + 1;
          else hi = m;
        }
        if (lo === segs.length) return;
        this.si = lo;
        this.bi = segs[lo]!.findBlock(target);
        if (this.bi >= segs[lo]!.blocks) return this.forwardFrom(lo + 1);
        await this.load();
        this.ei = this.blk!.lowerBound(target);
      }
      return this.settleForward();
    }
    if (target === null) {
      this.si = segs.length - 1;
    } else {
      let lo = 0;
      let hi = segs.length;
      while (lo < hi) {
        const m = (lo + hi) >>> 1;
        if (compareBytes(segs[m]!.meta.smallest, target) <= 0) lo = m + 1;
        else hi = m;
      }
      if (lo === 0) return;
      this.si = lo - 1;
    }
    const seg = segs[this.si]!;
    if (seg.blocks === 0) return this.backwardFrom(this.si - 1);
    this.bi = target === null ? seg.blocks - 1 : Math.min(seg.findBlock(target), seg.blocks - 1);
    await this.load();
    this.ei = target === null ? this.blk!.count - 1 : this.blk!.upperBound(target) - 1;
    return this.settleBackward();
  }

  private async forwardFrom(si: number): Promise<void> {
    this.si = si;
    this.bi = 0;
    this.ei = 0;
    this.blk = null;
    return this.settleForward();
  }

  private async backwardFrom(si: number): Promise<void> {
    for (; si >= 0; si--) {
      const seg = this.segs[si]!;
      if (seg.blocks === 0) continue;
      this.si = si;
      this.bi = seg.blocks - 1;
      await this.load();
      this.ei = this.blk!.count - 1;
      return this.settleBackward();
    }
    this.valid = false;
  }

  /** Moves forward to the first real entry at or after (si, bi, ei). */
  private async settleForward(): Promise<void> {
    for (;;) {
      if (this.si >= this.segs.length) {
        this.valid = false;
        return;
      }
      const seg = this.segs[this.si]!;
      if (this.bi >= seg.blocks) {
        this.si++;
        this.bi = 0;
        this.ei = 0;
        this.blk = null;
        continue;
      }
      if (this.blk === null) await this.load();
      if (this.ei < this.blk!.count) {
        this.decode();
        return;
      }
      this.bi++;
      this.ei = 0;
      this.blk = null;
    }
  }

  private async settleBackward(): Promise<void> {
    for (;;) {
      if (this.ei >= 0) {
        this.decode();
        return;
      }
      if (this.bi > 0) {
        this.bi--;
        await this.load();
        this.ei = this.blk!.count - 1;
        continue;
      }
      return this.backwardFrom(this.si - 1);
    }
  }

  next(): Promise<void> | undefined {
    if (!this.valid) return undefined;
    if (this.fwd) {
      this.ei++;
      if (this.ei < this.blk!.count) {
        this.decode();
        return undefined;
      }
      this.bi++;
      this.ei = 0;
      this.blk = null;
      return this.settleForward();
    }
    this.ei--;
    if (this.ei >= 0) {
      this.decode();
      return undefined;
    }
    return this.settleBackward();
  }
}
