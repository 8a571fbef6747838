/**
 * Projections for find() (inclusion/exclusion, dotted and nested paths, $slice, $elemMatch,
 * positional `field.$`, computed expressions) and for the $project aggregation stage.
 */
import { LargetableError } from '../errors.ts';
import { evalExpr, makeContext, validateExpression, type EvalContext } from './expression.ts';
import { compileFilterUnguarded } from './filter.ts';
import { guardQuery } from './guard.ts';
import { checkMetaName } from './meta.ts';
import { isArrayIndex, lookupForMatch } from './path.ts';
import type { Document } from './values.ts';
import { badQuery, getOwn, hasOwnKey, isNumeric, isPlainObject, isTruthy, RESERVED_KEYS, setOwn, toDouble } from './values.ts';

type Node =
  | { kind: 'include' }
  | { kind: 'exclude' }
  | { kind: 'expr'; expr: unknown }
  | { kind: 'slice'; skip: number | undefined; limit: number }
  | { kind: 'elemMatch'; test: (e: unknown) => boolean }
  | { kind: 'positional' }
  | { kind: 'tree'; children: Map<string, Node>; hasExpr?: boolean; hasNonExpr?: boolean };

interface Spec {
  root: Map<string, Node>;
  inclusion: boolean;
  idExcluded: boolean;
  hasPositional: boolean;
}

function isExpressionValue(v: unknown): boolean {
  if (typeof v === 'string') return v.charCodeAt(0) === 36;
  if (Array.isArray(v)) return true;
  if (isPlainObject(v)) {
    const k = Object.keys(v);
    return k.length > 0 && (k[0] as string).charCodeAt(0) === 36;
  }
  return v !== null && typeof v === 'object';
}

