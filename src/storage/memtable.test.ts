import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compareBytes } from './codec.ts';
import { Memtable } from './memtable.ts';

describe('Memtable (skiplist)', () => {
  it('keeps keys sorted, versions newest first, and seeks both ways (model check)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.uint8Array({ maxLength: 4 }), fc.option(fc.uint8Array({ maxLength: 3 }))), { maxLength: 200 }), fc.uint8Array({ maxLength: 4 }), (ops, probe) => {
        const m = new Memtable();
        const model = new Map<string, { key: Uint8Array; versions: (Uint8Array | null)[] }>();
        ops.forEach(([k, v], i) => {
          m.put(k, i + 1, v);
          const id = k.join(',');
          const e = model.get(id) ?? { key: k, versions: [] };
          e.versions.unshift(v);
          model.set(id, e);
        });
        const sorted = [...model.values()].sort((x, y) => compareBytes(x.key, y.key));
        const walked: Uint8Array[] = [];
        for (let n = m.first(); n !== null; n = n.next[0]!) walked.push(n.key);
        assert.deepEqual(walked, sorted.map((e) => e.key));
        assert.equal(m.count, sorted.length);
        for (const e of sorted) {
          const vs: (Uint8Array | null)[] = [];
          for (let v = m.find(e.key)!.newest; v !== null; v = v.older) vs.push(v.value);
          assert.deepEqual(vs, e.versions);
        }
        const ge = sorted.find((e) => compareBytes(e.key, probe) >= 0);
        assert.deepEqual(m.seekGE(probe)?.key, ge?.key);
        const lt = [...sorted].reverse().find((e) => compareBytes(e.key, probe) < 0);
        assert.deepEqual(m.seekLT(probe)?.key, lt?.key);
        const le = [...sorted].reverse().find((e) => compareBytes(e.key, probe) <= 0);
        assert.deepEqual(m.seekLT(probe, true)?.key, le?.key);
        assert.deepEqual(m.last()?.key, sorted[sorted.length - 1]?.key);
      }),
      { seed: 7, numRuns: 200 },
    );
  });

  it('visible(snap) returns the newest version at or below the snapshot', () => {
    const m = new Memtable();
    const k = Uint8Array.of(1);
    m.put(k, 5, Uint8Array.of(5));
    m.put(k, 9, null);
    m.put(k, 12, Uint8Array.of(12));
    const n = m.find(k)!;
    assert.equal(n.visible(4), null);
    assert.deepEqual(n.visible(5)!.value, Uint8Array.of(5));
    assert.equal(n.visible(11)!.value, null);
    assert.deepEqual(n.visible(100)!.value, Uint8Array.of(12));
    assert.equal(m.minSeq, 5);
    assert.equal(m.maxSeq, 12);
  });
});
