// Largetable kernels. One source, two builds: `if (ASC_FEATURE_SIMD)` is a compile-time
// constant, so the scalar build (no `--enable simd`) keeps only the scalar loops.
//
// ABI: numbers only. Pointers are byte offsets into this module's linear memory; the host
// (src/kernel/arena.ts) owns every byte above `heapBase()`. Nothing here allocates.
// Metric codes: 0 dot, 1 l2 (squared), 2 cosine (stored norms), 3 l1.
// Status: >= 0 success (a count or a byte length), < 0 error.

export const SIMD: bool = ASC_FEATURE_SIMD;

/** First byte the host may use. */
export function heapBase(): usize {
  return (__heap_base + 15) & ~(<usize>15);
}

import { dotOne, hsum, l1One, l2One } from './lib/score';

@inline function cosOf(dot: f32, qn: f32, vn: f32): f32 {
  return qn == 0 || vn == 0 ? <f32>0 : dot / (qn * vn);
}

// ---------------------------------------------------------------- block scoring

/** out[i] = score(q, v + i*d) for i < n. Returns 0, or -1 for an unknown metric. */
export function scoreBlock(metric: i32, q: usize, v: usize, n: i32, d: i32, out: usize, norms: usize): i32 {
  const stride = <usize>d << 2;
  if (metric == 0) {
    for (let i = 0; i < n; i++) store<f32>(out + (<usize>i << 2), dotOne(q, v + <usize>i * stride, d));
  } else if (metric == 1) {
    for (let i = 0; i < n; i++) store<f32>(out + (<usize>i << 2), l2One(q, v + <usize>i * stride, d));
  } else if (metric == 2) {
    const qn = Mathf.sqrt(dotOne(q, q, d));
    for (let i = 0; i < n; i++) {
      const o = <usize>i << 2;
      store<f32>(out + o, cosOf(dotOne(q, v + <usize>i * stride, d), qn, load<f32>(norms + o)));
    }
  } else if (metric == 3) {
    for (let i = 0; i < n; i++) store<f32>(out + (<usize>i << 2), l1One(q, v + <usize>i * stride, d));
  } else return -1;
  return 0;
}


// Two vectors against one query, interleaved: the loads of both vectors are in flight together,
// which hides DRAM latency when ids are random (HNSW neighbour lists).
@inline function pair(metric: i32, q: usize, p0: usize, p1: usize, d: i32, out: usize): void {
  let j = 0;
  let s0: f32 = 0, s1: f32 = 0;
  if (ASC_FEATURE_SIMD) {
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), b0 = f32x4.splat(0), b1 = f32x4.splat(0);
    for (; j + 8 <= d; j += 8) {
      const o = <usize>j << 2;
      const x0 = v128.load(q + o), x1 = v128.load(q + o, 16);
      if (metric == 0) {
        a0 = f32x4.add(a0, f32x4.mul(x0, v128.load(p0 + o)));
        b0 = f32x4.add(b0, f32x4.mul(x0, v128.load(p1 + o)));
        a1 = f32x4.add(a1, f32x4.mul(x1, v128.load(p0 + o, 16)));
        b1 = f32x4.add(b1, f32x4.mul(x1, v128.load(p1 + o, 16)));
      } else {
        const t0 = f32x4.sub(x0, v128.load(p0 + o)), u0 = f32x4.sub(x0, v128.load(p1 + o));
        const t1 = f32x4.sub(x1, v128.load(p0 + o, 16)), u1 = f32x4.sub(x1, v128.load(p1 + o, 16));
        a0 = f32x4.add(a0, f32x4.mul(t0, t0));
        b0 = f32x4.add(b0, f32x4.mul(u0, u0));
        a1 = f32x4.add(a1, f32x4.mul(t1, t1));
        b1 = f32x4.add(b1, f32x4.mul(u1, u1));
      }
    }
    s0 = hsum(f32x4.add(a0, a1));
    s1 = hsum(f32x4.add(b0, b1));
  }
  for (; j < d; j++) {
    const o = <usize>j << 2;
    const x = load<f32>(q + o);
    if (metric == 0) {
      s0 += x * load<f32>(p0 + o);
      s1 += x * load<f32>(p1 + o);
    } else {
      const t = x - load<f32>(p0 + o), u = x - load<f32>(p1 + o);
      s0 += t * t;
      s1 += u * u;
    }
  }
  store<f32>(out, s0);
  store<f32>(out, s1, 4);
}

/**
 * out[j] = score(q, v + ids[j]*d) for j < count. Returns 0, -1 for an unknown metric, -2 when
 * an id is >= limit (nothing is read for that id; earlier outputs are written).
 */
