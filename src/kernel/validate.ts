/**
 * Argument checks shared by every Kernels implementation, so the wasm builds and the
 * TypeScript twin refuse exactly the same inputs (INVALID_ARGUMENT / LIMIT_EXCEEDED).
 */
import { LargetableError } from '../errors.ts';
import { kernelBatchQueriesMax, topKMax, vectorDimensionsMax } from '../limits.ts';
import type { LinearArena } from './arena.ts';
import type { Metric } from './types.ts';

export const metricCode: Record<Metric, number> = { dot: 0, l2: 1, cosine: 2, l1: 3 };

function bad(message: string): never {
  throw new LargetableError('INVALID_ARGUMENT', message);
}

export function checkMetric(fn: string, metric: Metric): number {
  const code = metricCode[metric];
  if (typeof code !== 'number') bad(`${fn}: unknown metric ${String(metric)}`);
  return code;
}

export function checkCount(fn: string, name: string, value: number): void {
  if (!(value >= 0 && value <= 0x7fffffff && Number.isInteger(value))) bad(`${fn}: ${name} must be an integer in [0, 2^31), got ${value}`);
}

/** `blockSum`'s arguments: a Uint8Array and a length in [0, bytes.length]. */
export function checkSumLength(bytes: Uint8Array, len: number): void {
  if (!(bytes instanceof Uint8Array)) bad('blockSum: bytes must be a Uint8Array');
  if (!(len >= 0 && len <= bytes.length && Number.isInteger(len))) bad(`blockSum: len must be an integer in [0, ${bytes.length}], got ${len}`);
}

export function checkDim(fn: string, d: number): void {
  if (!(d >= 1 && Number.isInteger(d))) bad(`${fn}: d must be a positive integer, got ${d}`);
  if (d > vectorDimensionsMax) {
    throw new LargetableError('LIMIT_EXCEEDED', `${fn}: d = ${d} exceeds vectorDimensionsMax (${vectorDimensionsMax})`);
  }
}

export function checkQueries(fn: string, q: number): void {
  checkCount(fn, 'q', q);
  if (q > kernelBatchQueriesMax) {
    throw new LargetableError('LIMIT_EXCEEDED', `${fn}: q = ${q} exceeds kernelBatchQueriesMax (${kernelBatchQueriesMax})`);
  }
}

export function checkLength(fn: string, name: string, array: ArrayLike<unknown> | undefined, need: number): void {
  if (array === undefined) bad(`${fn}: ${name} is required`);
  if (array.length < need) bad(`${fn}: ${name} has ${array.length} elements, needs at least ${need}`);
}

export function checkK(fn: string, k: number): void {
  if (!Number.isSafeInteger(k) || k < 0) bad(`${fn}: k must be a non-negative integer, got ${k}`);
  if (k > topKMax) throw new LargetableError('LIMIT_EXCEEDED', `${fn}: k = ${k} exceeds topKMax (${topKMax})`);
}

/** Checks a score call's shapes; returns the metric code. */
export function checkScore(
  fn: string,
  metric: Metric,
  query: Float32Array,
  qCount: number,
  vectors: Float32Array,
  n: number,
  d: number,
  out: Float32Array,
  norms: Float32Array | undefined,
): number {
  const code = checkMetric(fn, metric);
  checkCount(fn, 'n', n);
  checkDim(fn, d);
  checkLength(fn, 'query', query, qCount * d);
  checkLength(fn, 'vectors', vectors, n * d);
  checkLength(fn, 'out', out, qCount * n);
  if (metric === 'cosine') checkLength(fn, 'norms', norms, n);
  return code;
}

export const codecVersion = 1;
export const codecKindU32 = 1;
export const codecKindI64 = 2;
export const codecHeaderBytes = 6;
export const codecBlockValues = 128;

/** Validates a codec header; returns the value count. */
export function checkCodecHeader(fn: string, bytes: Uint8Array, kind: number): number {
  if (!(bytes instanceof Uint8Array)) bad(`${fn}: bytes must be a Uint8Array`);
  if (bytes.length < codecHeaderBytes) throw new LargetableError('CORRUPTION', `${fn}: ${bytes.length} bytes is shorter than the header`);
  if (bytes[0] !== codecVersion) {
    throw new LargetableError('UNSUPPORTED_FORMAT', `${fn}: codec version ${bytes[0]} is not supported (this build reads ${codecVersion})`);
  }
  if (bytes[1] !== kind) throw new LargetableError('CORRUPTION', `${fn}: column kind ${bytes[1]} is not ${kind}`);
  const count = (bytes[2]! | (bytes[3]! << 8) | (bytes[4]! << 16) | (bytes[5]! << 24)) >>> 0;
  // every block costs at least its width byte, so a valid count is bounded by the length
  if (count > 0x7fffffff || count > (bytes.length - codecHeaderBytes) * codecBlockValues) {
    throw new LargetableError('CORRUPTION', `${fn}: count ${count} does not fit in ${bytes.length} bytes`);
  }
  return count;
}

