/**
 * Edge runtimes (workerd / Cloudflare Workers): compiling wasm at run time is forbidden, so the
 * worker imports the precompiled modules (`import simd from 'largetable/wasm/simd.wasm'`) and
 * passes them in. Either build may be omitted; the scalar one is used where SIMD is missing.
 */
import { LargetableError } from '../../src/errors.ts';
import { installKernels, loadKernels } from '../../src/kernel/index.ts';
import type { WasmKernels } from '../../src/kernel/index.ts';

export interface EdgeKernelOptions {
  simd?: WebAssembly.Module;
  scalar?: WebAssembly.Module;
  forceScalar?: boolean;
  /** Install as the active kernels (default true). */
  install?: boolean;
}

/** Instantiates and installs the precompiled kernel module best suited to this isolate. */
export async function loadPlatformKernels(options: EdgeKernelOptions = {}): Promise<WasmKernels> {
  for (const build of ['simd', 'scalar'] as const) {
    const m = options[build];
    if (m !== undefined && !(m instanceof WebAssembly.Module)) {
      throw new LargetableError('INVALID_ARGUMENT', `edge kernels: options.${build} must be a precompiled WebAssembly.Module`);
    }
  }
  const k = await loadKernels({ simd: options.simd, scalar: options.scalar }, { forceScalar: options.forceScalar === true });
  if (options.install !== false) installKernels(k);
  return k;
}
