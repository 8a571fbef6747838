import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryAdapter } from '../../platform/memory.ts';
import { isLargetableError } from '../errors.ts';
import { BlockCache } from './cache.ts';
import type { FileHandle } from './adapter.ts';
import fc from 'fast-check';
import { prefixAt } from './memtable.ts';
import { hashKey } from './bloom.ts';
import { type Block, BlockScratch, Segment, SegmentBuilder, foundAt, probeDeleted, probeFound, probeIo, probeNone, segmentVersion } from './segment.ts';
import { blockSum, crc32c } from './checksum.ts';
import { RunSource } from './iterator.ts';

const b = (s: string): Uint8Array => new TextEncoder().encode(s);
const key = (i: number): Uint8Array => b(`key${String(i).padStart(5, '0')}`);

async function build(n: number, level: number, name = 'x.seg', version?: number): Promise<{ a: MemoryAdapter; seg: Segment }> {
  const a = new MemoryAdapter();
  const h = await a.open(name, { create: true });
  const sb = new SegmentBuilder(h, name, 256, level, undefined, version);
  for (let i = 0; i < n; i++) {
    // two versions of every 10th key (seq desc), a tombstone on every 7th
    if (i % 10 === 0) sb.add(key(i), 1000 + i, b(`new${i}`));
    sb.add(key(i), i + 1, i % 7 === 0 ? null : b(`value-${i}-`.repeat(i % 5)));
  }
  const meta = await sb.finish(1);
  assert.equal(meta.count, n + Math.ceil(n / 10));
  return { a, seg: await Segment.open(h, name, 1, new BlockCache<Block>(1 << 20)) };
}

/**
 * A handle on `h` that can also read synchronously (the memory adapter cannot), from `file` (the
 * file is immutable); `onRead` sees each synchronous read.
 */
