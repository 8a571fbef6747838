/**
 * loadKernels: picks the SIMD or scalar build and instantiates it. SIMD is used when the
 * runtime validates the 31-byte SIMD probe module (the same bytes wasm-feature-detect uses),
 * a SIMD source was given and `forceScalar` is not set. Each build's source may be a compiled
 * `WebAssembly.Module` (required on workerd, which forbids compiling), bytes, a URL (fetched,
 * compiled with compileStreaming when possible) or a Response.
 */
import { LargetableError } from '../errors.ts';
import { wrapKernelInstance, type WasmKernels } from './wasm.ts';

export type WasmSource = WebAssembly.Module | ArrayBuffer | ArrayBufferView | URL | string | Response | PromiseLike<Response>;

export interface KernelSources {
  simd?: WasmSource;
  scalar?: WasmSource;
}

export interface LoadKernelsOptions {
  /** Use the scalar build even when SIMD is available. */
  forceScalar?: boolean;
}

// (module (func (result v128) i32.const 0 i8x16.splat i8x16.popcnt))
const simdProbe = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11]);

let simdCache: boolean | undefined;

/** True when this runtime validates wasm SIMD (fixed-width, 128-bit). */
export function simdSupported(): boolean {
  if (simdCache === undefined) {
    try {
      simdCache = typeof WebAssembly === 'object' && WebAssembly.validate(simdProbe);
    } catch {
      simdCache = false;
    }
  }
  return simdCache;
}

function isResponse(x: unknown): x is Response {
  return typeof Response !== 'undefined' && x instanceof Response;
}

/** Compiles (or passes through) one source into a Module. */
export async function compileKernelSource(source: WasmSource): Promise<WebAssembly.Module> {
  try {
    if (source instanceof WebAssembly.Module) return source;
    if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) return await WebAssembly.compile(source as BufferSource);
    let response: Response;
    if (typeof source === 'string' || source instanceof URL) response = await fetch(source);
    else if (isResponse(source)) response = source;
    else response = await source;
    if (!response.ok) throw new Error(`HTTP ${response.status} for ${response.url}`);
    const type = response.headers.get('content-type') ?? '';
    if (typeof WebAssembly.compileStreaming === 'function' && type.startsWith('application/wasm')) {
      return await WebAssembly.compileStreaming(response);
    }
    return await WebAssembly.compile(await response.arrayBuffer());
  } catch (cause) {
    throw new LargetableError('KERNEL_ERROR', `cannot compile the kernel module: ${String((cause as Error)?.message ?? cause)}`, { cause });
  }
}

/** Instantiates a compiled kernel Module of a known build. */
export async function instantiateKernels(module: WebAssembly.Module, build: 'simd' | 'scalar'): Promise<WasmKernels> {
  let instance: WebAssembly.Instance;
  try {
    instance = await WebAssembly.instantiate(module, {});
  } catch (cause) {
    throw new LargetableError('KERNEL_ERROR', `cannot instantiate the ${build} kernel module`, { cause });
  }
  return wrapKernelInstance(instance, build);
}

/** Which build `loadKernels` would use for these sources. */
export function chooseBuild(sources: KernelSources, options: LoadKernelsOptions = {}): 'simd' | 'scalar' {
  if (!options.forceScalar && sources.simd !== undefined && simdSupported()) return 'simd';
  if (sources.scalar === undefined) {
    throw new LargetableError(
      'KERNEL_ERROR',
      options.forceScalar ? 'forceScalar was set but no scalar kernel source was given' : 'this runtime has no wasm SIMD and no scalar kernel source was given',
    );
  }
  return 'scalar';
}

/** Loads the best kernel build for this runtime from the given sources. */
export async function loadKernels(sources: KernelSources, options: LoadKernelsOptions = {}): Promise<WasmKernels> {
  if (typeof WebAssembly !== 'object') throw new LargetableError('KERNEL_ERROR', 'this runtime has no WebAssembly');
  const build = chooseBuild(sources, options);
  const module = await compileKernelSource(sources[build]!);
  return instantiateKernels(module, build);
}
