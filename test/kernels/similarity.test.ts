import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isLargetableError } from '../../src/errors.ts';
import type { Kernels, Metric } from '../../src/kernel/index.ts';
import { all, dim, expectArrays, finite, float, offset, placed, runs, scalar, simd, ts } from './setup.ts';

const metrics: Metric[] = ['dot', 'l2', 'cosine', 'l1'];

/** f64 magnitude of score(q, v) used to scale the tolerance. */
function magnitude(metric: Metric, q: ArrayLike<number>, qo: number, v: ArrayLike<number>, vo: number, d: number): number {
  let m = 0;
  let qq = 0;
  let vv = 0;
  for (let j = 0; j < d; j++) {
    const a = q[qo + j]!;
    const b = v[vo + j]!;
    if (metric === 'dot' || metric === 'cosine') m += Math.abs(a * b);
    else if (metric === 'l2') m += (a - b) * (a - b);
    else m += Math.abs(a - b);
    qq += a * a;
    vv += b * b;
  }
  if (metric === 'cosine') return qq === 0 || vv === 0 ? 0 : (4 * m) / Math.sqrt(qq * vv);
  return m;
}

const blockCase = fc.record({
  d: dim,
  n: fc.integer({ min: 0, max: 24 }),
  q: fc.integer({ min: 1, max: 9 }),
  metric: fc.constantFrom(...metrics),
  seedValues: fc.array(float, { minLength: 4000, maxLength: 4000 }),
  offset,
});

function build(c: { d: number; n: number; q: number; seedValues: number[]; offset: number }) {
  const take = (count: number, from: number) => Array.from({ length: count }, (_, i) => c.seedValues[(from + i) % c.seedValues.length]!);
  const queries = placed(take(c.q * c.d, 0), c.offset);
  const vectors = placed(take(c.n * c.d, 1000), (c.offset + 1) % 4);
  const norms = new Float32Array(c.n);
  ts.norms(vectors, c.n, c.d, norms);
  return { queries, vectors, norms };
}