export function scoreGather(metric: i32, q: usize, v: usize, ids: usize, count: i32, d: i32, out: usize, norms: usize, limit: u32): i32 {
  const stride = <usize>d << 2;
  if (metric < 0 || metric > 3) return -1;
  const qn = metric == 2 ? Mathf.sqrt(dotOne(q, q, d)) : <f32>0;
  // one loop per metric: the hot loop has no metric branch
  if (ASC_FEATURE_SIMD && (metric == 0 || metric == 1)) {
    let j = 0;
    for (; j + 2 <= count; j += 2) {
      const i0 = load<u32>(ids + (<usize>j << 2));
      const i1 = load<u32>(ids + (<usize>j << 2), 4);
      if (i0 >= limit || i1 >= limit) return -2;
      const o = out + (<usize>j << 2);
      if (metric == 0) pair(0, q, v + <usize>i0 * stride, v + <usize>i1 * stride, d, o);
      else pair(1, q, v + <usize>i0 * stride, v + <usize>i1 * stride, d, o);
    }
    if (j < count) {
      const id = load<u32>(ids + (<usize>j << 2));
      if (id >= limit) return -2;
      const p = v + <usize>id * stride;
      store<f32>(out + (<usize>j << 2), metric == 0 ? dotOne(q, p, d) : l2One(q, p, d));
    }
  } else if (metric == 0) {
    for (let j = 0; j < count; j++) {
      const id = load<u32>(ids + (<usize>j << 2));
      if (id >= limit) return -2;
      store<f32>(out + (<usize>j << 2), dotOne(q, v + <usize>id * stride, d));
    }
  } else if (metric == 1) {
    for (let j = 0; j < count; j++) {
      const id = load<u32>(ids + (<usize>j << 2));
      if (id >= limit) return -2;
      store<f32>(out + (<usize>j << 2), l2One(q, v + <usize>id * stride, d));
    }
  } else if (metric == 2) {
    for (let j = 0; j < count; j++) {
      const id = load<u32>(ids + (<usize>j << 2));
      if (id >= limit) return -2;
      store<f32>(out + (<usize>j << 2), cosOf(dotOne(q, v + <usize>id * stride, d), qn, load<f32>(norms + (<usize>id << 2))));
    }
  } else {
    for (let j = 0; j < count; j++) {
      const id = load<u32>(ids + (<usize>j << 2));
      if (id >= limit) return -2;
      store<f32>(out + (<usize>j << 2), l1One(q, v + <usize>id * stride, d));
    }
  }
  return 0;
}

// Four queries against one vector: each vector load is shared by the four queries.
@inline function dot4(q0: usize, q1: usize, q2: usize, q3: usize, p: usize, d: i32, out: usize, ostride: usize): void {
  let j = 0;
  let s0: f32 = 0, s1: f32 = 0, s2: f32 = 0, s3: f32 = 0;
  if (ASC_FEATURE_SIMD) {
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    for (; j + 4 <= d; j += 4) {
      const o = <usize>j << 2;
      const x = v128.load(p + o);
      a0 = f32x4.add(a0, f32x4.mul(v128.load(q0 + o), x));
      a1 = f32x4.add(a1, f32x4.mul(v128.load(q1 + o), x));
      a2 = f32x4.add(a2, f32x4.mul(v128.load(q2 + o), x));
      a3 = f32x4.add(a3, f32x4.mul(v128.load(q3 + o), x));
    }
    s0 = hsum(a0); s1 = hsum(a1); s2 = hsum(a2); s3 = hsum(a3);
  }
  for (; j < d; j++) {
    const o = <usize>j << 2;
    const x = load<f32>(p + o);
    s0 += load<f32>(q0 + o) * x;
    s1 += load<f32>(q1 + o) * x;
    s2 += load<f32>(q2 + o) * x;
    s3 += load<f32>(q3 + o) * x;
  }
  store<f32>(out, s0);
  store<f32>(out + ostride, s1);
  store<f32>(out + 2 * ostride, s2);
  store<f32>(out + 3 * ostride, s3);
}

@inline function l24(q0: usize, q1: usize, q2: usize, q3: usize, p: usize, d: i32, out: usize, ostride: usize): void {
  let j = 0;
  let s0: f32 = 0, s1: f32 = 0, s2: f32 = 0, s3: f32 = 0;
  if (ASC_FEATURE_SIMD) {
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    for (; j + 4 <= d; j += 4) {
      const o = <usize>j << 2;
      const x = v128.load(p + o);
      const t0 = f32x4.sub(v128.load(q0 + o), x);
      const t1 = f32x4.sub(v128.load(q1 + o), x);
      const t2 = f32x4.sub(v128.load(q2 + o), x);
      const t3 = f32x4.sub(v128.load(q3 + o), x);
      a0 = f32x4.add(a0, f32x4.mul(t0, t0));
      a1 = f32x4.add(a1, f32x4.mul(t1, t1));
      a2 = f32x4.add(a2, f32x4.mul(t2, t2));
      a3 = f32x4.add(a3, f32x4.mul(t3, t3));
    }
    s0 = hsum(a0); s1 = hsum(a1); s2 = hsum(a2); s3 = hsum(a3);
  }
  for (; j < d; j++) {
    const o = <usize>j << 2;
    const x = load<f32>(p + o);
    const t0 = load<f32>(q0 + o) - x, t1 = load<f32>(q1 + o) - x;
    const t2 = load<f32>(q2 + o) - x, t3 = load<f32>(q3 + o) - x;
    s0 += t0 * t0; s1 += t1 * t1; s2 += t2 * t2; s3 += t3 * t3;
  }
  store<f32>(out, s0);
  store<f32>(out + ostride, s1);
  store<f32>(out + 2 * ostride, s2);
  store<f32>(out + 3 * ostride, s3);
}

/** Bytes of vectors scored per tile by scoreBatch: small enough to stay in L2 across queries. */
const BATCH_TILE_BYTES: i32 = 96 * 1024;

/**
 * out[qi*n + i] = score(qs + qi*d, v + i*d). Vectors are walked in tiles that stay in cache
 * while every query scores them, and dot/l2 score four queries per vector load.
 */