function parseSpec(projection: Document, mode: 'find' | 'agg'): Spec {
  if (!isPlainObject(projection)) throw badQuery('projection must be a document');
  const root = new Map<string, Node>();
  let incl = false;
  let excl = false;
  let idExcluded = false;
  let hasPositional = false;
  let neutral = false;
  let idIncluded = false;
  const add = (path: string, node: Node, where: Map<string, Node>): void => {
    let parts = path.split('.');
    if (parts[parts.length - 1] === '$') {
      if (mode !== 'find') throw badQuery("positional projection '.$' is only valid in find()");
      parts = parts.slice(0, -1);
      node = { kind: 'positional' };
      hasPositional = true;
    }
    let m = where;
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i] as string;
      if (p === '' || (p.charCodeAt(0) === 36)) throw badQuery(`invalid projection path '${path}'`);
      if (RESERVED_KEYS.has(p)) throw badQuery(`reserved field name '${p}' in projection`);
      if (i === parts.length - 1) {
        if (m.has(p)) throw badQuery(`Path collision at ${path}`);
        m.set(p, node);
      } else {
        let child = m.get(p);
        if (child === undefined) {
          child = { kind: 'tree', children: new Map() };
          m.set(p, child);
        } else if (child.kind !== 'tree') throw badQuery(`Path collision at ${path}`);
        m = child.children;
      }
    }
  };
  const walk = (obj: Document, prefix: string, where: Map<string, Node>): void => {
    const keys = Object.keys(obj);
    if (keys.length === 0 && prefix !== '') throw badQuery(`An empty sub-projection is not a valid value. Found empty object at path ${prefix}`);
    for (const key of keys) {
      const v = obj[key];
      const full = prefix ? prefix + '.' + key : key;
      if (key.charCodeAt(0) === 36) throw badQuery(`FieldPath field names may not start with '$': ${full}`);
      if (isPlainObject(v) && Object.keys(v).length > 0 && !(Object.keys(v)[0] as string).startsWith('$')) {
        walk(v, full, where);
        continue;
      }
      if (isPlainObject(v) && Object.keys(v).length === 1) {
        const op = Object.keys(v)[0] as string;
        const arg = v[op];
        if (mode === 'find' && op === '$slice') {
          let skip: number | undefined;
          let limit: number;
          if (Array.isArray(arg)) {
            if (arg.length !== 2 || !isNumeric(arg[0]) || !isNumeric(arg[1])) throw badQuery('$slice takes [skip, limit] numbers');
            skip = Math.trunc(toDouble(arg[0]));
            limit = Math.trunc(toDouble(arg[1]));
            if (limit <= 0) throw badQuery('$slice limit must be positive');
          } else if (isNumeric(arg)) limit = Math.trunc(toDouble(arg));
          else throw badQuery('$slice only supports numbers and [skip, limit] arrays');
          add(full, { kind: 'slice', skip, limit }, where);
          neutral = true;
          continue;
        }
        if (mode === 'find' && op === '$elemMatch') {
          if (!isPlainObject(arg)) throw badQuery('$elemMatch needs an object');
          if (full.includes('.')) throw badQuery('Cannot use $elemMatch projection on a nested field.');
          const keys2 = Object.keys(arg);
          const valueMode = keys2.length > 0 && keys2.every((k) => k.charCodeAt(0) === 36 && k !== '$and' && k !== '$or' && k !== '$nor');
          const m = compileFilterUnguarded(valueMode ? { v: arg } : arg);
          add(full, { kind: 'elemMatch', test: valueMode ? (e) => m({ v: e }) : (e) => isPlainObject(e) && m(e) }, where);
          incl = true;
          continue;
        }
        if (op === '$meta') {
          // aggregation: a computed field read from the document's metadata (e.g. vectorSearchScore)
          if (mode !== 'agg') throw new LargetableError('NOT_SUPPORTED', '$meta projections are supported in aggregation $project only');
          checkMetaName(arg);
          add(full, { kind: 'expr', expr: v }, where);
          incl = true;
          continue;
        }
      }
      if (isExpressionValue(v)) {
        validateExpression(v);
        add(full, { kind: 'expr', expr: v }, where);
        incl = true;
        continue;
      }
      const on = typeof v === 'boolean' ? v : isNumeric(v) ? toDouble(v) !== 0 : undefined;
      if (on === undefined) {
        if (mode === 'agg' || v !== null) {
          // literals in $project: strings without '$', nulls etc. are new fields with that value
          if (mode === 'agg' || typeof v === 'string') {
            add(full, { kind: 'expr', expr: { $literal: v } }, where);
            incl = true;
            continue;
          }
        }
        throw badQuery(`invalid projection value for '${full}'`);
      }
      if (full === '_id') {
        if (on) idIncluded = true;
        if (!on) idExcluded = true;
        else add('_id', { kind: 'include' }, where);
        if (!on) add('_id', { kind: 'exclude' }, where);
        continue;
      }
      if (full.endsWith('.$')) {
        if (!on) throw badQuery('positional projection cannot be an exclusion');
        add(full, { kind: 'include' }, where);
        incl = true;
        continue;
      }
      add(full, on ? { kind: 'include' } : { kind: 'exclude' }, where);
      if (on) incl = true;
      else excl = true;
    }
  };
  walk(projection, '', root);
  if (idIncluded && !excl && !neutral) incl = true;
  if (incl && excl) throw badQuery('Cannot do exclusion on a field in inclusion projection (mixing inclusion and exclusion)');
  if (mode === 'agg' && root.size === 0) throw badQuery('$project requires at least one output field');
  void neutral;
  return { root, inclusion: incl, idExcluded, hasPositional };
}

function sliceArray(arr: unknown[], skip: number | undefined, limit: number): unknown[] {
  if (skip === undefined) return limit >= 0 ? arr.slice(0, limit) : arr.slice(Math.max(0, arr.length + limit));
  const start = skip < 0 ? Math.max(0, arr.length + skip) : skip;
  return arr.slice(start, start + limit);
}

