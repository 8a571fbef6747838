/**
 * The LSM store: WAL + group commit, memtable, immutable segments, manifest, compaction,
 * snapshots and iterators. See docs/ARCHITECTURE.md "Storage" for the design and invariants.
 *
 * Concurrency (single JS thread, async I/O):
 * - Writes go through one commit loop: batches queued while a group is being appended/synced form
 *   the next group (one append + at most one sync for all of them).
 * - Readers work on a `Version` (memtables + L0 + L1 segment lists) that they hold; flush and
 *   compaction install new versions and never mutate old ones, so readers never wait for them.
 * - Manifest edits are serialized; any I/O failure marks the store failed (fail-stop): later
 *   writes are refused with IO_ERROR, reopening recovers from the files.
 */
import { LargetableError } from '../errors.ts';
import {
  blockCacheSizeBytesDefault,
  blockSizeBytesTarget,
  immutableMemtablesMax,
  keySizeBytesMax,
  level0SegmentsCompactTrigger,
  level0SegmentsStall,
  memtableSizeBytesDefault,
  relaxedSyncDelayMsMax,
  segmentSizeBytesTarget,
  walFilesReplayFlushTrigger,
  walGroupBytesMax,
} from '../limits.ts';
import type { Durability, FileHandle, StorageAdapter } from './adapter.ts';
import { BlockCache } from './cache.ts';
import { compareBytes, equalBytes } from './codec.ts';
import { io, toIoError } from './io.ts';
import { MemSource, RunSource, type Source } from './iterator.ts';
import { compareRanges, prefixAt } from './memtable.ts';
import { type ManifestState, decodeManifest, encodeManifest, manifestName } from './manifest.ts';
import { Memtable, MemtablePool, NIL } from './memtable.ts';
import { type Block, Segment, SegmentBuilder, type SegmentMeta, decodeBlock, segmentDrainBytes, foundAt, probeDeleted, probeFound, probeIo, probeNone, segmentName } from './segment.ts';
import type {
  CommitInfo,
  RangeOptions,
  RecoveryReport,
  Snapshot,
  Store,
  StoreIterator,
  StoreOptions,
  StoreStats,
  VerifyReport,
  WriteOp,
  WriteOptions,
  WriteSink,
} from './store.ts';
import { entryBatchPush, entryKey, entryValue, newEntryBatch, type EntryBatch } from './store.ts';
import { applyRecord, encodeBatch, scanWal, sealRecord, stampRecord, walHeader, walHeaderBytes, walName, walPreallocBytesMax, walPreallocBytesMin, walPreallocGroupBytesMax } from './wal.ts';

/** Named points where `onEvent` is called (crash tests kill the process there). */
export type StoreEvent =
  | 'wal-append'
  | 'wal-sync'
  | 'segment-write'
  | 'manifest-swap'
  | 'flush-install'
  | 'compaction-write'
  | 'compaction-install';

export interface EngineOptions extends StoreOptions {
  /** Target uncompressed block size (default limits.blockSizeBytesTarget). */
  blockSizeBytes?: number;
  /**
   * Deflate level for the blocks compaction writes, 0 = store raw (default 0). Raw blocks cost
   * ~2x the disk bytes of level 1 on document data, but a block read from storage is then one read
   * and no inflate (at 1,000,000 documents: point reads, index fetches and scans 1.5-2x faster,
   * compaction without deflate). Level-0 segments are always raw.
   */
  compressionLevel?: number;
  /** Target segment size for compaction output (default limits.segmentSizeBytesTarget). */
  segmentSizeBytes?: number;
  /** Test hook called synchronously at named points. */
  onEvent?: (event: StoreEvent) => void;
  /**
   * Preallocate WAL files with zeros and write records in place (docs/FORMAT.md "WAL"), so a
   * commit's sync flushes data only. Default: the adapter's `preallocationHelpsSync` hint.
   */
  walPreallocate?: boolean;
  /**
   * With preallocation: make the next WAL ahead, off the commit path, and switch to it when a write
   * would pass the live WAL's zeros, instead of writing the next chunk of zeros with that write
   * (docs/FORMAT.md "WAL", spare). Default true.
   */
  walSpare?: boolean;
  /**
   * Open without writing anything: no lock, no orphan cleanup, a torn WAL tail is ignored
   * (still reported) rather than truncated, no new WAL; writes, flush and compact are refused.
   * For checkers and tools; the data must not be opened for writing by another process meanwhile.
   */
  readOnly?: boolean;
}

/**
 * Lone commits written synchronously in a row before the event loop gets a turn (the WAL handle's
 * `turn`: other writers cannot queue while the thread is blocked, and the synchronous commits of a
 * sequential writer resume it in microtasks only); writers that queued meanwhile form a group,
 * which is written asynchronously. A handle without `turn` writes that commit asynchronously
 * instead, which lets the loop turn while it is in flight. Likewise, while the asynchronous path
 * is the faster one, every this many lone commits one is written synchronously to measure that
 * path again.
 */
const walSyncRunMax = 16;
/**
 * ... and this many while a spare WAL is being made (`makeSpare`): its steps (create, write, syncs,
 * manifest: ~15 thread-pool requests one after the other) advance only when the loop turns. Every 16
 * commits, a spare begun at a fresh store's ~110th commit was still being made when the documents
 * bench's 64 callers began at its 300th on a quiet machine: its writes and syncs competed with their
 * first group commits, and when it was not ready for the third group, that group carried the live
 * WAL's next 256 KiB of zeros (a write of 8-27 ms instead of ~1). A turn costs a setImmediate.
 */
const walSyncRunSpare = 4;
/**
 * Synchronous lone commits between two asynchronous ones that measure that path again (a probe):
 * the first probe comes after walSyncRunMax of them (a store's first commits, which run cold code,
 * measure nothing). Each probe that finds the synchronous way clearly faster (under half the
 * asynchronous one's latency, as on an idle machine, where waking the pool's thread wakes an idle
 * CPU: a round trip measured 0.3-4 ms on a 2-core VM) quadruples the run to the next, up to
 * walProbeRunCap; any other sends it back to walSyncRunMax (under CPU contention the two ways are
 * close, single asynchronous latencies vary 1-12 ms, and that way measured the faster at times).
 * When a probe also served to let other writers queue, one in 17 lone commits, it cost ~20% of a
 * sequential writer's time on an idle machine. A probe is also put off while the synchronous way
 * costs about what it did at its best (`walSyncSteady`), up to walProbeRunCap commits: on an idle machine
 * a fresh store's sequential writer then pays no round trip (before: at its 17th and 82nd commits).
 */
const walProbeRunCap = 4096;
/** See `walSyncSteady`: how much slower than its best the synchronous way may get before probes resume. */
const walSteadyFactor = 4;
/**
 * ... or this many us more (1 ms), whichever is larger: on a device whose writes take microseconds (tmpfs,
 * a cache with power-loss protection), one preemption moves the average by more than 4x, and a probe
 * (a round trip of 0.3-4 ms) cannot win back what it costs there.
 */
const walSteadySlackUs = 1000;
/**
 * A commit is written on the loop thread only up to this size: one writer's commit is small, while a
 * larger one is usually the merged commits of many writers (the document layer merges them), which
 * would block the thread they stage their next commits on for the whole write.
 */
const walSyncBytesMax = 8192;
/**
 * ... and a lone commit up to this size while the synchronous way costs what it did at its best
 * (`walSyncSteady`: a fast device, nothing slowing it). Commits merged while other writers wait are
 * never lone: the store's groups of several batches, and the document layer's merged commits
 * (handed over with `more`), go through the thread pool. A lone large one is the document layer's
 * insertOne group of every concurrent caller (~33 KB for the documents bench's 64): they all wait
 * on it, nothing can be staged meanwhile, and on a fast device the thread-pool round trip (two
 * thread wakeups under CPU contention) is most of its latency. On a slow one (writes of
 * milliseconds) the thread-pool way measured faster, so it stays there. A bulk load's batches
 * (~0.5 MB per 1,000 documents) stay asynchronous.
 */
const walSyncGroupBytesMax = 128 * 1024;
/** A synchronous lone commit larger than walSyncBytesMax counts as this many toward walSyncRunMax: the event loop turns at least every 4 of them. */
const walSyncRunLarge = 4;
/**
 * A lone commit whose record passes the WAL's preallocated zeros is written synchronously with the
 * next chunk of zeros (one write, which also changes the file's size) while the two together are
 * at most this long: the chunk a WAL's first 256 KiB (written when it was created) pass to, carried by
 * a fresh store's ~450th small commit. Larger chunks go the asynchronous way (a longer write, once per 512 KiB or more).
 */
const walSyncExtendBytesMax = 256 * 1024 + walSyncBytesMax;

/**
 * A spare WAL (`makeSpare`) is made once the live WAL's records fill half its zeros, but with at
 * least walSpareLeadBytesMin of them left and at most walSpareLeadBytesMax: with a sequential writer
 * the event loop turns every walSyncRunSpare commits only while one is being made, and making a spare
 * takes ~15 turns (create, write, sync, manifest), so a first WAL's 256 KiB leave ~330 of the
 * documents bench's commits (~580 bytes each) for the ~60 it takes (and for a group commit of
 * concurrent writers, ~33 KB, to reach the end sooner). Not earlier: a spare made early is written while the live WAL is still far
 * from its end (the device writes both), and at close it was written for nothing. Only small writes
 * (<= walPreallocGroupBytesMax) start one: a bulk load's large groups are written as they are, not
 * twice (zeros, then records).
 */
const walSpareLeadBytesMin = 192 * 1024;
const walSpareLeadBytesMax = 1 << 20;
/** A spare's zeros are written this many bytes at a time. */
const spareZerosBytes = 1 << 20;
let spareFillBuf: Uint8Array | undefined;
/**
 * The WAL header, then at least `zeros` (at most spareZerosBytes) zeros: what spares are written
 * from (never changed once made; remade larger when a larger spare needs it). Sized to the spare
 * at hand, not to spareZerosBytes: a fresh store's first spare (512 KiB, made during its first few
 * hundred small commits) faults in half the pages on the loop thread that a 1 MiB one did.
 */
function spareFill(zeros: number): Uint8Array {
  const size = walHeaderBytes + Math.min(zeros, spareZerosBytes);
  if (spareFillBuf === undefined || spareFillBuf.length < size) {
    spareFillBuf = new Uint8Array(size);
    spareFillBuf.set(walHeader());
  }
  return spareFillBuf;
}

/** A WAL write of more records than this goes out in chunks of this size through one reused buffer. */
const walCoalesceBytes = 1 << 20;
/** Strict records up to this size are encoded into reused buffers; the pool holds at most recordPoolMax of them, this many bytes in all. */
const recordPoolBytesMax = 4 << 20;
const recordPoolMax = 8;

/** A memtable pool larger than the current memtable can take is trimmed after this long without a write. */
const poolTrimMs = 1000;

/**
 * Auto-compaction rewrites L1 only once L0 holds at least 1/4 of L1's entries. With 1/8, every
 * trigger up to ~8 memtables' worth of L1 entries per L0 segment (3.1M entries at 32 MiB memtables:
 * 1,000,000 documents with two indexes) was a full rewrite of L1: a store reopened after such a load
 * rewrote its whole L1 (~550 MB) in the background of the first reads, where it now merges its
 * ~500,000 L0 entries among themselves.
 */
const l1ToL0RatioMax = 4;

/**
 * `close()` flushes a memtable holding at least this many bytes; a smaller one is left to the next
 * open's WAL replay (a few milliseconds), which spares a small L0 segment per close.
 */
const closeFlushBytesMin = 1 << 20;

class Version {
  holds = 0;
  readonly mem: Memtable;
  /** Newest first. */
  readonly imms: readonly Memtable[];
  /** Newest first. */
  readonly l0: readonly Segment[];
  /** Sorted by key, non-overlapping. */
  readonly l1: readonly Segment[];
  constructor(mem: Memtable, imms: readonly Memtable[], l0: readonly Segment[], l1: readonly Segment[]) {
    this.mem = mem;
    this.imms = imms;
    this.l0 = l0;
    this.l1 = l1;
  }
}

class SnapshotImpl implements Snapshot {
  released = false;
  readonly store: LsmStore;
  readonly num: number;
  readonly version: Version;
  constructor(store: LsmStore, num: number, version: Version) {
    this.store = store;
    this.num = num;
    this.version = version;}
  get seq(): bigint {
    return BigInt(this.num);
  }
  release(): void {
    if (this.released) return;
    this.released = true;
    this.store.releaseSnapshot(this);
  }
}

interface PendingBatch {
  kind: 'batch';
  rec: Uint8Array;
  /** The record pool's buffer `rec` was encoded into (returned to the pool once written and applied). */
  pooled: Uint8Array | undefined;
  strict: boolean;
  /** more commits follow (WriteOptions.more): never written on the loop thread */
  more: boolean;
  seq: number;
  /** Told how the batch ended (`settle`). */
  sink: WriteSink;
  /** Set when the batch failed: its error. */
  failed: boolean;
  error: unknown;
}
interface PendingRotate {
  kind: 'rotate';
  resolve: () => void;
  reject: (e: unknown) => void;
}
type Pending = PendingBatch | PendingRotate;

/** A moving average (1/8 weight, whole microseconds, at least 1; 0: none yet) updated with the time since `t0` (performance.now()). */
function movingUs(avgUs: number, t0: number): number {
  return movedUs(avgUs, sinceUs(t0));
}

/** A moving average (1/8 weight, whole microseconds, at least 1; 0: none yet) updated with `us`. */
function movedUs(avgUs: number, us: number): number {
  return avgUs === 0 ? us : Math.max(1, avgUs + ((us - avgUs) >> 3));
}

/** The time since `t0` (performance.now()) in whole microseconds, at least 1. */
function sinceUs(t0: number): number {
  return Math.max(1, Math.round((performance.now() - t0) * 1000));
}

/** The median of three samples (0: none; of one or two, the lower). */
function median3(a: number, b: number, c: number): number {
  if (a === 0) return b === 0 ? c : Math.min(b, c);
  return Math.max(Math.min(a, b), Math.min(Math.max(a, b), c));
}

/** Applies a sealed batch's record to the memtable (WAL file `name`). */
function applyBatch(p: PendingBatch, mem: Memtable, name: string): void {
  applyRecord(p.rec, 0, p.rec.length, p.seq, mem, name, 0);
}

function newBatch(rec: Uint8Array, pooled: Uint8Array | undefined, strict: boolean, more: boolean, sink: WriteSink): PendingBatch {
  return { kind: 'batch', rec, pooled, strict, more, seq: 0, sink, failed: false, error: undefined };
}

/** A batch that failed before it was encoded (its sink is told so). */
const emptyRecord = new Uint8Array(0);

/** Resolved once: microtasks (the commit loop's start, the sinks' `tellSettled`) are scheduled on it, no new resolved promise each time. */
const resolvedVoid: Promise<void> = Promise.resolve();

/** `write`'s sink: settles its promise. */
class PromiseSink implements WriteSink {
  private readonly resolve: (c: CommitInfo) => void;
  private readonly reject: (e: unknown) => void;
  constructor(resolve: (c: CommitInfo) => void, reject: (e: unknown) => void) {
    this.resolve = resolve;
    this.reject = reject;
  }
  written(seq: number): void {
    this.resolve({ seq: BigInt(seq) });
  }
  failed(err: unknown): void {
    this.reject(err);
  }
}

/** A WAL made ahead of use: header and zeros, synced, listed in the manifest (after the live WAL), no records. */
interface SpareWal {
  readonly file: number;
  readonly name: string;
  readonly handle: FileHandle;
  /** Bytes the file holds (header + zeros). */
  readonly alloc: number;
}

