import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BlockCache, blocksPerFileMax, type Sized } from './cache.ts';

/**
 * The cache's replacement written plainly, with arrays as its queues (cached keys in CLOCK order,
 * recent misses oldest first, an admitted one leaving its place taken): what BlockCache must do.
 */
class Model {
  readonly queue: { key: number; v: Sized }[] = [];
  readonly ghosts: number[] = [];
  pinned = 0;
  readonly budget: number;
  readonly ghostsMax: number;
  constructor(budget: number, ghostsMax: number) {
    this.budget = budget;
    this.ghostsMax = ghostsMax;
  }
  get bytes(): number {
    return this.queue.reduce((n, e) => n + e.v.bytes, 0);
  }
  has(key: number): boolean {
    return this.queue.some((e) => e.key === key);
  }
  admit(key: number, bytes: number): boolean {
    if (this.bytes + this.pinned + bytes <= this.budget) return true;
    const at = this.ghosts.indexOf(key);
    if (at >= 0) {
      // its place stays taken: the window is the last ghostsMax misses, admitted ones included
      this.ghosts[at] = -1;
      return true;
    }
    this.ghosts.push(key);
    if (this.ghosts.length > this.ghostsMax) this.ghosts.shift();
    return false;
  }
  get(key: number): Sized | undefined {
    const e = this.queue.find((x) => x.key === key);
    if (e) e.v.cacheUsed = true;
    return e?.v;
  }
  set(key: number, v: Sized): void {
    if (v.bytes + this.pinned > this.budget) return;
    this.drop((k) => k === key);
    v.cacheUsed = false;
    this.queue.push({ key, v });
    this.evict();
  }
  evict(): void {
    let bytes = this.bytes;
    while (bytes > 0 && bytes + this.pinned > this.budget) {
      const e = this.queue.shift()!;
      if (e.v.cacheUsed) {
        e.v.cacheUsed = false;
        this.queue.push(e);
      } else bytes -= e.v.bytes;
    }
  }
  drop(gone: (key: number) => boolean): void {
    for (let i = this.queue.length - 1; i >= 0; i--) if (gone(this.queue[i]!.key)) this.queue.splice(i, 1);
  }
}

const block = (bytes: number): Sized => ({ bytes, data: new Uint8Array(1) });
const k = (file: number, i: number): number => file * blocksPerFileMax + i;

