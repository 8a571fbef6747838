/**
 * Write-ahead log (docs/FORMAT.md "WAL"). One record per write batch, self-describing with its
 * sequence number so a replica can apply records idempotently in order:
 *   record  = payloadLen u32 | crc32c(payload) u32 | payload
 *   payload = seq u64 | opCount u32 | op* | syncedMark u64 (version 5 on)
 *   op      = kind u8 (1 put, 0 del) | keyLen varint | valueLen varint (put only) | key | value
 *           | kind u8 = 2 (put, value shared) | keyLen varint | valueLen varint | back varint | key
 *           | kind u8 = 3 (put, value = key's tail) | keyLen varint | valueLen varint | key
 * Version 2: the file may be preallocated with zeros past the last record (records are then
 * written in place, so a commit's sync flushes data, not a new file size); a zero-filled tail is
 * the end of the log, not a torn write. Version 3 adds op kind 2: a put whose value is bytes the
 * record already holds (`back` bytes before the op's kind byte), written when a put's value lies
 * inside the value of the put before it (a change-log record holding the document it inserts):
 * the bytes are written, checksummed and copied into the memtable once. Version 4 adds op kind 3:
 * a put whose value is the last `valueLen` bytes of its own key (an index entry's value, the
 * document key suffix its key ends with). Version 5 ends each record with its synced mark: the
 * WAL offset up to which every byte was known synced when the record was written (`stampRecord`),
 * so that recovery can tell a write torn by a power loss (which may keep a later page of an unsynced
 * write without an earlier one) from damage to synced bytes (`scanWal`). Readers accept versions 2
 * to 5; a version 2 to 4 WAL is read with the rule of its version (a bad record followed by any
 * valid one is CORRUPTION).
 */
import { LargetableError } from '../errors.ts';
import { batchSizeBytesMax, keySizeBytesMax, valueSizeBytesMax } from '../limits.ts';
import { crc32c } from './checksum.ts';
import { corruption, readU32LE, varintSize, writeU32LE } from './codec.ts';
import type { Memtable } from './memtable.ts';
import type { WriteOp } from './store.ts';

export const walMagic = 0x4c57544c; // "LTWL" little-endian
export const walVersion = 5;
/** The oldest WAL version this build still reads (2: no shared-value ops; 3: no key-tail values; 4: no synced marks). */
export const walVersionOldest = 2;
/** The first WAL version whose records end with their synced mark. */
export const walVersionMarked = 5;
/** Bytes of a record's synced mark (version 5 on: the last bytes of its payload). */
export const walMarkBytes = 8;
/** Shortest value written as the tail of its own key (op kind 3). */
export const walTailBytesMin = 4;
/** Shortest value written as a reference to bytes the record already holds (op kind 2). */
export const walShareBytesMin = 32;
/**
 * Preallocation (when the engine preallocates): the first chunk, and the largest one. The first is
 * written when the WAL is created (at open, at a memtable rotation): 256 KiB cost ~0.7 ms more there
 * than 64 KiB did, while with 64 KiB a fresh store's ~110th and ~225th small commits each carried the
 * next chunk (64 KiB: +0.4 ms, 128 KiB: +1.4 ms on the bench machine; the slow inserts at indexes 112
 * and 226 of the documents bench's 300 sequential ones).
 */
export const walPreallocBytesMin = 256 * 1024;
export const walPreallocBytesMax = 4 * 1024 * 1024;
/** A group this large is written as it is (bandwidth-bound: zero-filling ahead would double it). */
export const walPreallocGroupBytesMax = 64 * 1024;
export const walHeaderBytes = 8;
export const recordHeaderBytes = 8;

export function walName(file: number): string {
  return `${String(file).padStart(6, '0')}.wal`;
}

export function walHeader(): Uint8Array {
  const h = new Uint8Array(walHeaderBytes);
  new DataView(h.buffer).setUint32(0, walMagic, true);
  h[4] = walVersion;
  return h;
}

function invalid(msg: string): LargetableError {
  return new LargetableError('INVALID_ARGUMENT', msg);
}

/**
 * Validates and encodes a batch into one record buffer (seq and crc filled in later by
 * `sealRecord`). The caller's arrays are copied, so they may be reused after the call. The
 * record goes to a new buffer, or to `into(size)` when that returns one (a reused scratch of the
 * caller's, at least `size` long; the record is its first `size` bytes). A put whose value (of at
 * least `walShareBytesMin` bytes) lies inside the value of the last put written in full before it
 * (a view of the same memory) is written as a reference to those bytes (op kind 2), not again.
 */
