// Vector-search kernels (HNSW): the whole layer-0 best-first walk of one query runs here, on
// arena-resident data (vectors, links, visited stamps, tombstone states, an optional allow
// bitmap). Numbers-only ABI like kernels.ts; nothing allocates. TS twin:
// src/kernel/reference-vector.ts (hnswSearch0Reference), differential test:
// test/kernels/vector-kernels.test.ts.
//
// Distances (smaller is closer): metric 0 => -dot, 1 => squared L2, 3 => L1. (Cosine is run
// as dot on unit vectors by the caller.)

import { dotOne, l2One } from './lib/score';

// Dot and L2 are the kernels.ts loops (assembly/lib/score.ts); L1 stays scalar in both builds
// here, as its TS twin (src/kernel/reference-vector.ts) sums it.
@inline function distOf(metric: i32, q: usize, p: usize, d: i32): f32 {
  if (metric == 0) return -dotOne(q, p, d);
  if (metric == 1) return l2One(q, p, d);
  let s: f32 = 0;
  for (let j = 0; j < d; j++) {
    const o = <usize>j << 2;
    s += abs<f32>(load<f32>(q + o) - load<f32>(p + o));
  }
  return s;
}

// Heaps of (dist f32, id u32) pairs, 8 bytes per entry.
@inline function hd(h: usize, i: i32): f32 { return load<f32>(h + (<usize>i << 3)); }
@inline function hi(h: usize, i: i32): u32 { return load<u32>(h + (<usize>i << 3), 4); }
@inline function hset(h: usize, i: i32, d: f32, id: u32): void {
  const p = h + (<usize>i << 3);
  store<f32>(p, d);
  store<u32>(p, id, 4);
}

// min-heap push / pop
function minPush(h: usize, size: i32, d: f32, id: u32): void {
  let i = size;
  while (i > 0) {
    const p = (i - 1) >> 1;
    const pd = hd(h, p);
    if (pd <= d) break;
    hset(h, i, pd, hi(h, p));
    i = p;
  }
  hset(h, i, d, id);
}
function minPop(h: usize, size: i32): void {
  const n = size - 1;
  if (n <= 0) return;
  const d = hd(h, n), id = hi(h, n);
  let i = 0;
  while (true) {
    let c = 2 * i + 1;
    if (c >= n) break;
    if (c + 1 < n && hd(h, c + 1) < hd(h, c)) c++;
    if (hd(h, c) >= d) break;
    hset(h, i, hd(h, c), hi(h, c));
    i = c;
  }
  hset(h, i, d, id);
}
function maxPush(h: usize, size: i32, d: f32, id: u32): void {
  let i = size;
  while (i > 0) {
    const p = (i - 1) >> 1;
    const pd = hd(h, p);
    if (pd >= d) break;
    hset(h, i, pd, hi(h, p));
    i = p;
  }
  hset(h, i, d, id);
}
function maxPop(h: usize, size: i32): void {
  const n = size - 1;
  if (n <= 0) return;
  const d = hd(h, n), id = hi(h, n);
  let i = 0;
  while (true) {
    let c = 2 * i + 1;
    if (c >= n) break;
    if (c + 1 < n && hd(h, c + 1) > hd(h, c)) c++;
    if (hd(h, c) <= d) break;
    hset(h, i, hd(h, c), hi(h, c));
    i = c;
  }
  hset(h, i, d, id);
}

@inline function acceptable(s: u32, state: usize, allow: usize, acceptAll: i32): bool {
  if (acceptAll) return true;
  if (state != 0 && load<u8>(state + <usize>s) != 0) return false;
  if (allow == 0) return true;
  return (load<u32>(allow + (<usize>(s >> 5) << 2)) & (<u32>1 << (s & 31))) != 0;
}

/**
 * Best-first search of HNSW layer 0 from `ep` (distance `epDist`). Links: `stride` u32 words per
 * slot, [count, ids...]. Visited stamps: u16 per slot, compared with `epoch` (1..65535). Accepted
 * nodes (acceptAll, or state 0 (state == 0 pointer: no tombstones) and allowed by the slot bitmap `allow` when non-zero) enter the result
 * set of at most `ef`; all nodes are traversed. `cand` holds up to `candCap` pairs, `res` ef+1,
 * `scratch` 2*stride words (the unvisited neighbours of the expanded node and their distances:
 * gathered first, then scored in one tight loop so their memory loads overlap).
 * Writes the results, closest first, to outIds (u32) / outDist (f32); returns their count, or -1
 * when the candidate heap overflowed.
 */
