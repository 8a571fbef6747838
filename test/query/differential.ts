/**
 * Shared helpers for the mingo differential suite: run the same operation through Largetable's
 * query layer and through mingo 6.5.6, and normalize results for comparison.
 */
import mingo from 'mingo';
import 'mingo/init/system';
import { update as mingoUpdate } from 'mingo/updater';
import { ObjectId } from 'bson';
import { isDeepStrictEqual } from 'node:util';
import { applyUpdate, compileFilter, compileProjection, compileSort, runPipeline, type Document } from '../../src/query/index.ts';
import { LargetableError } from '../../src/errors.ts';

/** Canonical JSON-able form: ObjectId/Date/NaN/-0 tagged; key order kept. */
export function canon(v: unknown): unknown {
  if (v === undefined) return '$undefined';
  if (typeof v === 'number') {
    if (Number.isNaN(v)) return '$NaN';
    if (Object.is(v, -0)) return 0;
    return v;
  }
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map(canon);
  if (v instanceof Date) return { $date: v.getTime() };
  if (v instanceof ObjectId) return { $oid: v.toHexString() };
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v)) out[k] = canon((v as Record<string, unknown>)[k]);
  return out;
}

/** Like canon, but object keys sorted (for results whose field order MongoDB and mingo build differently). */
export function canonUnordered(v: unknown): unknown {
  const c = canon(v);
  const sortKeys = (x: unknown): unknown => {
    if (Array.isArray(x)) return x.map(sortKeys);
    if (x === null || typeof x !== 'object') return x;
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(x).sort()) out[k] = sortKeys((x as Record<string, unknown>)[k]);
    return out;
  };
  return sortKeys(c);
}

/** Deep copy that also re-creates ObjectIds and Dates: mingo may write properties into them. */
export function isolate<T>(v: T): T {
  if (v === null || typeof v !== 'object') return v;
  if (v instanceof ObjectId) return ObjectId.createFromHexString(v.toHexString()) as T;
  if (v instanceof Date) return new Date(v.getTime()) as T;
  if (Array.isArray(v)) return v.map(isolate) as T;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v)) out[k] = isolate((v as Record<string, unknown>)[k]);
  return out as T;
}

export function oursFind(docs: Document[], filter: Document): unknown[] {
  const m = compileFilter(filter);
  return docs.filter((d) => m.test(d)).map((d) => d['_id']);
}

export function mingoFind(docs: Document[], filter: Document): unknown[] {
  return (mingo.find(isolate(docs), isolate(filter)).all() as Document[]).map((d) => d['_id']);
}

export function oursSort(docs: Document[], sort: Document): unknown[] {
  return [...docs].sort(compileSort(sort)).map((d) => d['_id']);
}

export function mingoSort(docs: Document[], sort: Document): unknown[] {
  return (mingo.find(isolate(docs), {}).sort(sort).all() as Document[]).map((d) => d['_id']);
}

/**
 * Drop empty embedded documents (bottom-up). MongoDB keeps `{}` for an included path whose parent
 * exists but whose leaf does not (`{a: {x: 1}}` with `{'a.y': 1}` gives `{a: {}}`); mingo drops it.
 */
export function stripEmpty(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(stripEmpty).filter((e) => !(e !== null && typeof e === 'object' && !Array.isArray(e) && Object.keys(e).length === 0));
  if (v === null || typeof v !== 'object') return v;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v)) {
    const e = stripEmpty((v as Record<string, unknown>)[k]);
    if (e !== null && typeof e === 'object' && !Array.isArray(e) && Object.keys(e).length === 0) continue;
    out[k] = e;
  }
  return out;
}

export function oursProject(docs: Document[], projection: Document): unknown[] {
  const p = compileProjection(projection);
  return docs.map((d) => stripEmpty(canonUnordered(p(d))));
}

export function mingoProject(docs: Document[], projection: Document): unknown[] {
  return (mingo.find(isolate(docs), {}, isolate(projection)).all() as Document[]).map((d) => stripEmpty(canonUnordered(d)));
}

export function oursUpdate(doc: Document, upd: Document): { ok: true; doc: unknown } | { ok: false } {
  try {
    return { ok: true, doc: canonUnordered(applyUpdate(doc, upd, { isUpsertInsert: false }).doc) };
  } catch {
    return { ok: false };
  }
}

export function mingoUpdateDoc(doc: Document, upd: Document): { ok: true; doc: unknown } | { ok: false } {
  const copy = isolate(doc);
  const u = isolate(upd);
  try {
    // mingo applies one operator per call
    for (const op of Object.keys(u)) mingoUpdate(copy, { [op]: u[op] } as never, undefined, undefined, { cloneMode: 'deep' } as never);
    return { ok: true, doc: canonUnordered(copy) };
  } catch {
    return { ok: false };
  }
}

/**
 * Compare one update outcome. 'agree' | 'mingo-crash' (mingo threw: skipped, a mingo bug) |
 * 'documented' (we refuse with BAD_QUERY where MongoDB refuses and mingo silently skips the
 * operator, e.g. a path through a scalar) | 'differ'.
 */
