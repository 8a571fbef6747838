/**
 * Merging iterators over a version (memtables + segment runs). Sources yield entries in key
 * order (ascending, or descending when reverse) with all versions of a key adjacent; the merge
 * consumes every version of the current key and keeps the newest one visible at the snapshot.
 */
import { compareBytes } from './codec.ts';
import { type Memtable, NIL } from './memtable.ts';
export { compareRanges } from './memtable.ts';
import { type Block, BlockScratch, giveRunBuffer, kindDel, runBufferBytes, type Segment, takeRunBuffer } from './segment.ts';

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
/** A bounded scan whose rest in a segment spans at most this many bytes reads it at its first miss (`RunSource.shortRest`). */
const shortRunBytes = 64 * 1024;

/**
 * A run of blocks a streaming scan requested (`RunSource`): where it lies, the buffer it is read
 * into (a transient scan's own, reused; else null: `Segment.readRun` copies its blocks out of a
 * pooled one) and its blocks once read, so that a load of a block of a run already read is
 * synchronous.
 */
class StreamRun {
  readonly si: number;
  readonly first: number;
  readonly last: number;
  readonly buf: RunBuffer | null;
  blocks: Block[] | null = null;
  readonly done: Promise<Block[]>;
  /**
   * `sync`: a run the scan waits for at once, read on this thread when the segment can (`Segment.readRunSync`).
   * `keep`: its blocks (copies of their own: `buf` null) may enter the cache (`Segment.keepRun`).
   */
  constructor(seg: Segment, si: number, first: number, last: number, buf: RunBuffer | null, sync = false, keep = false) {
    this.si = si;
    this.first = first;
    this.last = last;
    this.buf = buf;
    const now = sync ? seg.readRunSync(first, last, buf?.bytes, buf?.slots) : undefined;
    if (now !== undefined) {
      if (keep) seg.keepRun(first, now);
      this.blocks = now;
      this.done = Promise.resolve(now);
      return;
    }
    this.done = seg.readRun(first, last, buf?.bytes, buf?.slots).then((bs) => {
      if (keep) seg.keepRun(first, bs);
      return (this.blocks = bs);
    });
    // a run the scan never reaches (closed early, or it failed) is not an unhandled rejection; a
    // failure the scan does reach is reported by its await
    this.done.catch(() => undefined);
  }
  has(si: number, bi: number): boolean {
    return this.si === si && bi >= this.first && bi <= this.last;
  }
}

/** A transient scan's run buffer and the Blocks over it that its runs re-point (`Segment.readRun`). */
interface RunBuffer {
  readonly bytes: Uint8Array;
  readonly slots: Block[];
}