export function encodeBatch(ops: readonly WriteOp[], into?: (size: number) => Uint8Array | undefined): Uint8Array {
  if (!Array.isArray(ops)) throw invalid('write(ops): ops must be an array');
  let size = recordHeaderBytes + 12 + walMarkBytes;
  // the last value written in full (of at least walShareBytesMin bytes), and where its bytes start
  let hold: Uint8Array | undefined;
  let holdAt = 0;
  let shared = 0;
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i]!;
    const key = op?.key;
    if (!(key instanceof Uint8Array)) throw invalid(`op ${i}: key must be a Uint8Array`);
    if (key.length > keySizeBytesMax)
      throw new LargetableError('LIMIT_EXCEEDED', `op ${i}: key of ${key.length} bytes exceeds ${keySizeBytesMax}`);
    if (op.type === 'put') {
      const v = op.value;
      if (!(v instanceof Uint8Array)) throw invalid(`op ${i}: value must be a Uint8Array`);
      if (v.length > valueSizeBytesMax)
        throw new LargetableError('LIMIT_EXCEEDED', `op ${i}: value of ${v.length} bytes exceeds ${valueSizeBytesMax}`);
      const head = 1 + varintSize(key.length) + varintSize(v.length);
      let kind = 1;
      // kind 2: the value's bytes are already in the record; `back` counts from this op's start
      if (v.length >= walShareBytesMin && hold !== undefined && within(v, hold)) kind = 2;
      // kind 3: the value is the end of the key, written once
      else if (v.length >= walTailBytesMin && v.length <= key.length && isTail(v, key)) kind = 3;
      if (kind !== 1) {
        size += head + key.length + (kind === 2 ? varintSize(size - (holdAt + v.byteOffset - hold!.byteOffset)) : 0);
        if (shared === 0) {
          if (shareFlags.length < ops.length) shareFlags = new Uint8Array(Math.max(ops.length, 2 * shareFlags.length));
          shareFlags.fill(0, 0, ops.length);
        }
        shareFlags[i] = kind === 2 ? 1 : 3;
        shared++;
        continue;
      }
      if (v.length >= walShareBytesMin) {
        hold = v;
        holdAt = size + head + key.length;
      }
      size += head + key.length + v.length;
    } else if (op.type === 'del') {
      size += 1 + varintSize(key.length) + key.length;
    } else throw invalid(`op ${i}: type must be 'put' or 'del'`);
  }
  if (size > batchSizeBytesMax + 1024)
    throw new LargetableError('LIMIT_EXCEEDED', `batch of ${size} bytes exceeds ${batchSizeBytesMax}`);
  const scratch = into?.(size);
  const buf = scratch === undefined ? new Uint8Array(size) : scratch.subarray(0, size);
  writeU32LE(buf, 0, size - recordHeaderBytes);
  writeU32LE(buf, 16, ops.length);
  let p = 20;
  hold = undefined;
  holdAt = 0;
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i]!;
    const key = op.key;
    if (op.type === 'put') {
      const value = op.value;
      const vl = value.length;
      const flag = shared > 0 ? shareFlags[i]! : 0;
      const ref = flag === 1;
      const start = p;
      if (flag === 3) {
        buf[p++] = 3;
        p = putVarint(buf, p, key.length);
        p = putVarint(buf, p, vl);
        buf.set(key, p);
        p += key.length;
        continue;
      }
      buf[p++] = ref ? 2 : 1;
      p = putVarint(buf, p, key.length);
      if (ref) {
        p = putVarint(buf, p, vl);
        p = putVarint(buf, p, start - (holdAt + value.byteOffset - hold!.byteOffset));
        buf.set(key, p);
        p += key.length;
        continue;
      }
      p = putVarint(buf, p, vl);
      buf.set(key, p);
      p += key.length;
      if (vl >= walShareBytesMin) {
        hold = value;
        holdAt = p;
      }
      buf.set(value, p);
      p += vl;
    } else {
      buf[p++] = 0;
      p = putVarint(buf, p, key.length);
      buf.set(key, p);
      p += key.length;
    }
  }
  if (p + walMarkBytes !== size) throw new Error(`internal: WAL record encoded ${p + walMarkBytes} of ${size} bytes`);
  // the synced mark: 0 until `stampRecord` (a reused buffer may hold an old record's bytes there)
  buf.fill(0, p, size);
  return buf;
}