export function scoreBatch(metric: i32, qs: usize, nq: i32, v: usize, n: i32, d: i32, out: usize, norms: usize): i32 {
  if (metric < 0 || metric > 3) return -1;
  const stride = <usize>d << 2;
  const ostride = <usize>n << 2;
  let tile = BATCH_TILE_BYTES / (d << 2);
  if (tile < 1) tile = 1;
  for (let t0 = 0; t0 < n; t0 += tile) {
    const t1 = min(n, t0 + tile);
    let qi = 0;
    if (metric == 0 || metric == 1) {
      for (; qi + 4 <= nq; qi += 4) {
        const q0 = qs + <usize>qi * stride;
        const q1 = q0 + stride, q2 = q1 + stride, q3 = q2 + stride;
        const orow = out + <usize>qi * ostride;
        for (let i = t0; i < t1; i++) {
          const p = v + <usize>i * stride;
          if (metric == 0) dot4(q0, q1, q2, q3, p, d, orow + (<usize>i << 2), ostride);
          else l24(q0, q1, q2, q3, p, d, orow + (<usize>i << 2), ostride);
        }
      }
    }
    for (; qi < nq; qi++) {
      const q = qs + <usize>qi * stride;
      const orow = out + <usize>qi * ostride;
      if (metric == 0) {
        for (let i = t0; i < t1; i++) store<f32>(orow + (<usize>i << 2), dotOne(q, v + <usize>i * stride, d));
      } else if (metric == 1) {
        for (let i = t0; i < t1; i++) store<f32>(orow + (<usize>i << 2), l2One(q, v + <usize>i * stride, d));
      } else if (metric == 2) {
        const qn = Mathf.sqrt(dotOne(q, q, d));
        for (let i = t0; i < t1; i++) {
          const o = <usize>i << 2;
          store<f32>(orow + o, cosOf(dotOne(q, v + <usize>i * stride, d), qn, load<f32>(norms + o)));
        }
      } else {
        for (let i = t0; i < t1; i++) store<f32>(orow + (<usize>i << 2), l1One(q, v + <usize>i * stride, d));
      }
    }
  }
  return 0;
}

/** out[i] = sqrt(sum(v[i]^2)). */
export function norms(v: usize, n: i32, d: i32, out: usize): void {
  const stride = <usize>d << 2;
  for (let i = 0; i < n; i++) {
    const p = v + <usize>i * stride;
    store<f32>(out + (<usize>i << 2), Mathf.sqrt(dotOne(p, p, d)));
  }
}

/** Sum of n floats read as fast as possible: the memory-bandwidth probe used by the benchmark. */
export function sumF32(p: usize, n: i32): f32 {
  let j = 0;
  let s: f32 = 0;
  if (ASC_FEATURE_SIMD) {
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    let a4 = f32x4.splat(0), a5 = f32x4.splat(0), a6 = f32x4.splat(0), a7 = f32x4.splat(0);
    for (; j + 32 <= n; j += 32) {
      const o = p + (<usize>j << 2);
      a0 = f32x4.add(a0, v128.load(o));
      a1 = f32x4.add(a1, v128.load(o, 16));
      a2 = f32x4.add(a2, v128.load(o, 32));
      a3 = f32x4.add(a3, v128.load(o, 48));
      a4 = f32x4.add(a4, v128.load(o, 64));
      a5 = f32x4.add(a5, v128.load(o, 80));
      a6 = f32x4.add(a6, v128.load(o, 96));
      a7 = f32x4.add(a7, v128.load(o, 112));
    }
    for (; j + 4 <= n; j += 4) a0 = f32x4.add(a0, v128.load(p + (<usize>j << 2)));
    a0 = f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3));
    a4 = f32x4.add(f32x4.add(a4, a5), f32x4.add(a6, a7));
    s = hsum(f32x4.add(a0, a4));
  }
  for (; j < n; j++) s += load<f32>(p + (<usize>j << 2));
  return s;
}

// ---------------------------------------------------------------- top-k

// (score, index) pairs; a is better than b when its score is strictly better, or equal with a
// lower index. The heap keeps the k best seen; its root is the worst of them.
@inline function better(sa: f32, ia: u32, sb: f32, ib: u32, higher: bool): bool {
  if (sa == sb) return ia < ib;
  return higher ? sa > sb : sa < sb;
}

function siftDown(hs: usize, hi: usize, start: i32, size: i32, higher: bool): void {
  let i = start;
  const s = load<f32>(hs + (<usize>i << 2));
  const x = load<u32>(hi + (<usize>i << 2));
  while (true) {
    const l = 2 * i + 1;
    if (l >= size) break;
    let c = l;
    let cs = load<f32>(hs + (<usize>l << 2));
    let ci = load<u32>(hi + (<usize>l << 2));
    const r = l + 1;
    if (r < size) {
      const rs = load<f32>(hs + (<usize>r << 2));
      const ri = load<u32>(hi + (<usize>r << 2));
      // the worse child goes up (root = worst)
      if (better(cs, ci, rs, ri, higher)) { c = r; cs = rs; ci = ri; }
    }
    if (!better(s, x, cs, ci, higher)) break;
    store<f32>(hs + (<usize>i << 2), cs);
    store<u32>(hi + (<usize>i << 2), ci);
    i = c;
  }
  store<f32>(hs + (<usize>i << 2), s);
  store<u32>(hi + (<usize>i << 2), x);
}

function siftUp(hs: usize, hi: usize, pos: i32, higher: bool): void {
  let i = pos;
  const s = load<f32>(hs + (<usize>i << 2));
  const x = load<u32>(hi + (<usize>i << 2));
  while (i > 0) {
    const p = (i - 1) >> 1;
    const ps = load<f32>(hs + (<usize>p << 2));
    const pi = load<u32>(hi + (<usize>p << 2));
    if (!better(ps, pi, s, x, higher)) break; // parent must be worse than child
    store<f32>(hs + (<usize>i << 2), ps);
    store<u32>(hi + (<usize>i << 2), pi);
    i = p;
  }
  store<f32>(hs + (<usize>i << 2), s);
  store<u32>(hi + (<usize>i << 2), x);
}

