import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PointIndex } from './pointindex.ts';

describe('point index', () => {
  it('sizes its table to 1/16 of the budget, none below 32 slots, and makes it at the first put', () => {
    assert.equal(new PointIndex(8191).capacity, 0);
    assert.equal(new PointIndex(8192).capacity, 32);
    assert.equal(new PointIndex(64 * 1024 * 1024).capacity, 262144);
    const none = new PointIndex(1000);
    assert.equal(none.put(1, 1, 0, 0), 0);
    assert.equal(none.find(1, 1), false);
    const p = new PointIndex(64 * 1024);
    assert.equal(p.made, false);
    assert.equal(p.find(7, 3), false);
    assert.equal(p.put(7, 3, 5, 100), p.tableBytes);
    assert.equal(p.put(8, 3, 5, 120), 0);
    assert.equal(p.made, true);
  });

  it('finds what was put, by key hash and file: the newest of a key, four per bucket', () => {
    const p = new PointIndex(64 * 1024);
    p.put(0xdeadbeef, 4, 9, 300);
    assert.ok(p.find(0xdeadbeef, 4));
    assert.deepEqual([p.block, p.off], [9, 300]);
    assert.equal(p.find(0xdeadbeef, 5), false, 'another file');
    assert.equal(p.find(0xdeadbeee, 4), false, 'another hash');
    p.put(0xdeadbeef, 4, 10, 12);
    assert.ok(p.find(0xdeadbeef, 4));
    assert.deepEqual([p.block, p.off], [10, 12]);
  });

  it('keeps the four newest slots of a bucket: a put drops the oldest, a put of a key held moves it first', () => {
    // one hash in five files: one bucket (a bucket is chosen by the hash alone)
    const p = new PointIndex(64 * 1024);
    const h = 0x12345678;
    for (let file = 1; file <= 4; file++) p.put(h, file, file, file * 10);
    for (let file = 1; file <= 4; file++) assert.ok(p.find(h, file), `file ${file}`);
    p.put(h, 2, 22, 220); // held: moves first, nothing dropped
    for (let file = 1; file <= 4; file++) assert.ok(p.find(h, file), `file ${file} after the move`);
    assert.deepEqual([p.block, p.off], [4, 40]);
    assert.ok(p.find(h, 2));
    assert.deepEqual([p.block, p.off], [22, 220]);
    p.put(h, 5, 5, 50); // full: the oldest (file 1) goes
    assert.equal(p.find(h, 1), false);
    for (const file of [2, 3, 4, 5]) assert.ok(p.find(h, file), `file ${file} kept`);
    assert.ok(p.find(h, 2));
    assert.deepEqual([p.block, p.off], [22, 220]);
  });

  it('model: a find answers the last put of its (hash, file) or nothing (nothing for one never put), and keeps the four newest of a bucket', () => {
    // small table (32 slots): most keys share buckets with others
    const op = fc.record({ h: fc.integer({ min: 0, max: 200 }).map((i) => (i * 2654435761) >>> 0), file: fc.integer({ min: 0, max: 3 }), block: fc.nat(1000), off: fc.nat(1 << 20) });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        const p = new PointIndex(8192);
        const last = new Map<string, [number, number]>();
        const order: string[] = [];
        for (const o of ops) {
          p.put(o.h, o.file, o.block, o.off);
          const k = `${o.h}/${o.file}`;
          last.set(k, [o.block, o.off]);
          order.push(k);
        }
        for (const [k, want] of last) {
          const [h, file] = k.split('/').map(Number) as [number, number];
          if (p.find(h, file)) assert.deepEqual([p.block, p.off], want, k);
        }
        // a (hash, file) never put has no hint (the table starts all zeros: empty slots, file 0 included)
        for (let i = 201; i < 260; i++) for (let file = 0; file <= 3; file++) assert.equal(p.find((i * 2654435761) >>> 0, file), false);
        // the last key put is always found
        if (ops.length > 0) {
          const o = ops[ops.length - 1]!;
          assert.ok(p.find(o.h, o.file));
          assert.deepEqual([p.block, p.off], [o.block, o.off]);
        }
      }),
      { seed: 7, numRuns: 200 },
    );
  });
});