/** encodeBatch's ops written as references (1: kind 2, 3: kind 3), by index: filled by its sizing pass, read by its writing pass. */
let shareFlags = new Uint8Array(64);

/** `v` equals the last v.length bytes of `key`. */
function isTail(v: Uint8Array, key: Uint8Array): boolean {
  const d = key.length - v.length;
  for (let j = v.length - 1; j >= 0; j--) if (v[j] !== key[d + j]) return false;
  return true;
}

/** The bytes of `v` lie inside those of `outer` (views of the same memory). */
function within(v: Uint8Array, outer: Uint8Array): boolean {
  const o = v.byteOffset;
  const oo = outer.byteOffset;
  return o >= oo && o + v.length <= oo + outer.length && v.buffer === outer.buffer;
}

function putVarint(buf: Uint8Array, p: number, v: number): number {
  while (v >= 0x80) {
    buf[p++] = (v & 0x7f) | 0x80;
    v = Math.floor(v / 128);
  }
  buf[p++] = v;
  return p;
}

/** Writes the sequence number and checksum into an encoded record (its synced mark as it is: 0 from `encodeBatch`). */
export function sealRecord(rec: Uint8Array, seq: number): void {
  writeU32LE(rec, 8, seq % 0x100000000);
  writeU32LE(rec, 12, Math.floor(seq / 0x100000000));
  writeU32LE(rec, 4, crc32c(rec, 0, recordHeaderBytes, rec.length));
}

/**
 * Sets a sealed record's synced mark (the WAL offset up to which every byte of the file it is about
 * to be written to is durable) and updates its checksum, without reading the record again: the
 * mark is the payload's last 8 bytes, and a CRC of two messages of one length differs by the CRC
 * (zero initial value, no final inversion) of their difference, which only the mark's bytes make.
 */
export function stampRecord(rec: Uint8Array, mark: number): void {
  const at = rec.length - walMarkBytes;
  const lo = mark % 0x100000000;
  const hi = Math.floor(mark / 0x100000000);
  const dlo = (readU32LE(rec, at) ^ lo) >>> 0;
  const dhi = (readU32LE(rec, at + 4) ^ hi) >>> 0;
  if (dlo === 0 && dhi === 0) return;
  const d = stampScratch;
  writeU32LE(d, 0, dlo);
  writeU32LE(d, 4, dhi);
  zeroMarkCrc ??= crc32c(new Uint8Array(walMarkBytes));
  writeU32LE(rec, 4, (readU32LE(rec, 4) ^ crc32c(d) ^ zeroMarkCrc) >>> 0);
  writeU32LE(rec, at, lo);
  writeU32LE(rec, at + 4, hi);
}

const stampScratch = new Uint8Array(walMarkBytes);
/** CRC-32C of walMarkBytes zeros (the CRC of a difference is the CRC of it XOR this one). */
let zeroMarkCrc: number | undefined;

/**
 * Applies the ops of a (checked) record to a memtable; keys/values stay in `rec` (registered with
 * the memtable once: pass `bufferIndex` when several records share one buffer). Without
 * `bufferIndex`, a record the memtable would keep as it is (over `copyBytesMax`) is registered in
 * runs of whole ops the memtable copies instead, so the memtable never keeps `rec` (and its
 * writer may reuse the buffer): see `applyRecordCopied`. A shared value (op kind 2) is the
 * memtable's same bytes as the value it lies in.
 */
export function applyRecord(rec: Uint8Array, start: number, end: number, seq: number, mem: Memtable, file: string, fileOffset: number, bufferIndex?: number): number {
  if (bufferIndex === undefined && end - start > mem.copyBytesMax) return applyRecordCopied(rec, start, end, seq, mem, file, fileOffset);
  const bi = bufferIndex ?? mem.addBuffer(rec);
  const n = readU32LE(rec, start + 16);
  let p = start + 20;
  for (let i = 0; i < n; i++) {
    p = opHeader(rec, p, end, file, fileOffset, start);
    const kl = opKeyLen;
    const vl = opValLen;
    if (opKind === 1) {
      mem.put(bi, p, kl, seq, p + kl, vl);
      p += kl + vl;
    } else if (opKind === 2 || opKind === 3) {
      mem.put(bi, p, kl, seq, opValAt, vl);
      p += kl;
    } else {
      mem.put(bi, p, kl, seq, 0, -1);
      p += kl;
    }
  }
  return n;
}

