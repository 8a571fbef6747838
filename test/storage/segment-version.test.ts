/**
 * Segment format versions (docs/FORMAT.md "Segment file"): a store whose segments a version 1 build
 * wrote (blocks checked by CRC-32C) opens, reads, verifies and detects damage with the CRC; a
 * compaction rewrites them as version 2 (blocks checked by blockSum).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { dropMemoryVolume, MemoryAdapter } from '../../platform/memory.ts';
import { isLargetableError } from '../../src/errors.ts';
import { openStore, type EngineOptions } from '../../src/storage/index.ts';
import { BlockCache } from '../../src/storage/cache.ts';
import { crc32c } from '../../src/storage/checksum.ts';
import { type Block, Segment, segmentVersion } from '../../src/storage/segment.ts';

const te = new TextEncoder();
const key = (i: number): Uint8Array => te.encode(`k${String(i).padStart(6, '0')}`);
const value = (i: number): Uint8Array => te.encode(`value ${i} `.repeat(1 + (i % 13)));

/** Every segment of the volume rewritten as a version 1 build wrote it; the first block's offset per file. */
async function toVersion1(vol: string): Promise<Map<string, number>> {
  const a = new MemoryAdapter(vol);
  const firstBlock = new Map<string, number>();
  for (const f of (await a.list()).filter((x) => x.endsWith('.seg'))) {
    const seg = await Segment.open(await a.open(f), f, 1, new BlockCache<Block>(1 << 20));
    assert.equal(seg.version, segmentVersion);
    const bytes = await a.readAll(f);
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < seg.blocks; i++) {
      const o = seg.blockOffset(i);
      const end = o + seg.blockLength(i) - 4;
      dv.setUint32(end, crc32c(bytes, 0, o, end), true);
    }
    const fo = bytes.length - 36;
    bytes[4] = 1;
    bytes[fo + 28] = 1;
    dv.setUint32(fo + 32, crc32c(bytes, 0, fo, fo + 32), true);
    await a.replace(f, bytes);
    firstBlock.set(f, seg.blockOffset(0));
  }
  return firstBlock;
}

async function versions(vol: string): Promise<number[]> {
  const a = new MemoryAdapter(vol);
  const out = [];
  for (const f of (await a.list()).filter((x) => x.endsWith('.seg'))) out.push((await a.readAll(f))[4]!);
  return out;
}

describe('segment format version 1 (CRC-32C blocks)', () => {
  it('a store written as version 1 reads and verifies; compaction rewrites it as version 2; damage to a version 1 block is CORRUPTION', async () => {
    const vol = 'segment-v1';
    const opts: EngineOptions = { autoCompact: false, memtableSizeBytes: 64 * 1024 };
    const n = 3000;
    const st = await openStore(new MemoryAdapter(vol), opts);
    for (let i = 0; i < n; i += 100) await st.write(Array.from({ length: 100 }, (_, j) => ({ type: 'put' as const, key: key(i + j), value: value(i + j) })));
    await st.flush();
    await st.close();
    const first = await toVersion1(vol);
    assert.ok(first.size >= 2, `${first.size} segments`);
    assert.deepEqual(new Set(await versions(vol)), new Set([1]));
    const snapshot = new Map<string, Uint8Array>();
    for (const f of await new MemoryAdapter(vol).list()) snapshot.set(f, await new MemoryAdapter(vol).readAll(f));

    const re = await openStore(new MemoryAdapter(vol), opts);
    for (let i = 0; i < n; i++) assert.deepEqual(await re.get(key(i)), value(i), `key ${i}`);
    const report = await re.verify();
    assert.ok(report.ok && report.blocksChecked > 0, JSON.stringify(report.errors));
    await re.compact();
    assert.deepEqual(new Set(await versions(vol)), new Set([segmentVersion]));
    for (let i = 0; i < n; i++) assert.deepEqual(await re.get(key(i)), value(i), `key ${i} after compaction`);
    assert.ok((await re.verify()).ok);
    await re.close();
    dropMemoryVolume(vol);

    // a flipped bit in a version 1 block: CORRUPTION at its offset (verify and a read of it)
    const [file, off] = [...first][0]!;
    const bad = new MemoryAdapter('segment-v1-bad');
    for (const [f, bytes] of snapshot) await bad.replace(f, f === file ? bytes.map((x, i) => (i === off + 30 ? x ^ 8 : x)) : bytes);
    const bs = await openStore(new MemoryAdapter('segment-v1-bad'), opts);
    const v = await bs.verify();
    assert.ok(!v.ok && v.errors.some((e) => e.file === file && e.offset === off && /checksum/.test(e.message)), JSON.stringify(v.errors));
    let failed = 0;
    for (let i = 0; i < n; i++) {
      try {
        await bs.get(key(i));
      } catch (err) {
        assert.ok(isLargetableError(err, 'CORRUPTION') && err.details['offset'] === off, String(err));
        failed++;
      }
    }
    assert.ok(failed > 0, 'reads of the damaged block fail');
    await bs.close();
    dropMemoryVolume('segment-v1-bad');
  });
});