function checkKey(key: unknown, what = 'key'): asserts key is Uint8Array {
  if (!(key instanceof Uint8Array)) throw new LargetableError('INVALID_ARGUMENT', `${what} must be a Uint8Array`);
  if (key.length > keySizeBytesMax) throw new LargetableError('LIMIT_EXCEEDED', `${what} of ${key.length} bytes exceeds ${keySizeBytesMax}`);
}

export class LsmStore implements Store {
  readonly adapter: StorageAdapter;
  recovery: RecoveryReport = { walRecordsReplayed: 0, tornTailBytesTruncated: 0 };
  private readonly durability: Durability;
  private readonly memtableBytes: number;
  /** Chunks and columns of recycled memtables for the next ones (at most one memtable's worth). */
  private readonly memPool: MemtablePool;
  private readonly blockSize: number;
  /** Target size of a segment block (Store). */
  get blockSizeBytes(): number {
    return this.blockSize;
  }
  /** Budget of the block cache, segment filters and indexes included (Store). */
  get blockCacheBytes(): number {
    return this.cache.budgetBytes;
  }
  private readonly level: number;
  private readonly segmentBytes: number;
  private readonly autoCompact: boolean;
  private readonly onEvent: ((e: StoreEvent) => void) | undefined;
  private readonly readOnly: boolean;
  readonly cache: BlockCache<Block>;

  private current!: Version;
  private man!: ManifestState;
  private nextFile = 1;
  private wal!: FileHandle;
  private walFile = 0;
  /** walName(walFile), built once per WAL (not per commit). */
  private walFileName = '';
  private walDirty = false;
  /** End of the last record written to the current WAL (the log's logical end). */
  private walSize = 0;
  /**
   * The current WAL's synced mark: every byte before it is durable (the end of the last write a
   * completed sync covered). Each record written carries it (`stampRecord`, docs/FORMAT.md "WAL").
   */
  private walSynced = 0;
  /** Bytes the current WAL file holds (walSize + its zero-filled, preallocated tail). */
  private walAlloc = 0;
  private readonly walPrealloc: boolean;
  private readonly walSpare: boolean;
  /**
   * The next WAL, made off the commit path (`makeSpare`): the write that would pass the live WAL's
   * zeros goes to its zeros instead of carrying new ones (`switchToSpare`); a rotation takes it too.
   */
  private spare: SpareWal | undefined;
  /** `makeSpare` in flight (it never rejects). */
  private spareMaking: Promise<void> | undefined;
  /**
   * The first WAL of this open, made after `open()` returned (`openFirstWal`; it never rejects: a
   * failure stops the store). Readers do not wait for it; the commit loop, `close()` and `idle()` do.
   */
  private walOpening: Promise<void> | undefined;
  /** walSize at which the next spare is made (Infinity: none for this WAL). */
  private spareAt = Infinity;
  /**
   * The last asynchronous WAL write, or turn of the event loop, saw no batch arrive meanwhile (a
   * sequential writer). Writers that come together group anyway, and staggered ones are seen at the
   * next turn (within walSyncRunMax commits): a store starts out assuming one writer.
   */
  private walQuiet = true;
  /** Lone commits written synchronously since the event loop last turned (an asynchronous WAL write or `turn`). */
  private walSyncRun = 0;
  /** Lone commits written synchronously since the last asynchronous one, and the reverse. */
  private walProbeRun = 0;
  private walAsyncRun = 0;
  /** Synchronous lone commits allowed between two asynchronous ones now: walSyncRunMax, quadrupled up to walProbeRunCap. */
  private walProbeLimit = walSyncRunMax;
  /**
   * Moving averages (whole microseconds, at least 1) of a lone commit written synchronously /
   * asynchronously; 0 = not measured. Integers: a sequential writer's every commit reads and
   * writes them, mostly in unoptimized code, where each double read or result is a new heap number.
   */
  private walLatNowUs = 0;
  private walLatAsyncUs = 0;
  /** The lowest walLatNowUs so far: what the synchronous way costs here when nothing slows it down. */
  private walLatNowBestUs = 0;
  /** The synchronous way's last two samples (whole microseconds; 0: none), for the median `noteLatNow` averages. */
  private walNowPrev = 0;
  private walNowPrev2 = 0;
  /** walLatNowUs is from before a run of walSyncRunMax asynchronous commits (see `noteLatNow`). */
  private walNowStale = false;
  /** Reused buffer for chunked WAL writes of many records (allocated on first use). */
  private walCoalesce: Uint8Array | undefined;
  /** Bytes of walCoalesce from here on are zeros (a fresh buffer is all zeros: see walGather). */
  private walCoalesceDirty = 0;
  /**
   * Sealed records acknowledged from memory (relaxed), in sequence order, not yet written to the
   * WAL: the next WAL write (a strict group, the relaxed timer, a rotation, close) takes them first.
   */
  private unwritten: Uint8Array[] = [];
  private unwrittenBytes = 0;
  /** Date.now() when the oldest unwritten record was acknowledged. */
  private unwrittenSince = 0;
  /** The relaxed timer asked the commit loop to write and sync `unwritten`. */
  private persistWanted = false;
  private rotating = false;
  /** Sizes of WALs that never grow again (replayed, or switched away from), for the next manifest edit (`noteWalSizes`). */
  private pendingWalSizes: Record<string, number> = {};
  private lastSeq = 0;
  private visibleSeq = 0;
  private readonly snapshots = new Set<SnapshotImpl>();
  private queue: Pending[] = [];
  private committing = false;
  private commitDone: Promise<void> = Promise.resolve();
  private manifestChain: Promise<unknown> = Promise.resolve();
  private flushRunning: Promise<void> | null = null;
  private compactionChain: Promise<void> = Promise.resolve();
  private compactionPending = false;
  private syncTimer: ReturnType<typeof setTimeout> | undefined;
  /** Trims the memtable pool once writes stop (`recycle`). */
  private trimTimer: ReturnType<typeof setTimeout> | undefined;

  private failed: LargetableError | null = null;
  private closed = false;
  /** `close()` in progress or done (a second call waits for the first). */
  private closing: Promise<void> | undefined;
  /** `close()` is flushing the memtable: that flush starts no compaction. */
  private closingFlush = false;
  /** Set just before the adapter closes: obsolete segment files are no longer removed (the next open does). */
  private adapterClosing = false;
  /** Deletions of obsolete segments in flight: `close()` lets them finish before closing the adapter. */
  private readonly deleting = new Set<Promise<void>>();
  private walSyncs = 0;
  private compactions = 0;

  constructor(adapter: StorageAdapter, options: EngineOptions) {
    this.adapter = adapter;
    this.durability = options.durability ?? 'strict';
    if (this.durability !== 'strict' && this.durability !== 'relaxed')
      throw new LargetableError('INVALID_ARGUMENT', `durability must be 'strict' or 'relaxed'`);
    this.memtableBytes = options.memtableSizeBytes ?? memtableSizeBytesDefault;
    this.memPool = new MemtablePool(this.memtableBytes);
    this.blockSize = options.blockSizeBytes ?? blockSizeBytesTarget;
    this.level = options.compressionLevel ?? 0;
    this.segmentBytes = options.segmentSizeBytes ?? segmentSizeBytesTarget;
    this.autoCompact = options.autoCompact ?? true;
    this.onEvent = options.onEvent;
    this.readOnly = options.readOnly === true;
    this.walPrealloc = options.walPreallocate ?? adapter.preallocationHelpsSync === true;
    this.walSpare = this.walPrealloc && options.walSpare !== false;
    this.cache = new BlockCache<Block>(options.blockCacheSizeBytes ?? blockCacheSizeBytesDefault);
  }

  // ------------------------------------------------------------------ open / recovery

  async open(): Promise<void> {
    const a = this.adapter;
    if (!this.readOnly) await io(a.location, 'lock', () => a.lock());
    try {
      await this.recover();
    } catch (err) {
      await this.closeHandles();
      await a.close().catch(() => undefined);
      throw err;
    }
  }

  private async recover(): Promise<void> {
    const a = this.adapter;
    const hasManifest = await io(manifestName, 'exists', () => a.exists(manifestName));
    this.man = hasManifest
      ? decodeManifest(await io(manifestName, 'readAll', () => a.readAll(manifestName)))
      : { nextFile: 1, flushedSeq: 0, l0: [], l1: [], wals: [], walSizes: {} };
    const m = this.man;
    const live = new Set<string>();
    for (const s of [...m.l0, ...m.l1]) live.add(segmentName(s.file));
    for (const w of m.wals) live.add(walName(w));
    let maxFile = m.nextFile - 1;
    const files = await io(a.location, 'list', () => a.list());
    for (const f of files) {
      const mt = /^(\d{6,})\.(seg|wal)$/.exec(f);
      if (mt === null) continue;
      maxFile = Math.max(maxFile, Number(mt[1]));
      if (!live.has(f) && !this.readOnly) await io(f, 'remove', () => a.remove(f)); // orphan of an interrupted flush/compaction
    }
    this.nextFile = maxFile + 1;
    const openSeg = async (s: SegmentMeta): Promise<Segment> => {
      const name = segmentName(s.file);
      const h = await io(name, 'open', () => a.open(name));
      try {
        return await Segment.open(h, name, s.file, this.cache);
      } catch (err) {
        await h.close().catch(() => undefined);
        throw err;
      }
    };
    // all at once: each open is a few dependent reads (size, header, footer, tail), and one
    // segment's reads wait in the thread pool while another's checks and decodes run
    const opening = [...m.l0, ...m.l1].map((s) => openSeg(s));
    const opened = await Promise.allSettled(opening);
    const failed = opened.find((r) => r.status === 'rejected');
    if (failed !== undefined) {
      for (const r of opened) if (r.status === 'fulfilled') await r.value.handle.close().catch(() => undefined);
      throw failed.reason;
    }
    const segs = opened.map((r) => (r as PromiseFulfilledResult<Segment>).value);
    const l0 = segs.slice(0, m.l0.length);
    const l1 = segs.slice(m.l0.length);
    let lastSeq = m.flushedSeq;
    for (const s of [...l0, ...l1]) lastSeq = Math.max(lastSeq, s.meta.maxSeq);
    // replay WALs
    const mem = new Memtable(this.memPool);
    let replayed = 0;
    const replayedSizes: Record<string, number> = {};
    // WALs to cut back to their last record, once every WAL is read (damage keeps its bytes)
    const cuts: { name: string; end: number }[] = [];
    // a WAL with invalid bytes after its last record: the end of the log, unless a later WAL holds records
    let torn: { name: string; offset: number } | undefined;
    for (const w of m.wals) {
      const name = walName(w);
      if (!files.includes(name))
        throw new LargetableError('CORRUPTION', `${name}: corruption at offset 0: WAL listed in the manifest is missing`, { details: { file: name, offset: 0 } });
      const h = await io(name, 'open', () => a.open(name));
      try {
        const size = await io(name, 'size', () => h.size());
        const known = m.walSizes[String(w)];
        if (known !== undefined && size < known)
          throw new LargetableError('CORRUPTION', `${name}: corruption at offset ${size}: WAL is shorter than the ${known} bytes recorded in the manifest`, {
            details: { file: name, offset: size },
          });
        const buf = await io(name, 'read', () => h.read(0, size));
        const scan = scanWal(buf, name);
        // the manifest's size is a durable mark: every byte before it was synced, so an invalid
        // record there is damage, not a torn write (only bytes past the mark may be torn)
        if (known !== undefined && scan.validEnd < known) throw walDamaged(name, scan.validEnd, known);
        let bi = -1;
        for (const r of scan.records) {
          if (r.seq <= m.flushedSeq) continue;
          // every record of a WAL the log continued after was synced before the next WAL was written
          if (torn !== undefined)
            throw new LargetableError('CORRUPTION', `${torn.name}: corruption at offset ${torn.offset}: invalid bytes after the last record of a WAL that ${name} continues`, {
              details: { file: torn.name, offset: torn.offset },
            });
          if (r.seq <= lastSeq && lastSeq > m.flushedSeq)
            throw new LargetableError('CORRUPTION', `${name}: corruption at offset ${r.offset}: sequence ${r.seq} out of order`, { details: { file: name, offset: r.offset } });
          if (bi < 0) bi = mem.addBuffer(buf);
          applyRecord(buf, r.offset, r.end, r.seq, mem, name, r.offset, bi);
          lastSeq = r.seq;
          replayed++;
        }
        // a replayed WAL never grows again: its torn tail and its preallocated zeros go
        if ((scan.tornBytes > 0 || scan.zeroBytes > 0) && !this.readOnly) cuts.push({ name, end: scan.validEnd });
        if (scan.tornBytes > 0) {
          torn = { name, offset: scan.validEnd };
          this.recovery.tornTailBytesTruncated += scan.tornBytes;
          this.recovery.tornTailFile = name;
        }
        replayedSizes[String(w)] = scan.validEnd;
      } finally {
        await h.close().catch(() => undefined);
      }
    }
    for (const c of cuts) {
      const h = await io(c.name, 'open', () => a.open(c.name));
      try {
        await io(c.name, 'truncate', () => h.truncate(c.end));
        await io(c.name, 'sync', () => h.sync());
      } finally {
        await h.close().catch(() => undefined);
      }
    }
    this.recovery.walRecordsReplayed = replayed;
    this.lastSeq = lastSeq;
    this.visibleSeq = lastSeq;
    mem.walFiles = [...m.wals];
    this.current = new Version(mem, [], l0, l1);
    this.holdVersion(this.current);
    mem.refs++;
    this.holdSegments(l0);
    this.holdSegments(l1);
    // a fresh WAL for new writes; the replayed ones never grow again
    this.pendingWalSizes = replayedSizes;
    if (this.readOnly) return;
    if (m.wals.length > walFilesReplayFlushTrigger || mem.bytes >= this.memtableBytes) {
      // the replayed memtable becomes immutable and is flushed in the background (rotate starts the
      // one flush runner; readers see it meanwhile): the open does not wait for a segment write
      await this.openNewWal(mem);
      await this.rotate();
      return;
    }
    // the replayed state is complete (torn tails cut and synced): reads are served from it at once,
    // and the new WAL is made after open() returns, off the first read's path (writes wait for it)
    this.walOpening = this.openFirstWal(mem);
  }

  /**
   * Makes the first WAL of this open in the background (`walOpening`). Until it is listed the files
   * are what recovery left (a crash meanwhile replays the same WALs; a WAL file created and not yet
   * listed is an orphan, one listed with no records replays empty). A failure stops the store: the
   * first write and every later one get the error (IO_ERROR), reads go on, and the replayed WALs stay
   * listed, so a reopen recovers every acknowledged write.
   */
  private async openFirstWal(mem: Memtable): Promise<void> {
    try {
      await this.openNewWal(mem);
    } catch (err) {
      // the store has no WAL to write to: stopped whatever the error (CLOSED included)
      const e = this.fail(err, walName(this.nextFile - 1), 'open');
      this.failed ??= e;
    } finally {
      this.walOpening = undefined;
    }
  }