/**
 * Reads an op's header at `p`: sets `opKind`, `opKeyLen`, `opValLen`, `opInline` (value bytes
 * after the key: the value's length for kind 1, else 0) and, for kind 2, `opValAt` (where in
 * `rec` its value starts); returns where its key starts.
 */
let opKind = 0;
let opKeyLen = 0;
let opValLen = 0;
let opInline = 0;
let opValAt = 0;
/** Where the varint `readVarint` read last ends (a module variable: no pair per read). */
let varintEnd = 0;

/** The varint at rec[p] (it stops at `end`); where it ends goes to `varintEnd`. */
function readVarint(rec: Uint8Array, p: number, end: number): number {
  let v = 0;
  let mul = 1;
  let b: number;
  do {
    b = rec[p++]!;
    v += (b & 0x7f) * mul;
    mul *= 128;
  } while (b >= 0x80 && p < end);
  varintEnd = p;
  return v;
}

function opHeader(rec: Uint8Array, p: number, end: number, file: string, fileOffset: number, start: number): number {
  if (p >= end) throw corruption(file, fileOffset + p - start, 'record ops overrun');
  const opStart = p;
  const kind = rec[p++]!;
  const kl = readVarint(rec, p, end);
  p = varintEnd;
  let vl = 0;
  let back = 0;
  if (kind === 1 || kind === 2 || kind === 3) {
    vl = readVarint(rec, p, end);
    p = varintEnd;
    if (kind === 2) {
      back = readVarint(rec, p, end);
      p = varintEnd;
      // the shared bytes lie before this op, after the record's op count
      if (back < vl || opStart - back < start + 20) throw corruption(file, fileOffset + opStart - start, 'shared value outside the record');
    } else if (kind === 3 && vl > kl) throw corruption(file, fileOffset + opStart - start, 'key tail value longer than the key');
  } else if (kind !== 0) throw corruption(file, fileOffset + p - start, `unknown op kind ${kind}`);
  const inline = kind === 1 ? vl : 0;
  if (p + kl + inline > end) throw corruption(file, fileOffset + p - start, 'record op overruns record');
  opKind = kind;
  opKeyLen = kl;
  opValLen = vl;
  opInline = inline;
  opValAt = kind === 3 ? p + kl - vl : opStart - back;
  return p;
}

/**
 * `applyRecord` for a record larger than the memtable copies whole: its ops go in runs of
 * consecutive whole ops of up to `copyBytesMax` bytes (or the room left in the current chunk),
 * each registered (copied into the memtable's chunks) once; an op larger than that alone is registered as a copy of its own. Same
 * versions, in the same order, as applying the record in one piece. A shared value (op kind 2) is
 * taken from the run holding its bytes (a copy of its own if they span two runs).
 */