/** Spare run buffers a transient streaming scan keeps for its next runs (more go to the process-wide pool). */
const spareRunsMax = 4;

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
  /**
   * The iterator's steps are transient (`RangeOptions.transient`): a streaming scan reads its runs
   * into its own buffers and decodes their blocks in place, and a buffer whose run it left is
   * reused once the step that handed out views of it is over (`release`).
   */
  readonly transient: boolean;
  /**
   * `scanBytes`: the bytes of every segment the scan reads (all its sources), when it reads more
   * than this run: a scan over more than the cache holds streams all of its runs, an L0 segment
   * smaller than the cache too (read through the cache, a full scan's L0 blocks evicted each
   * other and the point reads' blocks, each a new buffer).
   */
  constructor(segs: readonly Segment[], fwd: boolean, fill = true, transient = false, scanBytes = 0, upper?: Uint8Array, narrow = false) {
    this.segs = segs;
    this.fwd = fwd;
    this.upper = fwd ? upper : undefined;
    this.fill = fill;
    this.scratch = fill ? null : [new BlockScratch(), new BlockScratch()];
    let bytes = 0;
    for (const sg of segs) bytes += sg.meta.size;
    this.stream = fill && fwd && segs.length > 0 && Math.max(bytes, scanBytes) > segs[0]!.cache.budgetBytes;
    this.transient = transient && this.stream;
    this.narrow = narrow && this.stream && !this.transient && this.upper !== undefined;
  }

  /**
   * A streaming scan whose bounds span little next to the cache (an index range: `MergeIterator`'s
   * `narrowScanShare`): at its first miss in a segment it reads the rest up to its bound in one
   * run on this thread, and the blocks of its runs enter the cache as a point read's would
   * (`Segment.keepRun`: while there is room, else a block missed recently), so a range queried
   * again is read from the cache. Its blocks are dense in what such a scan wants (every entry a
   * candidate) and re-read by each query over the range, where streaming read and checked them
   * again each time (range + sort + limit at 100,000 documents: ~80 blocks, ~4 ms of ~20).
   */
  private readonly narrow: boolean;

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
   * blocks into buffers (`Segment.readRun`), one run in use and the next one requested, instead
   * of into the cache, which could not keep them for a second pass anyway and whose other blocks
   * they would evict (and each block cached is a buffer of its own).
   */
  private readonly stream: boolean;
  private run: StreamRun | null = null;
  private nextRun: StreamRun | null = null;
  /** Transient: buffers free for the next runs, and those of runs left during the current step. */
  private readonly spare: RunBuffer[] = [];
  private readonly retired: RunBuffer[] = [];

  /**
   * A forward scan's upper bound (a key; it reads no entry past it): readahead stops at the block
   * that holds it. An index range of one value spans a few blocks per segment, where runs of
   * `readaheadBytes` (and the next one requested) read, checked and decoded ~64 blocks each (at
   * 100,000 documents ~5 ms of an equality query's ~10).
   */
  private readonly upper: Uint8Array | undefined;
  private endSi = -1;
  private endBi = 0;

  /** The last block of segment si that a scan up to `upper` may need: -1 when it needs none. */
  private lastNeeded(si: number): number {
    const seg = this.segs[si]!;
    const u = this.upper;
    if (u === undefined) return seg.blocks - 1;
    if (this.endSi !== si) {
      this.endSi = si;
      this.endBi = compareBytes(seg.meta.smallest, u) > 0 ? -1 : Math.min(seg.findBlock(u), seg.blocks - 1);
    }
    return this.endBi;
  }

  /**
   * Whether the blocks the scan still needs in its current segment, up to its upper bound, span at
   * most `shortRunBytes`: then its first miss reads them all in one run (an index range of one
   * value: a few blocks per segment) instead of reading (and caching) one block first.
   */
  private shortRest(): boolean {
    if (this.upper === undefined) return false;
    const end = this.lastNeeded(this.si);
    if (end < this.bi) return false;
    const seg = this.segs[this.si]!;
    return seg.blockOffset(end) + seg.blockLength(end) - seg.blockOffset(this.bi) <= shortRunBytes;
  }

  /**
   * The run of the blocks from (si, bi) on, up to `readaheadBytes` and the scan's upper bound,
   * requested (the following segment when si is past its last block); null past the end, or past
   * the bound unless `need` (the block the scan waits for).
   */
  private requestRun(si: number, bi: number, need = false): StreamRun | null {
    let seg = this.segs[si];
    if (seg !== undefined && bi >= seg.blocks) {
      si++;
      bi = 0;
      seg = this.segs[si];
    }
    if (seg === undefined || seg.blocks === 0) return null;
    const end = this.lastNeeded(si);
    if (bi > end && !need) return null;
    const start = seg.blockOffset(bi);
    let last = bi;
    while (last < end && seg.blockOffset(last + 1) + seg.blockLength(last + 1) - start <= readaheadBytes) last++;
    // a run the scan waits for that reaches its bound (an index range of one value: a few blocks
    // per segment) has no later run to overlap with: read on this thread, as a point read's block,
    // instead of a thread-pool round trip per segment that the query waits for
    const sync = need && this.upper !== undefined && last >= end;
    return new StreamRun(seg, si, bi, last, this.transient ? (this.spare.pop() ?? { bytes: takeRunBuffer(), slots: [] }) : null, sync, this.narrow);
  }

  /** A run the scan leaves: its buffer is reused after the current step (a run still being read: once its read settled). */
  private retire(r: StreamRun | null): void {
    if (r === null || r.buf === null) return;
    const buf = r.buf;
    if (r.blocks !== null) this.retired.push(buf);
    else {
      const back = (): void => void this.retired.push(buf);
      r.done.then(back, back);
    }
  }

  /**
   * A new step of a transient iterator begins: no view handed out before it is used any more, so
   * the buffers of the runs left meanwhile are free for the next runs.
   */
  release(): void {
    const r = this.retired;
    while (r.length > 0) {
      const b = r.pop()!;
      if (this.spare.length < spareRunsMax) this.spare.push(b);
      else giveRunBuffer(b.bytes);
    }
  }

  /** The iterator is done (closed, or its last step is over): every buffer it holds goes back to the process-wide pool. */
  releaseAll(): void {
    this.retire(this.run);
    this.retire(this.nextRun);
    this.run = null;
    this.nextRun = null;
    this.blk = null;
    this.valid = false;
    this.release();
    while (this.spare.length > 0) giveRunBuffer(this.spare.pop()!.bytes);
  }

  /** Block (si, bi) of a streaming scan: from the current run, else the next one, else a new one; synchronous once the run is read. */
  private streamLoad(): Promise<void> | undefined {
    const si = this.si;
    const bi = this.bi;
    let r = this.run;
    if (r === null || !r.has(si, bi)) {
      this.retire(r);
      let n = this.nextRun;
      if (n === null || !n.has(si, bi)) {
        this.retire(n);
        n = this.requestRun(si, bi, true)!;
      }
      this.run = r = n;
      this.nextRun = this.requestRun(si, r.last + 1);
    }
    const bs = r.blocks;
    if (bs !== null) {
      this.blk = bs[bi - r.first]!;
      return undefined;
    }
    return this.awaitRun(r, bi);
  }

  private async awaitRun(r: StreamRun, bi: number): Promise<void> {
    const bs = await r.done;
    this.blk = bs[bi - r.first]!;
  }

  private load(): Promise<void> | undefined {
    const seg = this.segs[this.si]!;
    const c = seg.cachedBlock(this.bi);
    if (this.fill && this.fwd) {
      if (c === undefined) this.misses++;
      if ((this.misses >= 2 || (c === undefined && (this.narrow || this.shortRest()))) && this.stream) {
        if (c === undefined) return this.streamLoad();
      } else if (this.misses >= 2) {
        if (this.aheadSeg !== this.si || this.ahead < this.bi) {
          this.aheadSeg = this.si;
          this.ahead = this.bi;
        }
        const n = this.lastNeeded(this.si) + 1;
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

  /**
   * Moves forward to the first real entry at or after (si, bi, ei): synchronously (undefined)
   * while the blocks it needs are cached or already read (no async step per block), else a
   * promise.
   */
  private settleForward(): Promise<void> | undefined {
    for (;;) {
      if (this.si >= this.segs.length) {
        this.valid = false;
        return undefined;
      }
      const seg = this.segs[this.si]!;
      if (this.bi >= seg.blocks) {
        this.si++;
        this.bi = 0;
        this.ei = 0;
        this.blk = null;
        continue;
      }
      if (this.blk === null) {
        const p = this.load();
        if (p !== undefined) return this.settleForwardAfter(p);
      }
      if (this.ei < this.blk!.count) {
        this.decode();
        return undefined;
      }
      this.bi++;
      this.ei = 0;
      this.blk = null;
    }
  }

  private async settleForwardAfter(p: Promise<void>): Promise<void> {
    await p;
    await this.settleForward();
  }

  private async settleBackward(): Promise<void> {
    for (;;) {
      if (this.ei >= 0) {
        this.decode();
        return;
      }
      if (this.bi > 0) {
        this.bi--;
        const p = this.load();
        if (p !== undefined) await p;
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