  /**
   * Makes a WAL current for `mem` (its records belong to that memtable): the spare if there is one,
   * else a new file (header and first zeros synced, then listed in the manifest). A spare in the
   * making is waited for and taken: it is listed after the live WAL, and recovery replays WALs in
   * the order they are listed, so no WAL may be listed between them. The manifest edit also records
   * the size of the WAL this one replaces (its durable mark).
   */
  private async openNewWal(mem: Memtable): Promise<void> {
    if (this.spareMaking !== undefined) await this.spareMaking;
    if (this.failed !== null) throw this.failedError();
    let w = this.spare;
    this.spare = undefined;
    const listed = w !== undefined;
    if (w === undefined) {
      const file = this.nextFile++;
      const name = walName(file);
      // every write to the WAL is followed by a sync: the adapter may make writes durable directly
      const h = await io(name, 'open', () => this.adapter.open(name, { create: true, writeThrough: true }));
      // preallocated: the header and a first chunk of zeros, synced once with the file's size
      const first = new Uint8Array(walHeaderBytes + (this.walPrealloc ? walPreallocBytesMin : 0));
      first.set(walHeader());
      try {
        await io(name, 'truncate', () => h.truncate(0));
        await io(name, 'write', () => h.write(0, first));
        await io(name, 'sync', () => h.sync());
      } catch (err) {
        // not listed: the next open deletes the file as an orphan
        await h.close().catch(() => undefined);
        throw err;
      }
      w = { file, name, handle: h, alloc: first.length };
    }
    const file = w.file;
    if ((this.wal as FileHandle | undefined) !== undefined) this.pendingWalSizes[String(this.walFile)] = this.walSize;
    try {
      await this.editManifest((m) => {
        if (!listed) m.wals.push(file);
        this.noteWalSizes(m);
      });
    } catch (err) {
      await w.handle.close().catch(() => undefined);
      throw err;
    }
    const old = this.wal as FileHandle | undefined;
    this.useWal(w, mem);
    if (old !== undefined) await old.close().catch(() => undefined);
  }

  /**
   * Records the sizes of WALs that never grow again in a manifest being edited (their durable marks,
   * docs/FORMAT.md "WAL"), for those still listed (a flush may have retired one meanwhile).
   */
  private noteWalSizes(m: ManifestState): void {
    const sizes = this.pendingWalSizes;
    this.pendingWalSizes = {};
    let added: Record<string, number> | undefined;
    for (const w of Object.keys(sizes)) if (m.wals.includes(Number(w))) (added ??= { ...m.walSizes })[w] = sizes[w]!;
    if (added !== undefined) m.walSizes = added;
  }

  /** Makes `w` the WAL records are written to (they belong to `mem`), and sets when its spare is made. */
  private useWal(w: SpareWal, mem: Memtable): void {
    this.wal = w.handle;
    this.walFile = w.file;
    this.walFileName = w.name;
    this.walSize = walHeaderBytes;
    this.walSynced = walHeaderBytes;
    this.walAlloc = w.alloc;
    this.walDirty = false;
    mem.walFiles.push(w.file);
    const zeros = w.alloc - walHeaderBytes;
    this.spareAt = this.walSpare ? walHeaderBytes + Math.max(Math.min(zeros / 2, zeros - walSpareLeadBytesMin), zeros - walSpareLeadBytesMax) : Infinity;
  }

  /**
   * Starts making the next WAL off the commit path: a new file holding the header and zeros (twice
   * the live WAL's, walPreallocBytesMin to walPreallocBytesMax), written and synced on their own,
   * then listed in the manifest after the live WAL. No commit waits for it, and no commit's flush of
   * the live WAL carries its bytes (another file: zeros written ahead in the live WAL were measured
   * slower, see docs/ARCHITECTURE.md). If making the file fails there is no spare (the live WAL
   * carries its zeros as before) and at most an unlisted file, which the next open deletes as an
   * orphan; a failed manifest edit stops the store, as any does.
   */
  private makeSpare(): void {
    this.spareAt = Infinity;
    if (this.spare !== undefined || this.spareMaking !== undefined || this.closing !== undefined || this.failed !== null) return;
    const zeros = Math.min(walPreallocBytesMax, Math.max(walPreallocBytesMin, 2 * (this.walAlloc - walHeaderBytes)));
    this.spareMaking = this.makeSpareNow(zeros).finally(() => {
      this.spareMaking = undefined;
    });
  }

  private async makeSpareNow(zeros: number): Promise<void> {
    const a = this.adapter;
    const file = this.nextFile++;
    const name = walName(file);
    let h: FileHandle | undefined;
    try {
      h = await a.open(name, { create: true, writeThrough: true });
      const fill = spareFill(zeros);
      // one write per spareZerosBytes (the first with the header), each durable on its own
      for (let at = 0; at < zeros; at += spareZerosBytes) {
        const n = Math.min(spareZerosBytes, zeros - at);
        await (at === 0 ? h.write(0, fill.subarray(0, walHeaderBytes + n)) : h.write(walHeaderBytes + at, fill.subarray(walHeaderBytes, walHeaderBytes + n)));
      }
      await h.sync();
    } catch {
      if (h !== undefined) await h.close().catch(() => undefined);
      await a.remove(name).catch(() => undefined);
      return;
    }
    const spare: SpareWal = { file, name, handle: h, alloc: walHeaderBytes + zeros };
    let listed = false;
    await this.editManifest(
      (m) => {
        m.wals.push(file);
        this.noteWalSizes(m);
      },
      () => {
        listed = true;
        this.spare = spare;
      },
    ).catch(() => undefined);
    if (!listed) await h.close().catch(() => undefined);
  }

  /**
   * The write about to pass the live WAL's zeros goes to the spare's instead (commit loop only,
   * between two synced writes): the spare becomes the live WAL. The old one never grows again; its
   * size, its durable mark, is recorded by the next manifest edit (the next spare's, a rotation's, a
   * flush's or close's), not by one of its own: each is a replace of the manifest and a directory
   * sync on the device the commits use. Until then recovery takes invalid bytes after its last
   * record for damage, as the log continues after it.
   */
  private switchToSpare(): void {
    const s = this.spare!;
    this.spare = undefined;
    const old = this.wal;
    const oldFile = this.walFile;
    const oldSize = this.walSize;
    this.useWal(s, this.current.mem);
    this.pendingWalSizes[String(oldFile)] = oldSize;
    // closed once the write that switched has been issued (this runs right before it, in the same
    // tick): a close is a thread-pool request too, and handing one to a pool thread can cost the
    // loop thread its CPU (the woken thread preempts it on a busy machine: measured 0.2-7.8 ms
    // between this close and the commit's write in the documents bench's 64-caller phase)
    queueMicrotask(() => void old.close().catch(() => undefined));
  }

  // ------------------------------------------------------------------ manifest

  /** Applies `edit` to a copy of the manifest, swaps it in atomically, then runs `install`. */
  private editManifest(edit: (m: ManifestState) => void, install?: () => void): Promise<void> {
    const run = async (): Promise<void> => {
      const m: ManifestState = { ...this.man, l0: [...this.man.l0], l1: [...this.man.l1], wals: [...this.man.wals] };
      edit(m);
      m.nextFile = Math.max(m.nextFile, this.nextFile);
      this.onEvent?.('manifest-swap');
      const bytes = encodeManifest(m);
      await io(manifestName, 'replace', () => this.adapter.replace(manifestName, bytes));
      this.man = m;
      install?.();
    };
    const p = this.manifestChain.then(run);
    this.manifestChain = p.catch(() => undefined);
    return p.catch((err: unknown) => {
      throw this.fail(err, manifestName, 'replace');
    });
  }

  // ------------------------------------------------------------------ failure

  private fail(err: unknown, file: string, operation: string): LargetableError {
    const e = toIoError(err, file, operation);
    if (this.failed === null && e.code !== 'CLOSED') this.failed = e;
    return e;
  }

  private failedError(): LargetableError {
    const f = this.failed!;
    return new LargetableError(f.code, `store stopped after an earlier failure (${f.message}); reopen to recover`, {
      cause: f,
      details: { ...f.details },
    });
  }

  private checkOpen(): void {
    if (this.closed) throw new LargetableError('CLOSED', 'store is closed');
  }

  private checkWritable(): void {
    this.checkOpen();
    if (this.readOnly) throw new LargetableError('INVALID_ARGUMENT', 'store was opened read-only');
  }

  // ------------------------------------------------------------------ versions

  private holdVersion(v: Version): void {
    v.holds++;
  }

  private releaseVersion(v: Version): void {
    if (--v.holds > 0) return;
    this.releaseSegments(v.l0);
    this.releaseSegments(v.l1);
    // a flushed memtable that no version holds and whose bytes were never handed out as views
    // can be read by nothing: its chunks and columns go to the next memtables
    if (--v.mem.refs === 0 && v.mem.retired && !v.mem.viewsOut) this.recycle(v.mem);
    for (const m of v.imms) if (--m.refs === 0 && m.retired && !m.viewsOut) this.recycle(m);
  }

  /**
   * The pool keeps chunks while the memtables and the pool stay within the memtables' budget
   * ((1 + immutableMemtablesMax) x memtableSizeBytes): under a steady write load every flushed
   * memtable's chunks go to the next ones, none to the garbage collector (which frees them late,
   * and glibc keeps freed memory resident). Once writes stop (none for `poolTrimMs`), the
   * pool gives back all but what the current memtable can still take: an idle store holds no
   * more than a full memtable.
   */
  private recycle(m: Memtable): void {
    const c = this.current;
    let live = c.mem.bytes;
    for (const x of c.imms) if (x !== m) live += x.bytes;
    m.recycle((1 + immutableMemtablesMax) * this.memtableBytes - live);
    if (this.trimTimer === undefined && !this.closed && this.memPool.bytes > this.memtableBytes - c.mem.bytes) this.scheduleTrim();
  }

  private scheduleTrim(): void {
    const seq = this.lastSeq;
    this.trimTimer = setTimeout(() => {
      this.trimTimer = undefined;
      if (this.closed) return;
      // still writing (or writers queued behind a rotation that waits for compaction): look again later
      if (this.lastSeq !== seq || this.queue.length > 0 || this.rotating) this.scheduleTrim();
      else this.memPool.trim(Math.max(0, this.memtableBytes - this.current.mem.bytes));
    }, poolTrimMs);
  }

  /**
   * Takes a reference on each segment (a version's, or a compaction's on its inputs while it reads
   * them); a segment's first one charges its filter and index to the cache budget.
   */
  private holdSegments(segs: Iterable<Segment>): void {
    for (const s of segs) if (s.refs++ === 0) this.cache.pin(s.memoryBytes);
  }

  /** Drops a reference on each segment; an obsolete one is deleted when its last goes. */
  private releaseSegments(segs: Iterable<Segment>): void {
    for (const s of segs) {
      if (--s.refs === 0 && s.obsolete) {
        const p = this.deleteSegment(s);
        this.deleting.add(p);
        const done = (): void => void this.deleting.delete(p);
        p.then(done, done);
      }
    }
  }

  private install(v: Version): void {
    this.holdSegments(v.l0);
    this.holdSegments(v.l1);
    v.mem.refs++;
    for (const m of v.imms) m.refs++;
    this.holdVersion(v);
    const old = this.current;
    this.current = v;
    this.releaseVersion(old);
  }

  private async deleteSegment(s: Segment): Promise<void> {
    this.cache.dropFile(s.meta.file);
    this.cache.unpin(s.memoryBytes);
    await s.handle.close().catch(() => undefined);
    // a failed remove leaves an orphan that the next open deletes. A compaction that `close()`
    // waited for releases its inputs after the store is marked closed: they are still removed (at
    // 1M documents that is the whole previous L1 run, which would otherwise stay on disk, and be
    // deleted by the next open)
    if (!this.adapterClosing) await this.adapter.remove(s.name).catch(() => undefined);
  }

  private minSnapshot(): number {
    let min = this.visibleSeq;
    for (const s of this.snapshots) if (s.num < min) min = s.num;
    return min;
  }

  releaseSnapshot(s: SnapshotImpl): void {
    if (this.snapshots.delete(s)) this.releaseVersion(s.version);
  }

  snapshot(): Snapshot {
    this.checkOpen();
    const s = new SnapshotImpl(this, this.visibleSeq, this.current);
    this.holdVersion(this.current);
    this.snapshots.add(s);
    return s;
  }

  // ------------------------------------------------------------------ writes

  put(key: Uint8Array, value: Uint8Array): Promise<CommitInfo> {
    return this.write([{ type: 'put', key, value }]);
  }

  del(key: Uint8Array): Promise<CommitInfo> {
    return this.write([{ type: 'del', key }]);
  }

  write(ops: WriteOp[], options?: WriteOptions): Promise<CommitInfo> {
    return new Promise<CommitInfo>((resolve, reject) => this.writeTo(ops, options, new PromiseSink(resolve, reject)));
  }

  writeTo(ops: WriteOp[], options: WriteOptions | undefined, sink: WriteSink): void {
    try {
      this.checkWritable();
      if (this.failed !== null) throw this.failedError();
      const d = options?.durability ?? this.durability;
      if (d !== 'strict' && d !== 'relaxed') throw new LargetableError('INVALID_ARGUMENT', `durability must be 'strict' or 'relaxed'`);
      if (d === 'relaxed' && this.relaxedFastPath()) {
        // the memtable copies a record of up to copyBytesMax and keeps nothing else of it: such a
        // record is encoded into one reused buffer instead of a new one per batch (garbage that V8
        // frees late and glibc keeps resident after)
        const rec = encodeBatch(ops, this.encodeScratch);
        // acknowledged from memory: nothing is queued or in flight ahead of it, so it takes the
        // next sequence number and is visible at once; its bytes are written later, in log order
        const seq = ++this.lastSeq;
        sealRecord(rec, seq);
        this.applyRelaxed([rec], seq);
        this.settle(newBatch(rec, undefined, false, false, sink), seq);
        return;
      }
      // a strict record is written, then copied into the memtable (`applyRecord` copies every
      // record it is given without a buffer index): its buffer is reused for later records
      // instead of a new one per batch, whose fresh pages the kernel faults in and zeroes (a
      // batch of 1,000 documents is ~1 MB)
      this.pooledRecord = undefined;
      const rec = d === 'strict' ? encodeBatch(ops, this.recordFromPool) : encodeBatch(ops);
      const pooled = this.pooledRecord;
      this.pooledRecord = undefined;
      const b = newBatch(rec, pooled, d === 'strict', options?.more === true, sink);
      // an empty queue (a sequential writer's, each commit) takes a new array of one: a push into
      // an array that emptied allocates a backing store of 17 slots
      if (this.queue.length === 0) this.queue = [b];
      else this.queue.push(b);
      this.kick();
    } catch (err) {
      this.settleFailed(newBatch(emptyRecord, undefined, false, false, sink), err);
    }
  }

  /** Batches settled and not yet told (`settle`), the first `settledN`; a count, not the length (an array that empties drops its backing store). */
  private settled: (PendingBatch | undefined)[] = [];
  private settledN = 0;

  /** The batch was written (and is visible) as `seq`: its sink is told in a microtask (see WriteSink). */
  private settle(p: PendingBatch, seq: number): void {
    p.seq = seq;
    this.toTell(p);
  }

  /** The batch failed with `err`: its sink is told in a microtask. */
  private settleFailed(p: PendingBatch, err: unknown): void {
    p.failed = true;
    p.error = err;
    this.toTell(p);
  }

  /** Queues a settled batch for `tellSettled` (the first one of a run schedules it). */
  private toTell(p: PendingBatch): void {
    this.settled[this.settledN++] = p;
    if (this.settledN === 1) void resolvedVoid.then(this.tellSettled);
  }

  /** Tells the settled batches' sinks, in order (one microtask for all that settled meanwhile). */
  private readonly tellSettled = (): void => {
    const list = this.settled;
    // batches settled while the sinks run (a relaxed write acknowledged at once) are told here too
    for (let i = 0; i < this.settledN; i++) {
      const p = list[i]!;
      list[i] = undefined;
      try {
        if (p.failed) p.sink.failed(p.error);
        else p.sink.written(p.seq);
      } catch (err) {
        // a sink must not throw: surfaced as an unhandled rejection, the others still told
        void Promise.reject(err);
      }
    }
    this.settledN = 0;
  };

