/**
 * Immutable sorted segment files (docs/FORMAT.md "Segment"). Entries are sorted by key
 * ascending then sequence descending; each ~8 KiB block (`blockSizeBytes`) is stored raw (or, with a compression
 * level, deflated when that shrinks it) and checksummed. A segment keeps only its sparse index (last key per
 * block) and its bloom filter in memory; blocks go through the shared LRU block cache.
 */
import { LargetableError } from '../errors.ts';
import type { FileHandle } from './adapter.ts';
import { bloomAdd, bloomMayContain, bloomTouch, hashKey, newBloom } from './bloom.ts';
import { type BlockCache, type FileTables, blocksPerFileMax } from './cache.ts';
import { DeflateEncoder, Inflater } from './deflate.ts';
import { blockSum, crc32c, crc32cResidue } from './checksum.ts';
import { ByteReader, ByteWriter, compareAt, compareBytes, corruption, readU32LE, varintSize } from './codec.ts';
import { compareRanges, prefixAt } from './memtable.ts';
import { io, toIoError } from './io.ts';

export const segmentMagic = 0x4753544c; // "LTSG" little-endian
/**
 * The segment format version written: 2 checks each block with `blockSum` (kernels), 1 with
 * CRC-32C (the rest of the file is the same in both, CRC-32C). Both are read.
 */
export const segmentVersion = 2;
/** The oldest segment format version this build reads. */
export const segmentVersionMin = 1;
export const segmentHeaderBytes = 8;
export const segmentFooterBytes = 36;
const blockHeaderBytes = 9; // flags u8, rawLen u32, payloadLen u32
export const kindDel = 0;
export const kindPut = 1;
/** Results of `Segment.probe`. */
export const probeNone = 0;
export const probeFound = 1;
export const probeDeleted = 2;
export const probeIo = 3;

/** How `Segment.probe` hands out a found value: a copy, a view into the block, or only its position. */
export type FoundAs = 0 | 1 | 2;
export const foundCopy = 0;
export const foundView = 1;
export const foundAt = 2;
const emptyBytes = new Uint8Array(0);

/** Callers `drain()` a builder once this many bytes are pending (flush, compaction). */
export const segmentDrainBytes = 256 * 1024;
/** A builder's stage holds what is pending plus the block that passes the drain mark: no regrowth. */
const stageBytes = (blockSizeBytes: number): number => segmentDrainBytes + Math.max(64 * 1024, blockSizeBytes * 2);

/** Key hashes per chunk in a builder that does not know its key count up front. */
const hashChunk = 65536;
/**
 * Full hash chunks of finished builders, for the next ones (compaction writes L1 segments one
 * after the other, ~2.5 MB of hashes each): at most `hashChunksKept` (4 MiB) are kept.
 */
const hashChunks: Uint32Array[] = [];
const hashChunksKept = 16;

/** Approximate heap bytes of the objects around one cached block's buffer. */
const blockObjectBytes = 320;

/**
 * One encoder for every builder: `deflate` is synchronous and its output is copied into the stage
 * before the next call, so its working memory (~250 KB) is allocated once instead of per block
 * (at the first compressed block, not at import: only compaction with `compressionLevel` > 0 deflates).
 */
let deflater: DeflateEncoder | undefined;
/** Readahead runs up to this many bytes read into pooled buffers (`Segment.prefetchRun`). */
export const runBufferBytes = 256 * 1024;
/** Run buffers kept for reuse (process-wide; more runs in flight allocate). */
const runBuffersMax = 4;
const runBuffers: Uint8Array[] = [];

/** A run buffer (`runBufferBytes`) from the process-wide pool, or a new one. */
export function takeRunBuffer(): Uint8Array {
  return runBuffers.pop() ?? new Uint8Array(runBufferBytes);
}

/** Gives a run buffer no view refers to any more back to the pool (dropped when the pool is full). */
export function giveRunBuffer(buf: Uint8Array): void {
  if (buf.length === runBufferBytes && runBuffers.length < runBuffersMax) runBuffers.push(buf);
}

/** Likewise one decoder: its tables (up to 130 KB) are allocated once, not per block read. */
const inflater = new Inflater();

/**
 * A runtime's native raw-DEFLATE decoder (node:zlib on Node and Deno, installed by their platform
 * kernel loaders): inflates `payload` into a plain new Uint8Array (not a runtime-specific subclass
 * whose `slice` is a view) of exactly `rawLen` bytes backed by its own buffer, or throws when the data is invalid or
 * inflates to more than `rawLen` bytes. It decodes the blocks read into the cache (~2x faster than
 * the TypeScript inflater); decodes into a reused scratch (compaction) keep the TypeScript one.
 */
export type BlockInflater = (payload: Uint8Array, rawLen: number) => Uint8Array;
let nativeInflater: BlockInflater | null = null;

/** Installs (or with null removes) the native block decoder; returns the previous one. */
export function installBlockInflater(f: BlockInflater | null): BlockInflater | null {
  const prev = nativeInflater;
  nativeInflater = f;
  return prev;
}

/**
 * Reusable buffers for reading a block (compaction's one pass over its inputs): the read and the
 * decoded bytes land in them instead of in fresh buffers, so reading a segment allocates no
 * ArrayBuffer per block. A `Block` decoded into a scratch is valid until the scratch is reused.
 */
export class BlockScratch {
  raw = new Uint8Array(0);
  data = new Uint8Array(0);
}

/**
 * Read buffers of point reads and scans (`Segment.block`), taken per read in flight and given
 * back after the decode: a compressed block is inflated into its own buffer (the cache keeps it),
 * so the bytes read are garbage at once; reading them into a reused buffer spares one ArrayBuffer
 * per block read. A block stored raw is copied out of it.
 */
const readBufs: Uint8Array[] = [];
/** Read buffers kept for reuse, and the block size they serve (larger reads get their own buffer). */
const readBufsMax = 8;
const readBufBytes = 64 * 1024;
/**
 * A point read that reads a block into a cache with room reads up to this many bytes of the
 * following blocks with it, caching the uncached ones (`Segment.pointBlock`; at most `readBufBytes`).
 */
const pointRunBytes = 64 * 1024;
/** `Segment.readOnce`'s buffers: the block read (raw blocks are searched in it) and a deflated one's inflated bytes. */
const onceBuf = new Uint8Array(readBufBytes);
const onceScratch = new BlockScratch();
/** Most bytes, and blocks, a batched read (`Segment.batchBlock`) reads at once. */
const batchRunBytes = 256 * 1024;
const batchRunBlocksMax = 32;
/**
 * The run of blocks `Segment.batchBlock` read last from one segment (its buffer reused): file
 * offset and length, the block last decoded from it in place (index, Block), how many blocks it
 * spans and how many of them were wanted. `want` (blocks per run) doubles while more than a
 * quarter of a run's blocks are wanted and halves while fewer than an eighth are: a fetch in key
 * order (an equality's matches at 1,000,000 documents: about a third of the blocks it passes)
 * reads runs of 32, random fetches runs of 2 to 4.
 */
class BatchRun {
  readonly buf = new Uint8Array(batchRunBytes);
  readonly scratch = new BlockScratch();
  /** The Block a stored block of the run is decoded into in place (re-pointed per block; empty at first). */
  readonly inPlace = new Block(this.buf, '', 0, 0, 4);
  constructor() {
    this.inPlace.plainOnly = true;
  }
  seg: Segment | undefined;
  off = 0;
  len = 0;
  index = -1;
  block: Block | undefined;
  blocks = 0;
  used = 0;
  want = 4;
}
/**
 * Runs in use, one per segment, the least recently read first (process-wide): a fetch in key order
 * reads L1 and every L0 segment at once (their keys interleave), each in its own run.
 */
const batchRuns: BatchRun[] = [];
const batchRunsMax = 8;

/** `Segment.indexBlock`'s scratch: a block's key hashes and entry offsets (grown as needed). */
let indexHashes = new Int32Array(256);
let indexOffs = new Int32Array(256);

/** An entry's header as `readEntry` decodes it: kind, sequence number, where its key and value are. */
interface EntryFields {
  kind: number;
  seq: number;
  keyStart: number;
  keyLen: number;
  valStart: number;
  valLen: number;
}

/**
 * Decodes the header of the entry that starts at byte p of `d` (a block's bytes, which end at
 * `end`) into `e`: false when the entry does not fit before `end` (the caller reports it).
 */
function readEntry(e: EntryFields, d: Uint8Array, p: number, end: number): boolean {
  if (p + 9 > end) return false;
  e.kind = d[p]!;
  e.seq = readU32LE(d, p + 1) + readU32LE(d, p + 5) * 0x100000000;
  p += 9;
  let kl = 0;
  let mul = 1;
  let b: number;
  do {
    b = d[p++]!;
    kl += (b & 0x7f) * mul;
    mul *= 128;
  } while (b >= 0x80);
  let vl = 0;
  mul = 1;
  do {
    b = d[p++]!;
    vl += (b & 0x7f) * mul;
    mul *= 128;
  } while (b >= 0x80);
  e.keyStart = p;
  e.keyLen = kl;
  e.valStart = p + kl;
  e.valLen = vl;
  return p + kl + vl <= end;
}

/** `Segment.probeIndexed`'s entry header (read from a cached block's bytes without its Block). */
const probeEntry: EntryFields = { kind: 0, seq: 0, keyStart: 0, keyLen: 0, valStart: 0, valLen: 0 };

