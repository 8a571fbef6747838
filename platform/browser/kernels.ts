/**
 * Browser (page or Worker): fetches the chosen kernel build (compileStreaming when the server
 * sends application/wasm) and installs it. Only the chosen build is fetched.
 */
import { installKernels, loadKernels } from '../../src/kernel/index.ts';
import type { WasmKernels, WasmSource } from '../../src/kernel/index.ts';

export interface BrowserKernelOptions {
  /** Use the scalar build even when SIMD is available. */
  forceScalar?: boolean;
  /** Where simd.wasm and scalar.wasm are served (default `/build/`). */
  baseUrl?: string | URL;
  /** Explicit sources (URL, Response, bytes or Module) overriding baseUrl. */
  simd?: WasmSource;
  scalar?: WasmSource;
  /** Install as the active kernels (default true). */
  install?: boolean;
}

function resolveUrl(name: string, baseUrl: string | URL): URL {
  // a Worker made from a Blob has a blob: location; resolve against its origin instead
  let page: string | undefined;
  if (typeof location === 'object' && location !== null) page = location.protocol === 'blob:' ? location.origin : location.href;
  const base = new URL(String(baseUrl).endsWith('/') ? String(baseUrl) : `${String(baseUrl)}/`, page);
  return new URL(name, base);
}

/** Loads and installs the best kernel build for this browser context. */
export async function loadPlatformKernels(options: BrowserKernelOptions = {}): Promise<WasmKernels> {
  const baseUrl = options.baseUrl ?? '/build/';
  const k = await loadKernels(
    {
      simd: options.simd ?? resolveUrl('simd.wasm', baseUrl),
      scalar: options.scalar ?? resolveUrl('scalar.wasm', baseUrl),
    },
    { forceScalar: options.forceScalar === true },
  );
  if (options.install !== false) installKernels(k);
  return k;
}
