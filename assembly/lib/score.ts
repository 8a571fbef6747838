// One-vector float scores shared by assembly/kernels.ts and assembly/vector.ts. Inlined at every
// call site (@inline), so both modules compile to the same loops as before. This folder is not
// an entry of scripts/build-wasm.mjs, so nothing here becomes a wasm export.
// `if (ASC_FEATURE_SIMD)` is a compile-time constant: the scalar build keeps only scalar loops.

// ---------------------------------------------------------------- horizontal helpers

@inline export function hsum(a: v128): f32 {
  a = f32x4.add(a, v128.shuffle<f32>(a, a, 2, 3, 0, 1));
  a = f32x4.add(a, v128.shuffle<f32>(a, a, 1, 0, 3, 2));
  return f32x4.extract_lane(a, 0);
}

// ---------------------------------------------------------------- one-vector scores

@inline export function dotOne(q: usize, p: usize, d: i32): f32 {
  let j = 0;
  let s: f32 = 0;
  if (ASC_FEATURE_SIMD) {
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    for (; j + 16 <= d; j += 16) {
      const o = <usize>j << 2;
      const qo = q + o, po = p + o;
      a0 = f32x4.add(a0, f32x4.mul(v128.load(qo), v128.load(po)));
      a1 = f32x4.add(a1, f32x4.mul(v128.load(qo, 16), v128.load(po, 16)));
      a2 = f32x4.add(a2, f32x4.mul(v128.load(qo, 32), v128.load(po, 32)));
      a3 = f32x4.add(a3, f32x4.mul(v128.load(qo, 48), v128.load(po, 48)));
    }
    for (; j + 4 <= d; j += 4) {
      const o = <usize>j << 2;
      a0 = f32x4.add(a0, f32x4.mul(v128.load(q + o), v128.load(p + o)));
    }
    s = hsum(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)));
  }
  for (; j < d; j++) {
    const o = <usize>j << 2;
    s += load<f32>(q + o) * load<f32>(p + o);
  }
  return s;
}

@inline export function l2One(q: usize, p: usize, d: i32): f32 {
  let j = 0;
  let s: f32 = 0;
  if (ASC_FEATURE_SIMD) {
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    for (; j + 16 <= d; j += 16) {
      const o = <usize>j << 2;
      const qo = q + o, po = p + o;
      const t0 = f32x4.sub(v128.load(qo), v128.load(po));
      const t1 = f32x4.sub(v128.load(qo, 16), v128.load(po, 16));
      const t2 = f32x4.sub(v128.load(qo, 32), v128.load(po, 32));
      const t3 = f32x4.sub(v128.load(qo, 48), v128.load(po, 48));
      a0 = f32x4.add(a0, f32x4.mul(t0, t0));
      a1 = f32x4.add(a1, f32x4.mul(t1, t1));
      a2 = f32x4.add(a2, f32x4.mul(t2, t2));
      a3 = f32x4.add(a3, f32x4.mul(t3, t3));
    }
    for (; j + 4 <= d; j += 4) {
      const o = <usize>j << 2;
      const t = f32x4.sub(v128.load(q + o), v128.load(p + o));
      a0 = f32x4.add(a0, f32x4.mul(t, t));
    }
    s = hsum(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)));
  }
  for (; j < d; j++) {
    const o = <usize>j << 2;
    const t = load<f32>(q + o) - load<f32>(p + o);
    s += t * t;
  }
  return s;
}

@inline export function l1One(q: usize, p: usize, d: i32): f32 {
  let j = 0;
  let s: f32 = 0;
  if (ASC_FEATURE_SIMD) {
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    for (; j + 16 <= d; j += 16) {
      const o = <usize>j << 2;
      const qo = q + o, po = p + o;
      a0 = f32x4.add(a0, f32x4.abs(f32x4.sub(v128.load(qo), v128.load(po))));
      a1 = f32x4.add(a1, f32x4.abs(f32x4.sub(v128.load(qo, 16), v128.load(po, 16))));
      a2 = f32x4.add(a2, f32x4.abs(f32x4.sub(v128.load(qo, 32), v128.load(po, 32))));
      a3 = f32x4.add(a3, f32x4.abs(f32x4.sub(v128.load(qo, 48), v128.load(po, 48))));
    }
    for (; j + 4 <= d; j += 4) {
      const o = <usize>j << 2;
      a0 = f32x4.add(a0, f32x4.abs(f32x4.sub(v128.load(q + o), v128.load(p + o))));
    }
    s = hsum(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)));
  }
  for (; j < d; j++) {
    const o = <usize>j << 2;
    s += Mathf.abs(load<f32>(q + o) - load<f32>(p + o));
  }
  return s;
}