function syncHandle(h: FileHandle, file: Uint8Array, onRead: (offset: number, length: number) => void): FileHandle {
  return {
    name: h.name,
    read: (o, l) => h.read(o, l),
    readInto: (o, t) => h.readInto!(o, t),
    readIntoSync(offset: number, target: Uint8Array): number {
      onRead(offset, target.length);
      const n = Math.max(0, Math.min(target.length, file.length - offset));
      target.set(file.subarray(offset, offset + n));
      return n;
    },
    write: (o, x) => h.write(o, x),
    append: (x) => h.append(x),
    size: () => h.size(),
    truncate: (n) => h.truncate(n),
    sync: () => h.sync(),
    close: () => h.close(),
  };
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

  for (const level of [0, 1]) {
    it(`a point read of a block not seen recently reads it synchronously without caching it when the cache is full; a second one caches it; values are copies (level ${level})`, async () => {
      const { a, seg: cachedSeg } = await build(500, level);
      const h = await a.open('x.seg');
      const bytes = await h.read(0, await h.size());
      let syncReads = 0;
      const sh = syncHandle(h, bytes, () => void syncReads++);
      // while the cache has room, a block read is cached at once (it evicts nothing)
      const roomy = await Segment.open(sh, 'x.seg', 1, new BlockCache<Block>(1 << 20));
      assert.deepEqual(await roomy.get(key(13), Infinity), b('value-13-'.repeat(3)));
      assert.ok(roomy.cachedBlock(roomy.findBlock(key(13))) !== undefined, 'room: cached on the first read');
      syncReads = 0;
      // a full cache (another file's block fills it; evictable) admits a block on its second miss
      const cache = new BlockCache<Block>(1 << 20);
      cache.set(99 * (1 << 20), { bytes: (1 << 20) - 64 } as Block);
      const seg = await Segment.open(sh, 'x.seg', 1, cache);
      const bi = seg.findBlock(key(13));
      const first = await seg.get(key(13), Infinity);
      assert.deepEqual(first, b('value-13-'.repeat(3)));
      assert.equal(syncReads, 1);
      assert.equal(seg.cachedBlock(bi), undefined, 'read once: not cached');
      // another block read into the same buffer leaves the first value intact (a copy)
      const far = seg.findBlock(key(400));
      assert.notEqual(far, bi);
      assert.deepEqual(await seg.get(key(401), Infinity), await cachedSeg.get(key(401), Infinity));
      assert.deepEqual(first, b('value-13-'.repeat(3)));
      assert.deepEqual(await seg.get(key(13), Infinity), first, 'second read');
      assert.ok(seg.cachedBlock(bi) !== undefined, 'read again: cached');
      for (let i = 0; i < 500; i += 7) assert.deepEqual(await seg.get(key(i), Infinity), await cachedSeg.get(key(i), Infinity), `key ${i}`);
      assert.equal(await seg.get(key(20), 20), undefined);
    });
  }

  for (const level of [0, 1]) {
    it(`a batched probe reads missing blocks synchronously in runs, decoded in place and uncached when the cache is full, cached while it has room (level ${level})`, async () => {
      const { a, seg: ref } = await build(3000, level);
      const h = await a.open('x.seg');
      const bytes = await h.read(0, await h.size());
      let reads: number[] = [];
      const counting = (file: Uint8Array): FileHandle => syncHandle(h, file, (_, n) => void reads.push(n));
      const full = (): BlockCache<Block> => {
        const c = new BlockCache<Block>(1 << 20);
        c.set(99 * (1 << 20), { bytes: (1 << 20) - 64 } as Block);
        return c;
      };
      /** The batched probe's answer for key i: the value (a copy), null (tombstone) or undefined. */
      const probe = (s: Segment, i: number, snap = Infinity): Uint8Array | null | undefined => {
        const k = key(i);
        const r = s.probe(k, prefixAt(k, 0, k.length), snap, foundAt, true);
        assert.notEqual(r, probeIo, `key ${i}`);
        return r === probeFound ? s.foundData.slice(s.foundOff, s.foundOff + s.foundLen) : r === probeDeleted ? null : undefined;
      };
      const seg = await Segment.open(counting(bytes), 'x.seg', 1, full());
      const other = await Segment.open(counting(bytes), 'y.seg', 2, full());
      // in key order, interleaved with a second segment read backwards (each keeps its own run)
      const mine: number[] = [];
      for (let i = 0; i < 3000; i++) {
        const before = reads.length;
        assert.deepEqual(probe(seg, i), await ref.get(key(i), Infinity), `key ${i}`);
        mine.push(...reads.slice(before));
        if (i % 3 === 0) assert.deepEqual(probe(other, 2999 - i), await ref.get(key(2999 - i), Infinity), `other key ${2999 - i}`);
      }
      for (let bi = 0; bi < seg.blocks; bi++) assert.equal(seg.cachedBlock(bi), undefined, 'full cache: nothing cached');
      // runs grow to 32 blocks while every block is wanted
      assert.ok(mine.length * 16 < seg.blocks, `${mine.length} reads for ${seg.blocks} blocks`);
      assert.equal(mine.reduce((x, y) => x + y), seg.blockOffset(seg.blocks - 1) + seg.blockLength(seg.blocks - 1) - seg.blockOffset(0), 'each byte read once');
      assert.ok(Math.max(...reads) <= 256 * 1024);
      reads = [];
      // random order, older snapshots (versions in the next block), keys not present
      const rnd = fc.sample(fc.integer({ min: 0, max: 3100 }), { numRuns: 600, seed: 7 });
      for (const i of rnd) {
        assert.deepEqual(probe(seg, i), await ref.get(key(i), Infinity), `key ${i}`);
        assert.deepEqual(probe(seg, i, 20), await ref.get(key(i), 20), `key ${i} at 20`);
      }
      // while the cache has room, the blocks read are cached (and answer a plain probe)
      const roomy = await Segment.open(counting(bytes), 'x.seg', 1, new BlockCache<Block>(1 << 22));
      assert.deepEqual(probe(roomy, 1234), await ref.get(key(1234), Infinity));
      const k = key(1234);
      assert.equal(roomy.probe(k, prefixAt(k, 0, k.length), Infinity), probeFound);
      // no synchronous read: the probe says so (the caller reads asynchronously)
      const plain = await Segment.open(h, 'x.seg', 1, full());
      assert.equal(plain.probe(k, prefixAt(k, 0, k.length), Infinity, foundAt, true), probeIo);
      // a damaged block is reported, not decoded
      const bad = bytes.slice();
      bad[seg.blockOffset(seg.findBlock(key(2000))) + 20]! ^= 0xff;
      const damaged = await Segment.open(counting(bad), 'x.seg', 1, full());
      assert.deepEqual(probe(damaged, 10), await ref.get(key(10), Infinity));
      assert.throws(() => probe(damaged, 2000), (e: unknown) => isLargetableError(e) && e.code === 'CORRUPTION');
    });
  }

  for (const level of [0, 1]) {
    it(`a point read into a cache with room reads the following uncached blocks with it (one read, within the room, through blocks already cached), a damaged one left uncached (level ${level})`, async () => {
      const { a, seg: ref } = await build(2000, level);
      const h = await a.open('x.seg');
      const bytes = await h.read(0, await h.size());
      const reads: [number, number][] = [];
      const counted = (file: Uint8Array): FileHandle => syncHandle(h, file, (o, l) => void reads.push([o, l]));
      const seg = await Segment.open(counted(bytes), 'x.seg', 1, new BlockCache<Block>(1 << 20));
      const bi = seg.findBlock(key(700));
      assert.deepEqual(await seg.get(key(700), Infinity), await ref.get(key(700), Infinity));
      assert.equal(reads.length, 1, 'one read');
      let last = bi;
      while (seg.cachedBlock(last + 1) !== undefined) last++;
      assert.ok(last - bi >= 3, `blocks ${bi}..${last} cached`);
      assert.equal(reads[0]![0], seg.blockOffset(bi));
      assert.equal(reads[0]![1], seg.blockOffset(last) + seg.blockLength(last) - seg.blockOffset(bi));
      assert.ok(reads[0]![1] <= 64 * 1024);
      // the blocks read along answer from the cache (probe: no I/O), equal to a plain segment
      for (let i = 0; i < 2000; i++) {
        const k = key(i);
        const kb = seg.findBlock(k);
        if (kb < bi || kb > last) continue;
        const r = seg.probe(k, prefixAt(k, 0, k.length), Infinity);
        assert.notEqual(r, probeIo, `key ${i}`);
        assert.deepEqual(r === probeFound ? seg.found : r === probeDeleted ? null : undefined, await ref.get(k, Infinity), `key ${i}`);
        seg.found = null;
      }
      // a block of the run already cached is read through, not cached again: the blocks after it come with the same read
      reads.length = 0;
      const through = new BlockCache<Block>(1 << 20);
      const tseg = await Segment.open(counted(bytes), 'x.seg', 1, through);
      const held = seg.cachedBlock(bi + 1)!;
      through.set(tseg.cacheBase + bi + 1, held);
      assert.deepEqual(await tseg.get(key(700), Infinity), await ref.get(key(700), Infinity));
      assert.equal(reads.length, 1, 'one read');
      assert.equal(tseg.cachedBlock(bi + 1), held, 'the cached block stays');
      assert.ok(tseg.cachedBlock(bi) !== undefined && tseg.cachedBlock(bi + 2) !== undefined && tseg.cachedBlock(bi + 3) !== undefined, 'the blocks around it are cached');
      // a cache with room for about two blocks reads only what fits
      reads.length = 0;
      const small = new BlockCache<Block>(1 << 20);
      const tight = await Segment.open(counted(bytes), 'x.seg', 1, small);
      small.set(98 * (1 << 20), { bytes: small.room() - 2 * (seg.blockLength(bi) + 400) } as Block);
      assert.deepEqual(await tight.get(key(700), Infinity), await ref.get(key(700), Infinity));
      assert.ok(tight.cachedBlock(bi) !== undefined && tight.cachedBlock(bi + 2) === undefined, 'within the room');
      assert.equal(reads.length, 1);
      // a damaged block after the one asked for is not cached; its own read reports it
      const bad = bytes.slice();
      bad[seg.blockOffset(bi + 2) + 20]! ^= 0xff;
      const dseg = await Segment.open(counted(bad), 'x.seg', 1, new BlockCache<Block>(1 << 20));
      assert.deepEqual(await dseg.get(key(700), Infinity), await ref.get(key(700), Infinity));
      assert.ok(dseg.cachedBlock(bi + 1) !== undefined && dseg.cachedBlock(bi + 2) === undefined);
      const k2 = Array.from({ length: 2000 }, (_, i) => key(i)).find((k) => dseg.findBlock(k) === bi + 2)!;
      await assert.rejects(dseg.get(k2, Infinity), (e) => isLargetableError(e, 'CORRUPTION'));
    });
  }

  for (const level of [0, 1]) {
    it(`a block cached by a point read of it alone, or by a batched probe, has its keys in the point index at once (level ${level})`, async () => {
      const { a, seg: ref } = await build(2000, level);
      const h = await a.open('x.seg');
      const bytes = await h.read(0, await h.size());
      const handle = syncHandle(h, bytes, () => {});
      const keys = Array.from({ length: 2000 }, (_, i) => key(i));
      /** Every key whose newest version lies in block bi answers by the point index alone, as get does. */
      const indexed = async (seg: Segment, bi: number, what: string): Promise<void> => {
        const mine = keys.filter((k) => seg.findBlock(k) === bi);
        assert.ok(mine.length > 3, what);
        for (const k of mine) {
          const r = seg.probeIndexed(k, hashKey(k), Infinity, foundAt);
          assert.notEqual(r, -1, `${what}: ${new TextDecoder().decode(k)} indexed`);
          assert.deepEqual(r === probeFound ? seg.foundData.slice(seg.foundOff, seg.foundOff + seg.foundLen) : null, await ref.get(k, Infinity), what);
        }
      };
      // a point read of a block whose next block is cached reads that block alone
      const seg = await Segment.open(handle, 'x.seg', 1, new BlockCache<Block>(1 << 22));
      const bi = seg.findBlock(key(700));
      const next = keys.find((k) => seg.findBlock(k) === bi + 1)!;
      assert.deepEqual(await seg.get(next, Infinity), await ref.get(next, Infinity));
      assert.equal(seg.cachedBlock(bi), undefined);
      assert.deepEqual(await seg.get(key(700), Infinity), await ref.get(key(700), Infinity));
      await indexed(seg, bi, 'point read of one block');
      // an index fetch's batched probe (a cache with room keeps its blocks)
      const batched = await Segment.open(handle, 'x.seg', 1, new BlockCache<Block>(1 << 22));
      const k = key(1234);
      assert.equal(batched.probe(k, prefixAt(k, 0, k.length), Infinity, foundAt, true), probeFound);
      const bb = batched.findBlock(k);
      assert.ok(batched.cachedBlock(bb) !== undefined);
      await indexed(batched, bb, 'batched probe');
    });
  }

  it('findBlock (sparse index search on key bytes 0..12, full compare on a tie) equals a linear scan of the blocks\' last keys', async () => {
    // keys sharing long prefixes, short ones (zero-padded windows), zero bytes inside, and keys of
    // 140+ bytes (a 2-byte length varint in the index: Segment.open's checked read path)
    const byte = fc.constantFrom(0, 1, 2, 0x10, 0x7f, 0x80, 0xff);
    const keyArb = fc.tuple(fc.constantFrom(0, 3, 6, 9, 11, 12, 13, 140), fc.uint8Array({ maxLength: 9 }), fc.array(byte, { maxLength: 4 })).map(
      ([shared, tail, mid]) => Uint8Array.from([...new Uint8Array(shared).fill(0x10), ...mid, ...tail]),
    );
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(keyArb, { minLength: 1, maxLength: 300, selector: (k) => Array.from(k).join(',') }), fc.array(keyArb, { maxLength: 40 }), async (keys, probes) => {
        keys.sort((x, y) => Buffer.compare(x, y));
        const a = new MemoryAdapter();
        const h = await a.open('f.seg', { create: true });
        const sb = new SegmentBuilder(h, 'f.seg', 64, 0);
        for (const k of keys) sb.add(k, 1, b('v'));
        await sb.finish(1);
        const seg = await Segment.open(h, 'f.seg', 1, new BlockCache<Block>(1 << 20));
        for (const k of [...probes, ...keys]) {
          let want = 0;
          while (want < seg.blocks && seg.compareBlockLast(want, k) < 0) want++;
          assert.equal(seg.findBlock(k), want);
        }
      }),
      { seed: 21, numRuns: 150 },
    );
  });

  it('probe (cached blocks, synchronous) answers like get, and asks for I/O when a block is not cached', async () => {
    const { seg } = await build(500, 1);
    const probe = (k: Uint8Array, snap: number): Uint8Array | null | undefined | 'io' => {
      const r = seg.probe(k, prefixAt(k, 0, k.length), snap);
      if (r === probeIo) return 'io';
      if (r === probeNone) return undefined;
      if (r === probeDeleted) return null;
      assert.equal(r, probeFound);
      const v = seg.found!;
      seg.found = null;
      return v;
    };
    assert.equal(probe(key(20), Infinity), 'io', 'nothing cached yet');
    for (let i = 0; i < seg.blocks; i++) await seg.block(i);
    const keys = fc.oneof(
      fc.integer({ min: 0, max: 520 }).map(key),
      fc.integer({ min: 0, max: 520 }).map((i) => b(`key${String(i).padStart(5, '0')}x`)),
      fc.uint8Array({ maxLength: 10 }),
    );
    await fc.assert(
      fc.asyncProperty(keys, fc.oneof(fc.constant(Infinity), fc.integer({ min: 0, max: 1600 })), async (k, snap) => {
        assert.deepEqual(probe(k, snap), await seg.get(k, snap));
      }),
      { seed: 11, numRuns: 600 },
    );
  });

  it('block lowerBound/upperBound/exactStart (in place on a first search, then through the search column over the keys after their common prefix) equal a linear scan', async () => {
    const { compareBytes } = await import('./codec.ts');
    // keys with a long shared prefix, short keys that are prefixes of others, and keys that differ
    // only past the 4 bytes the search column holds
    const part = fc.oneof(fc.uint8Array({ maxLength: 3 }), fc.constantFrom(b('\x00\x00\x00\x00'), b('abcd'), b('abcdabcd'), b('\xff\xff\xff\xff\x01')));
    const keyArb = fc.tuple(fc.constantFrom(b(''), b('pfx'), b('pfx\x00\x00'), b('pfxzzzz')), part, part).map(([a, x, y]) => {
      const k = new Uint8Array(a.length + x.length + y.length);
      k.set(a);
      k.set(x, a.length);
      k.set(y, a.length + x.length);
      return k;
    });
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(keyArb, { minLength: 1, maxLength: 60, selector: (k) => Array.from(k).join(',') }), fc.array(keyArb, { maxLength: 20 }), async (ks, probes) => {
        ks = ks.filter((k) => k.length > 0).sort(compareBytes);
        if (ks.length === 0) return;
        const a = new MemoryAdapter();
        const h = await a.open('p.seg', { create: true });
        const sb = new SegmentBuilder(h, 'p.seg', 96, 1);
        ks.forEach((k, i) => sb.add(k, i + 1, b(`v${i}`)));
        await sb.finish(1);
        const seg = await Segment.open(h, 'p.seg', 1, new BlockCache<Block>(1 << 20));
        // no cache: every block() decodes the block anew
        const uncached = await Segment.open(h, 'p.seg', 1, new BlockCache<Block>(0));
        const all = [...ks, ...probes];
        for (let bi = 0; bi < seg.blocks; bi++) {
          const blk = await seg.block(bi);
          const bk: Uint8Array[] = [];
          for (let i = 0; i < blk.count; i++) {
            blk.at(i);
            bk.push(blk.key().slice());
          }
          for (const k of all) {
            assert.equal(blk.lowerBound(k), bk.filter((x) => compareBytes(x, k) < 0).length);
            assert.equal(blk.upperBound(k), bk.filter((x) => compareBytes(x, k) <= 0).length);
            // exactStart: the key's position when the block holds it, else a position that is not the key
            const at = blk.exactStart(k);
            const held = bk.findIndex((x) => compareBytes(x, k) === 0);
            if (held >= 0) assert.equal(at, held, 'exactStart of a held key');
            else assert.ok(at >= bk.length || compareBytes(bk[at]!, k) !== 0, 'exactStart of a key the block does not hold');
            // a block's first search reads the keys in place (no column yet): a fresh decode each time
            const fresh = await uncached.block(bi);
            if (k.length % 2 === 0) assert.equal(fresh.lowerBound(k), bk.filter((x) => compareBytes(x, k) < 0).length, 'first search, lower');
            else assert.equal(fresh.upperBound(k), bk.filter((x) => compareBytes(x, k) <= 0).length, 'first search, upper');
            // a block whose column is built before its first search (prepareSearch: a point read's miss)
            const prepared = await uncached.block(bi);
            prepared.prepareSearch();
            assert.equal(prepared.exactStart(k), at, 'prepared, exactStart');
            assert.equal(prepared.lowerBound(k), bk.filter((x) => compareBytes(x, k) < 0).length, 'prepared, lower');
          }
          // the entry offsets the search column keeps (atFound) decode the entries the offset table (at) does
          for (let i = 0; i < blk.count; i++) {
            blk.at(i);
            const want = [blk.key().slice(), blk.value().slice(), blk.seq, blk.kind];
            blk.atFound(i);
            assert.deepEqual([blk.key().slice(), blk.value().slice(), blk.seq, blk.kind], want);
          }
        }
        for (const k of all) {
          const want = ks.findIndex((x) => compareBytes(x, k) === 0);
          assert.deepEqual(await seg.get(k, Infinity), want < 0 ? undefined : b(`v${want}`));
        }
      }),
      { seed: 5, numRuns: 300 },
    );
  });

  it('block cache: filters and indexes pinned against the budget; a used block gets a second chance', () => {
    const sized = (bytes: number): { bytes: number } => ({ bytes });
    const c = new BlockCache<{ bytes: number }>(1000);
    c.set(1, sized(300));
    c.set(2, sized(300));
    c.set(3, sized(300));
    assert.equal(c.bytes, 900);
    assert.ok(c.get(1) !== undefined); // used: survives the next eviction
    c.set(4, sized(300)); // evicts 2 (oldest unused), not 1
    assert.equal(c.peek(2), undefined);
    assert.ok(c.peek(1) !== undefined && c.peek(3) !== undefined && c.peek(4) !== undefined);
    c.pin(400); // 900 + 400 > 1000: blocks make room
    assert.ok(c.bytes + c.pinned <= 1000, `${c.bytes} + ${c.pinned}`);
    c.set(5, sized(700)); // would not fit next to the pinned bytes: not cached
    assert.equal(c.peek(5), undefined);
    c.unpin(400);
    c.set(5, sized(700));
    assert.ok(c.peek(5) !== undefined);
    assert.ok(c.bytes <= 1000);
    const misses = c.misses;
    c.peek(99);
    assert.equal(c.misses, misses, 'peek does not count a miss');
    c.get(99);
    assert.equal(c.misses, misses + 1);
  });

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

  for (const level of [0, 1]) {
    it(`readahead runs: one read per run of blocks, each block decoded and cached like a single read (level ${level})`, async () => {
      const { a, seg } = await build(2000, level, 'r.seg');
      const reads: number[] = [];
      const h = await a.open('r.seg');
      const read = h.read.bind(h);
      h.read = (off: number, len: number) => {
        reads.push(len);
        return read(off, len);
      };
      const readInto = h.readInto!.bind(h);
      h.readInto = (off: number, target: Uint8Array) => {
        reads.push(target.length);
        return readInto(off, target);
      };
      const cache = new BlockCache<Block>(64 << 20);
      const s2 = await Segment.open(h, 'r.seg', 1, cache);
      reads.length = 0;
      assert.ok(s2.blocks > 40);
      await s2.block(5);
      // trimmed to the blocks neither cached nor being read: 5 is cached, so 6..20 in one read
      assert.equal(s2.prefetchRun(5, 20), 20);
      assert.equal(reads.length, 2);
      assert.equal(s2.prefetchRun(10, 25), 25, 'only 21..25 are read');
      assert.equal(reads.length, 3);
      assert.equal(s2.prefetchRun(3, 4), 4);
      assert.equal(reads.length, 4);
      for (let i = 3; i <= 25; i++) {
        const blk = await s2.block(i);
        const fresh = await seg.block(i, false);
        assert.deepEqual(blk.data, fresh.data);
        // a block decoded from a run owns its bytes (a cached block is charged its whole buffer)
        if (i > 5) assert.equal(blk.data.buffer.byteLength, blk.data.length);
        assert.ok(s2.cachedBlock(i) !== undefined, `block ${i} cached`);
      }
      assert.equal(reads.length, 4, `the loads waited for the runs: ${reads}`);
      // a forward scan past two misses reads ahead in runs: far fewer reads than blocks
      const cache3 = new BlockCache<Block>(64 << 20);
      const s3 = await Segment.open(h, 'r.seg', 1, cache3);
      reads.length = 0;
      const src = new RunSource([s3], true);
      await src.seek(null);
      let n = 0;
      while (src.valid) {
        n++;
        await src.next();
      }
      assert.equal(n, 2200);
      assert.ok(reads.length < s3.blocks / 4, `${reads.length} reads for ${s3.blocks} blocks`);
    });
  }

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

  for (const version of [1, 2]) {
    for (const level of [0, 1]) {
      it(`format version ${version} (blocks checked by ${version === 1 ? 'CRC-32C' : 'blockSum'}): written and read back; a flipped bit in a block is CORRUPTION on every read path (level ${level})`, async () => {
        const { a, seg } = await build(300, level, 'w.seg', version);
        assert.equal(seg.version, version);
        const bytes = await a.readAll('w.seg');
        assert.equal(bytes[4], version, 'header');
        assert.equal(bytes[bytes.length - 8], version, 'footer');
        // each block ends with its checksum of flags..payload, by the version's function
        for (let i = 0; i < seg.blocks; i++) {
          const o = seg.blockOffset(i);
          const blk = bytes.subarray(o, o + seg.blockLength(i));
          const want = new DataView(blk.buffer, blk.byteOffset + blk.length - 4).getUint32(0, true);
          assert.equal(version === 1 ? crc32c(blk, 0, 0, blk.length - 4) : blockSum(blk, blk.length - 4), want, `block ${i}`);
        }
        for (let i = 0; i < 300; i++) if (i % 7 !== 0) assert.deepEqual(await seg.get(key(i), Infinity), i % 10 === 0 ? b(`new${i}`) : b(`value-${i}-`.repeat(i % 5)));
        const off = seg.blockOffset(3);
        bytes[off + 20]! ^= 4;
        await a.replace('w.seg', bytes);
        const bad = (e: unknown): boolean => isLargetableError(e, 'CORRUPTION') && e.details['offset'] === off && /block checksum/.test((e as Error).message);
        const h = await a.open('w.seg');
        const s2 = await Segment.open(h, 'w.seg', 1, new BlockCache<Block>(1 << 20));
        await assert.rejects(s2.block(3), bad, 'block');
        // the synchronous paths: a point read, and a batched reader's run (decoded in place once the cache is full)
        const sh = syncHandle(h, bytes, () => undefined);
        const s3 = await Segment.open(sh, 'w.seg', 1, new BlockCache<Block>(1 << 20));
        let k = 0;
        while (s3.findBlock(key(k)) < 3) k++;
        assert.equal(s3.findBlock(key(k)), 3);
        await assert.rejects(async () => s3.get(key(k), Infinity), bad, 'point read');
      });
    }
  }

  it('a footer whose version differs from the header\'s is CORRUPTION', async () => {
    const { a } = await build(20, 1, 'f2.seg');
    const bytes = await a.readAll('f2.seg');
    const fo = bytes.length - 36;
    bytes[fo + 28] = segmentVersion - 1; // a version this build reads, not the header's
    new DataView(bytes.buffer, bytes.byteOffset).setUint32(fo + 32, crc32c(bytes, 0, fo, fo + 32), true);
    await a.replace('f2.seg', bytes);
    await assert.rejects(Segment.open(await a.open('f2.seg'), 'f2.seg', 1, new BlockCache<Block>(1 << 20)), (e) => isLargetableError(e, 'CORRUPTION') && /footer version/.test((e as Error).message));
  });

  it('refuses another format version', async () => {
    const { a } = await build(20, 1, 'v.seg');
    const bytes = await a.readAll('v.seg');
    bytes[4] = 9;
    await a.replace('v.seg', bytes);
    await assert.rejects(Segment.open(await a.open('v.seg'), 'v.seg', 1, new BlockCache<Block>(1 << 20)), (e) => isLargetableError(e, 'UNSUPPORTED_FORMAT'));
  });

  it('the builder keeps its own copy of the last key (callers reuse their buffers), and blockInto reads into a reused scratch', async () => {
    const a = new MemoryAdapter();
    const h = await a.open('r.seg', { create: true });
    const sb = new SegmentBuilder(h, 'r.seg', 256, 1);
    const kb = new Uint8Array(8);
    const vb = new Uint8Array(40);
    for (let i = 0; i < 200; i++) {
      kb.set(key(i));
      vb.fill(i & 255);
      sb.addRaw(kb, 0, kb.length, 1000 + i, vb, 0, vb.length);
      kb.fill(0xff); // the caller's buffer now holds other bytes
      vb.fill(0xee);
    }
    const meta = await sb.finish(1);
    assert.deepEqual(meta.smallest, key(0));
    assert.deepEqual(meta.largest, key(199));
    const cache = new BlockCache<Block>(0);
    const seg = await Segment.open(h, 'r.seg', 1, cache);
    assert.ok(seg.blocks > 10);
    const scratch = new BlockScratch();
    let n = 0;
    for (let i = 0; i < seg.blocks; i++) {
      const blk = await seg.blockInto(i, scratch);
      for (let e = 0; e < blk.count; e++, n++) {
        blk.at(e);
        assert.deepEqual(blk.key(), key(n));
        assert.ok(blk.value().every((x) => x === (n & 255)));
      }
    }
    assert.equal(n, 200);
    for (const i of [0, 57, 199]) assert.deepEqual(await seg.get(key(i), 5000), new Uint8Array(40).fill(i & 255));
  });
  for (const level of [0, 1]) {
    it(`a segment opened with its builder's tail answers like one read back, and cached blocks outlive the reused read buffers (level ${level})`, async () => {
      const a = new MemoryAdapter();
      const h = await a.open('t.seg', { create: true });
      const sb = new SegmentBuilder(h, 't.seg', 256, level);
      for (let i = 0; i < 300; i++) sb.add(key(i), i + 1, b(`v${i}-`.repeat(1 + (i % 4))));
      const meta = await sb.finish(1);
      const tail = sb.takeTail();
      assert.ok(tail !== undefined && tail.length > 36 && tail.length < meta.size);
      assert.equal(sb.takeTail(), undefined, 'handed over once');
      const cache = new BlockCache<Block>(1 << 20);
      const kept = await Segment.open(h, 't.seg', 1, cache, tail);
      const read = await Segment.open(h, 't.seg', 2, new BlockCache<Block>(0));
      assert.equal(kept.blocks, read.blocks);
      assert.deepEqual(kept.meta, { ...read.meta, file: 1 });
      assert.equal(kept.memoryBytes, read.memoryBytes + 36, 'the kept tail holds the footer too');
      // every block is read (one reused read buffer) and cached, then every value is read again from the cache
      for (let round = 0; round < 2; round++)
        for (let i = 0; i < 300; i++) {
          assert.deepEqual(await kept.get(key(i), Infinity), b(`v${i}-`.repeat(1 + (i % 4))));
          assert.deepEqual(await read.get(key(i), Infinity), b(`v${i}-`.repeat(1 + (i % 4))));
        }
      // a tail of another length is not taken: the bytes are read from the file
      const other = await Segment.open(h, 't.seg', 3, new BlockCache<Block>(0), new Uint8Array(10));
      assert.deepEqual(await other.get(key(7), Infinity), b('v7-'.repeat(4)));
    });
  }
});