describe('block cache', () => {
  it('evicts in insertion order, giving a block used since its turn a second chance', () => {
    const c = new BlockCache<Sized>(300);
    for (let i = 0; i < 3; i++) c.set(k(1, i), block(100));
    assert.ok(c.get(k(1, 0)));
    c.set(k(1, 3), block(100));
    assert.deepEqual([0, 1, 2, 3].map((i) => c.has(k(1, i))), [true, false, true, true]);
    c.set(k(1, 4), block(100));
    assert.deepEqual([0, 2, 3, 4].map((i) => c.has(k(1, i))), [true, false, true, true]);
    // block 0 lost its mark when it got its second chance
    c.set(k(1, 5), block(100));
    c.set(k(1, 6), block(100));
    assert.equal(c.has(k(1, 0)), false);
    assert.equal(c.bytes, 300);
  });

  it('a block set again under its key takes the old one\'s place at the back; dropped files free their bytes', () => {
    const c = new BlockCache<Sized>(300);
    c.set(k(1, 0), block(100));
    c.set(k(2, 0), block(100));
    c.set(k(1, 0), block(50));
    assert.equal(c.bytes, 150);
    c.set(k(2, 1), block(100));
    c.set(k(2, 2), block(100));
    // k(2, 0) was first in line, not the replaced block
    assert.equal(c.has(k(2, 0)), false);
    assert.equal(c.has(k(1, 0)), true);
    c.dropFile(2);
    assert.equal(c.bytes, 50);
    assert.equal(c.has(k(2, 1)), false);
    for (let i = 0; i < 10; i++) c.set(k(3, i), block(100));
    assert.equal(c.bytes, 300);
  });

  it('admits a block on its second miss within the window of recent misses once full', () => {
    const c = new BlockCache<Sized>(1024 * 4096);
    c.pin(1024 * 4096);
    assert.equal(c.admit(7, 10), false);
    assert.equal(c.admit(7, 10), true);
    assert.equal(c.admit(7, 10), false);
    for (let i = 100; i < 100 + 1023; i++) assert.equal(c.admit(i, 10), false);
    assert.equal(c.admit(7, 10), true);
    assert.equal(c.admit(8, 10), false);
    for (let i = 2000; i < 2000 + 1024; i++) c.admit(i, 10);
    assert.equal(c.admit(8, 10), false);
  });

  it('remembers about as many recent misses as the budget holds 8 KiB blocks (64 MiB: 8,192)', () => {
    const budget = 64 * 1024 * 1024;
    const c = new BlockCache<Sized>(budget);
    assert.equal(c.admit(1, 8192), true, 'room: admitted on the first miss');
    c.set(1, block(budget - 1024));
    assert.equal(c.admit(3, 8192), false);
    for (let i = 100; i < 100 + 8191; i++) assert.equal(c.admit(i, 8192), false);
    assert.equal(c.admit(3, 8192), true, 'within the window');
    assert.equal(c.admit(4, 8192), false);
    for (let i = 20000; i < 20000 + 8192; i++) c.admit(i, 8192);
    assert.equal(c.admit(4, 8192), false, 'past the window: a first miss again');
    assert.equal(c.admit(4, 8192), true);
  });

  it('gives a block hit through its table of marks (touchSlot) a second chance, as get does, and forgets the mark with the block', () => {
    // one file under budget pressure: sets, hits by get and by the table of marks, drops
    const op = fc.oneof(
      fc.record({ t: fc.constant('set' as const), i: fc.integer({ min: 0, max: 7 }), n: fc.integer({ min: 20, max: 90 }) }),
      fc.record({ t: fc.constant('get' as const), i: fc.integer({ min: 0, max: 7 }) }),
      fc.record({ t: fc.constant('slot' as const), i: fc.integer({ min: 0, max: 7 }) }),
      fc.record({ t: fc.constant('drop' as const), i: fc.constant(0) }),
    );
    let hits = 0;
    fc.assert(
      fc.property(fc.array(op, { minLength: 40, maxLength: 300 }), fc.integer({ min: 200, max: 600 }), (ops, budget) => {
        const c = new BlockCache<Sized>(budget);
        const m = new Model(budget, 1024);
        let t = c.tablesOf(k(1, 0), 16).values;
        let used = c.tablesOf(k(1, 0), 16).used;
        const twin = new Map<Sized, Sized>();
        for (const o of ops) {
          if (o.t === 'set') {
            const v = block(o.n);
            const mv = block(o.n);
            twin.set(mv, v);
            c.set(k(1, o.i), v);
            m.set(k(1, o.i), mv);
          } else if (o.t === 'get') assert.equal(c.get(k(1, o.i)) !== undefined, m.get(k(1, o.i)) !== undefined);
          else if (o.t === 'slot') {
            if (t[o.i] === undefined) continue;
            hits++;
            c.touchSlot(used, o.i);
            m.get(k(1, o.i));
          } else {
            c.dropFile(1);
            m.drop(() => true);
            t = c.tablesOf(k(1, 0), 16).values;
            used = c.tablesOf(k(1, 0), 16).used;
          }
          for (let i = 0; i < 16; i++) {
            const mv = m.queue.find((e) => e.key === k(1, i))?.v;
            assert.equal(t[i], mv === undefined ? undefined : twin.get(mv), `block ${i}`);
          }
        }
      }),
      { seed: 5, numRuns: 300 },
    );
    assert.ok(hits > 100, `${hits} hits through the table`);
  });

  it('matches the plain model under random operations', () => {
    const op = fc.oneof(
      fc.record({ t: fc.constant('set' as const), f: fc.integer({ min: 1, max: 3 }), i: fc.integer({ min: 0, max: 40 }), n: fc.integer({ min: 1, max: 120 }) }),
      fc.record({ t: fc.constant('get' as const), f: fc.integer({ min: 1, max: 3 }), i: fc.integer({ min: 0, max: 40 }) }),
      // a hit read through a file's tables (a point-index probe): marked in the table of marks
      fc.record({ t: fc.constant('slot' as const), f: fc.integer({ min: 1, max: 3 }), i: fc.integer({ min: 0, max: 40 }) }),
      fc.record({ t: fc.constant('admit' as const), f: fc.integer({ min: 1, max: 3 }), i: fc.integer({ min: 0, max: 1500 }) }),
      fc.record({ t: fc.constant('drop' as const), f: fc.integer({ min: 1, max: 3 }) }),
      // a burst of misses: the window of recent misses wraps around
      fc.record({ t: fc.constant('misses' as const), f: fc.integer({ min: 1, max: 3 }), i: fc.integer({ min: 0, max: 1500 }), n: fc.integer({ min: 1, max: 700 }) }),
      fc.record({ t: fc.constant('pin' as const), n: fc.integer({ min: -300, max: 300 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 400 }), fc.integer({ min: 200, max: 2000 }), (ops, budget) => {
        const c = new BlockCache<Sized>(budget);
        const m = new Model(budget, 1024);
        // the per-file tables (file 3's taken only after some operations: filled from the map)
        const tables: ((Sized | undefined)[] | undefined)[] = [undefined, c.tablesOf(k(1, 0), 41).values, c.tablesOf(k(2, 0), 41).values, undefined];
        // and their data tables (each block's bytes beside it)
        const datas: ((Uint8Array | undefined)[] | undefined)[] = [undefined, c.tablesOf(k(1, 0), 41).data, c.tablesOf(k(2, 0), 41).data, undefined];
        const useds: (Uint8Array | undefined)[] = [undefined, c.tablesOf(k(1, 0), 41).used, c.tablesOf(k(2, 0), 41).used, undefined];
        // the cache's block for each of the model's
        const twin = new Map<Sized, Sized>();
        let step = 0;
        for (const o of ops) {
          if (step++ === ops.length >> 1) {
            tables[3] = c.tablesOf(k(3, 0), 41).values;
            datas[3] = c.tablesOf(k(3, 0), 41).data;
            useds[3] = c.tablesOf(k(3, 0), 41).used;
          }
          if (o.t === 'set') {
            const v = block(o.n);
            const mv = block(o.n);
            twin.set(mv, v);
            c.set(k(o.f, o.i), v);
            m.set(k(o.f, o.i), mv);
          } else if (o.t === 'get') assert.equal(c.get(k(o.f, o.i)) !== undefined, m.get(k(o.f, o.i)) !== undefined);
          else if (o.t === 'slot') {
            // only where the table holds the block (a probe reads nothing else)
            if (tables[o.f]?.[o.i] !== undefined) {
              c.touchSlot(useds[o.f]!, o.i);
              assert.notEqual(m.get(k(o.f, o.i)), undefined);
            }
          }
          else if (o.t === 'admit') assert.equal(c.admit(k(o.f, o.i), 50), m.admit(k(o.f, o.i), 50));
          else if (o.t === 'misses') for (let j = o.i; j < o.i + o.n; j++) assert.equal(c.admit(k(o.f, j % 1600), 50), m.admit(k(o.f, j % 1600), 50));
          else if (o.t === 'drop') {
            const t = tables[o.f];
            c.dropFile(o.f);
            m.drop((key) => Math.floor(key / blocksPerFileMax) === o.f);
            // a dropped file's table is emptied; the file's next table is a new one
            if (t !== undefined) {
              assert.ok(t.every((x) => x === undefined));
              assert.ok(datas[o.f]!.every((x) => x === undefined));
              tables[o.f] = c.tablesOf(k(o.f, 0), 41).values;
              datas[o.f] = c.tablesOf(k(o.f, 0), 41).data;
              useds[o.f] = c.tablesOf(k(o.f, 0), 41).used;
              assert.notEqual(tables[o.f], t);
            }
          } else if (o.n >= 0) {
            c.pin(o.n);
            m.pinned += o.n;
            m.evict();
          } else {
            c.unpin(-o.n);
            m.pinned = Math.max(0, m.pinned + o.n);
          }
          assert.equal(c.bytes, m.bytes);
          for (let f = 1; f <= 3; f++) {
            const t = tables[f];
            if (t === undefined) continue;
            for (let i = 0; i <= 40; i++) {
              const mv = m.queue.find((e) => e.key === k(f, i))?.v;
              assert.equal(t[i], mv === undefined ? undefined : twin.get(mv), `file ${f} block ${i}`);
              assert.equal(datas[f]![i], t[i]?.data, `file ${f} block ${i}'s data`);
            }
          }
        }
        for (let f = 1; f <= 3; f++) for (let i = 0; i <= 40; i++) assert.equal(c.has(k(f, i)), m.has(k(f, i)));
      }),
      { numRuns: 300 },
    );
  });
});
