/** Vector search: public surface. Importing this module registers the 'vector' index kind. */
import { registerVectorIndexKind } from './plugin.ts';

registerVectorIndexKind();

export { registerVectorIndexKind, VectorIndexPlugin, createVectorPlugin } from './plugin.ts';
export type { VectorHit, VectorSearchOptions, VectorSearchPlan } from './plugin.ts';
export { createVectorIndex, deserializeVectorIndex, serializeVectorIndex } from './create.ts';
export type { VectorIndexOptions } from './create.ts';
export { FlatIndex } from './flat.ts';
export { HnswIndex } from './hnsw.ts';
export { IvfIndex } from './ivf.ts';
export { LshIndex } from './lsh.ts';
export { LabelSet } from './types.ts';
export type { VectorIndex, VectorIndexKind, SearchOptions, SearchResult } from './types.ts';
export { toVector } from './vector.ts';
