/**
 * The manifest (docs/FORMAT.md "Manifest"): the list of live segments and WAL files, swapped
 * atomically with `adapter.replace`. Layout: magic "LTMF" u32 | version u8 | 3 reserved |
 * bodyLen u32 | crc32c(body) u32 | body (UTF-8 JSON).
 */
import { LargetableError } from '../errors.ts';
import { crc32c } from './checksum.ts';
import { corruption, fromHex, toHex } from './codec.ts';
import type { SegmentMeta } from './segment.ts';

export const manifestName = 'MANIFEST';
export const manifestMagic = 0x464d544c; // "LTMF"
export const manifestVersion = 1;
const headerBytes = 16;

export interface ManifestState {
  nextFile: number;
  /** Every batch with seq <= flushedSeq is in a segment; WAL replay skips it. */
  flushedSeq: number;
  /** Newest first; may overlap. */
  l0: SegmentMeta[];
  /** Sorted by key, non-overlapping. */
  l1: SegmentMeta[];
  /** WAL files to replay, oldest first. */
  wals: number[];
  /** Final byte size of WAL files that will not grow any more (rotated, or closed cleanly). */
  walSizes: Record<string, number>;
}

interface SegJson {
  file: number;
  size: number;
  count: number;
  minSeq: number;
  maxSeq: number;
  smallest: string;
  largest: string;
}

function segToJson(s: SegmentMeta): SegJson {
  return { file: s.file, size: s.size, count: s.count, minSeq: s.minSeq, maxSeq: s.maxSeq, smallest: toHex(s.smallest), largest: toHex(s.largest) };
}

function segFromJson(j: SegJson): SegmentMeta {
  return { file: j.file, size: j.size, count: j.count, minSeq: j.minSeq, maxSeq: j.maxSeq, smallest: fromHex(j.smallest), largest: fromHex(j.largest) };
}

export function encodeManifest(m: ManifestState): Uint8Array {
  const body = new TextEncoder().encode(
    JSON.stringify({ nextFile: m.nextFile, flushedSeq: m.flushedSeq, l0: m.l0.map(segToJson), l1: m.l1.map(segToJson), wals: m.wals, walSizes: m.walSizes }),
  );
  const out = new Uint8Array(headerBytes + body.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, manifestMagic, true);
  out[4] = manifestVersion;
  dv.setUint32(8, body.length, true);
  dv.setUint32(12, crc32c(body), true);
  out.set(body, headerBytes);
  return out;
}

export function decodeManifest(buf: Uint8Array, file = manifestName): ManifestState {
  if (buf.length < headerBytes) throw corruption(file, buf.length, 'manifest truncated');
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (dv.getUint32(0, true) !== manifestMagic) throw corruption(file, 0, 'bad manifest magic');
  if (buf[4] !== manifestVersion)
    throw new LargetableError('UNSUPPORTED_FORMAT', `${file}: manifest format version ${buf[4]} at offset 4 is not supported (this build reads ${manifestVersion})`, {
      details: { file, offset: 4, version: buf[4] },
    });
  if (buf[5] !== 0 || buf[6] !== 0 || buf[7] !== 0) throw corruption(file, 5, 'reserved header bytes are not zero');
  const len = dv.getUint32(8, true);
  if (headerBytes + len !== buf.length) throw corruption(file, 8, `manifest length ${len} does not match file size ${buf.length}`);
  const body = buf.subarray(headerBytes);
  if (crc32c(body) !== dv.getUint32(12, true)) throw corruption(file, 12, 'manifest checksum mismatch');
  try {
    const j = JSON.parse(new TextDecoder().decode(body)) as { nextFile: number; flushedSeq: number; l0: SegJson[]; l1: SegJson[]; wals: number[]; walSizes?: Record<string, number> };
    return { nextFile: j.nextFile, flushedSeq: j.flushedSeq, l0: j.l0.map(segFromJson), l1: j.l1.map(segFromJson), wals: j.wals, walSizes: j.walSizes ?? {} };
  } catch (err) {
    throw new LargetableError('CORRUPTION', `${file}: corruption at offset ${headerBytes}: manifest body unreadable`, { cause: err, details: { file, offset: headerBytes } });
  }
}
