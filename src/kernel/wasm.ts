/**
 * Wraps an instantiated kernel module (build/simd.wasm or build/scalar.wasm) as `Kernels`.
 * Array calls copy their inputs into one arena block, run one kernel call and copy the results
 * out; pointer calls validate their pointers against the arena and run in place. Traps and
 * negative statuses become LargetableError KERNEL_ERROR; bad arguments INVALID_ARGUMENT.
 */
import { LargetableError } from '../errors.ts';
import { LinearArena } from './arena.ts';
import type { Kernels, KernelBuild, TopK } from './types.ts';
import {
  checkBlockPtrArgs,
  checkCodecHeader,
  checkCrcRange,
  checkCount,
  checkGatherPtrArgs,
  checkI8PtrArgs,
  checkI8ScoreArgs,
  checkK,
  checkNormsArgs,
  checkQuantizeI8Args,
  checkQueries,
  checkScore,
  checkTopKPtrArgs,
  codecBlockValues,
  codecHeaderBytes,
  codecKindI64,
  codecKindU32,
  corrupt,
  checkSumLength,
} from './validate.ts';

/** The numeric ABI exported by assembly/kernels.ts. */
export interface KernelExports {
  readonly memory: WebAssembly.Memory;
  readonly SIMD: WebAssembly.Global;
  heapBase(): number;
  scoreBlock(metric: number, q: number, v: number, n: number, d: number, out: number, norms: number): number;
  scoreGather(metric: number, q: number, v: number, ids: number, count: number, d: number, out: number, norms: number, limit: number): number;
  scoreBatch(metric: number, qs: number, nq: number, v: number, n: number, d: number, out: number, norms: number): number;
  norms(v: number, n: number, d: number, out: number): void;
  sumF32(p: number, n: number): number;
  topK(scores: number, n: number, k: number, higher: number, outIdx: number, outScores: number): number;
  quantizeI8(v: number, n: number, d: number, min: number, scale: number, out: number): void;
  dotI8(q: number, codes: number, n: number, d: number, out: number): void;
  l2I8(q: number, codes: number, n: number, d: number, out: number): void;
  crc32c(p: number, len: number, crc: number): number;
  blockSum(p: number, len: number): number;
  encodeU32(vals: number, n: number, out: number): number;
  decodeU32(inp: number, len: number, out: number, count: number): number;
  encodeI64(vals: number, n: number, out: number): number;
  decodeI64(inp: number, len: number, out: number, count: number): number;
}

/** Kernels backed by wasm, with the raw exports for benchmarks and tests. */
export interface WasmKernels extends Kernels {
  readonly build: 'simd' | 'scalar';
  readonly arena: LinearArena;
  readonly exports: KernelExports;
}

const exportNames = [
  'memory', 'heapBase', 'scoreBlock', 'scoreGather', 'scoreBatch', 'norms', 'sumF32', 'topK', 'quantizeI8',
  'dotI8', 'l2I8', 'crc32c', 'blockSum', 'encodeU32', 'decodeU32', 'encodeI64', 'decodeI64',
] as const;

function kernelError(fn: string, cause: unknown): LargetableError {
  return new LargetableError('KERNEL_ERROR', `${fn}: kernel trapped: ${String((cause as Error)?.message ?? cause)}`, { cause });
}

function run<T>(fn: string, body: () => T): T {
  try {
    return body();
  } catch (err) {
    if (err instanceof WebAssembly.RuntimeError) throw kernelError(fn, err);
    throw err;
  }
}

function status(fn: string, code: number): void {
  if (code < 0) throw new LargetableError('KERNEL_ERROR', `${fn}: kernel returned status ${code}`, { details: { status: code } });
}

/** Offsets of consecutive 16-byte-aligned regions of the given sizes; last entry is the total. */
function layout(...sizes: number[]): number[] {
  const offsets: number[] = [];
  let at = 0;
  for (const size of sizes) {
    offsets.push(at);
    at += Math.ceil(size / 16) * 16;
  }
  offsets.push(at);
  return offsets;
}