/**
 * Best k of n scores into outIdx/outScores, best first. NaN scores are skipped. Returns the
 * number written: min(k, number of non-NaN scores).
 */
export function topK(scores: usize, n: i32, k: i32, higher: bool, outIdx: usize, outScores: usize): i32 {
  if (k <= 0) return 0;
  let size = 0;
  let i = 0;
  // fill phase
  for (; i < n && size < k; i++) {
    const s = load<f32>(scores + (<usize>i << 2));
    if (s != s) continue;
    store<f32>(outScores + (<usize>size << 2), s);
    store<u32>(outIdx + (<usize>size << 2), <u32>i);
    siftUp(outScores, outIdx, size, higher);
    size++;
  }
  let worst = load<f32>(outScores);
  if (ASC_FEATURE_SIMD) {
    for (; i + 4 <= n; i += 4) {
      const x = v128.load(scores + (<usize>i << 2));
      const t = f32x4.splat(worst);
      const m = higher ? f32x4.gt(x, t) : f32x4.lt(x, t);
      if (!v128.any_true(m)) continue;
      for (let j = i; j < i + 4; j++) {
        const s = load<f32>(scores + (<usize>j << 2));
        if (higher ? s > worst : s < worst) {
          store<f32>(outScores, s);
          store<u32>(outIdx, <u32>j);
          siftDown(outScores, outIdx, 0, size, higher);
          worst = load<f32>(outScores);
        }
      }
    }
  }
  for (; i < n; i++) {
    const s = load<f32>(scores + (<usize>i << 2));
    // strict: an equal score at a later index never beats the root; NaN compares false
    if (higher ? s > worst : s < worst) {
      store<f32>(outScores, s);
      store<u32>(outIdx, <u32>i);
      siftDown(outScores, outIdx, 0, size, higher);
      worst = load<f32>(outScores);
    }
  }
  // heap sort: repeatedly move the worst to the end -> best first
  for (let end = size - 1; end > 0; end--) {
    const s0 = load<f32>(outScores), i0 = load<u32>(outIdx);
    store<f32>(outScores, load<f32>(outScores + (<usize>end << 2)));
    store<u32>(outIdx, load<u32>(outIdx + (<usize>end << 2)));
    store<f32>(outScores + (<usize>end << 2), s0);
    store<u32>(outIdx + (<usize>end << 2), i0);
    siftDown(outScores, outIdx, 0, end, higher);
  }
  return size;
}

// ---------------------------------------------------------------- int8 quantization

/** out[i*d+j] = sat_i8(nearest((v - min[j]) / scale[j] - 128)); NaN -> 0. */
export function quantizeI8(v: usize, n: i32, d: i32, mn: usize, sc: usize, out: usize): void {
  for (let i = 0; i < n; i++) {
    const row = v + ((<usize>i * <usize>d) << 2);
    const orow = out + <usize>i * <usize>d;
    let j = 0;
    if (ASC_FEATURE_SIMD) {
      const off = f32x4.splat(128);
      const lo = f32x4.splat(-128);
      const hi = f32x4.splat(127);
      for (; j + 4 <= d; j += 4) {
        const o = <usize>j << 2;
        let x = f32x4.sub(f32x4.div(f32x4.sub(v128.load(row + o), v128.load(mn + o)), v128.load(sc + o)), off);
        x = f32x4.nearest(x);
        x = f32x4.min(f32x4.max(x, lo), hi);
        const w = i32x4.trunc_sat_f32x4_s(x);
        const h = i16x8.narrow_i32x4_s(w, w);
        const b = i8x16.narrow_i16x8_s(h, h);
        v128.store32_lane(orow + <usize>j, b, 0);
      }
    }
    for (; j < d; j++) {
      const o = <usize>j << 2;
      let x = (load<f32>(row + o) - load<f32>(mn + o)) / load<f32>(sc + o) - <f32>128;
      x = nearest<f32>(x);
      x = Mathf.min(Mathf.max(x, -128), 127);
      store<i8>(orow + <usize>j, x != x ? <i8>0 : <i8><i32>x);
    }
  }
}

/** out[i] = f32(sum(q[j] * codes[i*d+j])) over int8 codes. */
export function dotI8(q: usize, codes: usize, n: i32, d: i32, out: usize): void {
  for (let i = 0; i < n; i++) {
    const p = codes + <usize>i * <usize>d;
    let j = 0;
    let s: i32 = 0;
    if (ASC_FEATURE_SIMD) {
      let acc = i32x4.splat(0);
      for (; j + 16 <= d; j += 16) {
        const a = v128.load(q + <usize>j), b = v128.load(p + <usize>j);
        acc = i32x4.add(acc, i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(a), i16x8.extend_low_i8x16_s(b)));
        acc = i32x4.add(acc, i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(a), i16x8.extend_high_i8x16_s(b)));
      }
      for (; j + 8 <= d; j += 8) {
        acc = i32x4.add(acc, i32x4.dot_i16x8_s(v128.load8x8_s(q + <usize>j), v128.load8x8_s(p + <usize>j)));
      }
      s = i32x4.extract_lane(acc, 0) + i32x4.extract_lane(acc, 1) + i32x4.extract_lane(acc, 2) + i32x4.extract_lane(acc, 3);
    }
    for (; j < d; j++) s += <i32>load<i8>(q + <usize>j) * <i32>load<i8>(p + <usize>j);
    store<f32>(out + (<usize>i << 2), <f32>s);
  }
}