function projectInclusion(value: unknown, tree: Map<string, Node>, ctx: EvalContext, top: boolean, spec: Spec, posIndex: number | undefined): unknown {
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    for (const e of value) {
      if (Array.isArray(e) || isPlainObject(e)) out.push(projectInclusion(e, tree, ctx, false, spec, posIndex));
    }
    return out;
  }
  if (!isPlainObject(value)) return undefined;
  const out: Document = {};
  if (top && !spec.idExcluded && hasOwnKey(value, '_id') && !tree.has('_id')) setOwn(out, '_id', value['_id']);
  for (const k of Object.keys(value)) {
    const node = tree.get(k);
    if (node === undefined) continue;
    const v = value[k];
    switch (node.kind) {
      case 'include':
        setOwn(out, k, v);
        break;
      case 'tree': {
        if (!nodeHasNonExpr(node)) break;
        const r = projectInclusion(v, node.children, ctx, false, spec, posIndex);
        if (r !== undefined) setOwn(out, k, r);
        break;
      }
      case 'slice':
        setOwn(out, k, Array.isArray(v) ? sliceArray(v, node.skip, node.limit) : v);
        break;
      case 'elemMatch':
        if (Array.isArray(v)) {
          const hit = v.find((e) => node.test(e));
          if (hit !== undefined) setOwn(out, k, [hit]);
        }
        break;
      case 'positional':
        if (Array.isArray(v) && posIndex !== undefined && posIndex < v.length) setOwn(out, k, [v[posIndex]]);
        else if (!Array.isArray(v)) throw badQuery('positional projection on a non-array field');
        break;
      default:
        break;
    }
  }
  // computed fields, in spec order
  for (const [k, node] of tree) {
    if (node.kind === 'expr') {
      const r = evalExpr(node.expr, ctx);
      if (r !== undefined) setOwn(out, k, r);
    } else if (node.kind === 'tree' && nodeHasExpr(node)) {
      const cur = getOwn(out, k);
      const base = isPlainObject(cur) ? cur : undefined;
      const sub = computeNested(base, node.children, ctx, getOwn(value, k));
      if (sub !== undefined) setOwn(out, k, sub);
    }
  }
  return out;
}

/** Computed fields nested under a path (`{a: {b: {$add: ...}}}`); results replace non-objects. */
function computeNested(base: Document | undefined, tree: Map<string, Node>, ctx: EvalContext, original: unknown): unknown {
  if (Array.isArray(original) && base === undefined) {
    // MongoDB applies nested computed fields to each element of an array
    return original.map((e) => computeNested(isPlainObject(e) ? projectSubset(e, tree) : undefined, tree, ctx, e));
  }
  let any = false;
  const out: Document = base ?? {};
  for (const [k, node] of tree) {
    if (node.kind === 'expr') {
      const r = evalExpr(node.expr, ctx);
      if (r !== undefined) setOwn(out, k, r);
      any = true;
    } else if (node.kind === 'tree' && nodeHasExpr(node)) {
      const cur = getOwn(out, k);
      const sub = computeNested(isPlainObject(cur) ? cur : undefined, node.children, ctx, isPlainObject(original) ? getOwn(original, k) : undefined);
      if (sub !== undefined) {
        setOwn(out, k, sub);
        any = true;
      }
    }
  }
  return any || base !== undefined ? out : undefined;
}

function nodeHasExpr(node: { children: Map<string, Node>; hasExpr?: boolean }): boolean {
  if (node.hasExpr === undefined) node.hasExpr = treeHasExpr(node.children);
  return node.hasExpr;
}

function nodeHasNonExpr(node: { children: Map<string, Node>; hasNonExpr?: boolean }): boolean {
  if (node.hasNonExpr === undefined) node.hasNonExpr = treeHasNonExpr(node.children);
  return node.hasNonExpr;
}

function treeHasNonExpr(tree: Map<string, Node>): boolean {
  for (const n of tree.values()) if (n.kind !== 'expr' && (n.kind !== 'tree' || treeHasNonExpr(n.children))) return true;
  return false;
}

function treeHasExpr(tree: Map<string, Node>): boolean {
  for (const n of tree.values()) if (n.kind === 'expr' || (n.kind === 'tree' && treeHasExpr(n.children))) return true;
  return false;
}

