/**
 * Dotted-path access with MongoDB's implicit array traversal.
 *
 * At a non-final step, an array is traversed: a numeric component indexes it positionally AND every
 * element that is a document is searched for the component as a field name. Arrays nested directly
 * inside arrays are not traversed further (MongoDB's rule). The final value is returned as is
 * (callers decide whether to also test array elements).
 */
import type { Document } from './values.ts';
import { getOwn, isPlainObject, RESERVED_KEYS, badQuery } from './values.ts';

const pathCache = new Map<string, string[]>();

/** Split a dotted path, refusing empty components and reserved keys. */
export function splitPath(path: string): string[] {
  let parts = pathCache.get(path);
  if (parts !== undefined) return parts;
  parts = path.split('.');
  for (const p of parts) {
    if (p === '') throw badQuery(`invalid empty component in path '${path}'`, { path });
    if (RESERVED_KEYS.has(p)) throw badQuery(`reserved field name '${p}' in path '${path}'`, { path });
  }
  if (pathCache.size > 10000) pathCache.clear();
  pathCache.set(path, parts);
  return parts;
}

export function isArrayIndex(s: string): boolean {
  if (s.length === 0 || s.length > 9) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return s.length === 1 || s.charCodeAt(0) !== 48;
}

/**
 * Values reached by `parts` for query matching: `undefined` stands for "missing" on a branch.
 * Leaf arrays are NOT expanded.
 */
export function lookupForMatch(value: unknown, parts: readonly string[], i: number, out: unknown[]): void {
  if (i === parts.length) {
    out.push(value);
    return;
  }
  const key = parts[i] as string;
  if (Array.isArray(value)) {
    for (const e of value) if (isPlainObject(e)) lookupForMatch(e, parts, i, out);
    if (isArrayIndex(key)) {
      // an array offset: the element itself at the end of the path, else only containers continue
      const idx = Number(key);
      if (idx < value.length) {
        const e = value[idx];
        if (i + 1 === parts.length || isPlainObject(e) || Array.isArray(e)) lookupForMatch(e, parts, i + 1, out);
      }
    }
    return;
  }
  if (isPlainObject(value)) {
    lookupForMatch(getOwn(value, key), parts, i + 1, out);
    return;
  }
  out.push(undefined);
}

/** Values at a dotted path, expanding arrays (for multikey index keys); [] when missing.
 *  A leaf array contributes its elements (an empty leaf array contributes itself, `[]`). */
export function getPathValues(doc: Document, path: string): unknown[] {
  const parts = splitPath(path);
  const reached: unknown[] = [];
  collectPresent(doc, parts, 0, reached);
  const out: unknown[] = [];
  for (const v of reached) {
    if (Array.isArray(v)) {
      if (v.length === 0) out.push(v);
      else for (const e of v) out.push(e);
    } else out.push(v);
  }
  return out;
}

function collectPresent(value: unknown, parts: readonly string[], i: number, out: unknown[]): void {
  if (i === parts.length) {
    if (value !== undefined) out.push(value);
    return;
  }
  const key = parts[i] as string;
  if (Array.isArray(value)) {
    if (isArrayIndex(key)) {
      const idx = Number(key);
      if (idx < value.length) collectPresent(value[idx], parts, i + 1, out);
    }
    for (const e of value) if (isPlainObject(e)) collectPresent(e, parts, i, out);
    return;
  }
  if (isPlainObject(value)) collectPresent(getOwn(value, key), parts, i + 1, out);
}

/** Value at a path without array traversal except numeric indexes (for updates and projections). */
export function getStrict(doc: unknown, parts: readonly string[]): unknown {
  let cur: unknown = doc;
  for (const p of parts) {
    if (Array.isArray(cur)) {
      if (!isArrayIndex(p)) return undefined;
      cur = cur[Number(p)];
    } else if (isPlainObject(cur)) {
      cur = getOwn(cur, p);
    } else return undefined;
  }
  return cur;
}

/** Aggregation field path semantics: "$a.b" over arrays maps to an array of the b values. */
export function getExprPath(value: unknown, parts: readonly string[], i = 0): unknown {
  let cur = value;
  for (let j = i; j < parts.length; j++) {
    const key = parts[j] as string;
    if (Array.isArray(cur)) {
      const out: unknown[] = [];
      for (const e of cur) {
        if (isPlainObject(e) || Array.isArray(e)) {
          const r = getExprPath(e, parts, j);
          if (r !== undefined) out.push(r);
        }
      }
      return out;
    }
    if (isPlainObject(cur)) cur = getOwn(cur, key);
    else return undefined;
  }
  return cur;
}
