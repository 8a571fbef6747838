import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryAdapter } from '../../platform/memory.ts';
import { isLargetableError } from '../errors.ts';
import { BlockCache } from './cache.ts';
import { type Block, Segment, SegmentBuilder } from './segment.ts';
import { RunSource } from './iterator.ts';

const b = (s: string): Uint8Array => new TextEncoder().encode(s);
const key = (i: number): Uint8Array => b(`key${String(i).padStart(5, '0')}`);

async function build(n: number, level: number, name = 'x.seg'): Promise<{ a: MemoryAdapter; seg: Segment }> {
  const a = new MemoryAdapter();
  const h = await a.open(name, { create: true });
  const sb = new SegmentBuilder(h, name, 256, level);
  for (let i = 0; i < n; i++) {
    // two versions of every 10th key (seq desc), a tombstone on every 7th
    if (i % 10 === 0) sb.add(key(i), 1000 + i, b(`new${i}`));
    sb.add(key(i), i + 1, i % 7 === 0 ? null : b(`value-${i}-`.repeat(i % 5)));
  }
  const meta = await sb.finish(1);
  assert.equal(meta.count, n + Math.ceil(n / 10));
  return { a, seg: await Segment.open(h, name, 1, new BlockCache<Block>(1 << 20)) };
}

describe('segments', () => {
  for (const level of [0, 1]) {
    it(`point lookups by snapshot, raw and deflated blocks (level ${level})`, async () => {
      const { seg } = await build(500, level);
      assert.ok(seg.blocks > 10);
      assert.deepEqual(seg.meta.smallest, key(0));
      assert.deepEqual(seg.meta.largest, key(499));
      assert.deepEqual(await seg.get(key(20), Infinity), b('new20'));
      assert.deepEqual(await seg.get(key(20), 21), b('value-20-'.repeat(0)));
      assert.equal(await seg.get(key(20), 20), undefined, 'no version visible at that snapshot');
      assert.equal(await seg.get(key(14), Infinity), null, 'tombstone');
      assert.deepEqual(await seg.get(key(13), Infinity), b('value-13-'.repeat(3)));
      assert.equal(await seg.get(b('key00013x'), Infinity), undefined);
      assert.equal(await seg.get(b('a'), Infinity), undefined);
    });
  }

  it('run sources iterate forward and backward with seek', async () => {
    const { seg } = await build(300, 1);
    const fwd = new RunSource([seg], true);
    await fwd.seek(key(150));
    const seen: string[] = [];
    while (fwd.valid && seen.length < 5) {
      seen.push(`${new TextDecoder().decode(fwd.keyBytes())}@${fwd.seq}`);
      await fwd.next();
    }
    assert.deepEqual(seen, ['key00150@1150', 'key00150@151', 'key00151@152', 'key00152@153', 'key00153@154']);
    const rev = new RunSource([seg], false);
    await rev.seek(key(150));
    const back: string[] = [];
    while (rev.valid && back.length < 3) {
      back.push(`${new TextDecoder().decode(rev.keyBytes())}@${rev.seq}`);
      await rev.next();
    }
    assert.deepEqual(back, ['key00150@151', 'key00150@1150', 'key00149@150']);
    await rev.seek(null);
    assert.deepEqual(rev.keyBytes(), key(299));
    let n = 0;
    await fwd.seek(null);
    while (fwd.valid) {
      n++;
      await fwd.next();
    }
    assert.equal(n, 330);
  });

  it('a flipped bit in a block is CORRUPTION naming the file and block offset', async () => {
    const { a, seg } = await build(200, 1, 'c.seg');
    const bytes = await a.readAll('c.seg');
    const off = seg.blockOffset(3);
    bytes[off + 20]! ^= 4;
    await a.replace('c.seg', bytes);
    const h = await a.open('c.seg');
    const s2 = await Segment.open(h, 'c.seg', 1, new BlockCache<Block>(1 << 20));
    await assert.rejects(s2.block(3), (e) => isLargetableError(e, 'CORRUPTION') && e.details['file'] === 'c.seg' && e.details['offset'] === off);
  });

  it('refuses another format version', async () => {
    const { a } = await build(20, 1, 'v.seg');
    const bytes = await a.readAll('v.seg');
    bytes[4] = 9;
    await a.replace('v.seg', bytes);
    await assert.rejects(Segment.open(await a.open('v.seg'), 'v.seg', 1, new BlockCache<Block>(1 << 20)), (e) => isLargetableError(e, 'UNSUPPORTED_FORMAT'));
  });
});