  /** A pending item's failure: a batch's sink is told (`settleFailed`), a rotation's promise rejects. */
  private failPending(p: Pending, err: unknown): void {
    if (p.kind === 'batch') this.settleFailed(p, err);
    else p.reject(err);
  }

  /**
   * Buffers of written strict records, for the next ones (at most recordPoolMax, recordPoolBytesMax
   * in all): the first `recordPoolN` slots. A count, not the array's length: an array that empties
   * drops its backing store, and a sequential writer's pool goes 1 -> 0 -> 1 on every commit.
   */
  private readonly recordPool: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(recordPoolMax).fill(undefined);
  private recordPoolN = 0;
  private recordPoolBytes = 0;
  /** The pool buffer `recordFromPool` handed out last. */
  private pooledRecord: Uint8Array | undefined;
  /** `encodeBatch`'s target for strict records: the smallest pooled buffer that fits, else a new one (a power of two). */
  private readonly recordFromPool = (size: number): Uint8Array | undefined => {
    if (size > recordPoolBytesMax) return undefined;
    const pool = this.recordPool;
    const n = this.recordPoolN;
    let best = -1;
    for (let i = 0; i < n; i++) if (pool[i]!.length >= size && (best < 0 || pool[i]!.length < pool[best]!.length)) best = i;
    let b: Uint8Array;
    if (best >= 0) {
      b = pool[best]!;
      pool[best] = pool[n - 1];
      pool[n - 1] = undefined;
      this.recordPoolN = n - 1;
      this.recordPoolBytes -= b.length;
    } else {
      let n = 4096;
      while (n < size) n *= 2;
      b = new Uint8Array(n);
    }
    this.pooledRecord = b;
    return b;
  };

  /** Returns a written, applied record's buffer to the pool (nothing refers to it any more). */
  private recordToPool(b: Uint8Array): void {
    const pool = this.recordPool;
    let n = this.recordPoolN;
    if (n >= recordPoolMax || this.recordPoolBytes + b.length > recordPoolBytesMax) {
      // full: keep the larger buffers
      let min = -1;
      for (let i = 0; i < n; i++) if (min < 0 || pool[i]!.length < pool[min]!.length) min = i;
      if (min < 0 || pool[min]!.length >= b.length) return;
      this.recordPoolBytes -= pool[min]!.length;
      pool[min] = pool[n - 1];
      pool[--n] = undefined;
      this.recordPoolN = n;
      if (this.recordPoolBytes + b.length > recordPoolBytesMax) return;
    }
    pool[n] = b;
    this.recordPoolN = n + 1;
    this.recordPoolBytes += b.length;
  }

  private encodeBuf: Uint8Array | null = null;
  /** `encodeBatch`'s target on the relaxed fast path: one reused buffer, for records the memtable copies. */
  private readonly encodeScratch = (size: number): Uint8Array | undefined => {
    if (size > this.current.mem.copyBytesMax) return undefined;
    if (this.encodeBuf === null || this.encodeBuf.length < size) this.encodeBuf = new Uint8Array(Math.max(size, Math.min(this.current.mem.copyBytesMax, 2 * (this.encodeBuf?.length ?? 4096))));
    return this.encodeBuf;
  };

  /**
   * A relaxed batch may be acknowledged from memory when no batch or rotation is queued ahead of
   * it, no group is between its sequence numbers and its acknowledgement (a reader must never see
   * a later write without an earlier one), no rotation is running, the memtable has room (the
   * commit loop rotates a full one) and the unwritten bytes are under their bound (else the batch
   * waits in the queue while the commit loop writes them: backpressure).
   */
  private relaxedFastPath(): boolean {
    return (
      this.queue.length === 0 &&
      this.lastSeq === this.visibleSeq &&
      !this.rotating &&
      this.current.mem.bytes < this.memtableBytes &&
      this.unwrittenBytes < walGroupBytesMax &&
      !this.unwrittenOverdue()
    );
  }

  /**
   * The oldest unwritten record waited half the relaxed delay: the timer should have fired, but a
   * writer that never yields to the event loop (a tight loop of relaxed writes) keeps it from
   * running, so its next batch goes through the commit loop, which writes them first.
   */
  private unwrittenOverdue(): boolean {
    return this.unwritten.length > 0 && Date.now() - this.unwrittenSince >= relaxedSyncDelayMsMax / 2;
  }

  /** Applies sealed relaxed records (seqs ending at `lastSeq`) and buffers their WAL bytes. */
  private applyRelaxed(recs: Uint8Array[], lastSeq: number): void {
    const mem = this.current.mem;
    const name = this.walFileName;
    let seq = lastSeq - recs.length;
    if (this.unwritten.length === 0) this.unwrittenSince = Date.now();
    for (const rec of recs) {
      const bi = mem.addBuffer(rec);
      applyRecord(rec, 0, rec.length, ++seq, mem, name, 0, bi);
      // the WAL bytes are written from the memtable's copy (written before the memtable can be
      // flushed and recycled: rotation writes them first), so the record buffer dies young
      this.unwritten.push(mem.registered(bi, rec.length));
      this.unwrittenBytes += rec.length;
    }
    this.visibleSeq = lastSeq;
    this.scheduleRelaxedSync();
  }

  private kick(): void {
    if (this.committing) return;
    this.committing = true;
    const head = this.queue.length === 1 ? this.queue[0]! : undefined;
    if (head !== undefined && head.kind === 'batch' && head.more) {
      // a merged group whose caller has more commits coming (the document layer's, with writers
      // waiting on its lock): its write starts now, on the idle device, and those commits are
      // staged while it is in flight (they form the next group). After a microtask it would start
      // only once the next writer had staged its commit: the device idle meanwhile.
      this.commitDone = this.commitLoop();
      return;
    }
    // the loop starts after the current run of synchronous and promise-resumed callers, so
    // writers issued together (Promise.all, writers resumed by the previous group) form one group
    this.commitDone = resolvedVoid.then(this.startCommits);
  }

  /**
   * The loop's start (a microtask after `kick`): a lone commit written synchronously needs no
   * asynchronous loop, nor does one that waits only for the event loop's turn (`loneTurnDue`):
   * that turn is taken here and the start runs again after it, as `commitQueued` would have done
   * (a sequential writer's every 16th commit, every 4th while a spare is made: in a fresh process
   * that loop's large function runs as unoptimized code each time).
   */
  private readonly startCommits = (): Promise<void> | undefined => {
    if (this.commitLoneNow()) {
      this.committing = false;
      return undefined;
    }
    if (this.loneTurnDue()) {
      // one turn lets writers that wait on it queue (with this batch they form a group, written asynchronously)
      this.walSyncRun = 0;
      return this.wal.turn!().then(this.afterTurn);
    }
    return this.commitLoop();
  };

  /** After `startCommits`' turn: the writer is alone if nothing queued meanwhile; then the start again. */
  private readonly afterTurn = (): Promise<void> | undefined => {
    this.walQuiet = this.queue.length === 1;
    return this.startCommits();
  };

  /**
   * The one queued batch is written after a turn of the event loop (`startCommits`, `commitQueued`):
   * a strict batch, not handed over with `more`, after a run of synchronous commits, with no
   * rotation, failure or WAL opening to see to first.
   */
  private loneTurnDue(): boolean {
    if (this.queue.length !== 1 || this.failed !== null || this.walOpening !== undefined || this.wal.turn === undefined) return false;
    const p = this.queue[0]!;
    return p.kind === 'batch' && p.strict && !p.more && this.walSyncRun >= this.turnAfter() && this.current.mem.bytes < this.memtableBytes;
  }

  /**
   * What `commitQueued` does for a lone strict batch that it writes synchronously (a sequential
   * writer's commit), done without entering it: no asynchronous function frames and promises per
   * commit. Returns false, having done nothing, unless exactly that case applies (then the loop
   * decides, as before); true once the batch is resolved or rejected.
   */
  private commitLoneNow(): boolean {
    if (this.queue.length !== 1 || this.failed !== null || this.unwritten.length > 0 || this.persistWanted || this.walOpening !== undefined) return false;
    const p = this.queue[0]!;
    if (p.kind !== 'batch' || !p.strict || p.more || p.rec.length > walSyncBytesMax) return false;
    // no rotation due, no turn of the event loop due, a sequential writer, no probe of the other way due
    if (this.current.mem.bytes >= this.memtableBytes || !this.syncWayChosen()) return false;
    // a write the handle makes durable by itself, with no sync left to do after it
    const h = this.wal;
    if (h.writeDurableSync === undefined || h.syncPending?.() !== false) return false;
    const rec = p.rec;
    if (this.walPrealloc && this.walSize + rec.length > this.walAlloc && this.spare === undefined && rec.length + this.walPadBytes() > walSyncExtendBytesMax) return false;
    const seq = this.lastSeq + 1;
    sealRecord(rec, seq);
    const name = this.walFileName;
    const t0 = performance.now();
    this.queue.pop(); // not length = 0, which frees the array's backing store (the next write's push allocates one)
    try {
      if (!this.walWriteNow([rec])) {
        // the handle declined after all (nothing written): the loop takes the batch as before
        this.queue.push(p);
        return false;
      }
    } catch (err) {
      this.lastSeq = seq;
      this.settleFailed(p, this.fail(err, name, 'append'));
      return true;
    }
    this.lastSeq = seq;
    p.seq = seq;
    this.wroteNow(rec.length);
    this.walSyncedTo(this.walSize);
    this.noteLatNow(t0);
    applyRecord(rec, 0, rec.length, seq, this.current.mem, name, 0);
    this.visibleSeq = seq;
    if (p.pooled !== undefined) this.recordToPool(p.pooled);
    this.settle(p, seq);
    return true;
  }

  /**
   * Whether a lone commit of a sequential writer (nothing else queued while the last one was
   * written) goes the synchronous way: no event-loop turn due, no probe of the asynchronous way
   * due, and that way not measured faster (until a probe measured it, this one is taken), or
   * the asynchronous way taken walSyncRunMax times in a row (a try of this one).
   */
  private syncWayChosen(): boolean {
    if (!this.walQuiet || this.walSyncRun >= this.turnAfter()) return false;
    if (this.walProbeRun >= this.walProbeLimit && !this.walSyncSteady()) return false;
    const faster = this.walLatNowUs === 0 || this.walLatAsyncUs === 0 || this.walLatNowUs <= this.walLatAsyncUs;
    return faster || this.walAsyncRun >= walSyncRunMax;
  }

  /** Synchronous commits in a row before the event loop gets a turn: walSyncRunMax, walSyncRunSpare while a spare WAL is being made. */
  private turnAfter(): number {
    return this.spareMaking === undefined ? walSyncRunMax : walSyncRunSpare;
  }

  /**
   * A commit written the synchronous way (`walWriteNow` returned true): that way's run counters,
   * then the 'wal-sync' point (before the sync, where one is left to do).
   */
  private wroteNow(bytes: number): void {
    // a group of concurrent callers' commits follows their staging (milliseconds of the thread)
    this.walSyncRun += bytes > walSyncBytesMax ? walSyncRunLarge : 1;
    this.walProbeRun++;
    this.walAsyncRun = 0;
    this.onEvent?.('wal-sync');
  }

  /**
   * Moving average (and best) of the synchronous way's commit latency: `t0` its start
   * (performance.now()). The average takes the median of the last three samples, not the last one:
   * on a machine whose CPUs other processes share, a commit now and then takes milliseconds (its
   * thread waited for a CPU once its write completed), and each such sample moved an average of
   * ~200 us past the asynchronous way's, which then took the next walSyncRunMax commits, ~25% slower
   * each (docs/ARCHITECTURE.md "Write path"); a lasting change passes from its second sample on. And
   * the try after such a run replaces the average: that way's samples come every walSyncRunMax
   * commits then, and at 1/8 weight each, one slow moment kept the writer on the slower way for
   * hundreds of commits.
   */
  private noteLatNow(t0: number): void {
    const us = sinceUs(t0);
    if (this.walNowStale) {
      this.walNowStale = false;
      this.walNowPrev = 0;
      this.walLatNowUs = us;
    } else this.walLatNowUs = movedUs(this.walLatNowUs, median3(this.walNowPrev2, this.walNowPrev, us));
    this.walNowPrev2 = this.walNowPrev;
    this.walNowPrev = us;
    if (this.walLatNowBestUs === 0 || this.walLatNowUs < this.walLatNowBestUs) this.walLatNowBestUs = this.walLatNowUs;
  }

  private async commitLoop(): Promise<void> {
    try {
      await this.commitQueued();
    } catch {
      // commitQueued rejects every pending batch itself
    }
  }