/** A decoded block: raw entry bytes plus the entry offset table. */
export class Block {
  bytes = 0;
  count = 0;
  private readonly dv: DataView;
  /** The block cache's second-chance mark (`Sized.cacheUsed`). */
  cacheUsed = false;
  /** Whether its keys are in the cache's point index (`Segment.indexBlock`). */
  pointIndexed = false;
  // scratch fields filled by `at(i)`
  kind = 0;
  seq = 0;
  keyStart = 0;
  keyLen = 0;
  valStart = 0;
  valLen = 0;
  readonly data: Uint8Array;
  file: string;
  fileOffset: number;
  /**
   * The block's bytes are data[base, end): the whole of `data`, except a block decoded in place in
   * a run buffer (`Segment.batchBlock`), which is re-pointed at each block decoded there
   * (`reuse`). Entry offsets (`keyStart`, `valStart`, the search column) are offsets in `data`.
   */
  private base = 0;
  private end = 0;
  constructor(data: Uint8Array, file: string, fileOffset: number, base = 0, end = data.length) {
    this.data = data;
    this.file = file;
    this.fileOffset = fileOffset;
    this.dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
    this.reuse(base, end, file, fileOffset);
  }

  /** Makes this block the one at data[base, end) (of the same `data`), read from `file` at `fileOffset`. */
  reuse(base: number, end: number, file: string, fileOffset: number): void {
    this.file = file;
    this.fileOffset = fileOffset;
    this.base = base;
    this.end = end;
    this.disc = undefined;
    this.plainSearches = 0;
    if (end - base < 4) throw corruption(file, fileOffset, 'block too short');
    this.count = this.dv.getUint32(base, true);
    if (4 + this.count * 4 > end - base) throw corruption(file, fileOffset, 'block entry count out of range');
    // real cost: the whole backing buffer (a raw block is a view of its read buffer) plus the
    // Block, typed-array, DataView, ArrayBuffer and cache-entry objects, and the search column
    this.bytes = this.data.buffer.byteLength + blockObjectBytes + this.count * 8;
  }

  /** Where entry i starts in `data` (from the block's offset table). */
  entryAt(i: number): number {
    return this.base + this.dv.getUint32(this.base + 4 + i * 4, true);
  }

  /** Decodes entry i into the scratch fields. */
  at(i: number): void {
    this.atEntry(i, this.entryAt(i));
  }

  /**
   * `at(i)` for a point lookup that just searched the block: the entry's offset from the search
   * column (read by the search, so likely in the CPU cache) instead of the offset table.
   */
  atFound(i: number): void {
    const disc = this.disc;
    this.atEntry(i, disc !== undefined && i < this.count ? disc[2 * i + 1]! : this.entryAt(i));
  }

  /** Decodes the entry that starts at byte p of `data` (one a point index hint gave) into the scratch fields. */
  atOffset(p: number): void {
    this.atEntry(-1, p);
  }

  /** Decodes entry i, which starts at byte p, into the scratch fields. */
  private atEntry(i: number, p: number): void {
    if (!readEntry(this, this.data, p, this.end)) throw corruption(this.file, this.fileOffset, p + 9 > this.end ? `entry ${i} out of range` : `entry ${i} overruns block`);
  }

  /** `bound` without the search column: a binary search reading the entries' keys in place. */
  private boundPlain(key: Uint8Array, past: 0 | 1): number {
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      this.keyAt(mid);
      if (compareAt(key, this.data, this.keyStart, this.keyLen) >= past) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Decodes only entry i's key position into keyStart / keyLen (the search hot path). */
  private keyAt(i: number): void {
    this.keyAtEntry(i, this.entryAt(i));
  }

  /** `keyAt` for entry i, which starts at byte p. */
  keyAtEntry(i: number, p: number): void {
    const d = this.data;
    p += 9;
    let b = d[p++]!;
    let kl = b & 0x7f;
    if (b >= 0x80) {
      let mul = 128;
      do {
        b = d[p++]!;
        kl += (b & 0x7f) * mul;
        mul *= 128;
      } while (b >= 0x80);
    }
    while (d[p++]! >= 0x80); // value length
    if (p + kl > this.end) throw corruption(this.file, this.fileOffset, `entry ${i} overruns block`);
    this.keyStart = p;
    this.keyLen = kl;
  }

  key(): Uint8Array {
    return this.data.subarray(this.keyStart, this.keyStart + this.keyLen);
  }
  value(): Uint8Array {
    return this.data.subarray(this.valStart, this.valStart + this.valLen);
  }

  /**
   * Search column, built on the first search of the block: the keys' common prefix length `cp`
   * (the first and last keys share it, so every key between them does), where entry 0's key (and so
   * the prefix) starts, and per entry i its 4 key bytes after the prefix (big-endian, zero-padded;
   * at 2i) and where the entry starts (at 2i + 1). Those 4 bytes order the keys (a < b implies
   * disc(a) <= disc(b)): a binary search compares one contiguous array and reads an entry only on a
   * tie, instead of reading ~log2(count) entries scattered over the block (a cache miss each on a
   * random point read); the entry's offset next to its window spares the tie (and `atFound`) a read
   * of the offset table, one dependent memory access fewer.
   */
  private disc: Uint32Array | undefined;
  private discCp = 0;
  private discStart = 0;

  private buildDisc(): Uint32Array {
    const n = this.count;
    const out = new Uint32Array(2 * n);
    const d = this.data;
    let cp = 0;
    if (n > 0) {
      this.keyAt(n - 1);
      const s1 = this.keyStart;
      const l1 = this.keyLen;
      this.keyAt(0);
      const s0 = this.keyStart;
      const m = Math.min(this.keyLen, l1);
      while (cp < m && d[s0 + cp] === d[s1 + cp]) cp++;
      this.discStart = s0;
      for (let i = 0; i < n; i++) {
        const p = this.entryAt(i);
        this.keyAtEntry(i, p);
        out[2 * i] = prefixAt(d, this.keyStart + cp, this.keyLen - cp);
        out[2 * i + 1] = p;
      }
    }
    this.discCp = cp;
    this.disc = out;
    return out;
  }

  /** `key` against the keys' common prefix: < 0 before every key, > 0 after every key, 0 when it shares the prefix. */
  private comparePrefix(key: Uint8Array): number {
    const cp = this.discCp;
    const d = this.data;
    const s = this.discStart;
    const n = key.length < cp ? key.length : cp;
    for (let i = 0; i < n; i++) {
      const x = key[i]! - d[s + i]!;
      if (x !== 0) return x;
    }
    return key.length < cp ? -1 : 0;
  }

  /** First entry index whose key >= key (count if none). */
  lowerBound(key: Uint8Array): number {
    return this.bound(key, 1);
  }

  /** First entry index whose key > key (count if none). */
  upperBound(key: Uint8Array): number {
    return this.bound(key, 0);
  }

  /**
   * For a point lookup: the first entry whose key equals `key` when the block holds it; when it
   * does not, some index at which the caller's equality check fails (or count). Unlike
   * `lowerBound` it does not first compare the key with the keys' common prefix: a key the block
   * holds shares that prefix, so the search column orders it correctly, and any other key is
   * rejected by the equality check wherever the search lands. That spares reading the block's
   * first key, a cache miss of its own on a random point read.
   */
  exactStart(key: Uint8Array): number {
    const disc = this.disc;
    if (disc === undefined) return this.bound(key, 1);
    const cp = this.discCp;
    if (key.length < cp) return this.count;
    return this.searchDisc(disc, key, prefixAt(key, cp, key.length - cp), 1);
  }

  /**
   * Searches so far without the column: the first search of a block reads ~log2(count) entries in
   * place, and only a second one builds the column. Most blocks read from storage serve one point
   * read (a random fetch at 1M documents), where building the column for all its entries cost more
   * than the read's whole search (~10% of an index fetch's time).
   */
  private plainSearches = 0;
  /**
   * Never builds the search column: a Block re-pointed at each block of a batched read's run
   * (`BatchRun.inPlace`), which a fetch searches ~1-2 times before it moves on; the column, a new
   * array per block, cost more than the searches it spared (~4 ms of an equality query at 1,000,000 documents).
   */
  plainOnly = false;

  /**
   * Builds the search column now unless it exists: for a block a point read just read into the
   * cache, whose bytes are still in the CPU cache (a walk of its entries then costs a fraction of
   * a microsecond, where the first search of the cached block later walked it from memory: ~2 µs
   * more for that read; in the documents bench a block serves ~6 of the 20,000 random gets and
   * every second one paid it).
   */
  prepareSearch(): void {
    if (this.disc === undefined) this.buildDisc();
  }

  /** First entry index whose key is >= key (past 1) or > key (past 0): compare(key, entry) < past. */
  private bound(key: Uint8Array, past: 0 | 1): number {
    let disc = this.disc;
    if (disc === undefined) {
      if (this.plainOnly || this.plainSearches++ === 0) return this.boundPlain(key, past);
      disc = this.buildDisc();
    }
    const hi = this.count;
    if (hi === 0) return 0;
    const c = this.comparePrefix(key);
    if (c !== 0) return c < 0 ? 0 : hi;
    const cp = this.discCp;
    return this.searchDisc(disc, key, prefixAt(key, cp, key.length - cp), past);
  }

  /**
   * Binary search of the search column for the first entry whose key is >= key (past 1) or > key
   * (past 0); kd is key's column window. Entries whose window equals kd are compared in full.
   */
  private searchDisc(disc: Uint32Array, key: Uint8Array, kd: number, past: 0 | 1): number {
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const e = disc[2 * mid]!;
      if (e < kd) lo = mid + 1;
      else if (e > kd) hi = mid;
      else {
        this.keyAtEntry(mid, disc[2 * mid + 1]!);
        if (compareAt(key, this.data, this.keyStart, this.keyLen) >= past) lo = mid + 1;
        else hi = mid;
      }
    }
    return lo;
  }
}