/** out[i] = f32(sum((q[j] - codes[i*d+j])^2)) over int8 codes. */
export function l2I8(q: usize, codes: usize, n: i32, d: i32, out: usize): void {
  for (let i = 0; i < n; i++) {
    const p = codes + <usize>i * <usize>d;
    let j = 0;
    let s: i32 = 0;
    if (ASC_FEATURE_SIMD) {
      let acc = i32x4.splat(0);
      for (; j + 16 <= d; j += 16) {
        const a = v128.load(q + <usize>j), b = v128.load(p + <usize>j);
        const lo = i16x8.sub(i16x8.extend_low_i8x16_s(a), i16x8.extend_low_i8x16_s(b));
        const hi = i16x8.sub(i16x8.extend_high_i8x16_s(a), i16x8.extend_high_i8x16_s(b));
        acc = i32x4.add(acc, i32x4.dot_i16x8_s(lo, lo));
        acc = i32x4.add(acc, i32x4.dot_i16x8_s(hi, hi));
      }
      for (; j + 8 <= d; j += 8) {
        const t = i16x8.sub(v128.load8x8_s(q + <usize>j), v128.load8x8_s(p + <usize>j));
        acc = i32x4.add(acc, i32x4.dot_i16x8_s(t, t));
      }
      s = i32x4.extract_lane(acc, 0) + i32x4.extract_lane(acc, 1) + i32x4.extract_lane(acc, 2) + i32x4.extract_lane(acc, 3);
    }
    for (; j < d; j++) {
      const t = <i32>load<i8>(q + <usize>j) - <i32>load<i8>(p + <usize>j);
      s += t * t;
    }
    store<f32>(out + (<usize>i << 2), <f32>s);
  }
}

// ---------------------------------------------------------------- crc32c

// Slicing-by-16 tables: CRC_T + k*1024 is table k.
const CRC_T: usize = memory.data(16 * 256 * 4, 16);

function crcInit(): void {
  for (let i: u32 = 0; i < 256; i++) {
    let c = i;
    for (let b = 0; b < 8; b++) c = (c & 1) ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    store<u32>(CRC_T + (<usize>i << 2), c);
  }
  for (let i: u32 = 0; i < 256; i++) {
    let c = load<u32>(CRC_T + (<usize>i << 2));
    for (let k: usize = 1; k < 16; k++) {
      c = (c >>> 8) ^ load<u32>(CRC_T + ((<usize>(c & 0xff)) << 2));
      store<u32>(CRC_T + (k << 10) + (<usize>i << 2), c);
    }
  }
}
crcInit();

@inline function tab(k: usize, i: u32): u32 {
  return load<u32>(CRC_T + (k << 10) + (<usize>i << 2));
}

/** Table k's entry for the byte at p. */
@inline function tabAt(k: usize, p: usize): u32 {
  return load<u32>(CRC_T + (k << 10) + (<usize>load<u8>(p) << 2));
}

/** The part of a 16-byte step at q that does not depend on the running crc: bytes 4..15 (read one by one). */
@inline function crcRest(q: usize): u32 {
  return tabAt(11, q + 4) ^ tabAt(10, q + 5) ^ tabAt(9, q + 6) ^ tabAt(8, q + 7) ^
    tabAt(7, q + 8) ^ tabAt(6, q + 9) ^ tabAt(5, q + 10) ^ tabAt(4, q + 11) ^
    tabAt(3, q + 12) ^ tabAt(2, q + 13) ^ tabAt(1, q + 14) ^ tabAt(0, q + 15);
}

/** The part of a 16-byte step that depends on the running crc: its first word xor the crc. */
@inline function crcHead(a: u32): u32 {
  return tab(15, a & 0xff) ^ tab(14, (a >>> 8) & 0xff) ^ tab(13, (a >>> 16) & 0xff) ^ tab(12, a >>> 24);
}

/**
 * CRC-32C of [p, p+len), continuing from a previous finished crc (0 to start). Slicing-by-16, two
 * steps of 16 bytes per iteration, each step's 12 lookups that do not depend on the crc computed
 * ahead of the 4 that do (bytes loaded one by one: no shift and mask per lookup): 8 KiB in ~2.3 µs
 * on the bench VM, where one step per iteration on words took ~3.7 µs.
 */
export function crc32c(p: usize, len: i32, crc: u32): u32 {
  let c = ~crc;
  let i = 0;
  for (; i + 32 <= len; i += 32) {
    const q = p + <usize>i;
    const x0 = crcRest(q);
    const x1 = crcRest(q + 16);
    c = x0 ^ crcHead(load<u32>(q) ^ c);
    c = x1 ^ crcHead(load<u32>(q, 16) ^ c);
  }
  for (; i + 16 <= len; i += 16) {
    const q = p + <usize>i;
    c = crcRest(q) ^ crcHead(load<u32>(q) ^ c);
  }
  for (; i < len; i++) c = (c >>> 8) ^ tab(0, (c ^ <u32>load<u8>(p + <usize>i)) & 0xff);
  return ~c;
}

// ---------------------------------------------------------------- blockSum
//
// The checksum of a segment block (format version 2, docs/FORMAT.md "Segment file"): XXH32's
// round (a = rotl(a + w * P2, 13) * P1) on 32 lanes, word w of each 128-byte stripe into lane w,
// so that the SIMD build runs 8 independent v128 chains (a multiply's latency hidden) where a
// table-driven CRC-32C loads a table entry per byte: 8 KiB in ~0.65 µs vs ~2.35 µs. The lanes are
// folded in order, the tail (under 128 bytes) word by word then byte by byte, then XXH32's
// avalanche. The scalar build and the TypeScript twin compute the same lanes one word at a time.

