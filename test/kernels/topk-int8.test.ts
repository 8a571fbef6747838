import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isLargetableError } from '../../src/errors.ts';
import { topKMax } from '../../src/limits.ts';
import { all, dim, expectArrays, float, runs, ts } from './setup.ts';

/** Independent oracle: sort (score, index) pairs, NaN dropped. */
function sortOracle(scores: Float32Array, k: number, higher: boolean): { indices: number[]; scores: number[] } {
  const idx = [...scores.keys()].filter((i) => !Number.isNaN(scores[i]!));
  idx.sort((a, b) => {
    const sa = scores[a]!;
    const sb = scores[b]!;
    if (sa === sb) return a - b;
    return higher ? sb - sa : sa - sb;
  });
  const top = idx.slice(0, k);
  return { indices: top, scores: top.map((i) => scores[i]!) };
}

describe('topK: SIMD vs scalar vs TypeScript twin vs a sort', () => {
  it('returns the k best, best first, ties by lower index, NaN never', () => {
    const scoreArb = fc.oneof(float, fc.integer({ min: -5, max: 5 }).map((x) => x)); // many ties
    fc.assert(
      fc.property(fc.array(scoreArb, { maxLength: 600 }), fc.integer({ min: 0, max: 80 }), fc.boolean(), (values, k, higher) => {
        const scores = Float32Array.from(values);
        const expected = sortOracle(scores, k, higher);
        for (const kern of all) {
          const got = kern.topK(scores, k, higher);
          assert.deepEqual([...got.indices], expected.indices, `${kern.build} indices`);
          expectArrays(`${kern.build} scores`, got.scores, Float32Array.from(expected.scores));
        }
      }),
      runs,
    );
  });

  it('topKPtr over scores in the arena equals topK', () => {
    fc.assert(
      fc.property(fc.array(float, { maxLength: 300 }), fc.integer({ min: 0, max: 40 }), fc.boolean(), (values, k, higher) => {
        const scores = Float32Array.from(values);
        const expected = sortOracle(scores, k, higher);
        for (const kern of all) {
          const p = kern.arena.alloc(scores.length * 4 + 4) + 4; // 4-byte, not 16-byte, aligned
          kern.arena.f32(p, scores.length).set(scores);
          const got = kern.topKPtr(p, scores.length, k, higher);
          kern.arena.free(p - 4);
          assert.deepEqual([...got.indices], expected.indices, `${kern.build} indices`);
          expectArrays(`${kern.build} scores`, got.scores, Float32Array.from(expected.scores));
        }
      }),
      runs,
    );
  });

  it('handles k = topKMax over a large array and rejects k > topKMax', () => {
    const scores = Float32Array.from({ length: 50_000 }, (_, i) => Math.sin(i * 12.9898) * 43758.5453 % 1);
    const expected = sortOracle(scores, topKMax, false);
    for (const kern of all) {
      const got = kern.topK(scores, topKMax, false);
      assert.deepEqual([...got.indices], expected.indices, kern.build);
      assert.throws(() => kern.topK(scores, topKMax + 1, true), (e) => isLargetableError(e, 'LIMIT_EXCEEDED'));
      assert.throws(() => kern.topK(scores, -1, true), (e) => isLargetableError(e, 'INVALID_ARGUMENT'));
    }
  });
});