export interface SegmentMeta {
  file: number;
  size: number;
  count: number;
  minSeq: number;
  maxSeq: number;
  smallest: Uint8Array;
  largest: Uint8Array;
}

export function segmentName(file: number): string {
  return `${String(file).padStart(6, '0')}.seg`;
}

/**
 * Decodes an on-disk block of a segment of format `version` (checks its checksum, inflates). The
 * decoded bytes go to a new buffer, or into `scratch.data` (grown as needed) when a scratch is
 * given. With `into` (a Block over the buffer `raw` is a view of, `raw` starting at `at` in it) a
 * stored block is decoded in place: `into` is re-pointed at its entries and returned, no object made.
 */
export function decodeBlock(raw: Uint8Array, version: number, file: string, offset: number, scratch?: BlockScratch, rawIsTemporary = false, into?: Block, at = 0): Block {
  if (raw.length < blockHeaderBytes + 4) throw corruption(file, offset, 'block truncated');
  const payloadLen = readU32LE(raw, 5);
  if (blockHeaderBytes + payloadLen + 4 !== raw.length) throw corruption(file, offset, 'block length mismatch');
  // version 2: blockSum of all but the stored sum (no view of that part); version 1: the block's crc
  // is right exactly when the crc of the block with it is the residue (one pass over `raw`)
  const n = raw.length;
  if (version === 1 ? crc32c(raw) !== crc32cResidue : blockSum(raw, n - 4) !== readU32LE(raw, n - 4)) throw corruption(file, offset, 'block checksum mismatch');
  const flags = raw[0]!;
  const rawLen = readU32LE(raw, 1);
  if (flags === 0 && into !== undefined) {
    if (payloadLen !== rawLen) throw corruption(file, offset, 'block raw length mismatch');
    into.reuse(at + blockHeaderBytes, at + blockHeaderBytes + payloadLen, file, offset);
    return into;
  }
  const payload = raw.subarray(blockHeaderBytes, blockHeaderBytes + payloadLen);
  let data: Uint8Array;
  // a view: the read buffer is ours and never reused (a temporary one is copied out of)
  if (flags === 0) data = rawIsTemporary && scratch === undefined ? payload.slice() : payload;
  else if (flags === 1) {
    try {
      if (scratch === undefined && nativeInflater !== null) data = nativeInflater(payload, rawLen);
      else {
        let out: Uint8Array;
        if (scratch === undefined) out = new Uint8Array(rawLen);
        else {
          if (scratch.data.length < rawLen) scratch.data = new Uint8Array(Math.max(rawLen, 24 * 1024));
          out = scratch.data;
        }
        data = out.subarray(0, inflater.inflate(payload, out, rawLen));
      }
    } catch (err) {
      throw new LargetableError('CORRUPTION', `${file}: corruption at offset ${offset}: inflate failed`, {
        cause: err,
        details: { file, offset },
      });
    }
  } else throw corruption(file, offset, `unknown block flags ${flags}`);
  if (data.length !== rawLen) throw corruption(file, offset, 'block raw length mismatch');
  return new Block(data, file, offset);
}

/**
 * Streams sorted entries into a new segment file. `add` is synchronous; call `drain()` when
 * `pendingBytes` grows (the caller's loop does) and `finish()` at the end.
 */
export class SegmentBuilder {
  private readonly entries = new ByteWriter(32 * 1024);
  /** Entry offsets of the open block (reused across blocks). */
  private offsets = new Uint32Array(256);
  private nOffsets = 0;
  /** Scratch for a block's raw bytes (offset table + entries), reused across blocks. */
  private raw = new Uint8Array(0);
  /**
   * Finished blocks waiting for `drain`, laid out as on disk in one buffer that is reused
   * (the adapter copies or writes the bytes before `write` resolves): flush and compaction
   * allocate no per-block or per-drain buffers beyond what deflate itself needs.
   */
  private stage: Uint8Array;
  private stageDv: DataView;
  pendingBytes = 0;
  private written = 0;
  private skipCompression = 0;
  private readonly index = new ByteWriter(4096);
  private indexCount = 0;
  /**
   * Key hashes when the key count is not known up front, in chunks of `hashChunk` (a doubling
   * array would copy, and hold up to 2x, a segment's worth: 16 MiB for 2M keys).
   */
  private readonly hashes: Uint32Array[] = [];
  // the last key added, copied (the caller's buffer may be reused once the entry is added)
  private lastKb: Uint8Array | null = null;
  private lastKey = new Uint8Array(64);
  private lastKo = 0;
  private lastKl = 0;
  count = 0;
  keys = 0;
  minSeq = Infinity;
  maxSeq = 0;
  smallest: Uint8Array | null = null;
  readonly handle: FileHandle;
  readonly name: string;
  readonly blockSizeBytes: number;
  readonly compressLevel: number;
  /** The format version written (`segmentVersion`; 1 only to make old files, for tests). */
  readonly version: number;
  /** Bloom bits filled as keys arrive when the key count is known up front (no hash buffer). */
  private readonly bloom: Uint8Array | null;
  /**
   * @param expectedKeys upper bound on distinct keys, when known (flush, compaction): the bloom
   *   filter is then sized once and filled directly instead of buffering 4 bytes per key.
   */
  constructor(handle: FileHandle, name: string, blockSizeBytes: number, compressLevel: number, expectedKeys?: number, version = segmentVersion) {
    this.version = version;
    this.bloom = expectedKeys === undefined ? null : newBloom(expectedKeys);
    this.handle = handle;
    this.name = name;
    this.blockSizeBytes = blockSizeBytes;
    this.compressLevel = compressLevel;
    this.stage = new Uint8Array(stageBytes(blockSizeBytes));
    this.stageDv = new DataView(this.stage.buffer);
    this.stageDv.setUint32(0, segmentMagic, true);
    this.stage[4] = version;
    this.pendingBytes = segmentHeaderBytes;
  }

  /** Size of the file so far including buffered bytes. */
  get sizeBytes(): number {
    return this.written + this.pendingBytes + this.entries.pos + this.nOffsets * 4;
  }

  /** Adds one entry; entries must arrive in (key asc, seq desc) order. */
  add(key: Uint8Array, seq: number, value: Uint8Array | null): void {
    if (value === null) this.addRaw(key, 0, key.length, seq, key, 0, -1);
    else this.addRaw(key, 0, key.length, seq, value, 0, value.length);
  }

  /** `add` on byte ranges (no allocation): key = kb[ko, ko+kl), value = vb[vo, vo+vl) or a tombstone when vl < 0. */
  addRaw(kb: Uint8Array, ko: number, kl: number, seq: number, vb: Uint8Array, vo: number, vl: number): void {
    const e = this.entries;
    const isNew = this.lastKb === null || compareRanges(this.lastKb, this.lastKo, this.lastKl, kb, ko, kl) !== 0;
    if (isNew) {
      const h = hashKey(kb, ko, ko + kl);
      if (this.bloom !== null) {
        bloomAdd(this.bloom, h);
        this.keys++;
      } else {
        const at = this.keys % hashChunk;
        if (at === 0) this.hashes.push(this.keys === 0 ? new Uint32Array(1024) : (hashChunks.pop() ?? new Uint32Array(hashChunk)));
        let c = this.hashes[this.hashes.length - 1]!;
        if (at === c.length) {
          // the first chunk starts small (most segments in tests and L0 merges are small)
          const nc = new Uint32Array(Math.min(hashChunk, c.length * 4));
          nc.set(c);
          this.hashes[this.hashes.length - 1] = c = nc;
        }
        c[at] = h;
        this.keys++;
      }
    }
    if (this.smallest === null) this.smallest = kb.slice(ko, ko + kl);
    if (this.nOffsets === this.offsets.length) {
      const no = new Uint32Array(this.offsets.length * 2);
      no.set(this.offsets);
      this.offsets = no;
    }
    this.offsets[this.nOffsets++] = e.pos;
    const len = vl < 0 ? 0 : vl;
    e.ensure(9 + varintSize(kl) + varintSize(len) + kl + len);
    const buf = e.buf;
    buf[e.pos++] = vl < 0 ? kindDel : kindPut;
    e.view.setUint32(e.pos, seq % 0x100000000, true);
    e.view.setUint32(e.pos + 4, Math.floor(seq / 0x100000000), true);
    e.pos += 8;
    e.varint(kl);
    e.varint(len);
    let p = e.pos;
    if (kl <= 64) for (let i = 0; i < kl; i++) buf[p++] = kb[ko + i]!;
    else {
      buf.set(kb.subarray(ko, ko + kl), p);
      p += kl;
    }
    if (len <= 128) for (let i = 0; i < len; i++) buf[p++] = vb[vo + i]!;
    else {
      buf.set(vb.subarray(vo, vo + len), p);
      p += len;
    }
    e.pos = p;
    if (isNew) {
      if (this.lastKey.length < kl) this.lastKey = new Uint8Array(Math.max(kl, this.lastKey.length * 2));
      const lk = this.lastKey;
      if (kl <= 64) for (let i = 0; i < kl; i++) lk[i] = kb[ko + i]!;
      else lk.set(kb.subarray(ko, ko + kl));
    }
    this.lastKb = this.lastKey;
    this.lastKo = 0;
    this.lastKl = kl;
    this.count++;
    if (seq < this.minSeq) this.minSeq = seq;
    if (seq > this.maxSeq) this.maxSeq = seq;
    if (e.pos >= this.blockSizeBytes) this.finishBlock();
  }

