/**
 * The MongoDB query language over decoded BSON values: filters, comparison order, sorts,
 * projections, updates, aggregation expressions and pipelines, and document validation.
 * Pure and synchronous except `runPipeline` (async iteration). See docs/ARCHITECTURE.md
 * ("Query language") and docs/COMPATIBILITY.md.
 */
export type { Document } from './values.ts';
export { compareValues, valuesEqual, typeName, cloneValue, isPlainObject } from './values.ts';
export type { Matcher } from './filter.ts';
export { compileFilter, matchesType } from './filter.ts';
export { compileSort, sortDocuments, sortKey } from './sort.ts';
export { compileProjection } from './projection.ts';
export { applyUpdate, compileUpdate, upsertSeed, isReplacement, sameValue } from './update.ts';
export type { UpdateOptions } from './update.ts';
export { getPathValues, splitPath } from './path.ts';
export { evaluateExpression } from './expression.ts';
export type { DocMeta } from './meta.ts';
export { setDocMeta, getDocMeta } from './meta.ts';
export type { PipelineContext } from './pipeline.ts';
export { runPipeline, groupKey } from './pipeline.ts';
export { validateDocument } from './validate.ts';
export { compileRegex } from './regex.ts';
export type { SafeRegex } from './regex.ts';