function applyRecordCopied(rec: Uint8Array, start: number, end: number, seq: number, mem: Memtable, file: string, fileOffset: number): number {
  const max = mem.copyBytesMax;
  const dv = new DataView(rec.buffer, rec.byteOffset, rec.byteLength);
  const n = dv.getUint32(start + 16, true);
  let p = start + 20;
  let bi = -1;
  let runStart = 0;
  let runEnd = 0;
  // the runs registered so far (start offset in rec, buffer index), for shared values
  const runs = runScratch;
  runs.length = 0;
  for (let i = 0; i < n; i++) {
    const opStart = p;
    p = opHeader(rec, p, end, file, fileOffset, start);
    const kind = opKind;
    const kl = opKeyLen;
    const vl = opValLen;
    const valAt = opValAt;
    const opEnd = p + kl + opInline;
    if (bi < 0 || opEnd > runEnd) {
      // a new run from this op on: as many whole ops as fit in `max` bytes (at least this one),
      // or in what is left of the memtable's current chunk when that holds this op (so the runs
      // fill the chunks instead of leaving each one's tail unused)
      const room = mem.chunkRoom;
      const limit = room >= opEnd - opStart && room < max ? room : max;
      runStart = opStart;
      runEnd = opEnd;
      let q = opEnd;
      for (let j = i + 1; j < n && q < end; j++) {
        const k = opHeader(rec, q, end, file, fileOffset, start);
        const e = k + opKeyLen + opInline;
        if (e - runStart > limit) break;
        runEnd = e;
        q = e;
      }
      bi = mem.addBuffer(runEnd - runStart > max ? rec.slice(runStart, runEnd) : rec.subarray(runStart, runEnd));
      runs.push(runStart, bi);
    }
    if (kind === 1) mem.put(bi, p - runStart, kl, seq, p + kl - runStart, vl);
    else if (kind === 3) mem.put(bi, p - runStart, kl, seq, valAt - runStart, vl);
    else if (kind === 2) {
      // the run holding the value's first byte: nearly always this one or the one before
      let r = runs.length - 2;
      while (runs[r]! > valAt) r -= 2;
      const rs = runs[r]!;
      const re = r + 2 < runs.length ? runs[r + 2]! : runEnd;
      if (valAt + vl <= re) mem.put(bi, p - runStart, kl, seq, valAt - rs, vl, runs[r + 1]!);
      else {
        const own = mem.addBuffer(rec.slice(valAt, valAt + vl));
        mem.put(bi, p - runStart, kl, seq, 0, vl, own);
      }
    } else mem.put(bi, p - runStart, kl, seq, 0, -1);
    p = opEnd;
  }
  runs.length = 0;
  return n;
}

const runScratch: number[] = [];

export interface WalRecordRef {
  offset: number;
  end: number;
  seq: number;
}

export interface WalScan {
  records: WalRecordRef[];
  /** Offset of the end of the last valid record. */
  validEnd: number;
  /**
   * Bytes after validEnd that form a torn tail, up to the last non-zero byte (0 if the log ends
   * cleanly: at the end of the file or in a zero-filled, never-written preallocated tail).
   */
  tornBytes: number;
  /** Bytes after validEnd + tornBytes: zeros (a preallocated tail). */
  zeroBytes: number;
}

/** The record `recordAt` found last: its end, sequence number and synced mark (0 before version 5). */
let atEnd = 0;
let atSeq = 0;
let atMark = 0;

/**
 * Whether a valid record starts at `p` (its length in range, sequence number at least `minSeq`,
 * checksum matching and, with `marked`, a synced mark not past its own start); if so its end,
 * sequence number and mark go to `atEnd`, `atSeq`, `atMark`.
 */
function recordAt(buf: Uint8Array, dv: DataView, p: number, minSeq: number, marked: boolean): boolean {
  const min = marked ? 12 + walMarkBytes : 12;
  if (p + recordHeaderBytes + min > buf.length) return false;
  const len = dv.getUint32(p, true);
  if (len < min || p + recordHeaderBytes + len > buf.length) return false;
  const seq = dv.getUint32(p + 8, true) + dv.getUint32(p + 12, true) * 0x100000000;
  if (seq < minSeq) return false;
  const end = p + recordHeaderBytes + len;
  const mark = marked ? dv.getUint32(end - 8, true) + dv.getUint32(end - 4, true) * 0x100000000 : 0;
  if (mark > p) return false;
  if (crc32c(buf, 0, p + recordHeaderBytes, end) !== dv.getUint32(p + 4, true)) return false;
  atEnd = end;
  atSeq = seq;
  atMark = mark;
  return true;
}

/**
 * Scans a whole WAL file. After the last valid record, zeros to the end of the file are the
 * preallocated, never-written tail (the end of the log). Anything else there is a bad record at
 * `validEnd`, and a torn tail (truncated at recovery, with every record after it) unless its bytes
 * had been synced: in a version 5 WAL, when a valid record after it carries a synced mark past
 * `validEnd` (a power loss may keep later pages of an unsynced write without earlier ones: valid
 * records after a torn one are then never-acknowledged ones, dropped, not replayed); before
 * version 5, when any valid record follows it. Such a bad record is CORRUPTION.
 */