const P1: u32 = 0x9e3779b1;
const P2: u32 = 0x85ebca77;
const P3: u32 = 0xc2b2ae3d;
const P4: u32 = 0x27d4eb2f;
const P5: u32 = 0x165667b1;
/** The 32 lane accumulators (the scalar build's state; the SIMD build's after its loop). */
const SUM_ACC: usize = memory.data(32 * 4, 16);

/** Checksum of [p, p+len) (see above). */
export function blockSum(p: usize, len: i32): u32 {
  let h: u32 = <u32>len * P5;
  let i = 0;
  if (len >= 128) {
    if (ASC_FEATURE_SIMD) {
      const b = i32x4(<i32>(P1 + P2), <i32>P2, 0, <i32>(0 - P1));
      let a0 = i32x4.add(b, i32x4.splat(0));
      let a1 = i32x4.add(b, i32x4.splat(1));
      let a2 = i32x4.add(b, i32x4.splat(2));
      let a3 = i32x4.add(b, i32x4.splat(3));
      let a4 = i32x4.add(b, i32x4.splat(4));
      let a5 = i32x4.add(b, i32x4.splat(5));
      let a6 = i32x4.add(b, i32x4.splat(6));
      let a7 = i32x4.add(b, i32x4.splat(7));
      const m1 = i32x4.splat(<i32>P1);
      const m2 = i32x4.splat(<i32>P2);
      for (; i + 128 <= len; i += 128) {
        const q = p + <usize>i;
        a0 = i32x4.add(a0, i32x4.mul(v128.load(q, 0), m2));
        a1 = i32x4.add(a1, i32x4.mul(v128.load(q, 16), m2));
        a2 = i32x4.add(a2, i32x4.mul(v128.load(q, 32), m2));
        a3 = i32x4.add(a3, i32x4.mul(v128.load(q, 48), m2));
        a4 = i32x4.add(a4, i32x4.mul(v128.load(q, 64), m2));
        a5 = i32x4.add(a5, i32x4.mul(v128.load(q, 80), m2));
        a6 = i32x4.add(a6, i32x4.mul(v128.load(q, 96), m2));
        a7 = i32x4.add(a7, i32x4.mul(v128.load(q, 112), m2));
        a0 = i32x4.mul(v128.or(i32x4.shl(a0, 13), i32x4.shr_u(a0, 19)), m1);
        a1 = i32x4.mul(v128.or(i32x4.shl(a1, 13), i32x4.shr_u(a1, 19)), m1);
        a2 = i32x4.mul(v128.or(i32x4.shl(a2, 13), i32x4.shr_u(a2, 19)), m1);
        a3 = i32x4.mul(v128.or(i32x4.shl(a3, 13), i32x4.shr_u(a3, 19)), m1);
        a4 = i32x4.mul(v128.or(i32x4.shl(a4, 13), i32x4.shr_u(a4, 19)), m1);
        a5 = i32x4.mul(v128.or(i32x4.shl(a5, 13), i32x4.shr_u(a5, 19)), m1);
        a6 = i32x4.mul(v128.or(i32x4.shl(a6, 13), i32x4.shr_u(a6, 19)), m1);
        a7 = i32x4.mul(v128.or(i32x4.shl(a7, 13), i32x4.shr_u(a7, 19)), m1);
      }
      v128.store(SUM_ACC, a0, 0);
      v128.store(SUM_ACC, a1, 16);
      v128.store(SUM_ACC, a2, 32);
      v128.store(SUM_ACC, a3, 48);
      v128.store(SUM_ACC, a4, 64);
      v128.store(SUM_ACC, a5, 80);
      v128.store(SUM_ACC, a6, 96);
      v128.store(SUM_ACC, a7, 112);
    } else {
      for (let w: usize = 0; w < 32; w++) store<u32>(SUM_ACC + (w << 2), sumInit(<u32>w));
      for (; i + 128 <= len; i += 128) {
        const q = p + <usize>i;
        for (let w: usize = 0; w < 32; w++) {
          const a = load<u32>(SUM_ACC + (w << 2)) + load<u32>(q + (w << 2)) * P2;
          store<u32>(SUM_ACC + (w << 2), rotl<u32>(a, 13) * P1);
        }
      }
    }
    h ^= load<u32>(SUM_ACC);
    for (let w: usize = 1; w < 32; w++) h = rotl<u32>(h, 13) * P1 + load<u32>(SUM_ACC + (w << 2));
  }
  for (; i + 4 <= len; i += 4) h = rotl<u32>(h + load<u32>(p + <usize>i) * P3, 17) * P4;
  for (; i < len; i++) h = rotl<u32>(h + <u32>load<u8>(p + <usize>i) * P5, 11) * P1;
  h ^= h >>> 15;
  h *= P2;
  h ^= h >>> 13;
  h *= P3;
  h ^= h >>> 16;
  return h;
}

/** Lane w's starting value: (P1 + P2, P2, 0, -P1)[w & 3] + (w >> 2). */
@inline function sumInit(w: u32): u32 {
  const l = w & 3;
  return (l == 0 ? P1 + P2 : l == 1 ? P2 : l == 2 ? 0 : 0 - P1) + (w >> 2);
}

// ---------------------------------------------------------------- codecs
//
// Layout (docs/FORMAT.md, "Kernels: integer column codec"):
//   u8 version (1) | u8 kind (1 = u32, 2 = i64) | u32le count | blocks of 128 values:
//   u8 width | payload. A full u32 block (128 values) uses the 4-lane layout: 4*width u32le
//   words, word 4k+j is the k-th word of lane j, lane j packs values j, j+4, ..., j+124
//   LSB-first. The final partial u32 block and every i64 block are a plain LSB-first bit
//   stream of ceil(m*width/8) bytes. Values are zigzag(v[i] - v[i-1]), v[-1] = 0, wrapping.

