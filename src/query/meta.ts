/**
 * Per-document metadata ($meta): values that travel beside a document through a pipeline
 * without being fields of it, e.g. the score a $vectorSearch stage gives each hit. Stored in a
 * WeakMap keyed by the document object, so nothing leaks into stored or returned documents.
 * Per-document stages ($set/$addFields/$project/$unset) carry the metadata to their output.
 */
import { badQuery } from './values.ts';

export type DocMeta = { vectorSearchScore?: number; searchScore?: number; textScore?: number };

const metas = new WeakMap<object, DocMeta>();
let used = false;

/** Attach metadata to a document (the vector stage calls this for each hit). */
export function setDocMeta(doc: object, meta: DocMeta): void {
  used = true;
  metas.set(doc, meta);
}

export function getDocMeta(doc: object): DocMeta | undefined {
  return used ? metas.get(doc) : undefined;
}

/** Carry `from`'s metadata to `to` (a stage's output built from `from`); returns `to`. */
export function carryDocMeta<T extends object>(from: object, to: T): T {
  if (used && from !== to) {
    const m = metas.get(from);
    if (m !== undefined) metas.set(to, m);
  }
  return to;
}

const KNOWN = new Set(['vectorSearchScore', 'searchScore', 'textScore', 'searchHighlights', 'searchScoreDetails', 'indexKey', 'recordId', 'sortKey', 'geoNearDistance', 'geoNearPoint', 'randVal']);

/** Check a `$meta` argument: a known metadata name. */
export function checkMetaName(name: unknown): string {
  if (typeof name !== 'string' || !KNOWN.has(name)) throw badQuery(`unsupported $meta argument: ${String(name)}`);
  return name;
}

/** Value of `{$meta: name}` for a document: undefined (field omitted) when not available. */
export function metaValue(doc: unknown, name: unknown): unknown {
  const n = checkMetaName(name);
  if (doc === null || typeof doc !== 'object') return undefined;
  const m = getDocMeta(doc);
  return m === undefined ? undefined : (m as Record<string, unknown>)[n];
}