  /** Runs until the queue is empty; clears `committing` in the same tick as the last check. */
  private async commitQueued(): Promise<void> {
    // the first group of this run of the loop: nothing was written while its batches queued
    let fresh = true;
    for (;; fresh = false) {
      // the first WAL of this open is still being made (a failure sets `failed`)
      if (this.walOpening !== undefined) await this.walOpening;
      if (this.queue.length === 0) {
        if (this.persistWanted && this.failed === null && !this.closed) {
          // the relaxed timer: write and sync what was acknowledged from memory
          this.persistWanted = false;
          await this.persistWal().catch(() => undefined); // failed is set: later writes get IO_ERROR
          continue;
        }
        this.committing = false;
        return;
      }
      if (this.failed !== null) {
        const q = this.queue;
        this.queue = [];
        for (const p of q) this.failPending(p, this.failedError());
        continue;
      }
      const head = this.queue[0]!;
      if (head.kind === 'rotate') {
        this.queue.shift();
        try {
          if (this.current.mem.count > 0) await this.rotate();
          head.resolve();
        } catch (err) {
          head.reject(err);
        }
        continue;
      }
      if (this.current.mem.bytes >= this.memtableBytes) {
        try {
          await this.rotate();
        } catch (err) {
          this.rejectQueue(err);
          continue;
        }
      }
      if (fresh && this.loneTurnDue()) {
        // a run of synchronous commits kept the event loop from turning: one turn lets writers
        // that wait on it queue (with this batch they form a group, written asynchronously)
        this.walSyncRun = 0;
        await this.wal.turn!();
        this.walQuiet = this.queue.length === 1;
      }
      // the group: consecutive batches up to the next rotate marker
      let n = 0;
      let groupBytes = 0;
      while (n < this.queue.length && this.queue[n]!.kind === 'batch' && (n === 0 || groupBytes < walGroupBytesMax)) {
        groupBytes += (this.queue[n] as PendingBatch).rec.length;
        n++;
      }
      let strict = false;
      for (let i = 0; i < n; i++) if ((this.queue[i] as PendingBatch).strict) strict = true;
      if (!strict && this.unwrittenBytes > 0 && (this.unwrittenBytes + groupBytes > walGroupBytesMax || this.unwrittenOverdue())) {
        // relaxed batches over the bound of unwritten bytes, or behind overdue ones, wait for
        // those to be written and synced
        try {
          await this.persistWal();
        } catch (err) {
          this.rejectQueue(err);
          continue;
        }
        continue; // the queue may have changed (a rotation may be due): form the group again
      }
      const group = this.queue.splice(0, n) as PendingBatch[];
      let seq = this.lastSeq;
      for (let i = 0; i < group.length; i++) {
        const p = group[i]!;
        seq++;
        sealRecord(p.rec, seq);
        p.seq = seq;
      }
      this.lastSeq = seq;
      if (!strict) {
        // relaxed only: acknowledged from memory, written in the background
        this.applyRelaxed(
          group.map((p) => p.rec),
          seq,
        );
        for (let i = 0; i < group.length; i++) this.settle(group[i]!, group[i]!.seq);
        continue;
      }
      // strict: everything acknowledged before it goes first, in one write and one sync
      const parts = this.takeUnwritten();
      for (let i = 0; i < group.length; i++) parts.push(group[i]!.rec);
      const name = this.walFileName;
      // on the thread-pool path the memtable takes the group while its bytes are written and
      // synced: readers see versions up to visibleSeq only, so it stays invisible until the sync
      // succeeded (and for good if it fails: the store then stops, see the catch below). Rotation
      // runs in this loop only, so the memtable is still the current one when the group is visible.
      const mem = this.current.mem;
      let applied = false;
      try {
        const one = group[0]!;
        const lone = fresh && group.length === 1 && !one.more && (one.rec.length <= walSyncBytesMax || (one.rec.length <= walSyncGroupBytesMax && this.walSyncSteady()));
        const t0 = lone ? performance.now() : 0;
        // a lone commit of a sequential writer is written on this thread while that has been the
        // faster way (measured: under CPU contention the thread-pool round trip wins), with a try
        // of the other way every walSyncRunMax commits while that one is faster, and a probe of it
        // every walProbeLimit commits while this one is, to keep both measures current
        let now = false;
        if (lone && this.syncWayChosen()) now = this.walWriteNow(parts);
        if (now) this.wroteNow(group[0]!.rec.length);
        else {
          this.walSyncRun = 0;
          this.walProbeRun = 0;
          // walSyncRunMax in a row: the synchronous way's average is stale (its next sample replaces it)
          if (++this.walAsyncRun >= walSyncRunMax) this.walNowStale = true;
          const written = this.walWrite(parts);
          applied = true;
          for (let i = 0; i < group.length; i++) applyBatch(group[i]!, mem, name);
          await written;
          // no batch arrived while this write was in flight: the writer(s) are sequential
          this.walQuiet = this.queue.length === 0;
          this.onEvent?.('wal-sync');
        }
        // a synchronous write is durable when it returns: its sync is skipped when it has nothing to do
        const end = this.walSize;
        if (!now || this.wal.syncPending?.() !== false) {
          try {
            // not through io(): no closure and async frame per commit
            await this.wal.sync();
          } catch (err) {
            throw toIoError(err, name, 'sync');
          }
        }
        this.walSyncedTo(end);
        if (lone) {
          if (now) this.noteLatNow(t0);
          else if (this.queue.length === 0) {
            this.walLatAsyncUs = movingUs(this.walLatAsyncUs, t0);
            // the synchronous way still clearly faster: probe (and pay the round trip) a quarter as often
            this.walProbeLimit = this.walLatNowUs > 0 && this.walLatNowUs * 2 <= this.walLatAsyncUs ? Math.min(this.walProbeLimit * 4, walProbeRunCap) : walSyncRunMax;
          }
        } else this.walProbeLimit = walSyncRunMax;
      } catch (err) {
        const e = this.fail(err, name, 'append');
        // a group in the memtable must stay invisible: no later write may pass it
        if (applied && this.failed === null) this.failed = e;
        for (const p of group) this.settleFailed(p, e);
        continue;
      }
      if (!applied) for (let i = 0; i < group.length; i++) applyBatch(group[i]!, mem, name);
      this.visibleSeq = seq;
      // written, synced and copied into the memtable: the buffers serve later records
      for (let i = 0; i < group.length; i++) {
        const p = group[i]!;
        if (p.pooled !== undefined) this.recordToPool(p.pooled);
        this.settle(p, p.seq);
      }
    }
  }

  /**
   * After a failed rotation or WAL write outside a group: with `failed` set the loop rejects the
   * queue itself; else the adapter was closed under the store (CLOSED, which does not stop it), and
   * the queued batches get that error here (retrying would spin the loop without end).
   */
  private rejectQueue(err: unknown): void {
    if (this.failed !== null) return;
    const q = this.queue;
    this.queue = [];
    for (const p of q) this.failPending(p, err);
  }

  /**
   * The synchronous way still costs what it did at its best (its moving average within
   * walSteadyFactor times its lowest, or walSteadySlackUs more): nothing slows this thread or the device, so the thread-pool
   * round trip cannot be the faster way and a probe of it would only cost its latency (0.3-4 ms on
   * an idle 2-core VM, the slowest of a fresh store's first 300 sequential commits). Probes wait
   * until that changes (CPU contention: latencies of several ms against ~0.2 ms), or for
   * walProbeRunCap synchronous commits. (With a factor of 2, one device hiccup of ~2 ms among
   * 0.2 ms writes was enough for a probe.)
   */
  private walSyncSteady(): boolean {
    const best = this.walLatNowBestUs;
    return this.walLatNowUs > 0 && this.walLatNowUs <= Math.max(walSteadyFactor * best, best + walSteadySlackUs) && this.walProbeRun < walProbeRunCap;
  }

  /**
   * A sync of the current WAL completed that covers every byte up to `end`: the end of the last
   * write that had completed when the sync was issued (with one write in flight, the log's end then).
   * A write still in flight when a sync is issued is not covered by it: its end may be taken only
   * from a sync issued after it completed.
   */
  private walSyncedTo(end: number): void {
    this.walSyncs++;
    this.walDirty = false;
    if (end > this.walSynced) this.walSynced = end;
  }

  /** Stamps the records about to be written to the current WAL with its synced mark. */
  private stampParts(parts: Uint8Array[]): void {
    const mark = this.walSynced;
    // an indexed loop: no iterator and result objects per commit in unoptimized code
    for (let i = 0; i < parts.length; i++) stampRecord(parts[i]!, mark);
  }

  private takeUnwritten(): Uint8Array[] {
    const parts = this.unwritten;
    this.unwritten = [];
    this.unwrittenBytes = 0;
    return parts;
  }

  /**
   * Writes records at the log's end (commit loop only). With preallocation the bytes land in the
   * zero-filled tail; when they pass its end, a small write carries a new chunk of zeros with it
   * (one size change, synced with it) so the next commits again sync data only.
   */
  private async walWrite(parts: Uint8Array[]): Promise<void> {
    let total = 0;
    for (let i = 0; i < parts.length; i++) total += parts[i]!.length;
    if (total === 0) return;
    if (this.spare !== undefined && this.walSize + total > this.walAlloc && !this.walDirty) this.switchToSpare();
    this.stampParts(parts);
    const at = this.walSize;
    const end = at + total;
    let pad = 0;
    if (this.walPrealloc && end > this.walAlloc && total <= walPreallocGroupBytesMax) {
      pad = this.walPadBytes();
    }
    const name = this.walFileName;
    if (parts.length > 1 && pad === 0 && total > walCoalesceBytes) {
      // many records (relaxed ones acknowledged from memory, up to walGroupBytesMax): written in
      // chunks through one reused buffer instead of concatenated into a new one of up to 8 MiB
      // each time (garbage the engine frees lazily and the allocator keeps resident)
      this.onEvent?.('wal-append');
      this.walDirty = true;
      const co = (this.walCoalesce ??= new Uint8Array(walCoalesceBytes));
      let off = at;
      let fill = 0;
      const put = async (bytes: Uint8Array): Promise<void> => {
        await io(name, 'write', () => this.wal.write(off, bytes));
        off += bytes.length;
      };
      for (const p of parts) {
        if (fill > 0 && fill + p.length > co.length) {
          await put(co.subarray(0, fill));
          fill = 0;
        }
        if (p.length >= co.length) await put(p);
        else {
          co.set(p, fill);
          fill += p.length;
          if (fill > this.walCoalesceDirty) this.walCoalesceDirty = fill;
        }
      }
      if (fill > 0) await put(co.subarray(0, fill));
      this.walSize = end;
      if (end > this.walAlloc) this.walAlloc = end;
      return; // (a large write: no spare made for it)
    }
    let buf: Uint8Array;
    if (parts.length === 1 && pad === 0) buf = parts[0]!;
    else if (total + pad <= walCoalesceBytes) {
      // a small group (and its preallocation zeros) is gathered in the reused buffer as well
      buf = this.walGather(parts, total + pad);
    } else {
      buf = new Uint8Array(total + pad);
      let o = 0;
      for (let i = 0; i < parts.length; i++) {
        const p = parts[i]!;
        buf.set(p, o);
        o += p.length;
      }
    }
    this.onEvent?.('wal-append');
    this.walDirty = true;
    try {
      // not through io(): no closure and async frame per commit
      await this.wal.write(at, buf);
    } catch (err) {
      throw toIoError(err, name, 'write');
    }
    this.walSize = end;
    if (at + buf.length > this.walAlloc) this.walAlloc = at + buf.length;
    if (end >= this.spareAt && total <= walPreallocGroupBytesMax) this.makeSpare();
  }

  /** The zeros a WAL write that passes the preallocated tail carries: a new chunk as long as the log so far, within bounds. */
  private walPadBytes(): number {
    return Math.min(walPreallocBytesMax, Math.max(walPreallocBytesMin, this.walAlloc));
  }