function projectSubset(e: Document, tree: Map<string, Node>): Document | undefined {
  const out: Document = {};
  let any = false;
  for (const k of Object.keys(e)) {
    const n = tree.get(k);
    if (n !== undefined && n.kind === 'include') {
      setOwn(out, k, e[k]);
      any = true;
    }
  }
  return any ? out : out;
}

function projectExclusion(value: unknown, tree: Map<string, Node>): unknown {
  if (Array.isArray(value)) return value.map((e) => (Array.isArray(e) || isPlainObject(e) ? projectExclusion(e, tree) : e));
  if (!isPlainObject(value)) return value;
  const out: Document = {};
  for (const k of Object.keys(value)) {
    const node = tree.get(k);
    const v = value[k];
    if (node === undefined) {
      setOwn(out, k, v);
      continue;
    }
    switch (node.kind) {
      case 'exclude':
        break;
      case 'tree':
        setOwn(out, k, projectExclusion(v, node.children));
        break;
      case 'slice':
        setOwn(out, k, Array.isArray(v) ? sliceArray(v, node.skip, node.limit) : v);
        break;
      default:
        setOwn(out, k, v);
    }
  }
  return out;
}

/** Index of the first element of the array at `path` that satisfies the query (positional projection). */
function positionalIndex(doc: Document, query: Document | undefined, arrayPath: string[]): number | undefined {
  if (query === undefined) throw badQuery('positional projection requires a query');
  const m = compileFilterUnguarded(query);
  const vals: unknown[] = [];
  lookupForMatch(doc, arrayPath, 0, vals);
  const arr = vals.find(Array.isArray) as unknown[] | undefined;
  if (!arr) return undefined;
  for (let i = 0; i < arr.length; i++) {
    const probe = replaceAt(doc, arrayPath, 0, [arr[i]]);
    if (m(probe as Document)) return i;
  }
  return undefined;
}

function replaceAt(v: unknown, parts: string[], i: number, value: unknown): unknown {
  if (i === parts.length) return value;
  if (!isPlainObject(v)) return v;
  const copy: Document = {};
  for (const k of Object.keys(v)) setOwn(copy, k, v[k]);
  const key = parts[i] as string;
  setOwn(copy, key, replaceAt(getOwn(v, key), parts, i + 1, value));
  return copy;
}

function findPositionalPath(tree: Map<string, Node>, prefix: string[]): string[] | undefined {
  for (const [k, n] of tree) {
    if (n.kind === 'positional') return [...prefix, k];
    if (n.kind === 'tree') {
      const r = findPositionalPath(n.children, [...prefix, k]);
      if (r) return r;
    }
  }
  return undefined;
}

export function compileProjection(projection: Document, query?: Document): (doc: Document) => Document {
  guardQuery(projection, 'projection');
  const spec = parseSpec(projection, 'find');
  return buildProjector(spec, query);
}

/** $project stage projector (aggregation rules; `vars` available to expressions). */
export function compileProjectStage(projection: Document): (doc: Document, vars: Record<string, unknown>, now: Date) => Document {
  const spec = parseSpec(projection, 'agg');
  const p = buildProjector(spec, undefined);
  return (doc, vars, now) => p(doc, vars, now);
}

function buildProjector(spec: Spec, query: Document | undefined): (doc: Document, vars?: Record<string, unknown>, now?: Date) => Document {
  const posPath = spec.hasPositional ? findPositionalPath(spec.root, []) : undefined;
  if (posPath && posPath.some((p) => isArrayIndex(p))) throw badQuery('positional projection path may not contain array indexes');
  if (spec.inclusion) {
    return (doc, vars, now) => {
      const ctx = makeContext(doc, vars, now ?? new Date());
      const pos = posPath ? positionalIndex(doc, query, posPath) : undefined;
      return projectInclusion(doc, spec.root, ctx, true, spec, pos) as Document;
    };
  }
  return (doc) => projectExclusion(doc, spec.root) as Document;
}

export { isTruthy };