/** Wraps an instance of the kernel module. `build` must match how it was compiled. */
export function wrapKernelInstance(instance: WebAssembly.Instance, build: 'simd' | 'scalar'): WasmKernels {
  const ex = instance.exports as unknown as KernelExports;
  for (const name of exportNames) {
    if (!(name in ex)) throw new LargetableError('KERNEL_ERROR', `kernel module lacks export ${name}`);
  }
  const hasSimd = Number((ex.SIMD as WebAssembly.Global | undefined)?.value ?? 0) !== 0;
  if (hasSimd !== (build === 'simd')) {
    throw new LargetableError('KERNEL_ERROR', `kernel module is a ${hasSimd ? 'simd' : 'scalar'} build, expected ${build}`);
  }
  const arena = new LinearArena(ex.memory, ex.heapBase());

  // Array calls up to scratchBytesMax reuse one scratch block (calls are synchronous and never
  // nest), so a small call costs no allocator work; larger calls allocate and free their block.
  const scratchBytesMax = 1 << 20;
  let scratchPtr = 0;
  let scratchBytes = 0;

  /** Run `body(base)` with an arena block of `bytes` that is only valid during the call. */
  function withBlock<T>(fn: string, bytes: number, body: (base: number) => T): T {
    if (bytes <= scratchBytesMax) {
      if (bytes > scratchBytes) {
        if (scratchPtr !== 0) arena.free(scratchPtr);
        scratchPtr = 0;
        scratchBytes = Math.min(scratchBytesMax, Math.max(bytes, 2 * scratchBytes, 4096));
        scratchPtr = arena.alloc(scratchBytes);
      }
      try {
        return body(scratchPtr);
      } catch (err) {
        if (err instanceof WebAssembly.RuntimeError) throw kernelError(fn, err);
        throw err;
      }
    }
    const base = arena.alloc(bytes);
    try {
      return run(fn, () => body(base));
    } finally {
      arena.free(base);
    }
  }

  function score(fn: string, code: number, query: Float32Array, q: number, vectors: Float32Array, n: number, d: number, out: Float32Array, norms: Float32Array | undefined): void {
    const at = layout(q * d * 4, n * d * 4, q * n * 4, code === 2 ? n * 4 : 0);
    withBlock(fn, at[4]!, (base) => {
      const qp = base + at[0]!;
      const vp = base + at[1]!;
      const op = base + at[2]!;
      const np = base + at[3]!;
      const heap = arena.heapF32;
      heap.set(query.length === q * d ? query : query.subarray(0, q * d), qp >> 2);
      heap.set(vectors.length === n * d ? vectors : vectors.subarray(0, n * d), vp >> 2);
      if (code === 2) heap.set(norms!.length === n ? norms! : norms!.subarray(0, n), np >> 2);
      const s = q === 1 && fn === 'scoreBlock'
        ? ex.scoreBlock(code, qp, vp, n, d, op, np)
        : ex.scoreBatch(code, qp, q, vp, n, d, op, np);
      status(fn, s);
      out.set(heap.subarray(op >> 2, (op >> 2) + q * n));
    });
  }

  /** A checksum kernel (`crc32c` continuing from `crc`, `blockSum` of `crc` bytes) of bytes larger than the scratch block, in a block of their own. */
  function sumBlock(fn: 'crc32c' | 'blockSum', bytes: Uint8Array, crc: number): number {
    const n = bytes.length;
    return withBlock(fn, n, (base) => {
      arena.heapU8.set(bytes, base);
      // blockSum: `crc` is the length summed
      return (fn === 'crc32c' ? ex.crc32c(base, n, crc | 0) : ex.blockSum(base, crc)) >>> 0;
    });
  }

  const kernels: WasmKernels = {
    build,
    arena,
    exports: ex,

    scoreBlock(metric, query, vectors, n, d, out, norms) {
      const code = checkScore('scoreBlock', metric, query, 1, vectors, n, d, out, norms);
      score('scoreBlock', code, query, 1, vectors, n, d, out, norms);
    },

    scoreBatch(metric, queries, q, vectors, n, d, out, norms) {
      checkQueries('scoreBatch', q);
      const code = checkScore('scoreBatch', metric, queries, q, vectors, n, d, out, norms);
      score('scoreBatch', code, queries, q, vectors, n, d, out, norms);
    },

    topK(scores, k, higherIsBetter): TopK {
      checkK('topK', k);
      if (!(scores instanceof Float32Array)) throw new LargetableError('INVALID_ARGUMENT', 'topK: scores must be a Float32Array');
      const n = scores.length;
      checkCount('topK', 'scores.length', n);
      const at = layout(n * 4, k * 4, k * 4);
      return withBlock('topK', at[3]!, (base) => {
        const sp = base + at[0]!;
        const ip = base + at[1]!;
        const hp = base + at[2]!;
        arena.f32(sp, n).set(scores);
        const count = ex.topK(sp, n, k, higherIsBetter ? 1 : 0, ip, hp);
        status('topK', count);
        return { indices: arena.u32(ip, count).slice(), scores: arena.f32(hp, count).slice() };
      });
    },

    topKPtr(scoresPtr, n, k, higherIsBetter): TopK {
      checkTopKPtrArgs(arena, scoresPtr, n, k);
      const at = layout(k * 4, k * 4);
      return withBlock('topKPtr', at[2]!, (base) => {
        const count = ex.topK(scoresPtr, n, k, higherIsBetter ? 1 : 0, base, base + at[1]!);
        status('topKPtr', count);
        return { indices: arena.u32(base, count).slice(), scores: arena.f32(base + at[1]!, count).slice() };
      });
    },

    norms(vectors, n, d, out) {
      checkNormsArgs(vectors, n, d, out);
      const at = layout(n * d * 4, n * 4);
      withBlock('norms', at[2]!, (base) => {
        arena.f32(base, n * d).set(vectors.subarray(0, n * d));
        ex.norms(base, n, d, base + at[1]!);
        out.set(arena.f32(base + at[1]!, n));
      });
    },

    scoreBlockPtr(metric, queryPtr, vectorsPtr, n, d, outPtr, normsPtr) {
      const code = checkBlockPtrArgs(arena, metric, queryPtr, vectorsPtr, n, d, outPtr, normsPtr);
      status('scoreBlockPtr', run('scoreBlockPtr', () => ex.scoreBlock(code, queryPtr, vectorsPtr, n, d, outPtr, normsPtr)));
    },

    scoreGatherPtr(metric, queryPtr, vectorsPtr, idsPtr, count, d, outPtr, normsPtr, n) {
      // hot path (HNSW neighbour expansion): checks are plain comparisons, no closures
      const code = checkGatherPtrArgs(arena, metric, queryPtr, vectorsPtr, idsPtr, count, d, outPtr, normsPtr);
      const bytes = arena.byteLength;
      // ids are bounded by n when given, and always by what the memory holds
      let limit = ((bytes - vectorsPtr) / (d * 4)) >>> 0;
      if (code === 2) limit = Math.min(limit, ((bytes - normsPtr) / 4) >>> 0);
      if (n !== undefined) {
        checkCount('scoreGatherPtr', 'n', n);
        if (n > limit) throw new LargetableError('INVALID_ARGUMENT', `scoreGatherPtr: n = ${n} vectors do not fit in the kernel arena`);
        limit = n;
      }
      let s: number;
      try {
        s = ex.scoreGather(code, queryPtr, vectorsPtr, idsPtr, count, d, outPtr, normsPtr, limit);
      } catch (err) {
        if (err instanceof WebAssembly.RuntimeError) throw kernelError('scoreGatherPtr', err);
        throw err;
      }
      if (s === -2) {
        throw new LargetableError('INVALID_ARGUMENT', n !== undefined ? `scoreGatherPtr: an id is >= n (${n})` : 'scoreGatherPtr: an id points outside the kernel arena');
      }
      if (s < 0) status('scoreGatherPtr', s);
    },

    quantizeI8(vectors, n, d, min, scale, out) {
      checkQuantizeI8Args(vectors, n, d, min, scale, out);
      const at = layout(n * d * 4, d * 4, d * 4, n * d);
      withBlock('quantizeI8', at[4]!, (base) => {
        arena.f32(base, n * d).set(vectors.subarray(0, n * d));
        arena.f32(base + at[1]!, d).set(min.subarray(0, d));
        arena.f32(base + at[2]!, d).set(scale.subarray(0, d));
        ex.quantizeI8(base, n, d, base + at[1]!, base + at[2]!, base + at[3]!);
        out.set(arena.i8(base + at[3]!, n * d));
      });
    },

    dotI8(query, codes, n, d, out) {
      i8Score('dotI8', ex.dotI8, query, codes, n, d, out);
    },

    l2I8(query, codes, n, d, out) {
      i8Score('l2I8', ex.l2I8, query, codes, n, d, out);
    },

    scoreI8Ptr(metric, queryPtr, codesPtr, n, d, outPtr) {
      checkI8PtrArgs(arena, metric, queryPtr, codesPtr, n, d, outPtr);
      run('scoreI8Ptr', () => (metric === 'dot' ? ex.dotI8 : ex.l2I8)(queryPtr, codesPtr, n, d, outPtr));
    },

    crc32c(bytes, crc = 0, start = 0, end = bytes?.length) {
      if (!(bytes instanceof Uint8Array)) throw new LargetableError('INVALID_ARGUMENT', 'crc32c: bytes must be a Uint8Array');
      if (!Number.isInteger(crc) || crc < -0x80000000 || crc > 0xffffffff) {
        throw new LargetableError('INVALID_ARGUMENT', `crc32c: crc must be a 32-bit integer, got ${crc}`);
      }
      checkCrcRange(bytes, start, end);
      const n = bytes.length;
      // a block read's check: the scratch block directly, no closure per call (nor a context for
      // one: the closure of a larger call is made in sumBlock, which captures its own variables;
      // made here, every call allocated a context of ~90 B for bytes, n and crc). A range that is
      // most of the bytes is summed in place after copying them all (no view of the range).
      const whole = n <= scratchBytes && (end - start) * 2 >= n;
      const range = whole || (start === 0 && end === n) ? bytes : bytes.subarray(start, end);
      if (range.length > scratchBytes) return sumBlock('crc32c', range, crc);
      arena.heapU8.set(range, scratchPtr);
      try {
        return ex.crc32c(whole ? scratchPtr + start : scratchPtr, end - start, crc | 0) >>> 0;
      } catch (err) {
        if (err instanceof WebAssembly.RuntimeError) throw kernelError('crc32c', err);
        throw err;
      }
    },

    blockSum(bytes, len = bytes.length) {
      checkSumLength(bytes, len);
      const n = bytes.length;
      // a block read's check, as crc32c's: the scratch block directly, no closure per call
      if (n <= scratchBytes) {
        arena.heapU8.set(bytes, scratchPtr);
        try {
          return ex.blockSum(scratchPtr, len) >>> 0;
        } catch (err) {
          if (err instanceof WebAssembly.RuntimeError) throw kernelError('blockSum', err);
          throw err;
        }
      }
      return sumBlock('blockSum', bytes, len);
    },

    encodeU32(values) {
      if (!(values instanceof Uint32Array)) throw new LargetableError('INVALID_ARGUMENT', 'encodeU32: values must be a Uint32Array');
      const n = values.length;
      checkCount('encodeU32', 'values.length', n);
      const cap = codecHeaderBytes + Math.ceil(n / codecBlockValues) * 513 + 16;
      const at = layout(n * 4, cap);
      return withBlock('encodeU32', at[2]!, (base) => {
        arena.u32(base, n).set(values);
        const len = ex.encodeU32(base, n, base + at[1]!);
        status('encodeU32', len);
        return arena.u8(base + at[1]!, len).slice();
      });
    },

    decodeU32(bytes) {
      const count = checkCodecHeader('decodeU32', bytes, codecKindU32);
      const len = bytes.length;
      const at = layout(len + 16, count * 4 + 16);
      return withBlock('decodeU32', at[2]!, (base) => {
        arena.u8(base, len).set(bytes);
        const s = ex.decodeU32(base, len, base + at[1]!, count);
        if (s < 0) corrupt('decodeU32', s);
        return arena.u32(base + at[1]!, count).slice();
      });
    },

    encodeI64(values) {
      if (!(values instanceof BigInt64Array)) throw new LargetableError('INVALID_ARGUMENT', 'encodeI64: values must be a BigInt64Array');
      const n = values.length;
      checkCount('encodeI64', 'values.length', n);
      const cap = codecHeaderBytes + Math.ceil(n / codecBlockValues) * 1025 + 16;
      const at = layout(n * 8, cap);
      return withBlock('encodeI64', at[2]!, (base) => {
        new BigInt64Array(ex.memory.buffer, base, n).set(values);
        const len = ex.encodeI64(base, n, base + at[1]!);
        status('encodeI64', len);
        return arena.u8(base + at[1]!, len).slice();
      });
    },

    decodeI64(bytes) {
      const count = checkCodecHeader('decodeI64', bytes, codecKindI64);
      const len = bytes.length;
      const at = layout(len + 16, count * 8 + 16);
      return withBlock('decodeI64', at[2]!, (base) => {
        arena.u8(base, len).set(bytes);
        const s = ex.decodeI64(base, len, base + at[1]!, count);
        if (s < 0) corrupt('decodeI64', s);
        return new BigInt64Array(ex.memory.buffer, base + at[1]!, count).slice();
      });
    },
  };

  function i8Score(
    fn: string, kernel: (q: number, codes: number, n: number, d: number, out: number) => void,
    query: Int8Array, codes: Int8Array, n: number, d: number, out: Float32Array,
  ): void {
    checkI8ScoreArgs(fn, query, codes, n, d, out);
    const at = layout(d, n * d, n * 4);
    withBlock(fn, at[3]!, (base) => {
      arena.i8(base, d).set(query.subarray(0, d));
      arena.i8(base + at[1]!, n * d).set(codes.subarray(0, n * d));
      kernel(base, base + at[1]!, n, d, base + at[2]!);
      out.set(arena.f32(base + at[2]!, n));
    });
  }

  return kernels;
}

export type { KernelBuild };