  /** `parts` one after the other, then zeros up to `size` bytes (at most walCoalesceBytes), in the reused coalesce buffer. */
  private walGather(parts: Uint8Array[], size: number): Uint8Array {
    const co = (this.walCoalesce ??= new Uint8Array(walCoalesceBytes));
    let o = 0;
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      co.set(p, o);
      o += p.length;
    }
    // only bytes written before need zeroing: the rest of the buffer is still zero, and its pages
    // untouched (filling a fresh buffer's 256 KiB of zeros faulted its pages in on this thread:
    // measured ~1 ms on the bench VM, in the first group commit that passes the preallocated zeros)
    const dirty = this.walCoalesceDirty;
    if (dirty > o) co.fill(0, o, dirty < size ? dirty : size);
    this.walCoalesceDirty = dirty > size ? dirty : o;
    return co.subarray(0, size);
  }

  /**
   * Writes a lone commit's record synchronously when the WAL handle can make a write durable on
   * this thread (`writeDurableSync`, Node fs O_DSYNC): one system call instead of a thread-pool
   * round trip. Returns false, having written nothing, when it cannot (then `walWrite`).
   */
  private walWriteNow(parts: Uint8Array[]): boolean {
    if (this.wal.writeDurableSync === undefined || parts.length !== 1) return false;
    const rec = parts[0]!;
    if (this.spare !== undefined && this.walSize + rec.length > this.walAlloc && !this.walDirty) this.switchToSpare();
    const h = this.wal;
    if (h.writeDurableSync === undefined) return false;
    const at = this.walSize;
    const end = at + rec.length;
    let buf = rec;
    if (this.walPrealloc && end > this.walAlloc) {
      // a write that passes the preallocated zeros carries new ones (as `walWrite` does): here
      // only while they are few (the log's first chunks), else the asynchronous path writes them
      const pad = this.walPadBytes();
      if (rec.length + pad > walSyncExtendBytesMax) return false;
      this.stampParts(parts);
      buf = this.walGather(parts, rec.length + pad);
    } else this.stampParts(parts);
    const name = this.walFileName;
    this.onEvent?.('wal-append');
    let done: boolean;
    try {
      done = h.writeDurableSync(at, buf);
    } catch (err) {
      this.walDirty = true;
      throw toIoError(err, name, 'write');
    }
    if (!done) return false;
    this.walDirty = true;
    this.walSize = end;
    if (at + buf.length > this.walAlloc) this.walAlloc = at + buf.length;
    if (end >= this.spareAt) this.makeSpare();
    return true;
  }

  private scheduleRelaxedSync(): void {
    if (this.syncTimer !== undefined) return;
    this.syncTimer = setTimeout(() => {
      this.syncTimer = undefined;
      if (this.closed || this.failed !== null) return;
      this.persistWanted = true;
      this.kick();
    }, relaxedSyncDelayMsMax / 2);
  }

  /** Writes the unwritten relaxed records and syncs the WAL (commit loop, rotation and close only). */
  private async persistWal(): Promise<void> {
    if (this.failed !== null) return;
    const name = this.walFileName;
    try {
      if (this.unwritten.length > 0) await this.walWrite(this.takeUnwritten());
      if (!this.walDirty) return;
      const end = this.walSize;
      await io(name, 'sync', () => this.wal.sync());
      this.walSyncedTo(end);
    } catch (err) {
      throw this.fail(err, name, 'sync');
    }
  }

  /** Turns the memtable into an immutable one and starts a new WAL (commit loop only). */
  private async rotate(): Promise<void> {
    // relaxed batches queue meanwhile: the old WAL ends with every record of the old memtable
    this.rotating = true;
    try {
      await this.rotateNow();
    } finally {
      this.rotating = false;
    }
  }

  private async rotateNow(): Promise<void> {
    while (this.current.imms.length >= immutableMemtablesMax && this.flushRunning !== null) await this.flushRunning;
    // too many L0 segments slow every read: let the background compaction catch up first
    while (this.autoCompact && this.current.l0.length >= level0SegmentsStall && this.failed === null && !this.closed) {
      if (!this.compactionPending) {
        this.compactionPending = true;
        void this.compact(true).catch(() => undefined);
      }
      await this.compactionChain;
    }
    if (this.failed !== null) throw this.failedError();
    await this.persistWal();
    // the next memtable takes the columns of a recycled one, else ones as long as this one's
    if (this.current.mem.bytes >= this.memtableBytes) this.current.mem.rememberSizes();
    const mem = new Memtable(this.memPool);
    try {
      await this.openNewWal(mem);
    } catch (err) {
      throw this.fail(err, walName(this.nextFile - 1), 'open');
    }
    // read the version after the await: a flush or compaction may have installed a newer one
    const cur = this.current;
    this.install(new Version(mem, [cur.mem, ...cur.imms], cur.l0, cur.l1));
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushRunning !== null) return;
    this.flushRunning = this.runFlushes().finally(() => {
      this.flushRunning = null;
    });
    this.flushRunning.catch(() => undefined);
  }

  private async runFlushes(): Promise<void> {
    while (this.current.imms.length > 0 && this.failed === null && !this.closed) {
      await this.flushOldest();
    }
    if (this.autoCompact && this.current.l0.length >= level0SegmentsCompactTrigger && !this.compactionPending && !this.closed && !this.closingFlush) {
      this.compactionPending = true;
      void this.compact(true).catch(() => undefined);
    }
  }

  private async flushOldest(): Promise<void> {
    const imm = this.current.imms[this.current.imms.length - 1]!;
    let meta: SegmentMeta | null = null;
    let seg: Segment | null = null;
    if (imm.count > 0) {
      const file = this.nextFile++;
      const name = segmentName(file);
      try {
        const h = await io(name, 'open', () => this.adapter.open(name, { create: true }));
        // level-0 segments are short-lived: written raw; compaction compresses
        const b = new SegmentBuilder(h, name, this.blockSize, 0, imm.count);
        const minSnap = this.minSnapshot();
        for (let n = imm.first(); n !== NIL; n = imm.next(n)) {
          let prevSeq = -1;
          const kb = imm.keyBuf(n);
          const ko = imm.keyOff(n);
          const kl = imm.keyLen(n);
          for (let v = imm.newest(n); v !== NIL; v = imm.older(v)) {
            const seq = imm.seq(v);
            if (seq === prevSeq) continue;
            b.addRaw(kb, ko, kl, seq, imm.valBuf(v), imm.valOff(v), imm.valLen(v));
            prevSeq = seq;
            if (seq <= minSnap) break;
          }
          if (b.pendingBytes >= segmentDrainBytes) {
            this.onEvent?.('segment-write');
            await b.drain();
          }
        }
        this.onEvent?.('segment-write');
        meta = await b.finish(file);
        seg = await Segment.open(h, name, file, this.cache, b.takeTail());
      } catch (err) {
        throw this.fail(err, name, 'write');
      }
    }
    this.onEvent?.('flush-install');
    await this.editManifest(
      (m) => {
        if (meta !== null) m.l0.unshift(meta);
        m.wals = m.wals.filter((w) => !imm.walFiles.includes(w));
        const sizes = { ...m.walSizes };
        for (const w of imm.walFiles) delete sizes[String(w)];
        m.walSizes = sizes;
        this.noteWalSizes(m);
        m.flushedSeq = Math.max(m.flushedSeq, imm.maxSeq);
      },
      () => {
        const c = this.current;
        imm.retired = true;
        this.install(new Version(c.mem, c.imms.filter((x) => x !== imm), seg === null ? c.l0 : [seg, ...c.l0], c.l1));
      },
    );
    for (const w of imm.walFiles) {
      if (w === this.walFile) continue;
      await this.adapter.remove(walName(w)).catch(() => undefined);
    }
  }

  /** Flushes the memtable to a segment (waits for every pending flush). */
  async flush(): Promise<void> {
    this.checkWritable();
    if (this.failed !== null) throw this.failedError();
    await new Promise<void>((resolve, reject) => {
      this.queue.push({ kind: 'rotate', resolve, reject });
      this.kick();
    });
    while (this.flushRunning !== null) await this.flushRunning;
    if (this.failed !== null) throw this.failedError();
  }

  // ------------------------------------------------------------------ compaction

  /**
   * Compacts every segment into one sorted level (`compact()`). The background trigger passes
   * `auto`: while the L0 segments together hold few entries next to L1 (< 1/`l1ToL0RatioMax`), they are
   * merged among themselves (tombstones kept) instead of rewriting all of L1, which bounds write
   * amplification as the store grows.
   */
  compact(auto = false): Promise<void> {
    try {
      this.checkWritable();
    } catch (err) {
      return Promise.reject(err);
    }
    const p = this.compactionChain.then(() => this.runCompaction(auto));
    this.compactionChain = p.catch(() => undefined);
    return p;
  }

  private async runCompaction(auto: boolean): Promise<void> {
    this.compactionPending = false;
    if (this.closed) return;
    if (this.failed !== null) throw this.failedError();
    const v = this.current;
    if (v.l0.length === 0 && v.l1.length <= 1) return;
    // entries, not bytes: L0 segments are written raw and L1 compressed, so bytes would make L0 look
    // several times larger than it is and rewrite all of L1 that much more often
    let l0Entries = 0;
    let l1Entries = 0;
    for (const s of v.l0) l0Entries += s.meta.count;
    for (const s of v.l1) l1Entries += s.meta.count;
    // bottom = a full merge into L1 (tombstones dropped); else L0 segments merge among themselves
    const bottom = !auto || l0Entries * l1ToL0RatioMax >= l1Entries;
    if (!bottom && v.l0.length < 2) return;
    const inputs = new Set<Segment>(bottom ? [...v.l0, ...v.l1] : v.l0);
    // the inputs stay open until the compaction ends; not the whole version: its memtables would
    // then outlive their flush by the compaction's length (tens of seconds at 10M keys) instead of
    // going to the pool, and the memtables written meanwhile would take new chunks
    this.holdSegments(inputs);
    // an L0 merge writes one segment: size its bloom filter by the input entry count up front
    let inputKeys = 0;
    for (const s of inputs) inputKeys += s.meta.count;
    const outputs: Segment[] = [];
    const metas: SegmentMeta[] = [];
    try {
      const minSnap = this.minSnapshot();
      const sources: Source[] = [];
      // compaction reads every input block once: it does not displace the cache's hot blocks
      for (const s of v.l0) sources.push(new RunSource([s], true, false));
      if (bottom && v.l1.length > 0) sources.push(new RunSource(v.l1, true, false));
      for (const s of sources) await s.seek(null);
      let b: SegmentBuilder | null = null;
      let bFile = 0;
      const finishOut = async (): Promise<void> => {
        if (b === null) return;
        const done = b;
        b = null;
        if (done.count === 0) {
          await done.handle.close().catch(() => undefined);
          await this.adapter.remove(done.name).catch(() => undefined);
          return;
        }
        this.onEvent?.('compaction-write');
        const meta = await done.finish(bFile);
        metas.push(meta);
        outputs.push(await Segment.open(done.handle, done.name, bFile, this.cache, done.takeTail()));
      };
      // the last key seen, copied: the sources decode blocks into scratch buffers they reuse
      let lastKey = new Uint8Array(64);
      let lastLen = -1;
      let keptOld = false;
      const openOut = async (): Promise<SegmentBuilder> => {
        bFile = this.nextFile++;
        const name = segmentName(bFile);
        const h = await io(name, 'open', () => this.adapter.open(name, { create: true }));
        return new SegmentBuilder(h, name, this.blockSize, this.level, bottom ? undefined : inputKeys);
      };
      for (;;) {
        // smallest key; among equal keys the highest seq
        let best: Source | null = null;
        for (const s of sources) {
          if (!s.valid) continue;
          if (best === null) best = s;
          else {
            const c = compareRanges(s.kbuf, s.koff, s.klen, best.kbuf, best.koff, best.klen);
            if (c < 0 || (c === 0 && s.seq > best.seq)) best = s;
          }
        }
        if (best === null) break;
        const newKey = lastLen < 0 || compareRanges(best.kbuf, best.koff, best.klen, lastKey, 0, lastLen) !== 0;
        if (newKey) {
          // L1 is cut into ~segmentBytes segments; an L0 merge stays one segment (one L0 entry)
          if (bottom && b !== null && (b as SegmentBuilder).sizeBytes >= this.segmentBytes) await finishOut();
          lastLen = best.klen;
          if (lastKey.length < lastLen) lastKey = new Uint8Array(Math.max(lastLen, lastKey.length * 2));
          for (let i = 0; i < lastLen; i++) lastKey[i] = best.kbuf[best.koff + i]!;
          keptOld = false;
        }
        if (!keptOld) {
          // keep every version newer than the oldest snapshot, plus the newest older one;
          // a tombstone at the bottom level with nothing older needed is dropped
          const older = best.seq <= minSnap;
          if (older) keptOld = true;
          if (!(older && best.del && bottom)) {
            if (b === null) b = await openOut();
            (b as SegmentBuilder).addRaw(best.kbuf, best.koff, best.klen, best.seq, best.vbuf(), best.voff(), best.vlen());
          }
        }
        if (b !== null && (b as SegmentBuilder).pendingBytes >= segmentDrainBytes) {
          this.onEvent?.('compaction-write');
          await (b as SegmentBuilder).drain();
        }
        const p = best.next();
        if (p !== undefined) await p;
      }
      await finishOut();
    } catch (err) {
      this.releaseSegments(inputs);
      for (const o of outputs) await o.handle.close().catch(() => undefined);
      throw this.fail(err, 'compaction', 'write');
    }
    this.onEvent?.('compaction-install');
    try {
      await this.editManifest(
        (m) => {
          const gone = new Set([...inputs].map((s) => s.meta.file));
          if (bottom) {
            m.l0 = m.l0.filter((s) => !gone.has(s.file));
            m.l1 = metas;
          } else m.l0 = [...m.l0.filter((s) => !gone.has(s.file)), ...metas]; // the merged data is the oldest L0
        },
        () => {
          const c = this.current;
          for (const s of inputs) s.obsolete = true;
          if (bottom) this.install(new Version(c.mem, c.imms, c.l0.filter((s) => !inputs.has(s)), outputs));
          else this.install(new Version(c.mem, c.imms, [...c.l0.filter((s) => !inputs.has(s)), ...outputs], c.l1));
          this.compactions++;
        },
      );
    } finally {
      this.releaseSegments(inputs);
    }
  }

  // ------------------------------------------------------------------ reads

  private resolveSnapshot(snapshot: Snapshot | undefined): { snap: number; version: Version } {
    if (snapshot === undefined) return { snap: this.visibleSeq, version: this.current };
    if (snapshot instanceof SnapshotImpl && snapshot.store === this) {
      if (snapshot.released) throw new LargetableError('INVALID_ARGUMENT', 'snapshot was released');
      return { snap: snapshot.num, version: snapshot.version };
    }
    throw new LargetableError('INVALID_ARGUMENT', 'snapshot does not belong to this store');
  }

  /**
   * Point read. The common case runs synchronously to the end (memtables, then segments whose
   * blocks are cached: bloom first, then the sparse index and the block) and returns a settled
   * promise; the first block that is not cached switches to `getFrom`, which reads it.
   */
  get(key: Uint8Array, snapshot?: Snapshot): Promise<Uint8Array | undefined> {
    try {
      this.checkOpen();
      checkKey(key);
      const { snap, version } = this.resolveSnapshot(snapshot);
      const r = this.lookupCached(key, snap, version);
      if (typeof r === 'number') return this.getFrom(key, snap, version, -1 - r, hashOf(key));
      return Promise.resolve(r ?? undefined);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Point read over memtables and cached blocks only, synchronous (no I/O): the value (a copy),
   * null when the key has no visible value, or undefined when a block the lookup needs is not
   * cached (then `get` it). Batched readers probe with this and await `get` only for the misses.
   */
  getCached(key: Uint8Array, snapshot?: Snapshot): Uint8Array | null | undefined {
    this.checkOpen();
    checkKey(key);
    const { snap, version } = this.resolveSnapshot(snapshot);
    const r = this.lookupCached(key, snap, version);
    return typeof r === 'number' ? undefined : r;
  }

  /**
   * `getCached` on the latest state without copying a value found in a segment: a read-only view
   * into the cached block (immutable; the view keeps the whole block alive, so copy what you keep).
   * A value found in a memtable is a copy (memtable buffers are recycled). For readers that decode
   * or test the value at once: no allocation for the value.
   */
  getCachedView(key: Uint8Array): Uint8Array | null | undefined {
    this.checkOpen();
    checkKey(key);
    const r = this.lookupCached(key, this.visibleSeq, this.current, true);
    return typeof r === 'number' ? undefined : r;
  }

  /**
   * `getCachedView` without allocating anything: 1 when the key has a visible value, whose bytes
   * are then `hit.buf[hit.off, hit.off + hit.len)`, 0 when it has none, -1 when a block the lookup
   * needs is not cached (then `get` it). The bytes are store memory (a cached block or a memtable
   * record buffer), read-only and valid only until the next call into the store: decode or copy
   * them at once. For batched readers that decode every value they find.
   */
  locateCached(key: Uint8Array): number {
    this.checkOpen();
    checkKey(key);
    const r = this.locate(key, this.visibleSeq, this.current);
    return r < 0 ? -1 : r === locNone ? 0 : 1;
  }

  /**
   * `locateCached` that reads a block it needs synchronously when the adapter can
   * (`readIntoSync`, see `Segment.batchBlock`): -1 only when a read must be asynchronous (then
   * `get`). For batched readers that decode each value at once (an index scan's document
   * fetches): the bytes at `hit` may be the reused buffer of the last run of blocks read. Answers
   * 2 instead of 1 when the value was found in a block read from storage (not in a memtable or the
   * cache), so a caller can apply its own second-touch caching.
   */
  locateRead(key: Uint8Array, hash?: number): number {
    this.checkOpen();
    checkKey(key);
    this.hitRead = false;
    const r = this.locate(key, this.visibleSeq, this.current, true, hash ?? hashOf(key));
    return r < 0 ? -1 : r === locNone ? 0 : this.hitRead ? 2 : 1;
  }

  /**
   * Reads ahead (into the CPU's caches) what `locateRead` of each of the `n` keys
   * `keys[starts[i], ends[i])` will read when the cache's point index knows where the key is:
   * its point-index bucket, cached block and entry, and the lines of its value (up to 2 KiB).
   * Each stage reads its lines for all keys in a loop of its own, so that their cache misses are
   * in flight together, where one lookup after another waits for each of its chain of dependent
   * misses (~1.3 µs per document fetch of an index scan over cached blocks, most of it waiting).
   * Only memory reads: no answer depends on it. For batched readers (an index scan's fetches).
   * Returns how many of the keys have a hint (a cached block to read ahead).
   */
  prefetch(keys: Uint8Array, starts: Int32Array, ends: Int32Array, n: number, hashes?: Int32Array): number {
    this.checkOpen();
    const pts = this.cache.points;
    const version = this.current;
    if (hashes !== undefined) for (let i = 0; i < n; i++) hashes[i] = hashOf(keys, starts[i]!, ends[i]!);
    if (!pts.made || n === 0 || (version.l0.length === 0 && version.l1.length === 0)) return 0;
    if (this.pfHash.length < n) {
      this.pfHash = new Int32Array(n);
      this.pfOff = new Int32Array(n);
      this.pfBlock = new Array(n);
    }
    const hs = hashes ?? this.pfHash;
    const offs = this.pfOff;
    const blocks = this.pfBlock;
    let x = 0;
    if (hashes !== undefined) for (let i = 0; i < n; i++) x ^= pts.touch(hs[i]!);
    else for (let i = 0; i < n; i++) x ^= pts.touch((hs[i] = hashOf(keys, starts[i]!, ends[i]!)));
    const l0 = version.l0;
    const l1 = version.l1;
    // the L0 segment the lookup searches without its bloom filter (see `locate`)
    const lastL0 = l1.length === 0 ? l0.length - 1 : -1;
    let hinted = 0;
    for (let i = 0; i < n; i++) {
      const h = hs[i]!;
      let b: Block | undefined;
      // the newer segments without a hint for the key: the lookup asks their bloom filters
      // (random bits), whose first bytes are read here with the other keys' misses
      for (let j = 0; j < l0.length && b === undefined; j++) {
        const s = l0[j]!;
        b = s.hintedBlock(h);
        if (b === undefined && j !== lastL0) x ^= s.bloomTouch(h);
      }
      if (b === undefined && l1.length > 0) b = l1CandidateAt(l1, keys, starts[i]!, ends[i]!)?.hintedBlock(h);
      blocks[i] = b;
      if (b !== undefined) {
        offs[i] = pts.off;
        hinted++;
      }
    }
    for (let i = 0; i < n; i++) {
      const b = blocks[i];
      if (b !== undefined) x ^= b.data[offs[i]!]!;
    }
    for (let i = 0; i < n; i++) {
      const b = blocks[i];
      if (b === undefined) continue;
      b.atOffset(offs[i]!);
      const d = b.data;
      const end = b.valStart + (b.valLen < 2048 ? b.valLen : 2048);
      for (let p = b.valStart; p < end; p += 64) x ^= d[p]!;
      blocks[i] = undefined;
    }
    this.pfTouched ^= x;
    return hinted;
  }

  /** `prefetch`'s scratch (per key: hash, hinted block, entry offset) and what it read (a use, so that the loads stay). */
  private pfHash = new Int32Array(0);
  private pfOff = new Int32Array(0);
  private pfBlock: (Block | undefined)[] = [];
  private pfTouched = 0;

  /** Whether the last `locateRead` found its value in a block read from storage. */
  private hitRead = false;

  /** Where the last successful `locate` found its value (see `locateCached`). */
  readonly hit: { buf: Uint8Array; off: number; len: number } = { buf: new Uint8Array(0), off: 0, len: 0 };

  /**
   * The synchronous part of a point read: the value (a copy; with `view`, a segment's value is a
   * view into its cached block), null when there is no visible value, or -1 - i when segment i
   * (L0 in order, then L1 as index l0.length) needs a block that is not cached.
   */
  private lookupCached(key: Uint8Array, snap: number, version: Version, view = false): Uint8Array | null | number {
    const r = this.locate(key, snap, version);
    if (r < 0) return r;
    if (r === locNone) return null;
    const h = this.hit;
    // memtable record buffers are recycled: a value found there is always copied
    return view && r === locSegment ? h.buf.subarray(h.off, h.off + h.len) : h.buf.slice(h.off, h.off + h.len);
  }

  /**
   * Finds key's newest version visible at `snap` over memtables and cached blocks, without
   * allocating: locMemtable / locSegment (the value's bytes are where `hit` says), locNone (no
   * visible value, or a tombstone), or -1 - i when segment i (L0 in order, then L1 as index
   * l0.length) needs a block that is not cached.
   */
  private locate(key: Uint8Array, snap: number, version: Version, read = false, hash = hashOf(key)): number {
    const h = this.hit;
    for (let i = -1; i < version.imms.length; i++) {
      const m = i < 0 ? version.mem : version.imms[i]!;
      if (m.count === 0) continue;
      const n = m.find(key, hash);
      if (n !== NIL) {
        const v = m.visible(n, snap);
        if (v !== NIL) {
          if (m.isDel(v)) return locNone;
          h.buf = m.valBuf(v);
          h.off = m.valOff(v);
          h.len = m.valLen(v);
          return locMemtable;
        }
      }
    }
    const l0 = version.l0;
    const l1 = version.l1;
    if (l0.length === 0 && l1.length === 0) return locNone;
    const kp = prefixAt(key, 0, key.length);
    // a batched reader's keys (an index scan's document fetches) nearly always exist: the last
    // segment that can hold one (L1's, else the oldest L0 segment) is searched without asking its
    // bloom filter, whose probes (random bits, a cache miss each) would only confirm what the
    // block search finds; a key outside a segment's range lands in a block where the search rejects it
    const lastL0 = read && l1.length === 0 ? l0.length - 1 : -1;
    // point reads and a batched reader's fetches use the cache's point index (the fetches' hints
    // are what `prefetch` read ahead); a point read's search of a cached block fills it
    const indexBlock = !read;
    for (let i = 0; i < l0.length; i++) {
      const s = l0[i]!;
      if (s.meta.minSeq > snap) continue;
      // the point index's hint, before the bloom filter (which would only confirm a key it finds)
      const r0 = s.probeIndexed(key, hash, snap, foundAt);
      if (r0 === probeFound) return takeFound(s, h);
      if (r0 === probeDeleted) return locNone;
      if (i === lastL0 ? compareBytes(key, s.meta.smallest) < 0 || compareBytes(key, s.meta.largest) > 0 : !s.mayContain(key, hash)) continue;
      const r = s.probe(key, kp, snap, foundAt, read, indexBlock);
      if (r === probeNone) continue;
      if (r === probeIo) return -1 - i;
      if (r !== probeFound) return locNone;
      this.hitRead = read && s.foundRead;
      return takeFound(s, h);
    }
    const s = l1Candidate(l1, key);
    if (s !== undefined) {
      const r = s.probeIndexed(key, hash, snap, foundAt);
      if (r === probeFound) return takeFound(s, h);
      if (r === probeDeleted) return locNone;
    }
    if (s !== undefined && (read ? compareBytes(key, s.meta.smallest) >= 0 : s.mayContain(key, hash))) {
      const r = s.probe(key, kp, snap, foundAt, read, indexBlock);
      if (r === probeIo) return -1 - l0.length;
      if (r === probeFound) {
        this.hitRead = read && s.foundRead;
        return takeFound(s, h);
      }
    }
    return locNone;
  }

  /** `get` from the `from`-th segment on (L0 in order, then L1), reading blocks that are not cached. */
  private async getFrom(key: Uint8Array, snap: number, version: Version, from: number, hash: number): Promise<Uint8Array | undefined> {
    this.holdVersion(version);
    try {
      const l0 = version.l0;
      for (let i = from; i < l0.length; i++) {
        const s = l0[i]!;
        if (s.meta.minSeq > snap || !s.mayContain(key, hash)) continue;
        const r = await s.get(key, snap);
        if (r !== undefined) return r === null ? undefined : r;
      }
      const s = l1Candidate(version.l1, key);
      if (s !== undefined && s.mayContain(key, hash)) {
        const r = await s.get(key, snap);
        if (r !== undefined) return r === null ? undefined : r;
      }
      return undefined;
    } finally {
      this.releaseVersion(version);
    }
  }

  /**
   * Approximate number of entries with gte <= key < lt (lt undefined: to the end), in O(log n)
   * without I/O, for query planning: every segment counts the blocks the range spans (from its
   * sparse index) times its average entries per block; memtable entries are counted, up to
   * `memtableCountMax` each. Versions and tombstones count as entries.
   */
  approximateCount(gte: Uint8Array, lt: Uint8Array | undefined): number {
    this.checkOpen();
    const v = this.current;
    let n = 0;
    for (let i = -1; i < v.imms.length; i++) {
      const m = i < 0 ? v.mem : v.imms[i]!;
      if (m.count === 0) continue;
      let c = 0;
      for (let x = m.seekGE(gte); x !== NIL && c < memtableCountMax; x = m.next(x)) {
        if (lt !== undefined && m.compareKey(x, lt) >= 0) break;
        c++;
      }
      n += c;
    }
    for (const s of [...v.l0, ...v.l1]) {
      if (s.blocks === 0 || compareBytes(s.meta.largest, gte) < 0 || (lt !== undefined && compareBytes(s.meta.smallest, lt) >= 0)) continue;
      const a = s.findBlock(gte);
      const b = lt === undefined ? s.blocks - 1 : Math.min(s.blocks - 1, s.findBlock(lt));
      // a range inside one block counts half of it; each end block half on average
      n += (Math.max(0, b - a) + 0.5) * (s.meta.count / s.blocks);
    }
    return Math.round(n);
  }

  iterate(options: RangeOptions = {}): StoreIterator {
    this.checkOpen();
    for (const b of ['gt', 'gte', 'lt', 'lte'] as const) if (options[b] !== undefined) checkKey(options[b], b);
    if (options.limit !== undefined && !(Number.isInteger(options.limit) && options.limit >= 0) && options.limit !== Infinity)
      throw new LargetableError('INVALID_ARGUMENT', 'limit must be a non-negative integer');
    let snap: SnapshotImpl;
    let own = false;
    if (options.snapshot === undefined) {
      snap = this.snapshot() as SnapshotImpl;
      own = true;
    } else {
      this.resolveSnapshot(options.snapshot);
      snap = options.snapshot as SnapshotImpl;
      this.holdVersion(snap.version);
    }
    return new MergeIterator(this, snap, own, options);
  }

  releaseIteratorHold(snap: SnapshotImpl, own: boolean): void {
    if (own) snap.release();
    else this.releaseVersion(snap.version);
  }

  // ------------------------------------------------------------------ replication

  /**
   * Sealed WAL records with a sequence number > `after`, oldest first (for shipping the log to a
   * replica: each record is self-describing, `decodeWalRecord` turns it back into ops, and
   * applying them in order is idempotent by seq). Only records still in WAL files are available:
   * when older ones were already flushed and their WAL deleted, throws NOT_FOUND (resync from a
   * snapshot). Records appended while iterating may or may not be included.
   */
  async *walSince(after: bigint): AsyncGenerator<{ seq: bigint; record: Uint8Array }> {
    this.checkOpen();
    const wals = [...this.man.wals];
    // relaxed records acknowledged from memory and not written yet come after the files' records
    // copied now: they are views into the memtable, which is recycled once flushed
    const pending = this.unwritten.map((r) => r.slice());
    const flushedAway = (): LargetableError =>
      new LargetableError('NOT_FOUND', `WAL records after ${after} were flushed and deleted; resync from a snapshot`, { details: { operation: 'walSince' } });
    let first = true;
    let last = after;
    // one rule for records from files and from memory: the first must follow `after` unless nothing
    // after it was flushed away; later ones are yielded once, in seq order
    const admit = (seq: bigint): boolean => {
      if (first) {
        first = false;
        if (seq > after + 1n && BigInt(this.man.flushedSeq) > after) throw flushedAway();
      }
      if (seq <= last) return false;
      last = seq;
      return true;
    };
    for (const w of wals) {
      const name = walName(w);
      let buf: Uint8Array;
      try {
        buf = await this.adapter.readAll(name);
      } catch (err) {
        throw new LargetableError('NOT_FOUND', `${name}: WAL no longer available (flushed); resync from a snapshot`, { cause: err, details: { file: name, operation: 'walSince' } });
      }
      for (const r of scanWal(buf, name).records) {
        const seq = BigInt(r.seq);
        if (admit(seq)) yield { seq, record: buf.slice(r.offset, r.end) };
      }
    }
    for (const rec of pending) {
      const dv = new DataView(rec.buffer, rec.byteOffset, rec.byteLength);
      const seq = BigInt(dv.getUint32(8, true)) + (BigInt(dv.getUint32(12, true)) << 32n);
      if (admit(seq)) yield { seq, record: rec };
    }
    if (first && BigInt(this.man.flushedSeq) > after && BigInt(this.visibleSeq) > after) throw flushedAway();
  }

  // ------------------------------------------------------------------ verify / stats / close

  async verify(): Promise<VerifyReport> {
    this.checkOpen();
    const report: VerifyReport = { ok: true, filesChecked: 0, blocksChecked: 0, errors: [] };
    const note = (file: string, err: unknown): void => {
      const e = err as { message?: string; details?: { offset?: unknown } };
      const offset = typeof e.details?.offset === 'number' ? e.details.offset : -1;
      report.errors.push({ file, offset, message: e.message ?? String(err) });
    };
    const a = this.adapter;
    try {
      // a store opened read-only on an empty location has no manifest yet
      if (!this.readOnly || (await a.exists(manifestName))) {
        report.filesChecked++;
        decodeManifest(await a.readAll(manifestName));
      }
    } catch (err) {
      note(manifestName, err);
    }
    const v = this.current;
    this.holdVersion(v);
    try {
      for (const s of [...v.l0, ...v.l1]) {
        report.filesChecked++;
        try {
          await Segment.open(s.handle, s.name, s.meta.file, this.cache);
          let prev: Uint8Array | null = null;
          let prevSeq = 0;
          for (let i = 0; i < s.blocks; i++) {
            const off = s.blockOffset(i);
            const raw = await s.handle.read(off, s.blockLength(i));
            const b = decodeBlock(raw, s.version, s.name, off);
            report.blocksChecked++;
            for (let e = 0; e < b.count; e++) {
              b.at(e);
              const k = b.key();
              if (prev !== null) {
                const c = compareBytes(prev, k);
                if (c > 0 || (c === 0 && b.seq >= prevSeq)) throw new LargetableError('CORRUPTION', `${s.name}: corruption at offset ${off}: entries out of order`, { details: { file: s.name, offset: off } });
              }
              prev = k.slice();
              prevSeq = b.seq;
            }
          }
        } catch (err) {
          note(s.name, err);
        }
      }
    } finally {
      this.releaseVersion(v);
    }
    // read-only: a WAL's invalid bytes after its last record may be a torn write at a crash if no
    // later WAL holds records (a spare listed after it may be empty), as recovery reads them
    let torn: { name: string; offset: number } | undefined;
    const tornError = (t: { name: string; offset: number }): LargetableError =>
      new LargetableError('CORRUPTION', `${t.name}: corruption at offset ${t.offset}: invalid bytes after the last record`, { details: { file: t.name, offset: t.offset } });
    for (const w of [...this.man.wals]) {
      const name = walName(w);
      report.filesChecked++;
      try {
        // the durable mark: the recorded size of a finished WAL, or what this store appended to
        // its current one (captured before reading; appends only grow it)
        const current = w === this.walFile && !this.readOnly;
        const durableEnd = current ? this.walSize : this.man.walSizes[String(w)];
        const buf = await a.readAll(name);
        const scan = scanWal(buf, name);
        if (durableEnd !== undefined && scan.validEnd < durableEnd) throw walDamaged(name, scan.validEnd, durableEnd);
        if (torn !== undefined && scan.records.length > 0) {
          note(torn.name, tornError(torn));
          torn = undefined;
        }
        if (scan.tornBytes > 0 && !current) {
          if (!this.readOnly) throw tornError({ name, offset: scan.validEnd });
          torn = { name, offset: scan.validEnd };
        }
      } catch (err) {
        // a background flush may retire (and remove) a WAL while this loop awaits: its records
        // now live in a segment checked above, so it is not damage
        if (!this.man.wals.includes(w)) {
          report.filesChecked--;
          continue;
        }
        note(name, err);
      }
    }
    report.ok = report.errors.length === 0;
    return report;
  }

  stats(): StoreStats {
    const v = this.current;
    let disk = 0;
    for (const s of [...v.l0, ...v.l1]) disk += s.meta.size;
    let mem = v.mem.bytes + this.memPool.bytes;
    for (const m of v.imms) mem += m.bytes;
    return {
      seq: BigInt(this.visibleSeq),
      memtableBytes: mem,
      immutableMemtables: v.imms.length,
      blockCacheBytes: this.cache.bytes + this.cache.pinned,
      segments: v.l0.length + v.l1.length,
      diskBytes: disk,
      walSyncs: this.walSyncs,
      compactions: this.compactions,
      blockCacheHits: this.cache.hits,
      blockCacheMisses: this.cache.misses,
    };
  }

  /**
   * Resolves once queued writes (relaxed ones written and synced), background flushes,
   * compactions and the making of a WAL (this open's first, or a spare) have finished.
   */
  async idle(): Promise<void> {
    if (this.unwritten.length > 0 && this.failed === null && !this.closed) {
      this.persistWanted = true;
      this.kick();
    }
    for (;;) {
      if (this.walOpening !== undefined) await this.walOpening;
      if (this.committing) await this.commitDone;
      if (this.flushRunning !== null) await this.flushRunning.catch(() => undefined);
      await this.compactionChain;
      if (this.spareMaking !== undefined) await this.spareMaking.catch(() => undefined);
      if (!this.committing && this.flushRunning === null && !this.compactionPending && this.spareMaking === undefined && this.walOpening === undefined) return;
    }
  }

  /** Level sizes, for tests and diagnostics. */
  levels(): { l0: number; l1: number; imms: number; snapshots: number } {
    return { l0: this.current.l0.length, l1: this.current.l1.length, imms: this.current.imms.length, snapshots: this.snapshots.size };
  }

  close(): Promise<void> {
    this.closing ??= this.closeNow();
    return this.closing;
  }

  private async closeNow(): Promise<void> {
    if (this.closed) return;
    // the first WAL of this open, if still in the making, then queued writes
    if (this.walOpening !== undefined) await this.walOpening;
    while (this.committing) await this.commitDone;
    const flushErr = await this.flushForClose();
    while (this.committing) await this.commitDone;
    this.closed = true;
    if (this.syncTimer !== undefined) clearTimeout(this.syncTimer);
    this.syncTimer = undefined;
    if (this.trimTimer !== undefined) clearTimeout(this.trimTimer);
    this.trimTimer = undefined;
    if (this.flushRunning !== null) await this.flushRunning.catch(() => undefined);
    await this.compactionChain.catch(() => undefined);
    if (this.spareMaking !== undefined) await this.spareMaking;
    await this.manifestChain.catch(() => undefined);
    let syncErr: unknown = null;
    if (this.failed === null && (this.wal as FileHandle | undefined) !== undefined) {
      // relaxed records acknowledged from memory, then the preallocated zeros go; one sync
      try {
        if (this.unwritten.length > 0) await this.walWrite(this.takeUnwritten());
        if (this.walAlloc > this.walSize) {
          await this.wal.truncate(this.walSize);
          this.walAlloc = this.walSize;
          this.walDirty = true;
        }
        if (this.walDirty) await this.wal.sync();
        this.walDirty = false;
      } catch (err) {
        syncErr = toIoError(err, this.walFileName, 'sync');
      }
    }
    if (syncErr === null && this.failed === null && (this.wal as FileHandle | undefined) !== undefined) {
      // record the final WAL size: a later truncation at a record boundary is then detected; an
      // unused spare is no longer listed, then removed (if that fails, the next open deletes it)
      const file = this.walFile;
      const size = this.walSize;
      const spare = this.spare;
      this.spare = undefined;
      await this.editManifest((m) => {
        if (spare !== undefined) m.wals = m.wals.filter((w) => w !== spare.file);
        this.pendingWalSizes[String(file)] = size;
        this.noteWalSizes(m);
      }).then(
        async () => {
          if (spare === undefined) return;
          await spare.handle.close().catch(() => undefined);
          await this.adapter.remove(spare.name).catch(() => undefined);
        },
        (err: unknown) => {
          syncErr = err;
        },
      );
    }
    while (this.deleting.size > 0) await Promise.all([...this.deleting]).catch(() => undefined);
    this.adapterClosing = true;
    await this.closeHandles();
    // a failed adapter close may leave the location locked: the caller must hear about it
    await this.adapter.close().catch((err: unknown) => {
      syncErr ??= toIoError(err, this.adapter.location, 'close');
    });
    if (flushErr !== null) throw flushErr;
    if (syncErr !== null) throw syncErr;
  }

  /**
   * A clean close flushes a memtable of `closeFlushBytesMin` or more, so the next open replays
   * (almost) no WAL: replaying a full 32 MiB memtable cost that open ~0.5-1 s at 1,000,000
   * documents (every op re-inserted into a skiplist), where opening the segment costs milliseconds.
   * The flush starts no compaction (the store is closing), and is skipped when it would wait for
   * one (L0 at its stall mark). Returns the flush's error (the store is then failed: its WAL is
   * recovered at the next open), or null.
   */
  private async flushForClose(): Promise<LargetableError | null> {
    if (this.readOnly || this.failed !== null) return null;
    const v = this.current;
    if (v.mem.count === 0 || v.mem.bytes < closeFlushBytesMin || v.l0.length >= level0SegmentsStall) return null;
    this.closingFlush = true;
    try {
      await this.flush();
      return null;
    } catch (err) {
      return err instanceof LargetableError ? err : toIoError(err, this.adapter.location, 'flush');
    }
  }

  private async closeHandles(): Promise<void> {
    const v = this.current as Version | undefined;
    if (v !== undefined) for (const s of [...v.l0, ...v.l1]) await s.handle.close().catch(() => undefined);
    if ((this.wal as FileHandle | undefined) !== undefined) await this.wal.close().catch(() => undefined);
    // a spare still listed (the store failed, or its close could not record the end) is replayed empty by the next open
    if (this.spare !== undefined) await this.spare.handle.close().catch(() => undefined);
  }
}

function walDamaged(name: string, offset: number, durableEnd: number): LargetableError {
  return new LargetableError('CORRUPTION', `${name}: corruption at offset ${offset}: invalid WAL record before the ${durableEnd} bytes recorded as synced`, {
    details: { file: name, offset },
  });
}

import { hashKey32 } from './bloom.ts';
/**
 * A key's hash (`hashKey`'s bits) as a signed 32-bit integer: its readers (bloom filter, point
 * index, memtable) use only its bits, and a uint32 above 2^31 returned from a call that is not
 * inlined is a new heap number (one per document of an index scan's fetches).
 */
function hashOf(key: Uint8Array, start = 0, end = key.length): number {
  return hashKey32(key, start, end);
}

/** Memtable entries `approximateCount` walks at most, per memtable. */
const memtableCountMax = 4096;

/** The L1 segment whose key range may hold `key` (the first whose largest key >= key). */
function l1Candidate(l1: readonly Segment[], key: Uint8Array): Segment | undefined {
  return l1CandidateAt(l1, key, 0, key.length);
}

/** `l1Candidate` of the key b[start, end). */
function l1CandidateAt(l1: readonly Segment[], b: Uint8Array, start: number, end: number): Segment | undefined {
  let lo = 0;
  let hi = l1.length;
  while (lo < hi) {
    const m = (lo + hi) >>> 1;
    const largest = l1[m]!.meta.largest;
    if (compareRanges(largest, 0, largest.length, b, start, end - start) < 0) lo = m + 1;
    else hi = m;
  }
  return l1[lo];
}

/** `locate`'s answers besides -1 - i (segment i needs a block read). */
const locNone = 0;
const locMemtable = 1;
const locSegment = 2;

/** Records where segment s's last probe found its value in `hit`: locSegment. */
function takeFound(s: Segment, hit: { buf: Uint8Array; off: number; len: number }): number {
  hit.buf = s.foundData;
  hit.off = s.foundOff;
  hit.len = s.foundLen;
  return locSegment;
}

/**
 * A streaming scan whose bounds span at most 1/`narrowScanShare` of the block cache in all the
 * segments it reads is narrow (`RunSource`): its blocks may enter the cache.
 */
const narrowScanShare = 16;

/** Whether the blocks of the keys in [lower, upper) in the segments of v span at most 1/`narrowScanShare` of `cacheBytes`. */
function spansLittle(v: Version, lower: Uint8Array, upper: Uint8Array, cacheBytes: number): boolean {
  let span = 0;
  for (const segs of [v.l0, v.l1]) {
    for (const s of segs) {
      if (s.blocks === 0 || compareBytes(s.meta.largest, lower) < 0 || compareBytes(s.meta.smallest, upper) > 0) continue;
      const a = s.findBlock(lower);
      const b = Math.min(s.blocks - 1, s.findBlock(upper));
      if (b >= a) span += s.blockOffset(b) + s.blockLength(b) - s.blockOffset(a);
      if (span * narrowScanShare > cacheBytes) return false;
    }
  }
  return true;
}

class MergeIterator implements StoreIterator {
  private sources: Source[] = [];
  /**
   * The sources that reuse their run buffers (`RangeOptions.transient`): told at each step that the
   * previous step's views are dead (`release`), and at the end to give their buffers back.
   */
  private streams: RunSource[] = [];
  private viewsOut = false;
  private readonly fwd: boolean;
  private target: Uint8Array | null = null;
  private needSeek = true;
  private done = false;
  private count = 0;
  private readonly limit: number;
  private readonly snapNum: number;
  private readonly lower: Uint8Array | undefined;
  private readonly lowerIncl: boolean;
  private readonly upper: Uint8Array | undefined;
  private readonly upperIncl: boolean;
  /** Length of the bounds' common prefix: every key inside both bounds starts with it. */
  private readonly shared: number;
  /** Scratch: the sources at the current key. */
  private readonly tied: Source[];

  private readonly store: LsmStore;
  private readonly snap: SnapshotImpl;
  private readonly own: boolean;
  constructor(store: LsmStore, snap: SnapshotImpl, own: boolean, options: RangeOptions) {
    this.store = store;
    this.snap = snap;
    this.own = own;
    this.fwd = options.reverse !== true;
    this.limit = options.limit ?? Infinity;
    this.snapNum = snap.num;
    this.lower = options.gt ?? options.gte;
    this.lowerIncl = options.gt === undefined;
    this.upper = options.lt ?? options.lte;
    this.upperIncl = options.lt === undefined;
    const v = snap.version;
    this.sources.push(new MemSource(v.mem, this.fwd, this.snapNum));
    for (const m of v.imms) this.sources.push(new MemSource(m, this.fwd, this.snapNum));
    const tr = options.transient === true;
    let scanBytes = 0;
    for (const s of v.l0) if (s.meta.minSeq <= this.snapNum) scanBytes += s.meta.size;
    for (const s of v.l1) scanBytes += s.meta.size;
    const end = this.upper;
    const narrow = this.fwd && !tr && this.lower !== undefined && end !== undefined && scanBytes > store.blockCacheBytes && spansLittle(v, this.lower, end, store.blockCacheBytes);
    for (const s of v.l0) if (s.meta.minSeq <= this.snapNum) this.sources.push(new RunSource([s], this.fwd, true, tr, scanBytes, end, narrow));
    if (v.l1.length > 0) this.sources.push(new RunSource(v.l1, this.fwd, true, tr, scanBytes, end, narrow));
    for (const s of this.sources) if (s instanceof RunSource && s.transient) this.streams.push(s);
    this.target = this.fwd ? (this.lower ?? null) : (this.upper ?? null);
    const l = this.lower;
    const u = this.upper;
    let sh = 0;
    if (l !== undefined && u !== undefined) {
      const n = Math.min(l.length, u.length);
      while (sh < n && l[sh] === u[sh]) sh++;
    }
    this.shared = sh;
    this.tied = new Array<Source>(this.sources.length);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private belowLower(k: Uint8Array): boolean {
    if (this.lower === undefined) return false;
    const c = compareBytes(k, this.lower);
    return this.lowerIncl ? c < 0 : c <= 0;
  }
  private aboveUpper(k: Uint8Array): boolean {
    if (this.upper === undefined) return false;
    const c = compareBytes(k, this.upper);
    return this.upperIncl ? c > 0 : c >= 0;
  }

  /** Repositions the iterator; after it is exhausted or closed, seek is a no-op. */
  seek(key: Uint8Array): void {
    checkKey(key);
    if (this.sources.length === 0) return;
    let t = key;
    if (this.fwd && this.belowLower(t)) t = this.lower!;
    if (!this.fwd && this.aboveUpper(t)) t = this.upper!;
    this.target = t;
    this.needSeek = true;
    if (this.count < this.limit) this.done = false;
  }

  /** Exhausted (end, bound or limit): release the snapshot and version now, not at close(). */
  private finish(): void {
    this.done = true;
    if (this.sources.length === 0) return;
    this.sources = [];
    this.store.releaseIteratorHold(this.snap, this.own);
  }

  async next(): Promise<IteratorResult<[Uint8Array, Uint8Array]>> {
    this.releaseViews();
    const b = this.batch;
    b.n = 0;
    await this.fill(b, 1);
    if (b.n === 0) return { done: true, value: undefined };
    // copies: next() hands out entries a caller may keep
    return { done: false, value: [entryKey(b, 0).slice(), entryValue(b, 0).slice()] };
  }

  /** The entries of the last step (reused). */
  private readonly batch: EntryBatch = newEntryBatch();

  private markViewsOut(): void {
    if (!this.viewsOut && this.sources.length > 0) {
      // views of memtable bytes may outlive this iterator: those memtables are never recycled
      this.viewsOut = true;
      const v = this.snap.version;
      v.mem.viewsOut = true;
      for (const m of v.imms) m.viewsOut = true;
    }
  }

  /** A new step: the views handed out by the previous one are dead (transient iterators). */
  private releaseViews(): void {
    const st = this.streams;
    if (st.length === 0) return;
    if (this.sources.length === 0) {
      // finished (or closed): the previous step was the last to hand out views of these buffers
      for (const s of st) s.releaseAll();
      this.streams = [];
    } else for (const s of st) s.release();
  }

  /** See StoreIterator.nextEntries: up to `max` entries in the iterator's reused batch. */
  async nextEntries(max: number): Promise<EntryBatch> {
    this.releaseViews();
    this.markViewsOut();
    const b = this.batch;
    b.n = 0;
    await this.fill(b, Math.max(1, max));
    return b;
  }

  /**
   * Up to `max` next entries (fewer only at the end; empty when exhausted), in one async step:
   * the merge runs synchronously while every block it needs is cached and awaits only to read
   * one. Keys and values are read-only views into immutable block and record buffers: copy what
   * you keep (a view keeps its whole buffer alive).
   */
  async nextBatch(max: number): Promise<[Uint8Array, Uint8Array][]> {
    const b = await this.nextEntries(max);
    const out: [Uint8Array, Uint8Array][] = new Array(b.n);
    for (let i = 0; i < b.n; i++) out[i] = [entryKey(b, i), entryValue(b, i)];
    return out;
  }

  /**
   * A source positioned past the far bound (above the upper bound going forward, below the lower
   * one in reverse) has nothing more for this iteration: it is marked invalid, so every valid
   * source is inside the bounds and its key starts with their common prefix (`shared` bytes).
   */
  private bound(s: Source): void {
    if (!s.valid) return;
    if (this.fwd) {
      const u = this.upper;
      if (u === undefined) return;
      const c = compareRanges(s.kbuf, s.koff, s.klen, u, 0, u.length);
      if (this.upperIncl ? c > 0 : c >= 0) s.valid = false;
    } else {
      const l = this.lower;
      if (l === undefined) return;
      const c = compareRanges(s.kbuf, s.koff, s.klen, l, 0, l.length);
      if (this.lowerIncl ? c < 0 : c <= 0) s.valid = false;
    }
  }

  /** Appends up to `max` entries to `out` (keys and values as ranges of immutable buffers). */
  private async fill(out: EntryBatch, max: number): Promise<void> {
    if (this.done || this.sources.length === 0) return;
    const sources = this.sources;
    if (this.needSeek) {
      this.needSeek = false;
      for (const s of sources) {
        const p = s.seek(this.target);
        if (p !== undefined) await p;
        this.bound(s);
      }
    }
    const fwd = this.fwd;
    // keys inside both bounds share their common prefix: the merge compares what follows it
    const sh = this.shared;
    // the near bound is exclusive: a key equal to it is skipped (a seek never lands before it)
    const near = fwd ? (this.lowerIncl ? undefined : this.lower) : this.upperIncl ? undefined : this.upper;
    const tied = this.tied;
    while (out.n < max) {
      if (this.count >= this.limit) {
        this.finish();
        return;
      }
      let best: Source | null = null;
      let nt = 0;
      for (let i = 0; i < sources.length; i++) {
        const s = sources[i]!;
        if (!s.valid) continue;
        if (best === null) {
          best = s;
          tied[0] = s;
          nt = 1;
          continue;
        }
        const c = compareRanges(s.kbuf, s.koff + sh, s.klen - sh, best.kbuf, best.koff + sh, best.klen - sh);
        if (fwd ? c < 0 : c > 0) {
          best = s;
          tied[0] = s;
          nt = 1;
        } else if (c === 0) tied[nt++] = s;
      }
      if (best === null) {
        this.finish();
        return;
      }
      // the key's range: block and record buffers are immutable, so it survives the advances below
      const kb = best.kbuf;
      const ko = best.koff;
      const kl = best.klen;
      const skip = near !== undefined && compareRanges(kb, ko, kl, near, 0, near.length) === 0;
      let bestSeq = -1;
      let bestDel = true;
      // the newest visible version's value as a range of its (immutable) buffer: no view per entry
      let bestBuf: Uint8Array | null = null;
      let bestOff = 0;
      let bestLen = 0;
      // every version of the key: the tied sources are at it, and a source's versions are adjacent
      for (let i = 0; i < nt; i++) {
        const s = tied[i]!;
        do {
          if (s.seq <= this.snapNum && s.seq > bestSeq) {
            bestSeq = s.seq;
            bestDel = s.del;
            if (!s.del) {
              bestBuf = s.vbuf();
              bestOff = s.voff();
              bestLen = s.vlen();
            }
          }
          const p = s.next();
          if (p !== undefined) await p;
          this.bound(s);
        } while (s.valid && compareRanges(s.kbuf, s.koff + sh, s.klen - sh, kb, ko + sh, kl - sh) === 0);
      }
      if (skip || bestSeq < 0 || bestDel) continue;
      this.count++;
      entryBatchPush(out, kb, ko, kl, bestBuf!, bestOff, bestLen);
      if (this.count >= this.limit) this.finish();
    }
  }

  async return(): Promise<IteratorResult<[Uint8Array, Uint8Array]>> {
    await this.close();
    return { done: true, value: undefined };
  }

  async close(): Promise<void> {
    this.finish();
    this.releaseViews();
  }
}
