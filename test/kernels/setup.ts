/**
 * Shared setup for the kernel differential tests: the three builds (TypeScript twin, scalar
 * wasm, SIMD wasm) loaded from build/ (run `npm run build` or scripts/build-wasm.mjs first),
 * plus fast-check arbitraries and float comparison helpers.
 */
import fc from 'fast-check';
import { loadPlatformKernels } from '../../platform/node/kernels.ts';
import { createReferenceKernels } from '../../src/kernel/index.ts';
import type { Kernels, WasmKernels } from '../../src/kernel/index.ts';

export const ts: Kernels = createReferenceKernels();
export const scalar: WasmKernels = await loadPlatformKernels({ forceScalar: true, install: false });
export const simd: WasmKernels = await loadPlatformKernels({ install: false });
export const all: readonly Kernels[] = [ts, scalar, simd];

export const runs = { seed: 20261128, numRuns: 60 } as const;

const f32 = (x: number): number => Math.fround(x);

/** Mostly finite floats in [-1000, 1000], sometimes NaN, +-Infinity, -0, 0. */
export const float: fc.Arbitrary<number> = fc.oneof(
  { arbitrary: fc.float({ min: f32(-1000), max: f32(1000), noNaN: true, noDefaultInfinity: true }), weight: 40 },
  { arbitrary: fc.constantFrom(NaN, Infinity, -Infinity, -0, 0, 1, -1), weight: 1 },
);

/** Finite floats only. */
export const finite: fc.Arbitrary<number> = fc.float({ min: f32(-1000), max: f32(1000), noNaN: true, noDefaultInfinity: true });

/** A Float32Array of `len` elements that starts `offset` elements into a larger buffer. */
export function placed(values: readonly number[], offset: number): Float32Array {
  const buf = new Float32Array(values.length + offset + 3);
  buf.fill(NaN);
  const view = buf.subarray(offset, offset + values.length);
  view.set(values);
  return view;
}

export const offset: fc.Arbitrary<number> = fc.integer({ min: 0, max: 3 });

/** The vector dimensions worth testing: tiny, odd tails, SIMD boundaries. */
export const dim: fc.Arbitrary<number> = fc.oneof(fc.integer({ min: 1, max: 20 }), fc.constantFrom(3, 4, 5, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129));

/** Same value bit-for-bit (NaN == NaN, -0 != 0). */
export function same(a: number, b: number): boolean {
  return Object.is(a, b);
}

/** Close within a tolerance scaled to the magnitude of the computation; NaN/Infinity must match. */
export function close(actual: number, expected: number, magnitude: number): boolean {
  if (Number.isNaN(expected) || Number.isNaN(actual)) return Number.isNaN(expected) && Number.isNaN(actual);
  if (!Number.isFinite(expected) || !Number.isFinite(actual)) return actual === expected;
  return Math.abs(actual - expected) <= 1e-5 * Math.abs(magnitude) + 1e-4 * Math.abs(expected) + 1e-30;
}

/** Throws with a helpful message when arrays differ (exact or tolerant). */
export function expectArrays(name: string, actual: ArrayLike<number>, expected: ArrayLike<number>, magnitude?: (i: number) => number): void {
  if (actual.length !== expected.length) throw new Error(`${name}: length ${actual.length} != ${expected.length}`);
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    const ok = magnitude === undefined ? same(a, e) : close(a, e, magnitude(i));
    if (!ok) throw new Error(`${name}: [${i}] ${a} != ${e}${magnitude ? ` (magnitude ${magnitude(i)})` : ''}`);
  }
}
