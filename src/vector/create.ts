/**
 * Creates a VectorIndex of any kind from the options given to createIndex, and (de)serializes
 * indexes with a small self-describing header (docs/FORMAT.md "## Vectors").
 */
import { LargetableError } from '../errors.ts';
import type { Kernels, Metric } from '../kernel/types.ts';
import { ByteReader, ByteWriter, concatBytes } from './bytes.ts';
import { FlatIndex } from './flat.ts';
import { HnswIndex } from './hnsw.ts';
import { IvfIndex } from './ivf.ts';
import { LshIndex } from './lsh.ts';
import type { VectorIndex, VectorIndexKind } from './types.ts';
import { checkDimensions, checkMetric, metrics } from './vector.ts';

export const kinds: readonly VectorIndexKind[] = ['flat', 'hnsw', 'ivf', 'lsh'];
export const formatVersion = 1;
const magic = 0x4956544c; // 'LTVI' little-endian

export interface VectorIndexOptions {
  dimensions: number;
  metric?: Metric;
  kind?: VectorIndexKind;
  // hnsw
  M?: number;
  efConstruction?: number;
  efSearch?: number;
  // ivf
  nlist?: number;
  nprobe?: number;
  quantization?: 'none' | 'sq8' | 'pq';
  pqM?: number;
  storeVectors?: boolean;
  rerank?: number;
  trainSize?: number;
  // lsh
  tables?: number;
  bits?: number;
  probes?: number;
  seed?: number;
}

const known = new Set(['dimensions', 'metric', 'kind', 'M', 'efConstruction', 'efSearch', 'nlist', 'nprobe', 'quantization', 'pqM', 'storeVectors', 'rerank', 'trainSize', 'tables', 'bits', 'probes', 'seed']);

/** Validates createIndex options (throws INVALID_ARGUMENT) and returns them typed. */
export function checkOptions(o: Record<string, unknown>): VectorIndexOptions {
  for (const key of Object.keys(o)) {
    if (!known.has(key) && o[key] !== undefined) {
      // options of the collection layer (name, unique, ...) are not ours; ignore only those
      if (['name', 'background', 'unique', 'sparse', 'partialFilterExpression', 'path'].includes(key)) continue;
      throw new LargetableError('INVALID_ARGUMENT', `unknown vector index option '${key}'`, { details: { option: key } });
    }
  }
  const kind = (o.kind ?? 'hnsw') as VectorIndexKind;
  if (!kinds.includes(kind)) throw new LargetableError('INVALID_ARGUMENT', `kind must be one of ${kinds.join(', ')}`, { details: { kind } });
  return { ...(o as unknown as VectorIndexOptions), dimensions: checkDimensions(o.dimensions), metric: checkMetric(o.metric), kind };
}

export function createVectorIndex(k: Kernels, options: VectorIndexOptions): VectorIndex {
  const o = checkOptions(options as unknown as Record<string, unknown>);
  const d = o.dimensions, m = o.metric!;
  switch (o.kind) {
    case 'flat': return new FlatIndex(k, d, m);
    case 'hnsw': return new HnswIndex(k, d, m, o);
    case 'ivf': return new IvfIndex(k, d, m, o);
    case 'lsh': return new LshIndex(k, d, m, o);
    default: throw new LargetableError('INVALID_ARGUMENT', `unknown kind ${String(o.kind)}`);
  }
}

/** Header + body of an index snapshot. */
export function serializeVectorIndex(ix: VectorIndex): Uint8Array[] {
  const w = new ByteWriter();
  w.u32(magic);
  w.u8(formatVersion);
  w.u8(kinds.indexOf(ix.kind));
  w.u8(metrics.indexOf(ix.metric));
  w.u32(ix.dimensions);
  return [...w.finish(), ...ix.serialize()];
}

export function deserializeVectorIndex(k: Kernels, bytes: Uint8Array | Uint8Array[]): VectorIndex {
  const r = new ByteReader(Array.isArray(bytes) ? concatBytes(bytes) : bytes);
  return readVectorIndex(k, r);
}

export function readVectorIndex(k: Kernels, r: ByteReader): VectorIndex {
  if (r.u32() !== magic) throw new LargetableError('CORRUPTION', 'vector index snapshot: bad magic');
  const v = r.u8();
  if (v !== formatVersion) throw new LargetableError('UNSUPPORTED_FORMAT', `vector index snapshot version ${v}, this build reads ${formatVersion}`);
  const kind = kinds[r.u8()], metric = metrics[r.u8()], d = r.u32();
  if (kind === undefined || metric === undefined) throw new LargetableError('CORRUPTION', 'vector index snapshot: bad kind or metric');
  switch (kind) {
    case 'flat': return FlatIndex.deserialize(k, d, metric, r);
    case 'hnsw': return HnswIndex.deserialize(k, d, metric, r);
    case 'ivf': return IvfIndex.deserialize(k, d, metric, r);
    case 'lsh': return LshIndex.deserialize(k, d, metric, r);
  }
}