const BLOCK: i32 = 128;
const ZZ: usize = memory.data(BLOCK * 4, 16);

@inline function widthOf(x: u32): i32 {
  return 32 - <i32>clz(x);
}

@inline function maskOf(w: i32): u32 {
  return w >= 32 ? 0xffffffff : (<u32>1 << <u32>w) - 1;
}

function writeBits32(out: usize, src: usize, m: i32, w: i32): usize {
  let acc: u64 = 0;
  let bits: i32 = 0;
  let o = out;
  for (let i = 0; i < m; i++) {
    acc |= <u64>load<u32>(src + (<usize>i << 2)) << <u64>bits;
    bits += w;
    while (bits >= 8) { store<u8>(o, <u8>acc); o++; acc >>= 8; bits -= 8; }
  }
  if (bits > 0) { store<u8>(o, <u8>acc); o++; }
  return o;
}

/** Encodes n u32 values from vals into out (capacity from the host: 6 + ceil(n/128)*513). Returns bytes. */
export function encodeU32(vals: usize, n: i32, out: usize): i32 {
  store<u8>(out, 1);
  store<u8>(out, 1, 1);
  store<u32>(out, <u32>n, 2);
  let o = out + 6;
  let prev: u32 = 0;
  for (let b = 0; b < n; b += BLOCK) {
    const m = min(BLOCK, n - b);
    const src = vals + (<usize>b << 2);
    let all: u32 = 0;
    let i = 0;
    if (ASC_FEATURE_SIMD) {
      let orv = i32x4.splat(0);
      let pv = i32x4.splat(<i32>prev);
      for (; i + 4 <= m; i += 4) {
        const cur = v128.load(src + (<usize>i << 2));
        const d = i32x4.sub(cur, i32x4.shuffle(pv, cur, 3, 4, 5, 6));
        const z = v128.xor(i32x4.shl(d, 1), i32x4.shr_s(d, 31));
        v128.store(ZZ + (<usize>i << 2), z);
        orv = v128.or(orv, z);
        pv = cur;
      }
      if (i > 0) prev = <u32>i32x4.extract_lane(pv, 3);
      all = <u32>(i32x4.extract_lane(orv, 0) | i32x4.extract_lane(orv, 1) | i32x4.extract_lane(orv, 2) | i32x4.extract_lane(orv, 3));
    }
    for (; i < m; i++) {
      const cur = load<u32>(src + (<usize>i << 2));
      const d = <i32>(cur - prev);
      const z = <u32>((d << 1) ^ (d >> 31));
      store<u32>(ZZ + (<usize>i << 2), z);
      all |= z;
      prev = cur;
    }
    const w = widthOf(all);
    store<u8>(o, <u8>w);
    o++;
    if (w == 0) continue;
    if (m < BLOCK) { o = writeBits32(o, ZZ, m, w); continue; }
    if (ASC_FEATURE_SIMD) {
      let acc = i32x4.splat(0);
      let off = 0;
      for (let k = 0; k < 32; k++) {
        const x = v128.load(ZZ + (<usize>k << 4));
        acc = v128.or(acc, i32x4.shl(x, off));
        off += w;
        if (off >= 32) {
          v128.store(o, acc);
          o += 16;
          off -= 32;
          acc = off > 0 ? i32x4.shr_u(x, w - off) : i32x4.splat(0);
        }
      }
    } else {
      for (let j = 0; j < 4; j++) {
        let acc: u32 = 0;
        let off = 0;
        let wo = o + (<usize>j << 2);
        for (let k = 0; k < 32; k++) {
          const x = load<u32>(ZZ + (<usize>(4 * k + j) << 2));
          acc |= x << <u32>off;
          off += w;
          if (off >= 32) {
            store<u32>(wo, acc);
            wo += 16;
            off -= 32;
            acc = off > 0 ? x >>> <u32>(w - off) : 0;
          }
        }
      }
      o += <usize>w << 4;
    }
  }
  return <i32>(o - out);
}

/**
 * Decodes `count` u32 values (count already read from the header by the host) from
 * [inp, inp+len) into out. The host pads the input with 16 readable bytes. Returns 0, -1 when
 * the bytes are truncated or have trailing garbage, -2 for a bad width.
 */
