import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryAdapter } from '../../platform/memory.ts';
import { zlibBlockInflater } from '../../platform/zlib-inflate.ts';
import { BlockCache } from '../../src/storage/cache.ts';
import { DeflateEncoder, Inflater } from '../../src/storage/deflate.ts';
import { type Block, Segment, SegmentBuilder, installBlockInflater } from '../../src/storage/segment.ts';

describe('native block inflater (node:zlib)', () => {
  it('inflates what the engine deflates, byte for byte, into a plain Uint8Array that owns its buffer', () => {
    const enc = new DeflateEncoder();
    const inf = new Inflater();
    let seed = 7;
    const rnd = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) / 16777216;
    for (const n of [1, 100, 4000, 16384, 20000]) {
      const raw = new Uint8Array(n);
      for (let i = 0; i < n; i++) raw[i] = rnd() < 0.7 ? 97 + (i % 7) : Math.floor(rnd() * 256);
      const comp = enc.deflate(raw, 1).slice();
      const out = zlibBlockInflater(comp, n);
      assert.equal(Object.getPrototypeOf(out), Uint8Array.prototype, 'not a Node Buffer');
      assert.equal(out.buffer.byteLength <= n + 1, true);
      assert.deepEqual(out, raw);
      const js = new Uint8Array(n);
      assert.equal(inf.inflate(comp, js, n), n);
      assert.deepEqual(out, js);
      // longer than announced, or not deflate data: throws
      if (n > 1) assert.throws(() => zlibBlockInflater(comp, n - 1));
    }
    assert.throws(() => zlibBlockInflater(new Uint8Array([0xff, 0xff, 0xff, 0xff]), 100));
  });

  it('segment blocks decode the same with the native inflater installed', async () => {
    const a = new MemoryAdapter();
    const h = await a.open('z.seg', { create: true });
    const sb = new SegmentBuilder(h, 'z.seg', 4096, 1);
    const enc = new TextEncoder();
    for (let i = 0; i < 3000; i++) sb.add(enc.encode(`key${String(i).padStart(6, '0')}`), i + 1, enc.encode(`value ${i} `.repeat(1 + (i % 9))));
    await sb.finish(1);
    const js = await Segment.open(h, 'z.seg', 1, new BlockCache<Block>(1 << 24));
    const prev = installBlockInflater(zlibBlockInflater);
    try {
      const nat = await Segment.open(h, 'z.seg', 1, new BlockCache<Block>(1 << 24));
      assert.ok(nat.blocks > 10);
      for (let i = 0; i < nat.blocks; i++) {
        const b = await nat.block(i);
        assert.deepEqual(b.data, (await js.block(i, false)).data);
        assert.equal(Object.getPrototypeOf(b.data), Uint8Array.prototype);
      }
      assert.deepEqual(await nat.get(enc.encode('key001234'), Infinity), enc.encode('value 1234 '.repeat(1 + (1234 % 9))));
    } finally {
      installBlockInflater(prev);
    }
  });
});