describe('int8 kernels', () => {
  const quantCase = fc.record({
    d: dim,
    n: fc.integer({ min: 0, max: 12 }),
    values: fc.array(float, { minLength: 2000, maxLength: 2000 }),
    mins: fc.array(fc.float({ min: -10, max: 10, noNaN: true }), { minLength: 129, maxLength: 129 }),
    scales: fc.array(fc.oneof(fc.float({ min: Math.fround(0.001), max: 10, noNaN: true }), fc.constant(0)), { minLength: 129, maxLength: 129 }),
  });

  it('quantizeI8 is identical in all builds (round half to even, saturating, NaN -> 0)', () => {
    fc.assert(
      fc.property(quantCase, (c) => {
        const v = Float32Array.from({ length: c.n * c.d }, (_, i) => c.values[i % c.values.length]!);
        const min = Float32Array.from(c.mins.slice(0, c.d));
        const scale = Float32Array.from(c.scales.slice(0, c.d));
        const outs = all.map((k) => {
          const out = new Int8Array(c.n * c.d);
          k.quantizeI8(v, c.n, c.d, min, scale, out);
          return out;
        });
        assert.deepEqual(outs[1], outs[0], 'scalar');
        assert.deepEqual(outs[2], outs[0], 'simd');
      }),
      runs,
    );
  });

  it('quantizeI8 known values', () => {
    const v = Float32Array.from([0, 0.5, 1.5, 2.5, -1000, 1000, NaN, 127.5 + 128]);
    const out = new Int8Array(8);
    for (const k of all) {
      k.quantizeI8(v, 1, 8, new Float32Array(8), new Float32Array(8).fill(1), out);
      // (x - 0)/1 - 128, rounded half-even, clamped
      assert.deepEqual([...out], [-128, -128, -126, -126, -128, 127, 0, 127], k.build);
    }
  });

  it('dotI8 and l2I8 are exact in all builds', () => {
    const i8 = fc.integer({ min: -128, max: 127 });
    fc.assert(
      fc.property(dim, fc.integer({ min: 0, max: 12 }), fc.array(i8, { minLength: 3000, maxLength: 3000 }), (d, n, bytes) => {
        const q = Int8Array.from(bytes.slice(0, d));
        const codes = Int8Array.from({ length: n * d }, (_, i) => bytes[(i + 100) % bytes.length]!);
        const expDot = Float32Array.from({ length: n }, (_, i) => q.reduce((s, x, j) => s + x * codes[i * d + j]!, 0));
        const expL2 = Float32Array.from({ length: n }, (_, i) => q.reduce((s, x, j) => s + (x - codes[i * d + j]!) ** 2, 0));
        for (const k of all) {
          const out = new Float32Array(n);
          k.dotI8(q, codes, n, d, out);
          expectArrays(`${k.build} dotI8`, out, expDot);
          k.l2I8(q, codes, n, d, out);
          expectArrays(`${k.build} l2I8`, out, expL2);
        }
      }),
      runs,
    );
  });

  it('scoreI8Ptr equals the array API at odd byte offsets', () => {
    const i8 = fc.integer({ min: -128, max: 127 });
    fc.assert(
      fc.property(dim, fc.integer({ min: 0, max: 12 }), fc.array(i8, { minLength: 2000, maxLength: 2000 }), fc.integer({ min: 0, max: 15 }), (d, n, bytes, skew) => {
        const q = Int8Array.from(bytes.slice(0, d));
        const codes = Int8Array.from({ length: n * d }, (_, i) => bytes[(i + 50) % bytes.length]!);
        for (const metric of ['dot', 'l2'] as const) {
          const expected = new Float32Array(n);
          (metric === 'dot' ? ts.dotI8 : ts.l2I8).call(ts, q, codes, n, d, expected);
          for (const k of all) {
            const a = k.arena;
            const qp = a.alloc(d + 16) + skew;
            const cp = a.alloc(n * d + 16) + ((skew + 5) % 16);
            const op = a.alloc(n * 4 + 4);
            a.i8(qp, d).set(q);
            a.i8(cp, n * d).set(codes);
            k.scoreI8Ptr(metric, qp, cp, n, d, op);
            expectArrays(`${k.build} ${metric}`, a.f32(op, n).slice(), expected);
            for (const p of [op, cp, qp]) a.free(p - (p % 16));
          }
        }
      }),
      runs,
    );
  });

  it('int8 extremes (-128 * -128 over d = 4096) do not overflow', () => {
    const d = 4096;
    const q = new Int8Array(d).fill(-128);
    const codes = new Int8Array(d).fill(-128);
    const codes2 = new Int8Array(d).fill(127);
    for (const k of all) {
      const out = new Float32Array(1);
      k.dotI8(q, codes, 1, d, out);
      assert.equal(out[0], 128 * 128 * d, k.build);
      k.l2I8(q, codes2, 1, d, out);
      assert.equal(out[0], 255 * 255 * d, k.build);
    }
    assert.equal(ts.build, 'typescript');
  });
});
