/**
 * Index key extraction: the entries a document contributes to a secondary index.
 * MongoDB semantics: a missing field indexes as null; an array at (or on the way to) an indexed path
 * contributes one entry per element (multikey); an empty array indexes as undefined (null bracket
 * here); a compound index may have at most one array-valued field per document.
 */
import { LargetableError } from '../errors.ts';
import { isArrayIndex, splitPath } from '../query/path.ts';
import { getOwn, isPlainObject, type Document } from '../query/values.ts';
import { ByteWriter, complement, writeValue } from './keycodec.ts';

export interface IndexField {
  path: string;
  parts: string[];
  dir: 1 | -1;
}

export function parseIndexFields(key: Document): IndexField[] {
  const out: IndexField[] = [];
  for (const [path, d] of Object.entries(key)) {
    out.push({ path, parts: splitPath(path), dir: d === -1 || d === '-1' ? -1 : 1 });
  }
  return out;
}

const MISSING = Symbol('missing');

function collect(value: unknown, parts: readonly string[], i: number, out: unknown[], state: { array: boolean }): void {
  if (i === parts.length) {
    if (Array.isArray(value)) {
      state.array = true;
      if (value.length === 0) out.push(undefined);
      else for (const e of value) out.push(e);
    } else out.push(value);
    return;
  }
  const key = parts[i]!;
  if (Array.isArray(value)) {
    state.array = true;
    const before = out.length;
    if (isArrayIndex(key)) {
      const idx = Number(key);
      if (idx < value.length) collect(value[idx], parts, i + 1, out, state);
    }
    for (const e of value) if (isPlainObject(e)) collect(e, parts, i, out, state);
    if (out.length === before) out.push(MISSING);
    return;
  }
  if (isPlainObject(value)) {
    const v = getOwn(value, key);
    if (v === undefined) out.push(MISSING);
    else collect(v, parts, i + 1, out, state);
    return;
  }
  out.push(MISSING);
}

export interface ExtractedKeys {
  /** Encoded key prefixes (without the index prefix and _id), deduplicated. */
  keys: Uint8Array[];
  multikey: boolean;
  /** True when at least one indexed field is present (sparse indexes skip documents without). */
  anyPresent: boolean;
}

/** Reused by the single-field fast path (one key is copied out of it); replaced when it grew large. */
let scratch = new ByteWriter(64);
const scratchBytesMax = 64 * 1024;

/** Encoded index keys of `doc` for `fields` (order and direction applied). */
export function extractKeys(doc: Document, fields: readonly IndexField[], indexName: string): ExtractedKeys {
  // fast path: one top-level field holding a scalar
  if (fields.length === 1 && fields[0]!.parts.length === 1) {
    const f = fields[0]!;
    const v = getOwn(doc, f.parts[0]!);
    if (v === undefined || v === null || typeof v !== 'object' || (!Array.isArray(v) && !isPlainObject(v))) {
      const w = scratch;
      w.len = 0;
      writeValue(w, v === undefined ? null : v);
      const b = w.buf.slice(0, w.len);
      if (w.buf.length > scratchBytesMax) scratch = new ByteWriter(64);
      return { keys: [f.dir === -1 ? complement(b) : b], multikey: false, anyPresent: v !== undefined };
    }
  }
  const perField: unknown[][] = [];
  let multikey = false;
  let arrays = 0;
  let anyPresent = false;
  for (const f of fields) {
    const vals: unknown[] = [];
    const state = { array: false };
    collect(doc, f.parts, 0, vals, state);
    if (state.array) {
      multikey = true;
      arrays++;
    }
    const uniq = dedupe(vals);
    for (const v of uniq) if (v !== MISSING) anyPresent = true;
    perField.push(uniq);
  }
  if (arrays > 1 && perField.filter((v) => v.length > 1).length > 1) {
    throw new LargetableError('INVALID_DOCUMENT', `cannot index parallel arrays in index ${indexName}`, { details: { index: indexName } });
  }
  const encoded: Uint8Array[][] = perField.map((vals, i) =>
    vals.map((v) => {
      const w = new ByteWriter(16);
      writeValue(w, v === MISSING ? null : v);
      const b = w.finish();
      return fields[i]!.dir === -1 ? complement(b) : b;
    }),
  );
  let keys: Uint8Array[] = [new Uint8Array(0)];
  for (const opts of encoded) {
    const next: Uint8Array[] = [];
    for (const k of keys)
      for (const o of opts) {
        const c = new Uint8Array(k.length + o.length);
        c.set(k);
        c.set(o, k.length);
        next.push(c);
      }
    keys = next;
  }
  return { keys, multikey, anyPresent };
}

function dedupe(vals: unknown[]): unknown[] {
  if (vals.length < 2) return vals;
  const seen = new Set<string>();
  const out: unknown[] = [];
  for (const v of vals) {
    const w = new ByteWriter(16);
    writeValue(w, v === MISSING ? null : v);
    let k = '';
    for (let i = 0; i < w.len; i++) k += String.fromCharCode(w.buf[i]!);
    if (v === MISSING) k = 'M';
    if (!seen.has(k)) {
      seen.add(k);
      out.push(v);
    }
  }
  return out;
}