export function hnswSearch0(
  metric: i32, q: usize, vecs: usize, d: i32,
  links: usize, stride: i32, visited: usize, epoch: u32, state: usize, allow: usize, acceptAll: i32,
  ep: u32, epDist: f32, ef: i32, cand: usize, candCap: i32, res: usize, outIds: usize, outDist: usize, scratch: usize,
): i32 {
  if (metric == 0) return walk0(0, q, vecs, d, links, stride, visited, epoch, state, allow, acceptAll, ep, epDist, ef, cand, candCap, res, outIds, outDist, scratch);
  if (metric == 1) return walk0(1, q, vecs, d, links, stride, visited, epoch, state, allow, acceptAll, ep, epDist, ef, cand, candCap, res, outIds, outDist, scratch);
  return walk0(3, q, vecs, d, links, stride, visited, epoch, state, allow, acceptAll, ep, epDist, ef, cand, candCap, res, outIds, outDist, scratch);
}

@inline function walk0(
  metric: i32, q: usize, vecs: usize, d: i32,
  links: usize, stride: i32, visited: usize, epoch: u32, state: usize, allow: usize, acceptAll: i32,
  ep: u32, epDist: f32, ef: i32, cand: usize, candCap: i32, res: usize, outIds: usize, outDist: usize, scratch: usize,
): i32 {
  const rowBytes = <usize>d << 2;
  const sd = scratch + (<usize>stride << 2);
  let nc = 0, nr = 0;
  store<u16>(visited + (<usize>ep << 1), <u16>epoch);
  minPush(cand, nc++, epDist, ep);
  let bound = Infinity as f32;
  if (acceptable(ep, state, allow, acceptAll)) {
    maxPush(res, nr++, epDist, ep);
    bound = epDist;
  }
  while (nc > 0) {
    const cd = hd(cand, 0);
    if (cd > bound && nr >= ef) break;
    const c = hi(cand, 0);
    minPop(cand, nc--);
    const lp = links + ((<usize>c * <usize>stride) << 2);
    const cnt = <i32>load<u32>(lp);
    let m = 0;
    for (let j = 1; j <= cnt; j++) {
      const nb = load<u32>(lp + (<usize>j << 2));
      const vp = visited + (<usize>nb << 1);
      if (<u32>load<u16>(vp) == epoch) continue;
      store<u16>(vp, <u16>epoch);
      store<u32>(scratch + (<usize>m << 2), nb);
      m++;
    }
    for (let i = 0; i < m; i++) {
      const nb = load<u32>(scratch + (<usize>i << 2));
      store<f32>(sd + (<usize>i << 2), distOf(metric, q, vecs + <usize>nb * rowBytes, d));
    }
    for (let i = 0; i < m; i++) {
      const dist = load<f32>(sd + (<usize>i << 2));
      if (nr < ef || dist < bound) {
        const nb = load<u32>(scratch + (<usize>i << 2));
        if (nc >= candCap) return -1;
        minPush(cand, nc++, dist, nb);
        if (acceptable(nb, state, allow, acceptAll)) {
          maxPush(res, nr++, dist, nb);
          if (nr > ef) maxPop(res, nr--);
          bound = hd(res, 0);
        }
      }
    }
  }
  const count = nr;
  for (let i = count - 1; i >= 0; i--) {
    store<u32>(outIds + (<usize>i << 2), hi(res, 0));
    store<f32>(outDist + (<usize>i << 2), hd(res, 0));
    maxPop(res, nr--);
  }
  return count;
}

/** Distances from the vector at `q` to the vectors `ids[0..count)` (one call per neighbour list). */
export function distGather(metric: i32, q: usize, vecs: usize, d: i32, ids: usize, count: i32, out: usize): void {
  const rowBytes = <usize>d << 2;
  for (let j = 0; j < count; j++) {
    const id = load<u32>(ids + (<usize>j << 2));
    store<f32>(out + (<usize>j << 2), distOf(metric, q, vecs + <usize>id * rowBytes, d));
  }
}
