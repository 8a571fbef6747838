/**
 * Node: reads build/simd.wasm or build/scalar.wasm (located through the package export
 * `largetable/wasm/*`, falling back to paths relative to this file), compiles it, and installs
 * it as the active kernels. Only the chosen build is read. Installing also makes node:zlib the
 * storage engine's block decoder (platform/zlib-inflate.ts).
 */
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { Buffer } from 'node:buffer';
import { fileURLToPath } from 'node:url';
import { LargetableError } from '../../src/errors.ts';
import { chooseBuild, installKernels, loadKernels } from '../../src/kernel/index.ts';
import type { WasmKernels } from '../../src/kernel/index.ts';
import { installBlockInflater } from '../../src/storage/segment.ts';
import { installUtf8Slice } from '../../src/document/bsonraw.ts';
import { installUtf8Write } from '../../src/document/bsonencode.ts';
import { zlibBlockInflater } from '../zlib-inflate.ts';

export interface NodeKernelOptions {
  /** Use the scalar build even when SIMD is available. */
  forceScalar?: boolean;
  /** Directory holding simd.wasm and scalar.wasm (default: the package's build/). */
  dir?: string | URL;
  /** Install as the active kernels (default true). */
  install?: boolean;
}

/** Candidate locations of a wasm file, best first. */
export function wasmFileCandidates(name: string, dir?: string | URL): string[] {
  if (dir !== undefined) {
    const base = typeof dir === 'string' ? dir : fileURLToPath(dir);
    return [`${base.replace(/\/$/, '')}/${name}`];
  }
  const out: string[] = [];
  try {
    out.push(fileURLToPath(import.meta.resolve(`largetable/wasm/${name}`)));
  } catch {
    // not resolvable as a package (e.g. running from a checkout without self-reference)
  }
  out.push(fileURLToPath(new URL(`../../build/${name}`, import.meta.url)));
  out.push(fileURLToPath(new URL(`../../../build/${name}`, import.meta.url)));
  return out;
}

async function readWasm(name: string, dir?: string | URL): Promise<Uint8Array> {
  const candidates = wasmFileCandidates(name, dir);
  const path = candidates.find((p) => existsSync(p));
  if (path === undefined) {
    throw new LargetableError('KERNEL_ERROR', `kernel module ${name} not found (run \`npm run build\`); looked in ${candidates.join(', ')}`);
  }
  try {
    return await readFile(path);
  } catch (cause) {
    throw new LargetableError('KERNEL_ERROR', `cannot read kernel module ${path}`, { cause });
  }
}

const cache = new Map<string, Promise<WasmKernels>>();

const bufferUtf8Slice = (Buffer.prototype as unknown as { utf8Slice: (this: Uint8Array, s: number, e: number) => string }).utf8Slice;
/** Buffer's UTF-8 decoder on a plain Uint8Array (invalid sequences become U+FFFD; see installUtf8Slice). */
const nodeUtf8Slice = (b: Uint8Array, s: number, e: number): string => bufferUtf8Slice.call(b, s, e);
const bufferUtf8Write = (Buffer.prototype as unknown as { utf8Write: (this: Uint8Array, s: string, o: number) => number }).utf8Write;
/** Buffer's UTF-8 encoder on a plain Uint8Array (lone surrogates become U+FFFD; see installUtf8Write). */
const nodeUtf8Write = (b: Uint8Array, s: string, o: number): number => bufferUtf8Write.call(b, s, o);

/** Loads (once per option set) and installs the best kernel build for this Node process. */
export function loadPlatformKernels(options: NodeKernelOptions = {}): Promise<WasmKernels> {
  const key = `${options.forceScalar === true}|${String(options.dir ?? '')}`;
  let promise = cache.get(key);
  if (promise === undefined) {
    promise = (async () => {
      const build = chooseBuild({ simd: 'simd.wasm', scalar: 'scalar.wasm' }, options);
      const bytes = await readWasm(`${build}.wasm`, options.dir);
      return loadKernels(build === 'simd' ? { simd: bytes } : { scalar: bytes }, { forceScalar: build === 'scalar' });
    })();
    cache.set(key, promise);
    promise.catch(() => cache.delete(key));
  }
  return promise.then((k) => {
    if (options.install !== false) {
      installKernels(k);
      // the storage engine's blocks decode with zlib (native) instead of the TypeScript inflater
      installBlockInflater(zlibBlockInflater);
      // and documents decode their strings with Buffer's native UTF-8 decoder
      if (typeof bufferUtf8Slice === 'function') installUtf8Slice(nodeUtf8Slice);
      // and encode them with its native UTF-8 encoder (no view and result object per string)
      if (typeof bufferUtf8Write === 'function') installUtf8Write(nodeUtf8Write);
    }
    return k;
  });
}