export function compareUpdate(doc: Document, upd: Document): { verdict: 'agree' | 'mingo-crash' | 'documented' | 'differ'; ours: unknown; mingo: unknown } {
  const ours = oursUpdate(doc, upd);
  const theirs = mingoUpdateDoc(doc, upd);
  if (!theirs.ok) return { verdict: 'mingo-crash', ours, mingo: theirs };
  if (ours.ok) {
    if (isDeepStrictEqual(ours.doc, theirs.doc)) return { verdict: 'agree', ours, mingo: theirs };
    for (const op of Object.keys(upd)) {
      const fields = upd[op] as Document;
      for (const path of Object.keys(fields)) {
        const cur = valueAt(doc, path);
        // mingo orders ObjectIds as plain objects in $min/$max
        if ((op === '$min' || op === '$max') && (cur instanceof ObjectId || fields[path] instanceof ObjectId)) return { verdict: 'documented', ours, mingo: theirs };
        // mingo does not order NaN below the other numbers in $min/$max
        if ((op === '$min' || op === '$max') && (Number.isNaN(cur) || Number.isNaN(fields[path]))) return { verdict: 'documented', ours, mingo: theirs };
        // mingo's $addToSet also removes duplicates already in the array
        if (op === '$addToSet' && Array.isArray(cur) && cur.some((x, i) => cur.findIndex((y) => isDeepStrictEqual(canon(x), canon(y))) !== i)) return { verdict: 'documented', ours, mingo: theirs };
      }
    }
    return { verdict: 'differ', ours, mingo: theirs };
  }
  // we refused: acceptable only when mingo skipped at least one operator on a non-container path
  for (const op of Object.keys(upd)) {
    const fields = upd[op] as Document;
    for (const path of Object.keys(fields)) {
      if (throughScalar(doc, path) || wrongTargetType(doc, op, path)) return { verdict: 'documented', ours, mingo: theirs };
    }
  }
  return { verdict: 'differ', ours, mingo: theirs };
}

function valueAt(doc: unknown, path: string): unknown {
  let cur: unknown = doc;
  for (const p of path.split('.')) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur) || cur instanceof Date || cur instanceof ObjectId) return undefined;
    cur = (cur as Document)[p];
  }
  return cur;
}

function throughScalar(doc: unknown, path: string): boolean {
  const parts = path.split('.');
  let cur: unknown = doc;
  for (let i = 0; i < parts.length - 1; i++) {
    if (cur === null || typeof cur !== 'object' || cur instanceof Date || cur instanceof ObjectId) return i > 0;
    cur = Array.isArray(cur) ? (/^\d+$/.test(parts[i] as string) ? cur[Number(parts[i])] : NaN) : (cur as Document)[parts[i] as string];
    if (typeof cur === 'number' && Number.isNaN(cur)) return true;
    if (cur === undefined) return false;
  }
  return cur !== null && (typeof cur !== 'object' || cur instanceof Date || cur instanceof ObjectId || Array.isArray(cur)) && parts.length > 1 ? true : cur === null && parts.length > 1;
}

function wrongTargetType(doc: unknown, op: string, path: string): boolean {
  const parts = path.split('.');
  let cur: unknown = doc;
  for (const p of parts) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur) || cur instanceof Date || cur instanceof ObjectId) return false;
    cur = (cur as Document)[p];
  }
  if (cur === undefined) return false;
  const isNum = typeof cur === 'number';
  if (op === '$inc' || op === '$mul') return !isNum;
  if (['$push', '$addToSet', '$pop', '$pull', '$pullAll'].includes(op)) return !Array.isArray(cur);
  return false;
}

export async function oursAggregate(docs: Document[], pipeline: Document[]): Promise<unknown[]> {
  const out: unknown[] = [];
  async function* src(): AsyncIterable<Document> {
    yield* docs;
  }
  for await (const d of runPipeline(src(), pipeline, { collection: () => src() })) out.push(canonAgg(d));
  return out;
}

export function mingoAggregate(docs: Document[], pipeline: Document[]): unknown[] {
  return (mingo.aggregate(isolate(docs), isolate(pipeline)) as Document[]).map((d) => canonAgg(d));
}

/**
 * Aggregation results modulo missing-vs-null: mingo reports an accumulator over only-missing
 * values as missing where MongoDB returns null, and $push's a missing value as `undefined`
 * where MongoDB skips it.
 */
export function canonAgg(v: unknown): unknown {
  const fix = (x: unknown): unknown => {
    if (Array.isArray(x)) return x.filter((e) => e !== '$undefined').map(fix);
    if (x === '$undefined') return null;
    if (x === null || typeof x !== 'object') return x;
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(x)) out[k] = fix((x as Record<string, unknown>)[k]);
    return out;
  };
  return fix(canonUnordered(v));
}

/** Compare one pipeline run: 'agree' | 'mingo-crash' | 'documented' | 'differ'. */
export async function comparePipeline(docs: Document[], pipeline: Document[]): Promise<{ verdict: 'agree' | 'mingo-crash' | 'documented' | 'differ'; ours: unknown; mingo: unknown }> {
  let theirs: unknown[];
  try {
    theirs = mingoAggregate(docs, pipeline);
  } catch (err) {
    return { verdict: 'mingo-crash', ours: undefined, mingo: String(err) };
  }
  let ours: unknown[];
  try {
    ours = await oursAggregate(docs, pipeline);
  } catch (err) {
    // MongoDB refuses $toString of arrays/documents; mingo stringifies them
    const documented = err instanceof LargetableError && err.code === 'BAD_QUERY' && /unsupported conversion from (array|object)/.test(err.message);
    return { verdict: documented ? 'documented' : 'differ', ours: String(err), mingo: theirs };
  }
  return { verdict: isDeepStrictEqual(ours, theirs) ? 'agree' : 'differ', ours, mingo: theirs };
}
