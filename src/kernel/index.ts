/**
 * Kernel entry point. `kernels()` is synchronous and always answers: it is the TypeScript twin
 * until a platform loader (platform/<runtime>/kernels.ts) or the caller installs a wasm build
 * with `installKernels(await loadKernels(...))`.
 */
import { createReferenceKernels } from './reference.ts';
import type { Kernels } from './types.ts';

/** The pure-TypeScript twin (build 'typescript'): fallback and test oracle. */
export const referenceKernels: Kernels = createReferenceKernels();

let active: Kernels = referenceKernels;

/** The kernels in use: the installed wasm build, or the TypeScript twin. */
export function kernels(): Kernels {
  return active;
}

/** Makes `k` the kernels returned by `kernels()`; returns it. */
export function installKernels(k: Kernels): Kernels {
  active = k;
  return k;
}

export { createReferenceKernels } from './reference.ts';
export { chooseBuild, compileKernelSource, instantiateKernels, loadKernels, simdSupported } from './load.ts';
export type { KernelSources, LoadKernelsOptions, WasmSource } from './load.ts';
export { wrapKernelInstance } from './wasm.ts';
export type { KernelExports, WasmKernels } from './wasm.ts';
export { LinearArena } from './arena.ts';
export { higherIsCloser } from './types.ts';
export type { Arena, KernelBuild, Kernels, Metric, TopK } from './types.ts';