describe('similarity kernels: SIMD vs scalar vs TypeScript twin', () => {
  it('scoreBlock agrees for every metric (scalar == twin exactly, SIMD within rounding)', () => {
    fc.assert(
      fc.property(blockCase, (c) => {
        const { queries, vectors, norms } = build(c);
        const outs = all.map((k) => {
          const out = new Float32Array(c.n);
          k.scoreBlock(c.metric, queries, vectors, c.n, c.d, out, norms);
          return out;
        });
        expectArrays(`scalar ${c.metric}`, outs[1]!, outs[0]!);
        expectArrays(`simd ${c.metric}`, outs[2]!, outs[0]!, (i) => magnitude(c.metric, queries, 0, vectors, i * c.d, c.d));
      }),
      runs,
    );
  });

  it('scoreBatch equals Q scoreBlock calls', () => {
    fc.assert(
      fc.property(blockCase, (c) => {
        const { queries, vectors, norms } = build(c);
        const expected = new Float32Array(c.q * c.n);
        for (let qi = 0; qi < c.q; qi++) {
          ts.scoreBlock(c.metric, queries.subarray(qi * c.d), vectors, c.n, c.d, expected.subarray(qi * c.n), norms);
        }
        for (const k of all) {
          const out = new Float32Array(c.q * c.n);
          k.scoreBatch(c.metric, queries, c.q, vectors, c.n, c.d, out, norms);
          const exact = k.build !== 'simd';
          expectArrays(`${k.build} batch ${c.metric}`, out, expected, exact ? undefined : (i) => {
            const qi = Math.floor(i / c.n);
            return magnitude(c.metric, queries, qi * c.d, vectors, (i % c.n) * c.d, c.d);
          });
        }
      }),
      runs,
    );
  });

  it('scoreBatch tiles large blocks correctly (n spans several tiles)', () => {
    const d = 200;
    const n = 700;
    const q = 6;
    const rnd = mulberry(7);
    const vectors = Float32Array.from({ length: n * d }, () => rnd() - 0.5);
    const queries = Float32Array.from({ length: q * d }, () => rnd() - 0.5);
    const norms = new Float32Array(n);
    ts.norms(vectors, n, d, norms);
    for (const metric of metrics) {
      const expected = new Float32Array(q * n);
      ts.scoreBatch(metric, queries, q, vectors, n, d, expected, norms);
      for (const k of [scalar, simd]) {
        const out = new Float32Array(q * n);
        k.scoreBatch(metric, queries, q, vectors, n, d, out, norms);
        expectArrays(`${k.build} ${metric}`, out, expected, (i) => magnitude(metric, queries, Math.floor(i / n) * d, vectors, (i % n) * d, d));
      }
    }
  });

  it('array calls larger than the scratch block (> 1 MiB) agree and leave no allocation behind', () => {
    const d = 96;
    const n = 4000; // 1.5 MiB of vectors
    const rnd = mulberry(3);
    const vectors = Float32Array.from({ length: n * d }, () => rnd() - 0.5);
    const query = Float32Array.from({ length: d }, () => rnd() - 0.5);
    const expected = new Float32Array(n);
    ts.scoreBlock('dot', query, vectors, n, d, expected);
    for (const k of [scalar, simd]) {
      const before = k.arena.bytesInUse;
      const out = new Float32Array(n);
      k.scoreBlock('dot', query, vectors, n, d, out);
      expectArrays(k.build, out, expected, (i) => magnitude('dot', query, 0, vectors, i * d, d));
      assert.equal(k.arena.bytesInUse, before);
      const bytes = new Uint8Array(vectors.buffer);
      assert.equal(k.crc32c(bytes), ts.crc32c(bytes));
      assert.equal(k.arena.bytesInUse, before);
    }
  });

  it('norms agree', () => {
    fc.assert(
      fc.property(blockCase, (c) => {
        const { vectors } = build(c);
        const outs = all.map((k) => {
          const out = new Float32Array(c.n);
          k.norms(vectors, c.n, c.d, out);
          return out;
        });
        expectArrays('scalar norms', outs[1]!, outs[0]!);
        expectArrays('simd norms', outs[2]!, outs[0]!, (i) => magnitude('l2', vectors, i * c.d, new Float32Array(vectors.length), 0, c.d));
      }),
      runs,
    );
  });

  it('pointer API: scoreBlockPtr and scoreGatherPtr at unaligned (4-byte) offsets', () => {
    const gatherCase = fc.record({
      d: dim,
      n: fc.integer({ min: 1, max: 30 }),
      metric: fc.constantFrom(...metrics),
      values: fc.array(finite, { minLength: 3000, maxLength: 3000 }),
      ids: fc.array(fc.nat(), { maxLength: 40 }),
      skew: fc.integer({ min: 0, max: 3 }),
    });
    fc.assert(
      fc.property(gatherCase, (c) => {
        const q = Float32Array.from({ length: c.d }, (_, j) => c.values[j % c.values.length]!);
        const v = Float32Array.from({ length: c.n * c.d }, (_, j) => c.values[(j + 7) % c.values.length]!);
        const norms = new Float32Array(c.n);
        ts.norms(v, c.n, c.d, norms);
        const ids = Uint32Array.from(c.ids, (x) => x % c.n);
        const results = all.map((k) => gatherWith(k, c.metric, q, v, norms, ids, c.d, c.n, c.skew));
        const expectedGather = Float32Array.from(ids, (id) => results[0]!.block[id]!);
        for (let r = 0; r < 3; r++) {
          const exact = all[r]!.build !== 'simd';
          const mag = (i: number) => magnitude(c.metric, q, 0, v, ids[i]! * c.d, c.d);
          expectArrays(`${all[r]!.build} gather`, results[r]!.gather, expectedGather, exact ? undefined : mag);
          expectArrays(`${all[r]!.build} blockPtr`, results[r]!.block, results[0]!.block, exact ? undefined : (i) => magnitude(c.metric, q, 0, v, i * c.d, c.d));
        }
      }),
      runs,
    );
  });

  it('scoreGatherPtr refuses an id >= n with INVALID_ARGUMENT in every build', () => {
    for (const k of all) {
      const d = 4;
      const a = k.arena;
      const qp = a.alloc(16);
      const vp = a.alloc(3 * 16);
      const ip = a.alloc(8);
      const op = a.alloc(8);
      a.u32(ip, 2).set([1, 3]);
      assert.throws(() => k.scoreGatherPtr('l2', qp, vp, ip, 2, d, op, 0, 3), (e) => isLargetableError(e, 'INVALID_ARGUMENT'));
      a.u32(ip, 2).set([1, 2]);
      k.scoreGatherPtr('l2', qp, vp, ip, 2, d, op, 0, 3);
      // without n the memory bound still applies
      a.u32(ip, 2).set([1, 0x7fffffff]);
      assert.throws(() => k.scoreGatherPtr('dot', qp, vp, ip, 2, d, op, 0), (e) => isLargetableError(e, 'INVALID_ARGUMENT'));
      for (const p of [op, ip, vp, qp]) a.free(p);
    }
  });

  it('bad shapes are INVALID_ARGUMENT, limits are LIMIT_EXCEEDED, in every build', () => {
    for (const k of all) {
      const out = new Float32Array(4);
      const v = new Float32Array(16);
      const q = new Float32Array(4);
      const bad = (e: unknown) => isLargetableError(e, 'INVALID_ARGUMENT');
      assert.throws(() => k.scoreBlock('dot', q, v, 5, 4, out), bad); // vectors too short
      assert.throws(() => k.scoreBlock('dot', new Float32Array(3), v, 4, 4, out), bad);
      assert.throws(() => k.scoreBlock('cosine', q, v, 4, 4, out), bad); // no norms
      assert.throws(() => k.scoreBlock('hamming' as Metric, q, v, 4, 4, out), bad);
      assert.throws(() => k.scoreBlock('dot', q, v, 4, 0, out), bad);
      assert.throws(() => k.scoreBlock('dot', q, v, -1, 4, out), bad);
      assert.throws(() => k.scoreBlock('dot', q, v, 1.5, 4, out), bad);
      assert.throws(() => k.scoreBlock('dot', q, v, 1, 5000, out), (e) => isLargetableError(e, 'LIMIT_EXCEEDED'));
      assert.throws(() => k.scoreBatch('dot', q, 2, v, 4, 4, out), bad); // queries too short
      assert.throws(() => k.scoreBlockPtr('dot', 3, 16, 1, 4, 32, 0), bad); // below the arena / misaligned
    }
  });
});

function gatherWith(k: Kernels, metric: Metric, q: Float32Array, v: Float32Array, norms: Float32Array, ids: Uint32Array, d: number, n: number, skew: number) {
  const a = k.arena;
  const qp = a.alloc(d * 4 + 16) + skew * 4;
  const vp = a.alloc(n * d * 4 + 16) + ((skew + 1) % 4) * 4;
  const np = a.alloc(n * 4 + 16) + ((skew + 2) % 4) * 4;
  const ip = a.alloc(ids.length * 4 + 16) + ((skew + 3) % 4) * 4;
  const op = a.alloc(Math.max(ids.length, n) * 4 + 16) + skew * 4;
  a.f32(qp, d).set(q);
  a.f32(vp, n * d).set(v);
  a.f32(np, n).set(norms);
  a.u32(ip, ids.length).set(ids);
  k.scoreGatherPtr(metric, qp, vp, ip, ids.length, d, op, np, n);
  const gather = a.f32(op, ids.length).slice();
  k.scoreBlockPtr(metric, qp, vp, n, d, op, np);
  const block = a.f32(op, n).slice();
  for (const p of [op, ip, np, vp, qp]) a.free(p - (p % 16));
  return { gather, block };
}

function mulberry(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