export function scanWal(buf: Uint8Array, file: string): WalScan {
  if (buf.length < walHeaderBytes) {
    // header itself torn (file created, crash before the header was durable)
    let nz = buf.length;
    while (nz > 0 && buf[nz - 1] === 0) nz--;
    return { records: [], validEnd: 0, tornBytes: nz, zeroBytes: buf.length - nz };
  }
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (dv.getUint32(0, true) !== walMagic) throw corruption(file, 0, 'bad WAL magic');
  if (!(buf[4]! >= walVersionOldest && buf[4]! <= walVersion))
    throw new LargetableError('UNSUPPORTED_FORMAT', `${file}: WAL format version ${buf[4]} at offset 4 is not supported (this build reads ${walVersionOldest} to ${walVersion})`, {
      details: { file, offset: 4, version: buf[4] },
    });
  if (buf[5] !== 0 || buf[6] !== 0 || buf[7] !== 0) throw corruption(file, 5, 'reserved header bytes are not zero');
  const marked = buf[4]! >= walVersionMarked;
  const records: WalRecordRef[] = [];
  let p = walHeaderBytes;
  let lastSeq = 0;
  while (p < buf.length && recordAt(buf, dv, p, lastSeq + 1, marked)) {
    records.push({ offset: p, end: atEnd, seq: atSeq });
    lastSeq = atSeq;
    p = atEnd;
  }
  // the last non-zero byte: zeros after it were never written (preallocated)
  let nz = buf.length;
  while (nz > p && buf[nz - 1] === 0) nz--;
  if (nz > p) {
    // a valid record after the bad one that was written once the bad one's bytes were synced (any
    // valid record before version 5)? then it is not a torn tail (a valid record has a non-zero
    // length, so it starts before the last non-zero byte)
    for (let q = p + 1; q < nz && q + recordHeaderBytes + 12 <= buf.length; q++) {
      if (!recordAt(buf, dv, q, lastSeq + 1, marked)) continue;
      if (!marked) throw corruption(file, p, 'bad WAL record followed by valid records');
      if (atMark > p) throw corruption(file, p, `bad WAL record followed by a record written once it was synced (synced mark ${atMark}, at offset ${q})`);
    }
  }
  return { records, validEnd: p, tornBytes: nz - p, zeroBytes: buf.length - nz };
}

/** Decodes one sealed record (as yielded by `store.walSince`) into its sequence number and ops. */
export function decodeWalRecord(rec: Uint8Array, file = 'record'): { seq: bigint; ops: WriteOp[] } {
  const dv = new DataView(rec.buffer, rec.byteOffset, rec.byteLength);
  if (rec.length < recordHeaderBytes + 12 || dv.getUint32(0, true) !== rec.length - recordHeaderBytes) throw corruption(file, 0, 'bad record length');
  if (crc32c(rec, 0, recordHeaderBytes, rec.length) !== dv.getUint32(4, true)) throw corruption(file, 0, 'record checksum mismatch');
  const seq = BigInt(dv.getUint32(8, true)) + (BigInt(dv.getUint32(12, true)) << 32n);
  const ops: WriteOp[] = [];
  const n = dv.getUint32(16, true);
  let p = 20;
  const varint = (): number => {
    let v = 0;
    let mul = 1;
    for (;;) {
      if (p >= rec.length) throw corruption(file, p, 'truncated varint');
      const b = rec[p++]!;
      v += (b & 0x7f) * mul;
      if (b < 0x80) return v;
      mul *= 128;
    }
  };
  for (let i = 0; i < n; i++) {
    const opStart = p;
    const kind = rec[p++];
    const kl = varint();
    const vl = kind === 1 || kind === 2 || kind === 3 ? varint() : 0;
    const back = kind === 2 ? varint() : 0;
    const inline = kind === 1 ? vl : 0;
    if (p + kl + inline > rec.length || (kind !== 0 && kind !== 1 && kind !== 2 && kind !== 3)) throw corruption(file, p, 'bad op');
    if (kind === 2 && (back < vl || opStart - back < 20)) throw corruption(file, opStart, 'shared value outside the record');
    if (kind === 3 && vl > kl) throw corruption(file, opStart, 'key tail value longer than the key');
    const key = rec.slice(p, p + kl);
    p += kl;
    if (kind === 1) {
      ops.push({ type: 'put', key, value: rec.slice(p, p + vl) });
      p += vl;
    } else if (kind === 2) ops.push({ type: 'put', key, value: rec.slice(opStart - back, opStart - back + vl) });
    else if (kind === 3) ops.push({ type: 'put', key, value: key.slice(kl - vl) });
    else ops.push({ type: 'del', key });
  }
  return { seq, ops };
}