  /** Makes room for `n` more staged bytes. */
  private stageEnsure(n: number): void {
    const need = this.pendingBytes + n;
    if (need <= this.stage.length) return;
    let cap = this.stage.length * 2;
    while (cap < need) cap *= 2;
    const ns = new Uint8Array(cap);
    ns.set(this.stage.subarray(0, this.pendingBytes));
    this.stage = ns;
    this.stageDv = new DataView(ns.buffer);
  }

  private finishBlock(): void {
    const n = this.nOffsets;
    if (n === 0) return;
    const head = 4 + n * 4;
    const rawLen = head + this.entries.pos;
    if (this.raw.length < rawLen) this.raw = new Uint8Array(Math.max(rawLen, this.blockSizeBytes + (this.blockSizeBytes >>> 1)));
    const raw = this.raw.subarray(0, rawLen);
    const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    dv.setUint32(0, n, true);
    for (let i = 0; i < n; i++) dv.setUint32(4 + i * 4, this.offsets[i]! + head, true);
    raw.set(this.entries.buf.subarray(0, this.entries.pos), head);
    let flags = 0;
    let payload: Uint8Array = raw;
    if (this.compressLevel > 0 && this.skipCompression === 0) {
      const z = (deflater ??= new DeflateEncoder()).deflate(raw, this.compressLevel); // a view: copied into the stage below
      if (z.length < raw.length - (raw.length >>> 4)) {
        payload = z;
        flags = 1;
      } else this.skipCompression = 8; // incompressible data: do not retry for the next 8 blocks
    } else if (this.skipCompression > 0) this.skipCompression--;
    const diskLen = blockHeaderBytes + payload.length + 4;
    this.stageEnsure(diskLen);
    const at = this.pendingBytes;
    const st = this.stage;
    const sdv = this.stageDv;
    st[at] = flags;
    sdv.setUint32(at + 1, raw.length, true);
    sdv.setUint32(at + 5, payload.length, true);
    st.set(payload, at + blockHeaderBytes);
    const end = at + blockHeaderBytes + payload.length;
    sdv.setUint32(end, this.version === 1 ? crc32c(st, 0, at, end) : blockSum(st.subarray(at, end)), true);
    const offset = this.written + at;
    // index entry: offset, length, last key
    this.index.u32(offset);
    this.index.u32(diskLen);
    this.index.varint(this.lastKl);
    this.index.bytes(this.lastKb!.subarray(this.lastKo, this.lastKo + this.lastKl));
    this.indexCount++;
    this.pendingBytes += diskLen;
    this.entries.reset();
    this.nOffsets = 0;
  }

  /** Writes buffered blocks to the file. */
  async drain(): Promise<void> {
    const total = this.pendingBytes;
    if (total === 0) return;
    const at = this.written;
    await io(this.name, 'write', () => this.handle.write(at, this.stage.subarray(0, total)));
    this.pendingBytes = 0;
    this.written += total;
    // a block larger than usual grew the stage: give the memory back
    if (this.stage.length > 4 << 20) {
      this.stage = new Uint8Array(stageBytes(this.blockSizeBytes));
      this.stageDv = new DataView(this.stage.buffer);
    }
  }

  private tail: Uint8Array | null = null;

  /**
   * The bloom, index, meta and footer bytes `finish` wrote (synced), for `Segment.open` to keep
   * instead of reading them back: a new segment then costs one buffer for them, not two. Once.
   */
  takeTail(): Uint8Array | undefined {
    const t = this.tail;
    this.tail = null;
    return t ?? undefined;
  }

  /** Writes bloom, index, meta and footer, syncs, and returns the segment's metadata. */
  async finish(file: number): Promise<SegmentMeta> {
    this.finishBlock();
    let bloomBits = this.bloom;
    if (bloomBits === null) {
      bloomBits = newBloom(this.keys);
      for (let ci = 0; ci < this.hashes.length; ci++) {
        const c = this.hashes[ci]!;
        const n = Math.min(hashChunk, this.keys - ci * hashChunk);
        for (let i = 0; i < n; i++) bloomAdd(bloomBits, c[i]!);
        if (c.length === hashChunk && hashChunks.length < hashChunksKept) hashChunks.push(c);
      }
      this.hashes.length = 0;
    }
    const smallest = this.smallest ?? new Uint8Array(0);
    const largest = this.lastKb === null ? new Uint8Array(0) : this.lastKb.slice(this.lastKo, this.lastKo + this.lastKl);
    // sized exactly: the open segment keeps this buffer (`takeTail`) instead of reading it back
    const tailBytes =
      8 + bloomBits.length + 8 + this.index.pos + 28 + varintSize(smallest.length) + smallest.length + varintSize(largest.length) + largest.length + segmentFooterBytes;
    const tail = new ByteWriter(tailBytes);
    const base = this.written + this.pendingBytes;
    // bloom
    const bloomOff = base;
    tail.u32(bloomBits.length);
    tail.bytes(bloomBits);
    tail.u32(crc32c(tail.buf, 0, 0, tail.pos));
    const bloomLen = tail.pos;
    // index
    const indexOff = base + tail.pos;
    const i0 = tail.pos;
    tail.u32(this.indexCount);
    tail.bytes(this.index.view0());
    tail.u32(crc32c(tail.buf, 0, i0, tail.pos));
    const indexLen = tail.pos - i0;
    // meta
    const metaOff = base + tail.pos;
    const m0 = tail.pos;
    tail.u64(this.count);
    tail.u64(this.count === 0 ? 0 : this.minSeq);
    tail.u64(this.maxSeq);
    tail.varint(smallest.length);
    tail.bytes(smallest);
    tail.varint(largest.length);
    tail.bytes(largest);
    tail.u32(crc32c(tail.buf, 0, m0, tail.pos));
    const metaLen = tail.pos - m0;
    // footer
    const f0 = tail.pos;
    tail.u32(bloomOff);
    tail.u32(bloomLen);
    tail.u32(indexOff);
    tail.u32(indexLen);
    tail.u32(metaOff);
    tail.u32(metaLen);
    tail.u32(segmentMagic);
    tail.u8(this.version);
    tail.u8(0);
    tail.u8(0);
    tail.u8(0);
    tail.u32(crc32c(tail.buf, 0, f0, tail.pos));
    // the tail (MBs for a large segment) is written from its own buffer, not copied into the stage
    await this.drain();
    const tailAt = this.written;
    await io(this.name, 'write', () => this.handle.write(tailAt, tail.buf.subarray(0, tail.pos)));
    this.written += tail.pos;
    await io(this.name, 'sync', () => this.handle.sync());
    this.tail = tail.pos === tail.buf.length ? tail.buf : null;
    return {
      file,
      size: this.written,
      count: this.count,
      minSeq: this.count === 0 ? 0 : this.minSeq,
      maxSeq: this.maxSeq,
      smallest: smallest.slice(),
      largest: largest.slice(),
    };
  }
}

/** An open segment: footer, sparse index and bloom in memory; blocks via the cache. */
export class Segment {
  /** Versions holding this segment; the file is deleted when it is obsolete and unreferenced. */
  refs = 0;
  obsolete = false;
  readonly meta: SegmentMeta;
  readonly name: string;
  readonly handle: FileHandle;
  readonly cache: BlockCache<Block>;
  readonly cacheBase: number;
  private readonly bloom: Uint8Array;
  /** Index region bytes; entry i: offset u32, len u32, keyLen varint, key. */
  private readonly idx: Uint8Array;
  private readonly idxBlockOff: Uint32Array;
  private readonly idxBlockLen: Uint32Array;
  private readonly idxKeyStart: Uint32Array;
  private readonly idxKeyLen: Uint32Array;
  /** First 4 bytes of each block's last key (big-endian, zero-padded): most search steps compare these. */
  private readonly idxP0: Uint32Array;
  /** The next 4 bytes (4..8): keys of one keyspace share their first 4 bytes (kind + collection id). */
  private readonly idxP1: Uint32Array;
  /**
   * And the 4 after those (8..12): document keys of one collection share their first 6 bytes, so
   * bytes 4..8 hold only ~2 bytes of the _id and the last steps of a search tied on them (each then
   * read the block's last key from the index bytes: scattered memory on a random point read).
   */
  private readonly idxP2: Uint32Array;
  /** The value found by the last successful `probe` (a copy, the caller's; a view with foundView; unset with foundAt). */
  found: Uint8Array | null = null;
  /** Where the last successful `probe` found its value: bytes [foundOff, foundOff + foundLen) of the cached block's `foundData` (immutable). */
  foundData: Uint8Array = emptyBytes;
  foundOff = 0;
  foundLen = 0;
  /** Whether the last successful `probe` found its value in a block it read (`read`), not in the cache. */
  foundRead = false;
  /**
   * The cache's tables of this file's cached blocks, their bytes and their second-chance marks
   * (`BlockCache.tablesOf`, taken at the first probe): slot i is block i when cached.
   */
  private cacheTables: FileTables<Block> | undefined;
  /** The file's format version (its blocks' checksum: see `segmentVersion`). */
  readonly version: number;
  private constructor(
    meta: SegmentMeta,
    name: string,
    handle: FileHandle,
    cache: BlockCache<Block>,
    bloom: Uint8Array,
    idx: Uint8Array,
    idxBlockOff: Uint32Array,
    idxBlockLen: Uint32Array,
    idxKeyStart: Uint32Array,
    idxKeyLen: Uint32Array,
    idxP: [Uint32Array, Uint32Array, Uint32Array],
    cacheBase: number,
    version: number,
  ) {
    this.version = version;
    this.meta = meta;
    this.name = name;
    this.handle = handle;
    this.cache = cache;
    this.bloom = bloom;
    this.idx = idx;
    this.idxBlockOff = idxBlockOff;
    this.idxBlockLen = idxBlockLen;
    this.idxKeyStart = idxKeyStart;
    this.idxKeyLen = idxKeyLen;
    this.cacheBase = cacheBase;
    [this.idxP0, this.idxP1, this.idxP2] = idxP;
  }

