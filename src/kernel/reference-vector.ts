/**
 * TypeScript twins of the vector-search kernels in assembly/vector.ts (fallback when the wasm
 * build lacks them, and the oracle of test/kernels/vector-kernels.test.ts). Same arguments, same
 * arena layouts (visited stamps are u16), same results. Distances: metric 0 => -dot, 1 => squared L2, 3 => L1.
 */
import type { Arena } from './types.ts';

export interface VectorKernels {
  readonly build: string;
  hnswSearch0(
    metric: number, q: number, vecs: number, d: number,
    links: number, stride: number, visited: number, epoch: number, state: number, allow: number, acceptAll: number,
    ep: number, epDist: number, ef: number, cand: number, candCap: number, res: number, outIds: number, outDist: number, scratch: number,
  ): number;
  distGather(metric: number, q: number, vecs: number, d: number, ids: number, count: number, out: number): void;
}

function fr(x: number): number {
  return Math.fround(x);
}

interface Views {
  f32: Float32Array;
  u32: Uint32Array;
  u16: Uint16Array;
  u8: Uint8Array;
}

function viewsOf(buffer: ArrayBufferLike, cache: { buf?: ArrayBufferLike; v?: Views }): Views {
  if (cache.buf !== buffer || cache.v === undefined) {
    cache.buf = buffer;
    cache.v = { f32: new Float32Array(buffer, 0, buffer.byteLength >>> 2), u32: new Uint32Array(buffer, 0, buffer.byteLength >>> 2), u16: new Uint16Array(buffer, 0, buffer.byteLength >>> 1), u8: new Uint8Array(buffer) };
  }
  return cache.v;
}

function distOf(f32: Float32Array, metric: number, q: number, p: number, d: number): number {
  let s = 0;
  if (metric === 0) {
    for (let j = 0; j < d; j++) s = fr(s + fr(f32[q + j]! * f32[p + j]!));
    return -s;
  }
  if (metric === 1) {
    for (let j = 0; j < d; j++) { const t = fr(f32[q + j]! - f32[p + j]!); s = fr(s + fr(t * t)); }
    return s;
  }
  for (let j = 0; j < d; j++) s = fr(s + Math.abs(fr(f32[q + j]! - f32[p + j]!)));
  return s;
}

/** The twin of assembly/vector.ts over an arena (any Arena whose views share one buffer). */
export function createReferenceVectorKernels(arena: Arena): VectorKernels {
  const cache: { buf?: ArrayBufferLike; v?: Views } = {};
  const views = () => viewsOf(arena.u8(0, 0).buffer, cache);
  return {
    build: 'typescript',
    hnswSearch0(metric, q, vecs, d, links, stride, visited, epoch, state, allow, acceptAll, ep, epDist, ef, cand, candCap, res, outIds, outDist, scratch) {
      const { f32, u32, u16, u8 } = views();
      const qi = q >>> 2, vi = vecs >>> 2, li = links >>> 2, vis = visited >>> 1, ci = cand >>> 2, ri = res >>> 2;
      // heaps: pairs (dist, id) at element offsets base + 2i
      const hd = (b: number, i: number) => f32[b + 2 * i]!;
      const hid = (b: number, i: number) => u32[b + 2 * i + 1]!;
      const hset = (b: number, i: number, dist: number, id: number) => { f32[b + 2 * i] = dist; u32[b + 2 * i + 1] = id; };
      const push = (b: number, size: number, dist: number, id: number, max: boolean) => {
        let i = size;
        while (i > 0) {
          const p = (i - 1) >> 1;
          const pd = hd(b, p);
          if (max ? pd >= dist : pd <= dist) break;
          hset(b, i, pd, hid(b, p));
          i = p;
        }
        hset(b, i, dist, id);
      };
      const pop = (b: number, size: number, max: boolean) => {
        const n = size - 1;
        if (n <= 0) return;
        const dist = hd(b, n), id = hid(b, n);
        let i = 0;
        for (;;) {
          let c = 2 * i + 1;
          if (c >= n) break;
          if (c + 1 < n && (max ? hd(b, c + 1) > hd(b, c) : hd(b, c + 1) < hd(b, c))) c++;
          if (max ? hd(b, c) <= dist : hd(b, c) >= dist) break;
          hset(b, i, hd(b, c), hid(b, c));
          i = c;
        }
        hset(b, i, dist, id);
      };
      const accept = (s: number) => {
        if (acceptAll) return true;
        if (state !== 0 && u8[state + s] !== 0) return false;
        if (allow === 0) return true;
        return (u32[(allow >>> 2) + (s >>> 5)]! & (1 << (s & 31))) !== 0;
      };
      let nc = 0, nr = 0;
      u16[vis + ep] = epoch;
      push(ci, nc++, fr(epDist), ep, false);
      let bound = Infinity;
      if (accept(ep)) { push(ri, nr++, fr(epDist), ep, true); bound = fr(epDist); }
      while (nc > 0) {
        const cd = hd(ci, 0);
        if (cd > bound && nr >= ef) break;
        const c = hid(ci, 0);
        pop(ci, nc--, false);
        const lp = li + c * stride;
        const cnt = u32[lp]!;
        // same order as the wasm: gather unvisited, score them, then update the heaps
        const si = scratch >>> 2, sdi = si + stride;
        let m = 0;
        for (let j = 1; j <= cnt; j++) {
          const nb = u32[lp + j]!;
          if (u16[vis + nb] === epoch) continue;
          u16[vis + nb] = epoch;
          u32[si + m++] = nb;
        }
        for (let i = 0; i < m; i++) f32[sdi + i] = distOf(f32, metric, qi, vi + u32[si + i]! * d, d);
        for (let i = 0; i < m; i++) {
          const nb = u32[si + i]!;
          const dist = f32[sdi + i]!;
          if (nr < ef || dist < bound) {
            if (nc >= candCap) return -1;
            push(ci, nc++, dist, nb, false);
            if (accept(nb)) {
              push(ri, nr++, dist, nb, true);
              if (nr > ef) pop(ri, nr--, true);
              bound = hd(ri, 0);
            }
          }
        }
      }
      const count = nr;
      for (let i = count - 1; i >= 0; i--) {
        u32[(outIds >>> 2) + i] = hid(ri, 0);
        f32[(outDist >>> 2) + i] = hd(ri, 0);
        pop(ri, nr--, true);
      }
      return count;
    },
    distGather(metric, q, vecs, d, ids, count, out) {
      const { f32, u32 } = views();
      for (let j = 0; j < count; j++) f32[(out >>> 2) + j] = distOf(f32, metric, q >>> 2, (vecs >>> 2) + u32[(ids >>> 2) + j]! * d, d);
    },
  };
}