export function corrupt(fn: string, status: number): never {
  throw new LargetableError('CORRUPTION', `${fn}: encoded column is malformed (status ${status})`, { details: { status } });
}

// ------------------------------------------------ whole-call checks (same order in every build)

/** The arena's pointer check (LinearArena.check): INVALID_ARGUMENT outside the arena. */
type PtrCheck = Pick<LinearArena, 'check'>;

export function checkNormsArgs(vectors: Float32Array, n: number, d: number, out: Float32Array): void {
  checkCount('norms', 'n', n);
  checkDim('norms', d);
  checkLength('norms', 'vectors', vectors, n * d);
  checkLength('norms', 'out', out, n);
}

export function checkQuantizeI8Args(vectors: Float32Array, n: number, d: number, min: Float32Array, scale: Float32Array, out: Int8Array): void {
  checkCount('quantizeI8', 'n', n);
  checkDim('quantizeI8', d);
  checkLength('quantizeI8', 'vectors', vectors, n * d);
  checkLength('quantizeI8', 'min', min, d);
  checkLength('quantizeI8', 'scale', scale, d);
  checkLength('quantizeI8', 'out', out, n * d);
}

/** dotI8 / l2I8 on arrays. */
export function checkI8ScoreArgs(fn: string, query: Int8Array, codes: Int8Array, n: number, d: number, out: Float32Array): void {
  checkCount(fn, 'n', n);
  checkDim(fn, d);
  checkLength(fn, 'query', query, d);
  checkLength(fn, 'codes', codes, n * d);
  checkLength(fn, 'out', out, n);
}

export function checkTopKPtrArgs(arena: PtrCheck, scoresPtr: number, n: number, k: number): void {
  checkK('topKPtr', k);
  checkCount('topKPtr', 'n', n);
  arena.check('topKPtr', scoresPtr, n * 4);
}

/** scoreBlockPtr: every region it reads or writes lies in the arena. Returns the metric code. */
export function checkBlockPtrArgs(arena: PtrCheck, metric: Metric, queryPtr: number, vectorsPtr: number, n: number, d: number, outPtr: number, normsPtr: number): number {
  const code = checkMetric('scoreBlockPtr', metric);
  checkCount('scoreBlockPtr', 'n', n);
  checkDim('scoreBlockPtr', d);
  arena.check('scoreBlockPtr', queryPtr, d * 4);
  arena.check('scoreBlockPtr', vectorsPtr, n * d * 4);
  arena.check('scoreBlockPtr', outPtr, n * 4);
  if (code === 2) arena.check('scoreBlockPtr', normsPtr, n * 4);
  return code;
}

/**
 * scoreGatherPtr before the ids are read: query, ids and out lie in the arena, vectors (and norms
 * for cosine) start in it. Each build then bounds every id. Returns the metric code.
 */
export function checkGatherPtrArgs(arena: PtrCheck, metric: Metric, queryPtr: number, vectorsPtr: number, idsPtr: number, count: number, d: number, outPtr: number, normsPtr: number): number {
  const code = checkMetric('scoreGatherPtr', metric);
  checkCount('scoreGatherPtr', 'count', count);
  checkDim('scoreGatherPtr', d);
  arena.check('scoreGatherPtr', queryPtr, d * 4);
  arena.check('scoreGatherPtr', idsPtr, count * 4);
  arena.check('scoreGatherPtr', outPtr, count * 4);
  arena.check('scoreGatherPtr', vectorsPtr, 0);
  if (code === 2) arena.check('scoreGatherPtr', normsPtr, 0);
  return code;
}

/** scoreI8Ptr: metric dot or l2; query and codes (bytes) and out (f32) lie in the arena. */
export function checkI8PtrArgs(arena: PtrCheck, metric: 'dot' | 'l2', queryPtr: number, codesPtr: number, n: number, d: number, outPtr: number): void {
  if (metric !== 'dot' && metric !== 'l2') bad(`scoreI8Ptr: metric must be dot or l2, got ${String(metric)}`);
  checkCount('scoreI8Ptr', 'n', n);
  checkDim('scoreI8Ptr', d);
  arena.check('scoreI8Ptr', queryPtr, d, 1);
  arena.check('scoreI8Ptr', codesPtr, n * d, 1);
  arena.check('scoreI8Ptr', outPtr, n * 4);
}

/** crc32c's range: integers with 0 <= start <= end <= bytes.length. */
export function checkCrcRange(bytes: Uint8Array, start: number, end: number): void {
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || start > end || end > bytes.length) {
    throw new LargetableError('INVALID_ARGUMENT', `crc32c: range [${start}, ${end}) is not within the ${bytes.length} bytes`);
  }
}