  get blocks(): number {
    return this.idxBlockOff.length;
  }
  blockOffset(i: number): number {
    return this.idxBlockOff[i]!;
  }
  blockLength(i: number): number {
    return this.idxBlockLen[i]!;
  }

  /**
   * Opens and checks footer, bloom, index and meta. Throws CORRUPTION / UNSUPPORTED_FORMAT.
   * `written` = the file's bytes from the bloom on, as its builder just wrote and synced them
   * (`SegmentBuilder.takeTail`): kept and checked like bytes read, without reading them back.
   */
  static async open(handle: FileHandle, name: string, file: number, cache: BlockCache<Block>, written?: Uint8Array): Promise<Segment> {
    const size = await io(name, 'size', () => handle.size());
    if (size < segmentHeaderBytes + segmentFooterBytes) throw corruption(name, size, 'segment too short');
    const head = await io(name, 'read', () => handle.read(0, segmentHeaderBytes));
    const hdv = new DataView(head.buffer, head.byteOffset, head.byteLength);
    if (head.length < segmentHeaderBytes || hdv.getUint32(0, true) !== segmentMagic) throw corruption(name, 0, 'bad segment magic');
    const version = head[4]!;
    if (version < segmentVersionMin || version > segmentVersion) throw unsupported(name, 4, version);
    if (head[5] !== 0 || head[6] !== 0 || head[7] !== 0) throw corruption(name, 5, 'reserved header bytes are not zero');
    const fo = size - segmentFooterBytes;
    const foot = await io(name, 'read', () => handle.read(fo, segmentFooterBytes));
    const fr = new ByteReader(foot, name, fo);
    if (foot.length !== segmentFooterBytes) throw corruption(name, fo, 'footer truncated');
    const fdv = new DataView(foot.buffer, foot.byteOffset, foot.byteLength);
    if (fdv.getUint32(24, true) !== segmentMagic) throw corruption(name, fo + 24, 'bad footer magic');
    if (crc32c(foot, 0, 0, 32) !== fdv.getUint32(32, true)) throw corruption(name, fo, 'footer checksum mismatch');
    if (foot[28] !== version) throw foot[28]! < segmentVersionMin || foot[28]! > segmentVersion ? unsupported(name, fo + 28, foot[28]!) : corruption(name, fo + 28, 'footer version differs from the header');
    const bloomOff = fr.u32();
    const bloomLen = fr.u32();
    const indexOff = fr.u32();
    const indexLen = fr.u32();
    const metaOff = fr.u32();
    const metaLen = fr.u32();
    if (bloomOff + bloomLen !== indexOff || indexOff + indexLen !== metaOff || metaOff + metaLen !== fo || bloomOff < segmentHeaderBytes)
      throw corruption(name, fo, 'footer offsets inconsistent');
    let tail =
      written !== undefined && written.length === size - bloomOff
        ? written.subarray(0, fo - bloomOff)
        : await io(name, 'read', () => handle.read(bloomOff, fo - bloomOff));
    // kept (bloom and index are views of it): own exactly these bytes, not a larger buffer
    // (the builder's buffer also holds the 36-byte footer: kept with it)
    if (tail.byteOffset !== 0 || tail.buffer.byteLength - tail.length > (written === undefined ? 0 : segmentFooterBytes)) tail = tail.slice();
    if (tail.length !== fo - bloomOff) throw corruption(name, bloomOff, 'segment tail truncated');
    const region = (off: number, len: number): Uint8Array => {
      const r = tail.subarray(off - bloomOff, off - bloomOff + len);
      if (len < 4) throw corruption(name, off, 'region too short');
      const dv = new DataView(r.buffer, r.byteOffset, r.byteLength);
      if (crc32c(r, 0, 0, len - 4) !== dv.getUint32(len - 4, true)) throw corruption(name, off, 'region checksum mismatch');
      return r.subarray(0, len - 4);
    };
    const bloomR = region(bloomOff, bloomLen);
    const br = new ByteReader(bloomR, name, bloomOff);
    // views of `tail`, which is kept whole (bloom + index + a few bytes): no second copy
    const bloom = br.bytes(br.u32());
    const idx = region(indexOff, indexLen);
    const ir = new ByteReader(idx, name, indexOff);
    const n = ir.u32();
    if (n > idx.length) ir.fail('index count out of range');
    const off = new Uint32Array(n);
    const len = new Uint32Array(n);
    const ks = new Uint32Array(n);
    const kl = new Uint32Array(n);
    const p0 = new Uint32Array(n);
    const p1 = new Uint32Array(n);
    const p2 = new Uint32Array(n);
    let prevEnd = segmentHeaderBytes;
    // one loop without calls or allocation per entry (it runs cold, in the interpreter, at a store's
    // open: ByteReader calls and a key view per entry made it ~3 us per block); an entry near the
    // end or with a long key length takes the checked reads
    const end = idx.length;
    let p = ir.pos;
    for (let i = 0; i < n; i++) {
      let o: number, l: number, k: number;
      if (p + 9 <= end && idx[p + 8]! < 0x80) {
        o = (idx[p]! | (idx[p + 1]! << 8) | (idx[p + 2]! << 16) | (idx[p + 3]! << 24)) >>> 0;
        l = (idx[p + 4]! | (idx[p + 5]! << 8) | (idx[p + 6]! << 16) | (idx[p + 7]! << 24)) >>> 0;
        k = idx[p + 8]!;
        p += 9;
      } else {
        ir.pos = p;
        o = ir.u32();
        l = ir.u32();
        k = ir.varint();
        p = ir.pos;
      }
      if (p + k > end) {
        ir.pos = p;
        ir.need(k);
      }
      off[i] = o;
      len[i] = l;
      ks[i] = p;
      kl[i] = k;
      // the block's last key's first 12 bytes as three big-endian words (findBlock compares these)
      if (k >= 12) {
        p0[i] = ((idx[p]! << 24) | (idx[p + 1]! << 16) | (idx[p + 2]! << 8) | idx[p + 3]!) >>> 0;
        p1[i] = ((idx[p + 4]! << 24) | (idx[p + 5]! << 16) | (idx[p + 6]! << 8) | idx[p + 7]!) >>> 0;
        p2[i] = ((idx[p + 8]! << 24) | (idx[p + 9]! << 16) | (idx[p + 10]! << 8) | idx[p + 11]!) >>> 0;
      } else {
        p0[i] = prefixAt(idx, p, k);
        p1[i] = k > 4 ? prefixAt(idx, p + 4, k - 4) : 0;
        p2[i] = k > 8 ? prefixAt(idx, p + 8, k - 8) : 0;
      }
      p += k;
      if (o !== prevEnd) {
        ir.pos = p;
        ir.fail(`index entry ${i} offset ${o} not contiguous`);
      }
      prevEnd = o + l;
    }
    ir.pos = p;
    if (prevEnd !== bloomOff) ir.fail('index does not cover the data region');
    const mr = new ByteReader(region(metaOff, metaLen), name, metaOff);
    const count = mr.u64();
    const minSeq = mr.u64();
    const maxSeq = mr.u64();
    const smallest = mr.bytes(mr.varint()).slice();
    const largest = mr.bytes(mr.varint()).slice();
    const meta: SegmentMeta = { file, size, count, minSeq, maxSeq, smallest, largest };
    if (n >= blocksPerFileMax) throw corruption(name, indexOff, 'too many blocks');
    return new Segment(meta, name, handle, cache, bloom, idx, off, len, ks, kl, [p0, p1, p2], file * blocksPerFileMax, version);
  }

  /** `bloomTouch` of this segment's filter: a read-ahead of a lookup's misses (`LsmStore.prefetch`). */
  bloomTouch(hash: number): number {
    return bloomTouch(this.bloom, hash);
  }

  mayContain(key: Uint8Array, hash: number): boolean {
    if (this.meta.count === 0) return false;
    if (compareBytes(key, this.meta.smallest) < 0 || compareBytes(key, this.meta.largest) > 0) return false;
    return bloomMayContain(this.bloom, hash);
  }

