/**
 * Vector values as documents hold them, and their validation. Accepted: Float32Array, Float64Array,
 * number[], a BSON Binary (subtype 9 float32 vector, or subtype 0 raw little-endian float32), and
 * the `{ '0': x, '1': y, ... }` object that bson makes of a serialized Float32Array. Anything
 * else, a wrong dimension, NaN or Infinity => LargetableError INVALID_VECTOR.
 */
import { LargetableError } from '../errors.ts';
import type { Metric } from '../kernel/types.ts';
import { vectorDimensionsMax } from '../limits.ts';

export const metrics: readonly Metric[] = ['cosine', 'l2', 'dot', 'l1'];

function invalid(message: string, details: Record<string, unknown> = {}): LargetableError {
  return new LargetableError('INVALID_VECTOR', message, { details });
}

interface BinaryLike {
  _bsontype: 'Binary';
  sub_type: number;
  buffer: Uint8Array;
  position: number;
}

function isBinary(v: unknown): v is BinaryLike {
  return typeof v === 'object' && v !== null && (v as { _bsontype?: unknown })._bsontype === 'Binary';
}

function fromBytesLE(bytes: Uint8Array, offset: number, d: number): Float32Array {
  const out = new Float32Array(d);
  const dv = new DataView(bytes.buffer, bytes.byteOffset + offset, d * 4);
  for (let i = 0; i < d; i++) out[i] = dv.getFloat32(i * 4, true);
  return out;
}

/**
 * Coerces a document field value to a Float32Array of `dimensions` finite numbers, or throws
 * INVALID_VECTOR. `path` only names the field in the error. The result may share memory with
 * `value` when it already is a Float32Array; callers copy before keeping it.
 */
export function toVector(value: unknown, dimensions: number, path = 'vector'): Float32Array {
  let v: Float32Array;
  if (value instanceof Float32Array) v = value;
  else if (Array.isArray(value) || value instanceof Float64Array) {
    const a = value as ArrayLike<unknown>;
    v = new Float32Array(a.length);
    for (let i = 0; i < a.length; i++) {
      const x = a[i];
      if (typeof x !== 'number') throw invalid(`${path}[${i}] is not a number`, { path, index: i });
      v[i] = x;
    }
  } else if (isBinary(value)) {
    const bytes = value.buffer.subarray(0, value.position || value.buffer.length);
    if (value.sub_type === 9) {
      // BSON vector: [dtype][padding][data]; only float32 (0x27) carries floats.
      if (bytes[0] !== 0x27) throw invalid(`${path} is a BSON vector of dtype 0x${(bytes[0] ?? 0).toString(16)}, expected float32`, { path });
      if ((bytes.length - 2) % 4 !== 0) throw invalid(`${path} BSON float32 vector has a truncated body`, { path });
      v = fromBytesLE(bytes, 2, (bytes.length - 2) / 4);
    } else if (value.sub_type === 0) {
      if (bytes.length % 4 !== 0) throw invalid(`${path} binary length ${bytes.length} is not a multiple of 4`, { path });
      v = fromBytesLE(bytes, 0, bytes.length / 4);
    } else throw invalid(`${path} is a Binary of subtype ${value.sub_type}`, { path });
  } else if (typeof value === 'object' && value !== null && !ArrayBuffer.isView(value) && '0' in value) {
    // bson's encoding of a typed array: a sub-document with keys '0'..'n-1'.
    const o = value as Record<string, unknown>;
    const keys = Object.keys(o);
    v = new Float32Array(keys.length);
    for (let i = 0; i < keys.length; i++) {
      const x = o[String(i)];
      if (typeof x !== 'number') throw invalid(`${path}.${i} is not a number`, { path, index: i });
      v[i] = x;
    }
  } else if (ArrayBuffer.isView(value)) {
    throw invalid(`${path} is a ${Object.prototype.toString.call(value).slice(8, -1)}: a vector must be a Float32Array, a Float64Array or an array of numbers`, { path });
  } else {
    throw invalid(`${path} must be a Float32Array or an array of numbers`, { path, type: value === null ? 'null' : typeof value });
  }
  if (v.length !== dimensions) throw invalid(`${path} has ${v.length} dimensions, the index expects ${dimensions}`, { path, dimensions: v.length, expected: dimensions });
  for (let i = 0; i < v.length; i++) {
    const x = v[i]!;
    if (x !== x || x === Infinity || x === -Infinity) throw invalid(`${path}[${i}] is not finite`, { path, index: i });
  }
  return v;
}

export function checkDimensions(d: unknown): number {
  if (typeof d !== 'number' || !Number.isInteger(d) || d < 1 || d > vectorDimensionsMax) {
    throw new LargetableError('INVALID_ARGUMENT', `dimensions must be an integer in 1..${vectorDimensionsMax}`, { details: { dimensions: d } });
  }
  return d;
}

export function checkMetric(m: unknown): Metric {
  if (m === undefined) return 'cosine';
  if (typeof m !== 'string' || !(metrics as readonly string[]).includes(m)) {
    throw new LargetableError('INVALID_ARGUMENT', `metric must be one of ${metrics.join(', ')}`, { details: { metric: m } });
  }
  return m as Metric;
}

/** Reads a field by dotted path from a plain document. */
export function getPath(doc: unknown, path: string): unknown {
  let cur = doc;
  for (const part of path.split('.')) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}
