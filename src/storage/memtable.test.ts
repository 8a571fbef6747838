import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compareBytes } from './codec.ts';
import { Memtable, NIL } from './memtable.ts';

/** Keys: arbitrary bytes, or from a 3-letter alphabet (long shared prefixes, keys that are prefixes of others). */
const keyArb = fc.oneof(fc.uint8Array({ maxLength: 4 }), fc.uint8Array({ maxLength: 7, max: 2 }));

describe('Memtable (skiplist)', () => {
  it('keeps keys sorted, versions newest first, and seeks both ways (model check)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(keyArb, fc.option(fc.uint8Array({ maxLength: 3 }))), { maxLength: 200 }), keyArb, (ops, probe) => {
        const m = new Memtable();
        const model = new Map<string, { key: Uint8Array; versions: (Uint8Array | null)[] }>();
        ops.forEach(([k, v], i) => {
          m.putBytes(k, i + 1, v);
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
        const ge = sorted.find((e) => compareBytes(e.key, probe) >= 0);
        const key = (n: number): Uint8Array | undefined => (n === NIL ? undefined : m.key(n));
        assert.deepEqual(key(m.seekGE(probe)), ge?.key);
        const lt = [...sorted].reverse().find((e) => compareBytes(e.key, probe) < 0);
        assert.deepEqual(key(m.seekLT(probe)), lt?.key);
        const le = [...sorted].reverse().find((e) => compareBytes(e.key, probe) <= 0);
        assert.deepEqual(key(m.seekLT(probe, true)), le?.key);
        assert.deepEqual(key(m.last()), sorted[sorted.length - 1]?.key);
        if (sorted.length > 1) assert.deepEqual(key(m.prevOf(m.last())), sorted[sorted.length - 2]!.key);
      }),
      { seed: 7, numRuns: 200 },
    );
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
    assert.ok(m.bytes <= 5000 * 116 * 1.3 + 8192 * 64, `${m.bytes}`);
    // a large record buffer is kept as it is, counted whole
    const before = m.bytes;
    const big = new Uint8Array(100_000);
    m.put(m.addBuffer(big), 0, 4, 9999, 4, 99_996);
    assert.ok(m.bytes - before >= 100_000, `${m.bytes - before}`);
  });
});