  /** First block whose last key >= key (blocks if none). */
  findBlock(key: Uint8Array, kp = prefixAt(key, 0, key.length)): number {
    const p0 = this.idxP0;
    const p1 = this.idxP1;
    const p2 = this.idxP2;
    // (p0, p1, p2) order keys by their first 12 bytes (zero-padded): a full compare only when all tie
    const kp1 = key.length > 4 ? prefixAt(key, 4, key.length - 4) : 0;
    const kp2 = key.length > 8 ? prefixAt(key, 8, key.length - 8) : 0;
    let lo = 0;
    let hi = p0.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const p = p0[mid]!;
      let after: boolean;
      if (p !== kp) after = p < kp;
      else {
        const q = p1[mid]!;
        if (q !== kp1) after = q < kp1;
        else {
          const r = p2[mid]!;
          after = r !== kp2 ? r < kp2 : compareAt(key, this.idx, this.idxKeyStart[mid]!, this.idxKeyLen[mid]!) > 0;
        }
      }
      if (after) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Last key of block i compared with key. */
  compareBlockLast(i: number, key: Uint8Array): number {
    return -compareAt(key, this.idx, this.idxKeyStart[i]!, this.idxKeyLen[i]!);
  }

  /**
   * Loads block i (cache, else read + check + inflate). `fill` = false (compaction, which reads
   * every block once) leaves the cache as it is instead of replacing its hot blocks. `sync` (a
   * reader waiting for this one block: point reads, a scan's next block) reads it on this thread
   * when the handle can (`readIntoSync`); readahead (`prefetch`) reads through the thread pool.
   */
  async block(i: number, fill = true, sync = true): Promise<Block> {
    const ck = this.cacheBase + i;
    const hit = this.cache.get(ck);
    if (hit !== undefined) return hit;
    const pending = this.pending.get(i);
    if (pending !== undefined) return pending;
    const off = this.idxBlockOff[i]!;
    const len = this.idxBlockLen[i]!;
    const h = this.handle;
    let b: Block;
    if (h.readInto !== undefined && len <= readBufBytes) {
      b = await this.readPooled(off, len, sync, (raw) => decodeBlock(raw, this.version, this.name, off, undefined, true));
    } else {
      const raw = await io(this.name, 'read', () => h.read(off, len));
      if (raw.length !== len) throw corruption(this.name, off + raw.length, 'block truncated');
      b = decodeBlock(raw, this.version, this.name, off);
    }
    if (fill) this.cache.set(ck, b);
    return b;
  }

  /**
   * Block i for a one-pass reader (compaction): from the cache when it is there, else read and
   * decoded into `scratch` (valid until the scratch is reused), without filling the cache.
   */
  async blockInto(i: number, scratch: BlockScratch): Promise<Block> {
    const hit = this.cache.get(this.cacheBase + i);
    if (hit !== undefined) return hit;
    const h = this.handle;
    if (h.readInto === undefined) return this.block(i, false);
    const off = this.idxBlockOff[i]!;
    const len = this.idxBlockLen[i]!;
    if (scratch.raw.length < len) scratch.raw = new Uint8Array(Math.max(len, 24 * 1024));
    const raw = scratch.raw.subarray(0, len);
    const got = await io(this.name, 'read', () => h.readInto!(off, raw));
    if (got !== len) throw corruption(this.name, off + got, 'block truncated');
    return decodeBlock(raw, this.version, this.name, off, scratch);
  }

  /** Bytes this open segment keeps in memory: bloom filter, sparse index and its columns. */
  get memoryBytes(): number {
    const shared = this.idx.buffer === this.bloom.buffer;
    // per block: offset, length, key start and length, three prefix columns, the cache table's slot
    return this.bloom.buffer.byteLength + (shared ? 0 : this.idx.byteLength) + this.idxBlockOff.length * 36 + 1024;
  }

  /** This segment's run of blocks read by `batchBlock` (another segment's once it took it over). */
  private run: BatchRun | undefined;

  /** Block reads started by `prefetch`, by block index: a load of the same block waits for it. */
  private readonly pending = new Map<number, Promise<Block>>();

  /**
   * Starts reading block i into the cache (readahead of a scan) unless it is cached or already
   * being read. A failure is not reported here: the read that needs the block reads it again.
   */
  prefetch(i: number): void {
    if (i < 0 || i >= this.idxBlockOff.length || this.pending.has(i) || this.cache.peek(this.cacheBase + i) !== undefined) return;
    const p = this.block(i, true, false);
    this.pending.set(i, p);
    const done = (): void => void this.pending.delete(i);
    p.then(done, done);
  }

  /**
   * Readahead of a run of blocks: one read of the contiguous bytes of blocks `first..last`
   * (trimmed to the blocks neither cached nor being read), each block then checked, decoded and
   * cached; a load of one of them waits for the read. One storage request per run instead of one
   * per block: each read is a thread-pool round trip (or an IndexedDB/OPFS request), which costs
   * more than the block's bytes on a busy machine. Returns the last block requested (`first` - 1
   * when none). A failure is not reported here: the read that needs a block reads it again.
   */
  prefetchRun(first: number, last: number): number {
    const n = this.idxBlockOff.length;
    if (last >= n) last = n - 1;
    const busy = (j: number): boolean => this.pending.has(j) || this.cache.has(this.cacheBase + j);
    while (first <= last && busy(first)) first++;
    if (first > last) return last;
    let end = first;
    while (end < last && !busy(end + 1)) end++;
    if (end === first) {
      this.prefetch(first);
      return end;
    }
    const base = this.idxBlockOff[first]!;
    const len = this.idxBlockOff[end]! + this.idxBlockLen[end]! - base;
    // the run's bytes land in a pooled buffer (decoding copies everything out of it), so a scan
    // allocates one buffer per decoded block only
    const h = this.handle;
    const buf = h.readInto !== undefined && len <= runBufferBytes ? takeRunBuffer() : null;
    const run =
      buf === null
        ? io(this.name, 'read', () => h.read(base, len))
        : io(this.name, 'read', () => h.readInto!(base, buf.subarray(0, len))).then((got) => buf.subarray(0, got));
    const all = run
      .then((raw) => {
        const out: Block[] = [];
        for (let j = first; j <= end; j++) {
          const off = this.idxBlockOff[j]!;
          const bl = this.idxBlockLen[j]!;
          if (raw.length < off - base + bl) throw corruption(this.name, base + raw.length, 'block truncated');
          // the run's buffer is temporary (pooled, or one read for many blocks): a stored
          // (uncompressed) block owns a copy of its bytes
          const b = decodeBlock(raw.subarray(off - base, off - base + bl), this.version, this.name, off, undefined, true);
          this.cache.set(this.cacheBase + j, b);
          out.push(b);
        }
        return out;
      })
      .finally(() => {
        if (buf !== null) giveRunBuffer(buf);
      });
    for (let j = first; j <= end; j++) {
      const p = all.then((bs) => bs[j - first]!);
      this.pending.set(j, p);
      const done = (): void => void this.pending.delete(j);
      p.then(done, done);
    }
    return end;
  }

  /**
   * Blocks `first..last` (contiguous on disk) read with one request (into a pooled buffer when
   * they fit one) and decoded (checked; a stored block copied out of a pooled buffer), without
   * entering the cache: the readahead of a scan over more than the cache holds (`RunSource`), whose blocks no
   * later read would find there. One buffer per run instead of one per block, and no cache
   * insertions that evict blocks other readers use. With `into` (a buffer the caller owns, at
   * least as long as the run: a transient scan's), the run is read into it and its stored blocks
   * are decoded in place, in it: valid until the caller reuses the buffer (a compressed block is
   * still inflated into a buffer of its own). `slots` (the caller's, kept with `into`) holds the
   * Blocks over `into` of the runs read into it before: the k-th stored block of the run re-points
   * the k-th of them (`Block.reuse`), so a scan that reuses its buffers makes no object per block.
   */
  async readRun(first: number, last: number, into?: Uint8Array, slots?: Block[]): Promise<Block[]> {
    const base = this.idxBlockOff[first]!;
    const len = this.idxBlockOff[last]! + this.idxBlockLen[last]! - base;
    const h = this.handle;
    const own = into !== undefined && h.readInto !== undefined && len <= into.length;
    // the run's bytes land in a pooled buffer when they fit (as prefetchRun's): decoding inflates
    // a compressed block into a buffer of its own and copies a stored one, so the read buffer is
    // free again once the run is decoded, instead of a new one per run for the collector to free
    const buf = own ? into : h.readInto !== undefined && len <= runBufferBytes ? takeRunBuffer() : null;
    try {
      let raw: Uint8Array;
      if (buf !== null) raw = buf.subarray(0, await io(this.name, 'read', () => h.readInto!(base, buf.subarray(0, len))));
      else if (h.readInto !== undefined) {
        const fresh = new Uint8Array(len);
        raw = fresh.subarray(0, await io(this.name, 'read', () => h.readInto!(base, fresh)));
      } else raw = await io(this.name, 'read', () => h.read(base, len));
      return this.decodeRun(raw, first, last, own ? into : undefined, slots, buf !== null && !own);
    } finally {
      if (buf !== null && !own) giveRunBuffer(buf);
    }
  }

  /**
   * The blocks `bs` of a run read from block `first` on (`readRun` without `into`) into the cache,
   * each one the cache admits as a point read's (`BlockCache.admit`: while it has room, else one
   * missed recently) and does not hold yet. A block that is a view of the run's read buffer (an
   * adapter without `readInto`: the run is read into a buffer of its own, and a stored block is
   * decoded as a view of it) is cached as a copy: cached as it is, it would keep the whole run's
   * buffer alive and be counted at that size.
   */
  keepRun(first: number, bs: readonly Block[]): void {
    for (let k = 0; k < bs.length; k++) {
      const ck = this.cacheBase + first + k;
      const b = bs[k]!;
      if (this.cache.has(ck)) continue;
      const own = b.data.byteLength === b.data.buffer.byteLength;
      if (this.cache.admit(ck, own ? b.bytes : b.bytes - b.data.buffer.byteLength + b.data.byteLength)) this.cache.set(ck, own ? b : new Block(b.data.slice(), b.file, b.fileOffset));
    }
  }

  /**
   * `readRun` read on this thread (`readIntoSync`), for a run the scan waits for at once (no read
   * ahead of it to overlap with): undefined when the handle cannot read it so (then `readRun`).
   */
  readRunSync(first: number, last: number, into?: Uint8Array, slots?: Block[]): Block[] | undefined {
    const base = this.idxBlockOff[first]!;
    const len = this.idxBlockOff[last]! + this.idxBlockLen[last]! - base;
    if (this.handle.readIntoSync === undefined || this.handle.readInto === undefined) return undefined;
    const own = into !== undefined && len <= into.length;
    if (!own && len > runBufferBytes) return undefined;
    const buf = own ? into : takeRunBuffer();
    try {
      const got = this.readSync(base, buf.subarray(0, len));
      if (got < 0) return undefined;
      return this.decodeRun(buf.subarray(0, got), first, last, own ? into : undefined, slots, !own);
    } finally {
      if (!own) giveRunBuffer(buf);
    }
  }

  /**
   * Blocks `first..last` of a run read into `raw` (from the first block's offset on), checked and
   * decoded. `into` (the caller's buffer `raw` lies in): stored blocks are decoded in place there,
   * re-pointing `slots` (see `readRun`); `pooled` (a pooled read buffer): stored blocks are copied out.
   */
  private decodeRun(raw: Uint8Array, first: number, last: number, into: Uint8Array | undefined, slots: Block[] | undefined, pooled: boolean): Block[] {
    const base = this.idxBlockOff[first]!;
    const out: Block[] = [];
    for (let j = first; j <= last; j++) {
      const off = this.idxBlockOff[j]!;
      const bl = this.idxBlockLen[j]!;
      const at = off - base;
      if (raw.length < at + bl) throw corruption(this.name, base + raw.length, 'block truncated');
      const k = j - first;
      const prev = into !== undefined && slots !== undefined ? slots[k] : undefined;
      let b = decodeBlock(raw.subarray(at, at + bl), this.version, this.name, off, undefined, pooled, prev, at);
      if (into !== undefined && slots !== undefined && prev === undefined && b.data.buffer === into.buffer) {
        // a stored block, checked, decoded as a view of its own: the slot's Block spans the
        // whole buffer instead, so that later runs read into it can re-point it
        const from = b.data.byteOffset - into.byteOffset;
        b = slots[k] = new Block(into, this.name, off, from, from + b.data.length);
      }
      out.push(b);
    }
    return out;
  }

  /** Cached block i or undefined (no I/O). */
  cachedBlock(i: number): Block | undefined {
    return this.cache.get(this.cacheBase + i);
  }

  /**
   * Point lookup on cached blocks only, synchronous: probeNone (no visible version here),
   * probeDeleted (a tombstone), probeFound (the value, a copy, is in `found`), or probeIo when a
   * block it needs is not cached (then use `get`). `kp` = prefixAt(key). With `as` = foundView,
   * `found` is a read-only view into the cached block instead of a copy (blocks are immutable; a
   * view keeps its block alive); with foundAt nothing is allocated: the value is where
   * `foundData`/`foundOff`/`foundLen` say. With `read` (foundAt only: a batched reader's
   * `LsmStore.locateRead`), a block that is not cached is read synchronously (`batchBlock`) when
   * the handle can; `foundData` may then be the reused run buffer, valid until the next such read.
   * With `index` (point reads), a cached block it searches has its keys put into the cache's point index.
   */
  probe(key: Uint8Array, kp: number, snap: number, as: FoundAs = foundCopy, read = false, index = false): number {
    const n = this.idxP0.length;
    const cached = this.cached().values;
    let bi = this.findBlock(key, kp);
    while (bi < n) {
      let b = cached[bi];
      if (b !== undefined) this.cache.touch(b);
      this.foundRead = false;
      if (b === undefined && read) {
        b = this.batchBlock(bi);
        this.foundRead = true;
      }
      if (b === undefined) return probeIo;
      // a cached block a point probe searches has its keys indexed for the next ones
      if (!b.pointIndexed && index && cached[bi] === b) this.indexBlock(bi, b);
      for (let i = b.exactStart(key); i < b.count; i++) {
        b.atFound(i);
        if (compareAt(key, b.data, b.keyStart, b.keyLen) !== 0) return probeNone;
        if (b.seq <= snap) return this.foundIn(b, b.data, as);
      }
      // versions of this key may continue in the next block
      if (this.compareBlockLast(bi, key) !== 0) return probeNone;
      bi++;
    }
    return probeNone;
  }

  /**
   * `probe` by the cache's point index alone (`hash`: the key's `hashKey`): probeFound or
   * probeDeleted when its hint for the key leads to a cached block whose entry there is the key's,
   * visible at `snap` (the newest version the segment has: the answer `probe` would give), else -1
   * (no hint, or a wrong or stale one: then `probe`). One read of the index, the block, the entry.
   */
  probeIndexed(key: Uint8Array, hash: number, snap: number, as: FoundAs = foundCopy): number {
    const pts = this.cache.points;
    if (!pts.find(hash, this.meta.file)) return -1;
    // the block's bytes straight from the data table (no Block object read before them)
    const bi = pts.block;
    const d = this.cached().data[bi];
    if (d === undefined) return -1;
    const e = probeEntry;
    // (a cached block's bytes are all of its `data`; atOffset reports an entry that does not fit)
    if (!readEntry(e, d, pts.off, d.length)) this.cached().values[bi]!.atOffset(pts.off);
    if (e.seq > snap || compareAt(key, d, e.keyStart, e.keyLen) !== 0) return -1;
    // marked used in the table of marks: the Block itself is not read
    this.cache.touchSlot(this.cached().used, bi);
    this.foundRead = false;
    return this.foundIn(e, d, as);
  }

  /**
   * The cached block the cache's point index says holds key hash `hash` in this file (the entry
   * offset then in `cache.points.off`), or undefined: a hint, unchecked (for `LsmStore.prefetch`,
   * which only reads memory the lookup will read; the lookup checks the key).
   */
  hintedBlock(hash: number): Block | undefined {
    const pts = this.cache.points;
    return pts.find(hash, this.meta.file) ? this.cached().values[pts.block] : undefined;
  }

  /** This file's tables in the cache (`cacheTables`), taken from the cache at the first probe. */
  private cached(): FileTables<Block> {
    return (this.cacheTables ??= this.cache.tablesOf(this.cacheBase, this.idxP0.length));
  }

  /** `probe`'s answer for the entry `e` of block bytes `d` just decoded (its key is the one probed, visible). */
  private foundIn(e: EntryFields, d: Uint8Array, as: FoundAs): number {
    if (e.kind === kindDel) return probeDeleted;
    this.foundData = d;
    this.foundOff = e.valStart;
    this.foundLen = e.valLen;
    if (as !== foundAt) this.found = as === foundView ? d.subarray(e.valStart, e.valStart + e.valLen) : d.slice(e.valStart, e.valStart + e.valLen);
    return probeFound;
  }

  /**
   * Puts the keys of cached block `bi` (`b`) into the cache's point index: per key the entry of
   * its newest version, the first of its entries in the block. A key whose versions begin in the
   * block before (its last key is this block's first) is left out: its newest version is not here.
   */
  indexBlock(bi: number, b: Block): void {
    b.pointIndexed = true;
    const pts = this.cache.points;
    if (pts.capacity === 0) return;
    const d = b.data;
    const count = b.count;
    if (indexHashes.length < count) {
      indexHashes = new Int32Array(count * 2);
      indexOffs = new Int32Array(count * 2);
    }
    const hs = indexHashes;
    const os = indexOffs;
    let k = 0;
    // the key before the block's first entry: the previous block's last (in the sparse index)
    let pd = this.idx;
    let ps = bi > 0 ? this.idxKeyStart[bi - 1]! : 0;
    let pl = bi > 0 ? this.idxKeyLen[bi - 1]! : -1;
    for (let i = 0; i < count; i++) {
      const p = b.entryAt(i);
      b.keyAtEntry(i, p);
      const ks = b.keyStart;
      const kl = b.keyLen;
      if (kl !== pl || compareRanges(d, ks, kl, pd, ps, pl) !== 0) {
        hs[k] = hashKey(d, ks, ks + kl);
        os[k++] = p;
      }
      pd = d;
      ps = ks;
      pl = kl;
    }
    const made = pts.putMany(hs, os, k, this.meta.file, bi);
    if (made > 0) this.cache.pin(made);
  }

  /**
   * Point lookup: newest version of key with seq <= snap. Returns undefined if this segment has
   * no visible version, null for a tombstone, else the value (a copy).
   */
  async get(key: Uint8Array, snap: number): Promise<Uint8Array | null | undefined> {
    let bi = this.findBlock(key);
    while (bi < this.idxBlockOff.length) {
      // a block read once is searched in the reused buffer it was read into (no await between
      // the read and the copy of the value); a block read again goes to the cache
      const once = this.readOnce(bi);
      const b = once ?? (await this.pointBlock(bi));
      // a block the cache keeps gets its search column while its bytes are hot (see prepareSearch)
      if (once === undefined) b.prepareSearch();
      let i = b.lowerBound(key);
      for (; i < b.count; i++) {
        b.atFound(i);
        if (compareAt(key, b.data, b.keyStart, b.keyLen) !== 0) return undefined;
        if (b.seq <= snap) return b.kind === kindDel ? null : b.value().slice();
      }
      // versions of this key may continue in the next block
      if (this.compareBlockLast(bi, key) !== 0) return undefined;
      bi++;
    }
    return undefined;
  }

  /**
   * Block i for a point read (`get`): from the cache, else read; while the cache has room for
   * them, the following blocks of the segment that are neither cached nor being read come with it
   * (up to `pointRunBytes` in all, one synchronous read that reads through blocks already cached
   * or being read, which are left as they are), each cached and given its search column
   * while its bytes are hot. Caching them evicts nothing, and random point reads over a cold cache
   * soon want most of them: on the documents bench's first reads (20,000 gets of 100,000
   * documents) this turned ~3,250 storage reads into ~1,000, each of which costs a system call
   * and fresh memory's page faults that also slow the gets after it. Only with `readIntoSync`
   * (the read this point read waits for anyway); other adapters read the one block. A block read
   * alone (its next one is cached) is indexed at once too.
   */
  private async pointBlock(i: number): Promise<Block> {
    const ck = this.cacheBase + i;
    const hit = this.cache.peek(ck);
    if (hit !== undefined) return hit;
    const h = this.handle;
    const off = this.idxBlockOff[i]!;
    const n = this.idxBlockOff.length;
    if (h.readIntoSync === undefined || h.readInto === undefined || this.pending.has(i) || this.idxBlockLen[i]! > readBufBytes) return this.block(i);
    let end = i;
    let room = this.cache.room() - blockRoom(this.idxBlockLen[i]!);
    while (end + 1 < n) {
      const j = end + 1;
      const bl = this.idxBlockLen[j]!;
      if (this.idxBlockOff[j]! + bl - off > pointRunBytes) break;
      // a block cached or being read is read through (not cached again): the read goes on to the uncached ones after it
      if (!this.cache.has(this.cacheBase + j) && !this.pending.has(j)) {
        if (room < blockRoom(bl)) break;
        room -= blockRoom(bl);
      }
      end = j;
    }
    const len = this.idxBlockOff[end]! + this.idxBlockLen[end]! - off;
    return this.readPooled(off, len, true, (raw) => {
      this.cache.misses++;
      // the read buffer is reused: a stored (uncompressed) block owns a copy of its bytes
      const first = decodeBlock(raw.subarray(0, this.idxBlockLen[i]!), this.version, this.name, off, undefined, true);
      first.prepareSearch();
      this.cache.set(ck, first);
      // its keys go to the point index while its bytes are hot, as the search column (prepareSearch)
      this.indexBlock(i, first);
      for (let j = i + 1; j <= end; j++) {
        if (this.cache.has(this.cacheBase + j) || this.pending.has(j)) continue;
        const o = this.idxBlockOff[j]!;
        let b: Block;
        try {
          b = decodeBlock(raw.subarray(o - off, o - off + this.idxBlockLen[j]!), this.version, this.name, o, undefined, true);
          b.prepareSearch();
        } catch {
          break; // not cached: the read that needs it reads it again and reports the error
        }
        // (a deflated block takes more room than its stored bytes suggested)
        if (this.cache.room() < b.bytes) break;
        this.cache.set(this.cacheBase + j, b);
        this.indexBlock(j, b);
      }
      return first;
    });
  }

  /**
   * `use(raw)` of the `len` bytes at `off`, read into a pooled read buffer (callers check that the
   * handle has `readInto` and that `len` fits `readBufBytes`): with `sync`, on this thread when the
   * handle can (`readIntoSync`), else through the thread pool. The buffer goes back to the pool
   * when `use` returns, so what `use` keeps must be a copy.
   */
  private async readPooled<T>(off: number, len: number, sync: boolean, use: (raw: Uint8Array) => T): Promise<T> {
    const buf = readBufs.pop() ?? new Uint8Array(readBufBytes);
    try {
      const raw = buf.subarray(0, len);
      let got = sync && this.handle.readIntoSync !== undefined ? this.readSync(off, raw) : -1;
      if (got < 0) got = await io(this.name, 'read', () => this.handle.readInto!(off, raw));
      if (got !== len) throw corruption(this.name, off + got, 'block truncated');
      return use(raw);
    } finally {
      if (readBufs.length < readBufsMax) readBufs.push(buf);
    }
  }

  /**
   * Block i for a batched reader (`probe` with `read`: an index scan's document fetches), read
   * synchronously when it is not cached: undefined when the handle cannot (no `readIntoSync`, or
   * it answered -1) or the block is being read (then `get`). A read takes the following blocks with
   * it, up to `BatchRun.want` of them into this segment's run buffer: a system call costs ~5 µs on
   * this VM whatever its size up to ~32 KiB (pread of a file in the page cache: 8 KiB 5.5 µs,
   * 64 KiB 9 µs, 256 KiB 18.5 µs), and a fetch in key order (an equality's matches come in _id
   * order) finds its next blocks there. While the cache has room a block is copied out and cached
   * (that evicts nothing); else it is decoded in place, in the run buffer (valid until the run is
   * read again), kept as the run's current block for the keys after it, and not cached: like a
   * scan larger than the cache, a fetch of many documents would evict the blocks point reads use
   * again for blocks it reads once (and copying a block out and caching it cost more than reading
   * it again: at 1,000,000 documents the second-touch admission of point reads cached ~5,000 blocks
   * per equality query for ~3,000 hits).
   */
  private batchBlock(i: number): Block | undefined {
    const h = this.handle;
    const len = this.idxBlockLen[i]!;
    if (h.readIntoSync === undefined || h.readInto === undefined || len > batchRunBytes || this.pending.has(i)) return undefined;
    let r = this.run;
    if (r !== undefined && r.seg === this && r.index === i) return r.block;
    const off = this.idxBlockOff[i]!;
    if (r === undefined || r.seg !== this || off < r.off || off + len > r.off + r.len) {
      if (r !== undefined && r.seg === this) {
        // the next run's length follows how many blocks of this one were wanted (see BatchRun)
        if (r.used * 4 > r.blocks) r.want = Math.min(batchRunBlocksMax, r.want * 2);
        else if (r.used * 8 < r.blocks) r.want = Math.max(1, r.want >>> 1);
        batchRuns.splice(batchRuns.indexOf(r), 1);
      } else {
        r = batchRuns.length < batchRunsMax ? new BatchRun() : batchRuns.shift()!;
        r.want = 4;
        this.run = r;
      }
      batchRuns.push(r);
      const n = this.idxBlockOff.length;
      let end = i;
      while (end + 1 < n && end + 1 - i < r.want && this.idxBlockOff[end + 1]! + this.idxBlockLen[end + 1]! - off <= batchRunBytes) end++;
      r.seg = undefined;
      r.index = -1;
      r.block = undefined;
      const got = this.readSync(off, r.buf.subarray(0, this.idxBlockOff[end]! + this.idxBlockLen[end]! - off));
      if (got < 0) return undefined;
      if (got < len) throw corruption(this.name, off + got, 'block truncated');
      r.seg = this;
      r.off = off;
      r.len = got;
      r.blocks = end - i + 1;
      r.used = 0;
    }
    r.used++;
    this.cache.misses++;
    const raw = r.buf.subarray(off - r.off, off - r.off + len);
    const ck = this.cacheBase + i;
    if (this.cache.room() >= blockRoom(len)) {
      // the run buffer is reused: a stored (uncompressed) block owns a copy of its bytes
      const b = decodeBlock(raw, this.version, this.name, off, undefined, true);
      b.prepareSearch();
      this.cache.set(ck, b);
      // its keys go to the point index while its bytes are hot, as a point read's block's do
      // (pointBlock): a point read that finds it later answers by the index, not by a search of
      // cold bytes and an indexing of the block then
      this.indexBlock(i, b);
      return b;
    }
    const b = decodeBlock(raw, this.version, this.name, off, r.scratch, false, r.inPlace, off - r.off);
    r.index = i;
    r.block = b;
    return b;
  }

  /** The adapter's `readIntoSync` (callers check it exists): bytes read, or -1; errors as IO errors. */
  private readSync(off: number, raw: Uint8Array): number {
    try {
      return this.handle.readIntoSync!(off, raw);
    } catch (err) {
      throw toIoError(err, this.name, 'read');
    }
  }

  /**
   * Block i read synchronously into one reused buffer and decoded in place (a deflated one into a
   * reused scratch), not cached: for a point read of a block the cache has not seen recently, once
   * the cache is full (`BlockCache.admit`; while it has room, a block read is cached). Valid only until the next `readOnce` (the caller copies what it needs
   * before it awaits anything). Undefined when the block is cached, being read, seen recently, or
   * the handle cannot read synchronously: then use `block`. At 1,000,000 documents nearly every
   * random fetch reads a block no other read wants soon; caching it cost a 16 KiB buffer, and
   * V8 collects garbage per ~64 MiB of such buffers (~30 µs per block read, a third of a point read).
   */
  private readOnce(i: number): Block | undefined {
    const h = this.handle;
    const len = this.idxBlockLen[i]!;
    if (h.readIntoSync === undefined || h.readInto === undefined || len > readBufBytes) return undefined;
    const ck = this.cacheBase + i;
    if (this.cache.has(ck) || this.pending.has(i) || this.cache.admit(ck, len + blockObjectBytes)) return undefined;
    const off = this.idxBlockOff[i]!;
    const raw = onceBuf.subarray(0, len);
    const got = this.readSync(off, raw);
    if (got < 0) return undefined;
    if (got !== len) throw corruption(this.name, off + got, 'block truncated');
    this.cache.misses++;
    return decodeBlock(raw, this.version, this.name, off, onceScratch);
  }
}

/** Cache budget a block of `len` stored bytes takes, about (`Block.bytes` with its search column). */
function blockRoom(len: number): number {
  return len + blockObjectBytes + (len >>> 4);
}

function unsupported(file: string, offset: number, version: number): LargetableError {
  return new LargetableError(
    'UNSUPPORTED_FORMAT',
    `${file}: format version ${version} at offset ${offset} is not supported (this build reads versions ${segmentVersionMin} to ${segmentVersion})`,
    { details: { file, offset, version } },
  );
}