export function decodeU32(inp: usize, len: i32, out: usize, count: i32): i32 {
  const end = inp + <usize>len;
  let p = inp + 6;
  let prev: u32 = 0;
  for (let b = 0; b < count; b += BLOCK) {
    const m = min(BLOCK, count - b);
    if (p + 1 > end) return -1;
    const w = <i32>load<u8>(p);
    p++;
    if (w > 32) return -2;
    const dst = out + (<usize>b << 2);
    const bytes = m < BLOCK ? <usize>((m * w + 7) >> 3) : <usize>w << 4;
    if (p + bytes > end) return -1;
    if (w == 0) {
      for (let i = 0; i < m; i++) store<u32>(dst + (<usize>i << 2), prev);
      continue;
    }
    const mask = maskOf(w);
    if (m < BLOCK) {
      let pos: usize = 0;
      for (let i = 0; i < m; i++) {
        const z = <u32>(load<u64>(p + (pos >> 3)) >>> <u64>(pos & 7)) & mask;
        prev += (z >>> 1) ^ (0 - (z & 1));
        store<u32>(dst + (<usize>i << 2), prev);
        pos += <usize>w;
      }
      p += bytes;
      continue;
    }
    if (ASC_FEATURE_SIMD) {
      const mv = i32x4.splat(<i32>mask);
      const one = i32x4.splat(1);
      const zero = i32x4.splat(0);
      let cur = v128.load(p);
      let q = p;
      let off = 0;
      let pv = i32x4.splat(<i32>prev);
      for (let k = 0; k < 32; k++) {
        let x = i32x4.shr_u(cur, off);
        off += w;
        if (off >= 32) {
          q += 16;
          off -= 32;
          cur = v128.load(q);
          if (off > 0) x = v128.or(x, i32x4.shl(cur, w - off));
        }
        x = v128.and(x, mv);
        let dv = v128.xor(i32x4.shr_u(x, 1), i32x4.sub(zero, v128.and(x, one)));
        dv = i32x4.add(dv, i32x4.shuffle(zero, dv, 0, 4, 5, 6));
        dv = i32x4.add(dv, i32x4.shuffle(zero, dv, 0, 1, 4, 5));
        dv = i32x4.add(dv, i32x4.shuffle(pv, pv, 3, 3, 3, 3));
        v128.store(dst + (<usize>k << 4), dv);
        pv = dv;
      }
      prev = <u32>i32x4.extract_lane(pv, 3);
    } else {
      for (let j = 0; j < 4; j++) {
        let q = p + (<usize>j << 2);
        let cur = load<u32>(q);
        let off = 0;
        for (let k = 0; k < 32; k++) {
          let x = cur >>> <u32>off;
          off += w;
          if (off >= 32) {
            q += 16;
            off -= 32;
            cur = load<u32>(q);
            if (off > 0) x |= cur << <u32>(w - off);
          }
          store<u32>(dst + (<usize>(4 * k + j) << 2), x & mask);
        }
      }
      for (let i = 0; i < BLOCK; i++) {
        const z = load<u32>(dst + (<usize>i << 2));
        prev += (z >>> 1) ^ (0 - (z & 1));
        store<u32>(dst + (<usize>i << 2), prev);
      }
    }
    p += bytes;
  }
  return p == end ? 0 : -1;
}

const ZZ64: usize = memory.data(BLOCK * 8, 16);

/** Encodes n i64 values (capacity: 6 + ceil(n/128)*1025). Returns bytes. */
export function encodeI64(vals: usize, n: i32, out: usize): i32 {
  store<u8>(out, 1);
  store<u8>(out, 2, 1);
  store<u32>(out, <u32>n, 2);
  let o = out + 6;
  let prev: i64 = 0;
  for (let b = 0; b < n; b += BLOCK) {
    const m = min(BLOCK, n - b);
    const src = vals + (<usize>b << 3);
    let all: u64 = 0;
    for (let i = 0; i < m; i++) {
      const cur = load<i64>(src + (<usize>i << 3));
      const d = cur - prev;
      const z = <u64>((d << 1) ^ (d >> 63));
      store<u64>(ZZ64 + (<usize>i << 3), z);
      all |= z;
      prev = cur;
    }
    const w = 64 - <i32>clz(all);
    store<u8>(o, <u8>w);
    o++;
    if (w == 0) continue;
    let acc: u64 = 0;
    let bits: i32 = 0;
    const wlo = min(w, 32);
    const whi = w - wlo;
    for (let i = 0; i < m; i++) {
      const z = load<u64>(ZZ64 + (<usize>i << 3));
      acc |= (z & 0xffffffff) << <u64>bits;
      bits += wlo;
      while (bits >= 8) { store<u8>(o, <u8>acc); o++; acc >>= 8; bits -= 8; }
      if (whi > 0) {
        acc |= (z >>> 32) << <u64>bits;
        bits += whi;
        while (bits >= 8) { store<u8>(o, <u8>acc); o++; acc >>= 8; bits -= 8; }
      }
    }
    if (bits > 0) { store<u8>(o, <u8>acc); o++; }
  }
  return <i32>(o - out);
}

/** Decodes count i64 values; same status codes as decodeU32. */
export function decodeI64(inp: usize, len: i32, out: usize, count: i32): i32 {
  const end = inp + <usize>len;
  let p = inp + 6;
  let prev: i64 = 0;
  for (let b = 0; b < count; b += BLOCK) {
    const m = min(BLOCK, count - b);
    if (p + 1 > end) return -1;
    const w = <i32>load<u8>(p);
    p++;
    if (w > 64) return -2;
    const bytes = <usize>((m * w + 7) >> 3);
    if (p + bytes > end) return -1;
    const dst = out + (<usize>b << 3);
    const wlo = min(w, 32);
    const whi = w - wlo;
    const mlo: u64 = wlo == 0 ? 0 : (<u64>1 << <u64>wlo) - 1;
    const mhi: u64 = whi == 0 ? 0 : (<u64>1 << <u64>whi) - 1;
    let pos: usize = 0;
    for (let i = 0; i < m; i++) {
      let z: u64 = 0;
      if (w > 0) {
        z = (load<u64>(p + (pos >> 3)) >>> <u64>(pos & 7)) & mlo;
        pos += <usize>wlo;
        if (whi > 0) {
          z |= ((load<u64>(p + (pos >> 3)) >>> <u64>(pos & 7)) & mhi) << 32;
          pos += <usize>whi;
        }
      }
      prev += <i64>((z >>> 1) ^ (0 - (z & 1)));
      store<i64>(dst + (<usize>i << 3), prev);
    }
    p += bytes;
  }
  return p == end ? 0 : -1;
}

// Vector-search kernels (HNSW walk), owned by the vector engineer.
export { hnswSearch0, distGather } from "./vector";
