/**
 * Differential test of the vector-search kernels: the wasm builds (SIMD and scalar) of
 * assembly/vector.ts against the TypeScript twin (src/kernel/reference-vector.ts) on random
 * graphs, vectors, filters and tombstones.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { loadPlatformKernels } from '../../platform/node/kernels.ts';
import { createReferenceVectorKernels, type VectorKernels } from '../../src/kernel/reference-vector.ts';
import type { Arena } from '../../src/kernel/types.ts';
import { vectorKernels } from '../../src/vector/kernels.ts';

interface Setup { n: number; d: number; stride: number; metric: number; seed: number; ef: number; filter: boolean; tomb: number }

function run(arena: Arena, vk: VectorKernels, s: Setup) {
  let x = s.seed >>> 0 || 1;
  const rnd = () => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x / 4294967296; };
  const { n, d, stride } = s;
  const vecs = arena.alloc(n * d * 4), q = arena.alloc(d * 4), links = arena.alloc(n * stride * 4), visited = arena.alloc(n * 4);
  const state = arena.alloc(n), allow = arena.alloc(Math.ceil(n / 32) * 4), cand = arena.alloc(n * 8), res = arena.alloc((s.ef + 2) * 8);
  const outIds = arena.alloc((s.ef + 2) * 4), outDist = arena.alloc((s.ef + 2) * 4), ids = arena.alloc(n * 4), gout = arena.alloc(n * 4);
  const scratch = arena.alloc(stride * 8);
  const v = arena.f32(vecs, n * d);
  for (let i = 0; i < n * d; i++) v[i] = Math.round((rnd() * 2 - 1) * 64) / 16; // exact in f32: sums are order-independent
  const qv = arena.f32(q, d);
  for (let i = 0; i < d; i++) qv[i] = Math.round((rnd() * 2 - 1) * 64) / 16;
  const l = arena.u32(links, n * stride);
  for (let i = 0; i < n; i++) {
    const cnt = Math.floor(rnd() * stride);
    l[i * stride] = cnt;
    for (let j = 1; j <= cnt; j++) l[i * stride + j] = Math.floor(rnd() * n);
  }
  arena.u8(visited, n * 4).fill(0);
  const st = arena.u8(state, n);
  for (let i = 0; i < n; i++) st[i] = rnd() < s.tomb ? 1 : 0;
  const al = arena.u32(allow, Math.ceil(n / 32));
  for (let i = 0; i < al.length; i++) al[i] = (rnd() * 4294967296) >>> 0;
  const count = vk.hnswSearch0(s.metric, q, vecs, d, links, stride, visited, 7, s.tomb > 0 || s.filter ? state : 0, s.filter ? allow : 0, 0, 0, 0, s.ef, cand, n, res, outIds, outDist, scratch);
  const gid = arena.u32(ids, n);
  for (let i = 0; i < n; i++) gid[i] = (i * 7) % n;
  vk.distGather(s.metric, q, vecs, d, ids, n, gout);
  const out = { count, ids: Array.from(arena.u32(outIds, Math.max(0, count))), dist: Array.from(arena.f32(outDist, Math.max(0, count))), gather: Array.from(arena.f32(gout, n)) };
  for (const p of [vecs, q, links, visited, state, allow, cand, res, outIds, outDist, ids, gout, scratch]) arena.free(p);
  return out;
}

describe('vector kernels: wasm vs TypeScript twin', () => {
  for (const forceScalar of [false, true]) {
    it(`hnswSearch0 and distGather agree (${forceScalar ? 'scalar' : 'simd'} build)`, async () => {
      const k = await loadPlatformKernels({ install: false, forceScalar });
      const wasm = vectorKernels(k);
      assert.notEqual(wasm.build, 'typescript', 'the wasm build exports the vector kernels');
      const twin = createReferenceVectorKernels(k.arena);
      fc.assert(
        fc.property(
          fc.record({
            n: fc.integer({ min: 1, max: 300 }), d: fc.integer({ min: 1, max: 40 }), stride: fc.integer({ min: 2, max: 17 }),
            metric: fc.constantFrom(0, 1, 3), seed: fc.integer(), ef: fc.integer({ min: 1, max: 64 }), filter: fc.boolean(), tomb: fc.constantFrom(0, 0.3),
          }),
          (s) => {
            // the entry point (slot 0) gets its distance from distGather of the twin
            const a = run(k.arena, wasm, s), b = run(k.arena, twin, s);
            assert.deepEqual(a.gather, b.gather);
            assert.equal(a.count, b.count);
            assert.deepEqual(a.dist, b.dist);
            assert.deepEqual(new Set(a.ids), new Set(b.ids));
          },
        ),
        { numRuns: 150, seed: 42 },
      );
    });
  }
});
