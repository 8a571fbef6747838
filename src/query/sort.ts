/**
 * Sort comparators with MongoDB array semantics: an array field sorts by its smallest element
 * ascending and its largest element descending; missing and null sort together; an empty array
 * sorts before null.
 */
import { lookupForMatch, splitPath } from './path.ts';
import type { Document } from './values.ts';
import { badQuery, compareValues, getOwn, isNumeric, isPlainObject, toDouble } from './values.ts';

const EMPTY = Symbol('empty-array');

/** The sort key of `doc` for one path and direction. */
export function sortKey(doc: Document, parts: readonly string[], dir: number): unknown {
  // fast path: no array on the way
  let cur: unknown = doc;
  for (let i = 0; i < parts.length; i++) {
    if (Array.isArray(cur)) return sortKeySlow(doc, parts, dir);
    if (!isPlainObject(cur)) return null;
    cur = getOwn(cur, parts[i] as string);
  }
  if (Array.isArray(cur)) return sortKeySlow(doc, parts, dir);
  return cur === undefined ? null : cur;
}

function sortKeySlow(doc: Document, parts: readonly string[], dir: number): unknown {
  const reached: unknown[] = [];
  lookupForMatch(doc, parts, 0, reached);
  if (reached.length === 0) return null;
  let best: unknown = EMPTY;
  let sawAny = false;
  const consider = (v: unknown): void => {
    const x = v === undefined ? null : v;
    if (!sawAny) {
      best = x;
      sawAny = true;
      return;
    }
    const c = compareValues(x, best);
    if (dir > 0 ? c < 0 : c > 0) best = x;
  };
  for (const v of reached) {
    if (Array.isArray(v)) {
      for (const e of v) consider(e);
    } else consider(v);
  }
  return best;
}

/** Compare two sort keys from `sortKey` (an empty array sorts first). */
export function compareKeys(a: unknown, b: unknown): number {
  if (a === EMPTY) return b === EMPTY ? 0 : -1;
  if (b === EMPTY) return 1;
  return compareValues(a, b);
}

export function parseSort(sort: Document): { parts: string[]; path: string; dir: number }[] {
  if (!isPlainObject(sort)) throw badQuery('sort must be a document');
  const out: { parts: string[]; path: string; dir: number }[] = [];
  for (const path of Object.keys(sort)) {
    const d = sort[path];
    let dir: number;
    if (isNumeric(d) && (toDouble(d) === 1 || toDouble(d) === -1)) dir = toDouble(d);
    else if (d === 'asc' || d === 'ascending') dir = 1;
    else if (d === 'desc' || d === 'descending') dir = -1;
    else throw badQuery(`invalid sort direction for '${path}': must be 1 or -1`);
    out.push({ parts: splitPath(path), path, dir });
  }
  return out;
}

export function compileSort(sort: Document): (a: Document, b: Document) => number {
  const keys = parseSort(sort);
  // sort keys are computed once per document and comparator (documents are not mutated while sorting)
  const cache = new WeakMap<object, unknown[]>();
  const keysOf = (d: Document): unknown[] => {
    let k = cache.get(d);
    if (k === undefined) {
      k = keys.map((s) => sortKey(d, s.parts, s.dir));
      cache.set(d, k);
    }
    return k;
  };
  return (a, b) => {
    const ka = keysOf(a);
    const kb = keysOf(b);
    for (let i = 0; i < keys.length; i++) {
      const c = compareKeys(ka[i], kb[i]);
      if (c !== 0) return (keys[i] as { dir: number }).dir > 0 ? c : -c;
    }
    return 0;
  };
}

/** Sort an array with precomputed keys (faster than a comparator for large inputs); stable. */
export function sortDocuments(docs: Document[], sort: Document): Document[] {
  const keys = parseSort(sort);
  const rows = docs.map((d, i) => ({ d, i, k: keys.map((k) => sortKey(d, k.parts, k.dir)) }));
  rows.sort((x, y) => {
    for (let j = 0; j < keys.length; j++) {
      const c = compareKeys(x.k[j], y.k[j]);
      if (c !== 0) return (keys[j] as { dir: number }).dir > 0 ? c : -c;
    }
    return x.i - y.i;
  });
  return rows.map((r) => r.d);
}

/** The first `k` documents of `docs` in `sort` order (stable), keeping at most ~2k rows in memory. */
export async function topK(docs: AsyncIterable<Document>, sort: Document, k: number): Promise<Document[]> {
  const keys = parseSort(sort);
  type Row = { d: Document; i: number; k: unknown[] };
  const cmp = (x: Row, y: Row): number => {
    for (let j = 0; j < keys.length; j++) {
      const c = compareKeys(x.k[j], y.k[j]);
      if (c !== 0) return (keys[j] as { dir: number }).dir > 0 ? c : -c;
    }
    return x.i - y.i;
  };
  let rows: Row[] = [];
  let i = 0;
  const cap = Math.max(2 * k, 64);
  for await (const d of docs) {
    rows.push({ d, i: i++, k: keys.map((s) => sortKey(d, s.parts, s.dir)) });
    if (rows.length >= cap) {
      rows.sort(cmp);
      rows = rows.slice(0, k);
    }
  }
  rows.sort(cmp);
  return rows.slice(0, k).map((r) => r.d);
}
