import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compareBytes } from './codec.ts';
import { Memtable, MemtablePool, NIL } from './memtable.ts';

/** Keys: arbitrary bytes, or from a 3-letter alphabet (long shared prefixes, keys that are prefixes of others). */
const keyArb = fc.oneof(fc.uint8Array({ maxLength: 4 }), fc.uint8Array({ maxLength: 7, max: 2 }));

describe('Memtable (skiplist)', () => {
  // each run's memtable takes the chunks and columns the previous run's memtable left in the pool
  // (chunks of 256 bytes: records up to 64 bytes are copied into them, larger ones kept)
  const pool = new MemtablePool(4096);
  it('keeps keys sorted, versions newest first, and seeks both ways (model check; fresh and recycled storage)', () => {
    let run = 0;
    fc.assert(
      fc.property(fc.array(fc.tuple(keyArb, fc.option(fc.uint8Array({ maxLength: 3 }))), { maxLength: 200 }), keyArb, fc.uint8Array({ maxLength: 100 }), (ops, probe, pad) => {
        const m = run++ % 2 === 0 ? new Memtable() : new Memtable(pool);
        const model = new Map<string, { key: Uint8Array; versions: (Uint8Array | null)[] }>();
        ops.forEach(([k, v], i) => {
          // a record with padding after the value: some of them larger than a quarter chunk
          const rec = new Uint8Array(k.length + (v?.length ?? 0) + (i % 3 === 0 ? pad.length : 0));
          rec.set(k);
          if (v !== null) rec.set(v, k.length);
          m.put(m.addBuffer(rec), 0, k.length, i + 1, k.length, v === null ? -1 : v.length);
          const id = k.join(',');
          const e = model.get(id) ?? { key: k, versions: [] };
          e.versions.unshift(v);
          model.set(id, e);
        });
        const sorted = [...model.values()].sort((x, y) => compareBytes(x.key, y.key));
        const walked: Uint8Array[] = [];
        for (let n = m.first(); n !== NIL; n = m.next(n)) walked.push(m.key(n));
        assert.deepEqual(walked, sorted.map((e) => e.key));
        assert.equal(m.count, sorted.length);
        for (const e of sorted) {
          const vs: (Uint8Array | null)[] = [];
          for (let v = m.newest(m.find(e.key)); v !== NIL; v = m.older(v)) vs.push(m.value(v));
          assert.deepEqual(vs, e.versions);
        }
        // the hash index: a key not in the memtable is not found
        assert.equal(m.find(probe) !== NIL, model.has(probe.join(',')));
        const ge = sorted.find((e) => compareBytes(e.key, probe) >= 0);
        const key = (n: number): Uint8Array | undefined => (n === NIL ? undefined : m.key(n));
        assert.deepEqual(key(m.seekGE(probe)), ge?.key);
        const lt = [...sorted].reverse().find((e) => compareBytes(e.key, probe) < 0);
        assert.deepEqual(key(m.seekLT(probe)), lt?.key);
        const le = [...sorted].reverse().find((e) => compareBytes(e.key, probe) <= 0);
        assert.deepEqual(key(m.seekLT(probe, true)), le?.key);
        assert.deepEqual(key(m.last()), sorted[sorted.length - 1]?.key);
        if (sorted.length > 1) assert.deepEqual(key(m.prevOf(m.last())), sorted[sorted.length - 2]!.key);
        m.recycle(4096);
      }),
      { seed: 7, numRuns: 300 },
    );
  });

  it('runs of ascending keys interleaved with other keys (the finger search) keep the order and every level linked', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(3), keyArb), { maxLength: 400 }), fc.nat(255), (ops, start) => {
        const m = new Memtable();
        const model = new Map<string, Uint8Array>();
        let next = start;
        for (const [kind, k] of ops) {
          // kind 0-2: the next key of an ascending run (some of them below earlier random keys), 3: a random key
          const key = kind < 3 ? Uint8Array.of(1, next >> 8, next++ & 255) : k;
          m.putBytes(key, 1, key);
          model.set(key.join(','), key);
        }
        const sorted = [...model.values()].sort(compareBytes);
        const walked: Uint8Array[] = [];
        for (let n = m.first(); n !== NIL; n = m.next(n)) walked.push(m.key(n));
        assert.deepEqual(walked, sorted);
        // the upper levels are searched by every seek: each key is found by a descent from the head
        for (const k of sorted) assert.deepEqual(m.key(m.seekGE(k)), k);
        for (let i = 1; i < sorted.length; i++) assert.deepEqual(m.key(m.seekLT(sorted[i]!)), sorted[i - 1]);
      }),
      { seed: 5, numRuns: 200 },
    );
  });

  it('puts interleaved with ordered reads (iterators stepping across later puts, seeks) see every key in order', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.tuple(fc.constant(0), fc.array(keyArb, { maxLength: 60 })), fc.tuple(fc.constant(1), fc.array(keyArb, { maxLength: 3 })), fc.tuple(fc.constant(2), keyArb)), { maxLength: 40 }),
        (steps) => {
          const m = new Memtable();
          const model = new Map<string, Uint8Array>();
          const sortedModel = () => [...model.values()].sort(compareBytes);
          // an iterator kept across steps: after puts, its next steps see the keys put after its position
          let it = NIL;
          let seq = 1;
          for (const [kind, arg] of steps) {
            if (kind === 2) {
              const probe = arg as Uint8Array;
              const ge = sortedModel().find((k) => compareBytes(k, probe) >= 0);
              const n = m.seekGE(probe);
              assert.deepEqual(n === NIL ? undefined : m.key(n), ge);
              it = n;
              continue;
            }
            for (const k of arg as Uint8Array[]) {
              m.putBytes(k, seq++, k);
              model.set(k.join(','), k);
            }
            if (it !== NIL) {
              const cur = m.key(it);
              const nx = m.next(it);
              const want = sortedModel().find((k) => compareBytes(k, cur) > 0);
              assert.deepEqual(nx === NIL ? undefined : m.key(nx), want);
              it = nx;
            }
            if (kind === 0 || seq % 5 === 0) {
              const walked: Uint8Array[] = [];
              for (let n = m.first(); n !== NIL; n = m.next(n)) walked.push(m.key(n));
              assert.deepEqual(walked, sortedModel());
              const all = sortedModel();
              for (let i = 1; i < all.length; i++) assert.deepEqual(m.key(m.seekLT(all[i]!)), all[i - 1]);
            }
          }
          const walked: Uint8Array[] = [];
          for (let n = m.last(); n !== NIL; n = m.prevOf(n)) walked.push(m.key(n));
          assert.deepEqual(walked, sortedModel().reverse());
        },
      ),
      { seed: 11, numRuns: 200 },
    );
  });

  it('sorts many pending keys with long shared prefixes, keys that are prefixes of others and zero bytes', () => {
    const m = new Memtable();
    const model = new Map<string, Uint8Array>();
    let x = 12345;
    for (let i = 0; i < 20000; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      const len = 1 + (x % 23);
      const k = new Uint8Array(len);
      for (let j = 0; j < len; j++) k[j] = j < 9 ? (j === 4 ? (x >>> 8) & 1 : 7) : (x >>> (j % 24)) & 3;
      m.putBytes(k, i + 1, null);
      model.set(k.join(','), k);
      // settles 15001 keys at once (a merge), then 1000 at a time into a large list (one by one)
      if (i === 15000 || (i > 15000 && i % 1000 === 0)) assert.ok(m.first() !== NIL);
    }
    const sorted = [...model.values()].sort(compareBytes);
    const walked: Uint8Array[] = [];
    for (let n = m.first(); n !== NIL; n = m.next(n)) walked.push(m.key(n));
    assert.deepEqual(walked, sorted);
    for (let i = 0; i < sorted.length; i += 97) assert.deepEqual(m.key(m.seekGE(sorted[i]!)), sorted[i]);
  });

  it('sorts settles around the size where windows are ordered by counting passes (short keys, zero bytes, keys that are prefixes of others)', () => {
    for (const [n, seed] of [[63, 1], [64, 2], [65, 3], [300, 4], [5000, 5], [5000, 6]] as const) {
      const m = new Memtable();
      const model = new Map<string, Uint8Array>();
      let x = seed * 7919;
      // a few linked keys first (the settle below then merges or links into them)
      for (let i = 0; i < n + 40; i++) {
        x = (Math.imul(x, 1103515245) + 12345) >>> 0;
        // lengths 0-12 over bytes 0, 1, 255, and a run of equal leading windows
        const len = (x >>> 3) % 13;
        const k = new Uint8Array(len);
        for (let j = 0; j < len; j++) k[j] = j < 4 && (x & 1) === 0 ? 9 : [0, 1, 255][(x >>> (j + 7)) % 3]!;
        m.putBytes(k, i + 1, null);
        model.set(k.join(','), k);
        if (i === 39) assert.ok(m.first() !== NIL);
      }
      const sorted = [...model.values()].sort(compareBytes);
      const walked: Uint8Array[] = [];
      for (let node = m.first(); node !== NIL; node = m.next(node)) walked.push(m.key(node));
      assert.deepEqual(walked, sorted, `${n} keys`);
    }
  });

  it('sorts keys that share a prefix of tens of KB without a call per 4 shared bytes (no stack overflow)', () => {
    for (const n of [2, 13, 100]) {
      const m = new Memtable();
      const keys: Uint8Array[] = [];
      for (let i = 0; i < n; i++) {
        const k = new Uint8Array(65_000).fill(7);
        k[64_990] = (i * 37) & 255;
        k[64_999] = i >> 8;
        keys.push(k);
        m.putBytes(k, i + 1, null);
      }
      const walked: Uint8Array[] = [];
      for (let node = m.first(); node !== NIL; node = m.next(node)) walked.push(m.key(node));
      assert.deepEqual(walked, keys.slice().sort(compareBytes), `${n} keys`);
    }
  });

  it('visible(snap) returns the newest version at or below the snapshot', () => {
    const m = new Memtable();
    const k = Uint8Array.of(1);
    m.putBytes(k, 5, Uint8Array.of(5));
    m.putBytes(k, 9, null);
    m.putBytes(k, 12, Uint8Array.of(12));
    const n = m.find(k);
    assert.equal(m.visible(n, 4), NIL);
    assert.deepEqual(m.value(m.visible(n, 5)), Uint8Array.of(5));
    assert.equal(m.value(m.visible(n, 11)), null);
    assert.deepEqual(m.value(m.visible(n, 100)), Uint8Array.of(12));
    assert.equal(m.find(Uint8Array.of(2)), NIL);
    assert.equal(m.minSeq, 5);
    assert.equal(m.maxSeq, 12);
  });

  it('counts its real memory: record buffers as allocated and the columns by capacity', () => {
    const m = new Memtable();
    const empty = m.bytes;
    assert.ok(empty >= 0 && empty < 1024, `an empty memtable is small: ${empty}`);
    // small records are copied into shared chunks: the caller's buffer is not retained
    const rec = new Uint8Array(40).fill(7);
    const bi = m.addBuffer(rec);
    m.put(bi, 0, 8, 1, 8, 32);
    rec.fill(9);
    assert.deepEqual(m.value(m.newest(m.find(new Uint8Array(8).fill(7)))), new Uint8Array(32).fill(7));
    for (let i = 0; i < 5000; i++) {
      const k = new Uint8Array(16);
      new DataView(k.buffer).setUint32(0, i * 2654435761);
      m.putBytes(k, i + 2, new Uint8Array(100));
    }
    // 5000 entries of 116 bytes in chunks, plus ~11 columns x 4-8 bytes x capacity (8192)
    assert.ok(m.bytes >= 5000 * 116 + 8192 * 48, `${m.bytes}`);
    // chunks double up to 1 MiB: at most about twice what they hold while they double
    assert.ok(m.bytes <= 5000 * 116 * 2 + 8192 * 64, `${m.bytes}`);
    // a large record buffer (over a quarter of the 1 MiB chunk) is kept as it is, counted whole
    const before = m.bytes;
    const big = new Uint8Array(300_000);
    m.put(m.addBuffer(big), 0, 4, 9999, 4, 299_996);
    assert.ok(m.bytes - before >= 300_000, `${m.bytes - before}`);
  });

  it('a pool hands a recycled memtable\'s full chunks and columns to the next memtable, within its cap', () => {
    const pool = new MemtablePool(64 * 1024); // chunks of 4 KiB, records up to 1 KiB copied
    assert.equal(pool.chunkBytes, 4096);
    const a = new Memtable(pool);
    const rec = new Uint8Array(1000);
    for (let i = 0; i < 200; i++) {
      rec.fill(i & 255);
      new DataView(rec.buffer).setUint32(0, i);
      a.put(a.addBuffer(rec), 0, 4, i + 1, 4, 996);
    }
    const used = a.bytes;
    assert.ok(used > 200 * 1000, `${used}`);
    a.recycle(64 * 1024);
    assert.equal(a.bytes, 0);
    // the columns and as many 4 KiB chunks as fit in the room given wait in the pool
    const cols = pool.bytes - pool.chunks.length * 4096;
    assert.ok(cols > 200 * 24, `${cols}`);
    assert.equal(pool.chunks.length, Math.floor((64 * 1024 - cols) / 4096));
    assert.ok(pool.bytes <= 64 * 1024, `${pool.bytes}`);
    const pooled = pool.chunks.length;
    const reused = new Set(pool.chunks.map((c) => c.buffer));
    const b = new Memtable(pool);
    assert.equal(pool.cols.length, 0);
    assert.ok(b.bytes > 0, 'the recycled columns are counted by capacity from the start');
    for (let i = 0; i < 200; i++) {
      rec.fill((i * 7) & 255);
      new DataView(rec.buffer).setUint32(0, i);
      b.put(b.addBuffer(rec), 0, 4, i + 1, 4, 996);
    }
    assert.equal(b.count, 200);
    assert.equal(pool.chunks.length, 0, 'the new memtable took every pooled chunk');
    let n = b.first();
    const holders = new Set<ArrayBufferLike>();
    for (let i = 0; i < 200; i++, n = b.next(n)) {
      const v = b.value(b.newest(n))!;
      assert.equal(new DataView(b.key(n).buffer, b.key(n).byteOffset).getUint32(0), i);
      assert.ok(v.every((x, j) => j < 0 || x === ((i * 7) & 255)), `value ${i}`);
      if (reused.has(v.buffer)) holders.add(v.buffer);
    }
    assert.equal(n, NIL);
    assert.equal(holders.size, pooled, 'the records live in the recycled chunks');
  });

  it('without recycled columns, a memtable starts with columns as long as the last full one\'s (no doubling); same contents', () => {
    const pool = new MemtablePool(1 << 20);
    const a = new Memtable(pool);
    const rec = new Uint8Array(8);
    const fill = (m: Memtable, n: number, tag: number): void => {
      for (let i = 0; i < n; i++) {
        new DataView(rec.buffer).setUint32(0, (i * 2654435761) >>> 0);
        new DataView(rec.buffer).setUint32(4, i + tag);
        m.put(m.addBuffer(rec), 0, 4, i + 1, 4, 4);
      }
    };
    fill(a, 5000, 0);
    const full = a.bytes;
    a.rememberSizes();
    assert.deepEqual(pool.sizes && Object.keys(pool.sizes).sort(), ['b', 'nr', 'v']);
    const b = new Memtable(pool);
    const start = b.bytes;
    assert.ok(start > 5000 * 24, `columns counted by capacity from the start: ${start}`);
    fill(b, 5000, 7);
    // only the hash index grew (and chunks were added): the other columns kept their length
    assert.ok(b.bytes - start <= full - new Memtable(null).bytes, `${b.bytes - start}`);
    assert.equal(b.count, 5000);
    let n = b.first();
    let prev: Uint8Array | undefined;
    for (let i = 0; i < 5000; i++, n = b.next(n)) {
      const k = b.key(n);
      if (prev) assert.ok(compareBytes(prev, k) < 0);
      prev = k.slice();
      const u = new DataView(k.buffer, k.byteOffset).getUint32(0);
      const v = b.value(b.newest(n))!;
      const idx = new DataView(v.buffer, v.byteOffset).getUint32(0) - 7;
      assert.equal((idx * 2654435761) >>> 0, u);
      assert.equal(b.find(k), n);
    }
    assert.equal(n, NIL);
  });
});
