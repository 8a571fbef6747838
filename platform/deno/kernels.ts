/**
 * Deno: the same loader as Node. Deno implements `node:fs/promises`, `node:url` and
 * `import.meta.resolve`, so build/simd.wasm or build/scalar.wasm is found and read the same way.
 */
export { loadPlatformKernels, wasmFileCandidates } from '../node/kernels.ts';
export type { NodeKernelOptions as DenoKernelOptions } from '../node/kernels.ts';
