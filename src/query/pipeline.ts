/**
 * Aggregation pipelines. `runPipeline` validates every stage up front (bad stages throw before
 * any document flows), then streams documents through the stages; blocking stages ($group,
 * $sort, $facet, $bucket*, $sample, $count) materialize their input.
 */
import { LargetableError } from '../errors.ts';
import { pipelineStagesMax } from '../limits.ts';
import { avgValues, evalExpr, makeContext, stdDev, validateExpression, type EvalContext } from './expression.ts';
import { compileFilterUnguarded } from './filter.ts';
import { guardQuery } from './guard.ts';
import { getExprPath, isArrayIndex, lookupForMatch, splitPath } from './path.ts';
import { carryDocMeta } from './meta.ts';
import { compileProjectStage } from './projection.ts';
import { compareKeys, sortDocuments, sortKey, topK } from './sort.ts';
import type { Document } from './values.ts';
import {
  badQuery, bsonTypeTag, cloneValue, compareValues, getOwn, hasOwnKey, isNumeric, isPlainObject, RESERVED_KEYS, setOwn, toDouble, typeName,
  valuesEqual,
} from './values.ts';
import { Decimal128, Long } from 'bson';

export interface PipelineContext {
  /** Documents of another collection in the same database (for $lookup, $unionWith). */
  collection(name: string): AsyncIterable<Document>;
  /** $out / $merge target writer. */
  write?(name: string, docs: Document[], stage: Document): Promise<void>;
  /** Runs a leading $vectorSearch stage (provided by the vector engineer via the collection layer). */
  vectorSearch?(stage: Document): AsyncIterable<Document>;
  now?: Date;
}

interface Env {
  vars: Record<string, unknown>;
  now: Date;
  ctx: PipelineContext | undefined;
}

type Stage = ((input: AsyncIterable<Document>) => AsyncIterable<Document>) & {
  /** Per-document form (undefined result = filtered out), so consecutive stages can be fused. */
  sync?: (doc: Document) => Document | undefined;
  /** $sort specification, so a following $limit can use a bounded top-k. */
  sortSpec?: Document;
  /** $limit value. */
  limit?: number;
};

function syncStage(fn: (doc: Document) => Document | undefined): Stage {
  const stage: Stage = async function* (input: AsyncIterable<Document>) {
    for await (const d of input) {
      const r = fn(d);
      if (r !== undefined) yield r;
    }
  };
  stage.sync = fn;
  return stage;
}

function stageName(stage: unknown): string {
  if (!isPlainObject(stage)) throw badQuery('each pipeline stage must be an object');
  const keys = Object.keys(stage);
  if (keys.length !== 1) throw badQuery(`a pipeline stage specification object must contain exactly one field, found ${keys.length}`);
  return keys[0] as string;
}

// ------------------------------------------------------------ per-document (sync) stages

export interface SyncStageOptions {
  now: Date;
  updatePipeline?: boolean;
  vars?: Record<string, unknown>;
}

const syncCache = new WeakMap<object, (doc: Document, vars: Record<string, unknown>, now: Date) => Document>();

/** Apply one per-document stage ($set/$addFields/$unset/$project/$replaceRoot/$replaceWith[/$match]). */
export function applyStageSync(doc: Document, stage: Document, options: SyncStageOptions): Document {
  let fn = syncCache.get(stage);
  if (fn === undefined) {
    const name = stageName(stage);
    const allowed = ['$set', '$addFields', '$unset', '$project', '$replaceRoot', '$replaceWith'];
    if (options.updatePipeline && !allowed.includes(name)) throw badQuery(`${name} is not allowed to be used within an update`);
    const compiled = compileDocStage(name, stage[name]);
    if (compiled === undefined) throw badQuery(`${name} is not a per-document stage`);
    fn = compiled;
    syncCache.set(stage, fn);
  }
  const vars = options.vars ?? {};
  const r = fn(doc, vars, options.now);
  return r;
}

function flattenFieldSpec(spec: Document, prefix: string, out: [string, unknown][]): void {
  for (const k of Object.keys(spec)) {
    if (k.charCodeAt(0) === 36) throw badQuery(`field path names may not start with '$': ${k}`);
    const full = prefix ? prefix + '.' + k : k;
    for (const p of full.split('.')) {
      if (p === '' || RESERVED_KEYS.has(p)) throw badQuery(`invalid field path '${full}'`);
      if (p.charCodeAt(0) === 36) throw badQuery(`field path names may not start with '$': ${full}`);
    }
    const v = spec[k];
    if (isPlainObject(v) && Object.keys(v).length > 0 && !(Object.keys(v)[0] as string).startsWith('$')) flattenFieldSpec(v, full, out);
    else out.push([full, v]);
  }
}

/** Set `value` at a dotted path in a copy-on-write manner; arrays on the path apply to each element. */
function setPathCopy(doc: unknown, parts: string[], i: number, value: unknown): unknown {
  const key = parts[i] as string;
  if (Array.isArray(doc)) return doc.map((e) => setPathCopy(e, parts, i, value));
  const base: Document = {};
  if (isPlainObject(doc)) for (const k of Object.keys(doc)) setOwn(base, k, doc[k]);
  if (i === parts.length - 1) {
    if (value === undefined) {
      if (hasOwnKey(base, key)) delete base[key];
    } else setOwn(base, key, value);
    return base;
  }
  setOwn(base, key, setPathCopy(getOwn(base, key), parts, i + 1, value));
  return base;
}

function compileDocStage(name: string, arg: unknown): ((doc: Document, vars: Record<string, unknown>, now: Date) => Document) | undefined {
  switch (name) {
    case '$set':
    case '$addFields': {
      if (!isPlainObject(arg)) throw badQuery(`${name} specification stage must be an object`);
      const fields: [string, unknown][] = [];
      flattenFieldSpec(arg, '', fields);
      for (const [, e] of fields) validateExpression(e);
      const parsed = fields.map(([p, e]) => ({ parts: p.split('.'), expr: e }));
      return (doc, vars, now) => {
        const ctx = makeContext(doc, vars, now);
        let out: unknown = doc;
        for (const f of parsed) {
          let v = evalExpr(f.expr, ctx);
          if (isPlainObject(f.expr) && Object.keys(f.expr).length === 0) v = {};
          out = setPathCopy(out, f.parts, 0, v);
        }
        return out as Document;
      };
    }
    case '$unset': {
      const list = typeof arg === 'string' ? [arg] : arg;
      if (!Array.isArray(list) || list.length === 0 || !list.every((s) => typeof s === 'string')) throw badQuery('$unset specification must be a string or an array of strings');
      const spec: Document = {};
      for (const s of list as string[]) setOwn(spec, s, 0);
      const p = compileProjectStage(spec);
      return (doc, vars, now) => p(doc, vars, now);
    }
    case '$project': {
      if (!isPlainObject(arg)) throw badQuery('$project specification must be an object');
      const p = compileProjectStage(arg);
      return (doc, vars, now) => p(doc, vars, now);
    }
    case '$replaceRoot':
    case '$replaceWith': {
      let expr: unknown = arg;
      if (name === '$replaceRoot') {
        if (!isPlainObject(arg) || !hasOwnKey(arg, 'newRoot') || Object.keys(arg).length !== 1) throw badQuery('$replaceRoot requires exactly a newRoot field');
        expr = arg['newRoot'];
      }
      validateExpression(expr);
      return (doc, vars, now) => {
        const v = evalExpr(expr, makeContext(doc, vars, now));
        if (!isPlainObject(v)) throw badQuery(`'newRoot' expression must evaluate to an object, but resulting value was of type ${typeName(v)}`);
        return v;
      };
    }
    default:
      return undefined;
  }
}

// ------------------------------------------------------------ group keys and accumulators

/** Canonical string for grouping: equal values (per MongoDB) give equal keys. */
export function groupKey(v: unknown): string {
  if (v === undefined || v === null) return 'n';
  if (isNumeric(v)) {
    const t = bsonTypeTag(v);
    if (t === 'Long' || typeof v === 'bigint') {
      const b = typeof v === 'bigint' ? v : (v as Long).toBigInt();
      const d = Number(b);
      if (BigInt(d) === b) return 'd' + (d === 0 ? 0 : d);
      return 'l' + b.toString();
    }
    const d = toDouble(v);
    return 'd' + (Number.isNaN(d) ? 'NaN' : d === 0 ? '0' : String(d));
  }
  if (typeof v === 'string') return 's' + JSON.stringify(v);
  if (typeof v === 'boolean') return v ? 'T' : 'F';
  if (Array.isArray(v)) return '[' + v.map(groupKey).join(',') + ']';
  if (v instanceof Date) return 'D' + v.getTime();
  if (isPlainObject(v)) return '{' + Object.keys(v).map((k) => JSON.stringify(k) + ':' + groupKey(v[k])).join(',') + '}';
  const t = bsonTypeTag(v);
  if (t === 'ObjectId') return 'O' + (v as { toHexString(): string }).toHexString();
  return 'x' + (t ?? '') + String(v);
}

interface Accumulator {
  add(v: unknown): void;
  result(): unknown;
}

const ACCUMULATORS = new Set([
  '$sum', '$avg', '$min', '$max', '$push', '$addToSet', '$first', '$last', '$count', '$stdDevPop', '$stdDevSamp', '$mergeObjects',
  '$firstN', '$lastN', '$maxN', '$minN', '$top', '$bottom', '$topN', '$bottomN',
]);

/** Compare two {k: sort keys, i: arrival} rows by a parsed sort spec. */
function rowCompare(dirs: number[]): (x: { k: unknown[]; i: number }, y: { k: unknown[]; i: number }) => number {
  return (x, y) => {
    for (let j = 0; j < dirs.length; j++) {
      const c = compareKeys(x.k[j], y.k[j]);
      if (c !== 0) return (dirs[j] as number) > 0 ? c : -c;
    }
    return x.i - y.i;
  };
}

function makeAccumulator(op: string, spec?: AccSpec): Accumulator {
  switch (op) {
    case '$firstN':
    case '$lastN': {
      const n = spec?.n ?? 1;
      let out: unknown[] = [];
      return {
        add(v) {
          const x = v === undefined ? null : v;
          if (op === '$firstN') {
            if (out.length < n) out.push(x);
          } else {
            out.push(x);
            if (out.length > 2 * n) out = out.slice(-n);
          }
        },
        result: () => (op === '$firstN' ? out : out.slice(-n)),
      };
    }
    case '$maxN':
    case '$minN': {
      const n = spec?.n ?? 1;
      const vals: unknown[] = [];
      return {
        add(v) {
          if (v !== undefined && v !== null) vals.push(v);
        },
        result: () => [...vals].sort((a, b) => (op === '$maxN' ? compareValues(b, a) : compareValues(a, b))).slice(0, n),
      };
    }
    case '$top':
    case '$bottom':
    case '$topN':
    case '$bottomN': {
      const n = op === '$top' || op === '$bottom' ? 1 : (spec?.n ?? 1);
      const cmp = rowCompare(spec?.dirs ?? []);
      const rows: { k: unknown[]; i: number; out: unknown }[] = [];
      let i = 0;
      return {
        add(v) {
          const r = v as { k: unknown[]; out: unknown };
          rows.push({ k: r.k, i: i++, out: r.out === undefined ? null : r.out });
        },
        result: () => {
          const sorted = rows.sort(cmp);
          // both keep the sortBy order: $bottomN gives the last n in that order
          const picked = op === '$top' || op === '$topN' ? sorted.slice(0, n) : sorted.slice(Math.max(0, sorted.length - n));
          if (op === '$top') return picked[0]?.out ?? null;
          if (op === '$bottom') return picked[picked.length - 1]?.out ?? null;
          return picked.map((r) => r.out);
        },
      };
    }
    case '$sum': {
      let total = 0;
      let long = false;
      let dec = false;
      let bigTotal = 0n;
      let allInt = true;
      return {
        add(v) {
          if (!isNumeric(v)) return;
          const t = bsonTypeTag(v);
          if (t === 'Decimal128') dec = true;
          if (t === 'Long' || typeof v === 'bigint') long = true;
          const d = toDouble(v);
          total += d;
          if (Number.isInteger(d) && allInt) bigTotal += typeof v === 'bigint' ? v : t === 'Long' ? (v as Long).toBigInt() : BigInt(d);
          else allInt = false;
        },
        result() {
          if (dec) return Decimal128.fromString(String(total));
          if (long && allInt) return Long.fromBigInt(bigTotal);
          return total;
        },
      };
    }
    case '$avg': {
      const vals: unknown[] = [];
      return { add: (v) => void (isNumeric(v) && vals.push(v)), result: () => avgValues(vals) };
    }
    case '$stdDevPop':
    case '$stdDevSamp': {
      const vals: unknown[] = [];
      return { add: (v) => void (isNumeric(v) && vals.push(v)), result: () => stdDev(vals, op === '$stdDevSamp') };
    }
    case '$min':
    case '$max': {
      let best: unknown;
      return {
        add(v) {
          if (v === undefined || v === null) return;
          if (best === undefined) best = v;
          else {
            const c = compareValues(v, best);
            if (op === '$min' ? c < 0 : c > 0) best = v;
          }
        },
        result: () => (best === undefined ? null : best),
      };
    }
    case '$push': {
      const out: unknown[] = [];
      return { add: (v) => void (v !== undefined && out.push(v)), result: () => out };
    }
    case '$addToSet': {
      const seen = new Map<string, unknown>();
      return {
        add(v) {
          if (v === undefined) return;
          const k = groupKey(v);
          if (!seen.has(k)) seen.set(k, v);
        },
        result: () => [...seen.values()],
      };
    }
    case '$first': {
      let got = false;
      let val: unknown = null;
      return {
        add(v) {
          if (!got) {
            got = true;
            val = v === undefined ? null : v;
          }
        },
        result: () => val,
      };
    }
    case '$last': {
      let val: unknown = null;
      return { add: (v) => void (val = v === undefined ? null : v), result: () => val };
    }
    case '$count': {
      let n = 0;
      return { add: () => void n++, result: () => n };
    }
    case '$mergeObjects': {
      const out: Document = {};
      return {
        add(v) {
          if (v === undefined || v === null) return;
          if (!isPlainObject(v)) throw badQuery(`$mergeObjects requires object inputs, but input is of type ${typeName(v)}`);
          for (const k of Object.keys(v)) if (v[k] !== undefined) setOwn(out, k, v[k]);
        },
        result: () => out,
      };
    }
    default:
      throw badQuery(`unknown group operator '${op}'`);
  }
}

interface AccSpec {
  field: string;
  op: string;
  expr: unknown;
  /** The value handed to the accumulator for one document. */
  input: (ctx: EvalContext) => unknown;
  n?: number;
  dirs?: number[];
}

function constInt(v: unknown, what: string): number {
  const n = evalExpr(v, makeContext({}, undefined, new Date()));
  if (!isNumeric(n) || !Number.isInteger(toDouble(n)) || toDouble(n) < 1) throw badQuery(`${what} must be a positive integer`);
  return toDouble(n);
}

function accumulatorSpec(field: string, op: string, arg: unknown): AccSpec {
  switch (op) {
    case '$count':
      if (!(isPlainObject(arg) && Object.keys(arg).length === 0)) throw badQuery('$count takes no arguments, i.e. $count: {}');
      return { field, op, expr: arg, input: () => 1 };
    case '$firstN':
    case '$lastN':
    case '$maxN':
    case '$minN': {
      if (!isPlainObject(arg) || !hasOwnKey(arg, 'input') || !hasOwnKey(arg, 'n') || Object.keys(arg).length !== 2) throw badQuery(`${op} requires exactly 'input' and 'n'`);
      const input = arg['input'];
      validateExpression(input);
      return { field, op, expr: arg, n: constInt(arg['n'], `${op} n`), input: (ctx) => evalExpr(input, ctx) };
    }
    case '$top':
    case '$bottom':
    case '$topN':
    case '$bottomN': {
      const needN = op === '$topN' || op === '$bottomN';
      if (!isPlainObject(arg) || !hasOwnKey(arg, 'sortBy') || !hasOwnKey(arg, 'output') || Object.keys(arg).length !== (needN ? 3 : 2) || (needN && !hasOwnKey(arg, 'n'))) {
        throw badQuery(`${op} requires ${needN ? "'n', " : ''}'sortBy' and 'output'`);
      }
      const sortBy = arg['sortBy'];
      if (!isPlainObject(sortBy) || Object.keys(sortBy).length === 0) throw badQuery(`${op} sortBy must be a non-empty sort document`);
      const keys = Object.keys(sortBy).map((k) => {
        const d = sortBy[k];
        if (!isNumeric(d) || (toDouble(d) !== 1 && toDouble(d) !== -1)) throw badQuery(`${op} sortBy values must be 1 or -1`);
        return { parts: splitPath(k), dir: toDouble(d) };
      });
      const output = arg['output'];
      validateExpression(output);
      return {
        field,
        op,
        expr: arg,
        dirs: keys.map((k) => k.dir),
        ...(needN ? { n: constInt(arg['n'], `${op} n`) } : {}),
        input: (ctx) => ({ k: keys.map((k) => sortKey(ctx.root, k.parts, k.dir)), out: evalExpr(output, ctx) }),
      };
    }
    default: {
      const expr = arg;
      validateExpression(expr);
      return { field, op, expr, input: (ctx) => evalExpr(expr, ctx) };
    }
  }
}

function parseAccumulators(spec: Document, skip: string[], what: string): AccSpec[] {
  const out: AccSpec[] = [];
  for (const field of Object.keys(spec)) {
    if (skip.includes(field)) continue;
    if (field.includes('.')) throw badQuery(`the field name '${field}' cannot contain '.'`);
    if (field.charCodeAt(0) === 36 || RESERVED_KEYS.has(field)) throw badQuery(`invalid field name '${field}' in ${what}`);
    const acc = spec[field];
    if (!isPlainObject(acc) || Object.keys(acc).length !== 1) throw badQuery(`the field '${field}' must be an accumulator object`);
    const op = Object.keys(acc)[0] as string;
    if (!ACCUMULATORS.has(op)) throw badQuery(`unknown group operator '${op}'`);
    out.push(accumulatorSpec(field, op, acc[op]));
  }
  return out;
}

async function groupDocs(input: AsyncIterable<Document>, idExpr: unknown, accs: AccSpec[], env: Env): Promise<Document[]> {
  const groups = new Map<string, { id: unknown; accs: Accumulator[] }>();
  for await (const doc of input) {
    const ctx = makeContext(doc, env.vars, env.now);
    const idv = evalExpr(idExpr, ctx);
    const id = idv === undefined ? null : idv;
    const k = groupKey(id);
    let g = groups.get(k);
    if (g === undefined) {
      g = { id, accs: accs.map((a) => makeAccumulator(a.op, a)) };
      groups.set(k, g);
    }
    for (let i = 0; i < accs.length; i++) (g.accs[i] as Accumulator).add((accs[i] as AccSpec).input(ctx));
  }
  const out: Document[] = [];
  for (const g of groups.values()) {
    const d: Document = { _id: g.id };
    accs.forEach((a, i) => setOwn(d, a.field, (g.accs[i] as Accumulator).result()));
    out.push(d);
  }
  return out;
}

// ------------------------------------------------------------ helpers

async function collect(input: AsyncIterable<Document>): Promise<Document[]> {
  const out: Document[] = [];
  for await (const d of input) out.push(d);
  return out;
}

async function* fromArray(docs: Document[]): AsyncIterable<Document> {
  for (const d of docs) yield d;
}

function intArg(v: unknown, what: string, min: number): number {
  if (!isNumeric(v)) throw badQuery(`${what} must be a number`);
  const n = toDouble(v);
  if (!Number.isInteger(n) || n < min) throw badQuery(`${what} must be ${min > 0 ? 'a positive' : 'a non-negative'} integer`);
  return n;
}

function fieldPathArg(v: unknown, what: string): string[] {
  if (typeof v !== 'string' || v.charCodeAt(0) !== 36 || v.charCodeAt(1) === 36 || v.length < 2) throw badQuery(`${what} must be a field path starting with '$'`);
  return splitPath(v.slice(1));
}

function outputFieldName(v: unknown, what: string): string {
  if (typeof v !== 'string' || v === '') throw badQuery(`${what} must be a non-empty string`);
  if (v.charCodeAt(0) === 36) throw badQuery(`${what} must not start with '$'`);
  if (v.includes('.')) throw badQuery(`${what} must not contain '.'`);
  if (RESERVED_KEYS.has(v)) throw badQuery(`reserved field name '${v}'`);
  return v;
}

/** Field path without array traversal ($unwind semantics: a path through an array is missing). */
function getNestedField(doc: Document, parts: string[]): unknown {
  let cur: unknown = doc;
  for (const p of parts) {
    if (!isPlainObject(cur)) return undefined;
    cur = getOwn(cur, p);
  }
  return cur;
}

// ------------------------------------------------------------ stage compiler

/** Where a pipeline runs: the top level, inside $facet, or inside $lookup/$unionWith. */
type Nesting = 'top' | 'facet' | 'sub';

function compileStage(stage: unknown, index: number, count: number, env: Env, nesting: Nesting): Stage {
  const name = stageName(stage);
  const arg = (stage as Document)[name];
  const per = compileDocStage(name, arg);
  if (per !== undefined) return syncStage((d) => carryDocMeta(d, per(d, env.vars, env.now)));
  switch (name) {
    case '$match': {
      if (!isPlainObject(arg)) throw badQuery('the match filter must be an expression in an object');
      const m = compileFilterUnguarded(arg, env.vars);
      return syncStage((d) => (m(d) ? d : undefined));
    }
    case '$limit': {
      const n = intArg(arg, '$limit', 1);
      const st: Stage = async function* (input) {
        if (n <= 0) return;
        let i = 0;
        for await (const d of input) {
          yield d;
          if (++i >= n) return;
        }
      };
      st.limit = n;
      return st;
    }
    case '$skip': {
      const n = intArg(arg, '$skip', 0);
      return async function* (input) {
        let i = 0;
        for await (const d of input) if (i++ >= n) yield d;
      };
    }
    case '$sort': {
      if (!isPlainObject(arg) || Object.keys(arg).length === 0) throw badQuery('$sort key specification must be a non-empty object');
      sortDocuments([], arg); // validate
      const st: Stage = async function* (input) {
        yield* sortDocuments(await collect(input), arg);
      };
      st.sortSpec = arg;
      return st;
    }
    case '$group': {
      if (!isPlainObject(arg)) throw badQuery('a group specification must be an object');
      if (!hasOwnKey(arg, '_id')) throw badQuery("a group specification must include an _id");
      const accs = parseAccumulators(arg, ['_id'], '$group');
      const idExpr = arg['_id'];
      validateExpression(idExpr);
      return async function* (input) {
        yield* await groupDocs(input, idExpr, accs, env);
      };
    }
    case '$count': {
      const field = outputFieldName(arg, '$count');
      return async function* (input) {
        let n = 0;
        for await (const _ of input) n++;
        if (n > 0) yield { [field]: n };
      };
    }
    case '$sortByCount': {
      const expr = arg;
      if (isPlainObject(expr)) {
        const k = Object.keys(expr);
        if (k.length !== 1 || !(k[0] as string).startsWith('$')) throw badQuery('$sortByCount requires an expression');
      } else if (typeof expr !== 'string' || !expr.startsWith('$')) throw badQuery('$sortByCount requires a field path or an expression');
      return async function* (input) {
        const groups = await groupDocs(input, expr, [accumulatorSpec('count', '$sum', 1)], env);
        yield* sortDocuments(groups, { count: -1 });
      };
    }
    case '$unwind': {
      let pathArg: unknown = arg;
      let includeArrayIndex: string | undefined;
      let preserve = false;
      if (isPlainObject(arg)) {
        for (const k of Object.keys(arg)) if (!['path', 'includeArrayIndex', 'preserveNullAndEmptyArrays'].includes(k)) throw badQuery(`unrecognized option to $unwind: ${k}`);
        pathArg = arg['path'];
        if (arg['includeArrayIndex'] !== undefined) {
          const f = arg['includeArrayIndex'];
          if (typeof f !== 'string' || f === '' || f.startsWith('$')) throw badQuery('includeArrayIndex must be a non-empty string not starting with $');
          splitPath(f);
          includeArrayIndex = f;
        }
        if (arg['preserveNullAndEmptyArrays'] !== undefined) {
          if (typeof arg['preserveNullAndEmptyArrays'] !== 'boolean') throw badQuery('preserveNullAndEmptyArrays must be a boolean');
          preserve = arg['preserveNullAndEmptyArrays'];
        }
      }
      const parts = fieldPathArg(pathArg, '$unwind path');
      const idxParts = includeArrayIndex?.split('.');
      return async function* (input) {
        for await (const d of input) {
          const v = getNestedField(d, parts);
          if (Array.isArray(v) && v.length > 0) {
            for (let i = 0; i < v.length; i++) {
              let out = setPathCopy(d, parts, 0, v[i]) as Document;
              if (idxParts) out = setPathCopy(out, idxParts, 0, i) as Document;
              yield out;
            }
          } else if (v !== undefined && v !== null && !Array.isArray(v)) {
            yield idxParts ? (setPathCopy(d, idxParts, 0, null) as Document) : d;
          } else if (preserve) {
            let out = d;
            if (Array.isArray(v)) out = setPathCopy(d, parts, 0, undefined) as Document;
            yield idxParts ? (setPathCopy(out, idxParts, 0, null) as Document) : out;
          }
        }
      };
    }
    case '$lookup':
      return compileLookup(arg, env);
    case '$facet': {
      if (nesting === 'facet') throw badQuery('$facet is not allowed to be used within a $facet stage');
      if (!isPlainObject(arg) || Object.keys(arg).length === 0) throw badQuery('$facet requires at least one output field');
      const facets = Object.keys(arg).map((k) => {
        outputFieldName(k, '$facet output field');
        const p = arg[k];
        if (!Array.isArray(p)) throw badQuery(`$facet argument for '${k}' must be an array`);
        for (const s of p) {
          const n = stageName(s);
          if (n === '$out' || n === '$merge' || n === '$facet') throw badQuery(`${n} is not allowed to be used within a $facet stage`);
        }
        return { k, run: compilePipeline(p as Document[], env, 'facet') };
      });
      return async function* (input) {
        const docs = await collect(input);
        const out: Document = {};
        for (const f of facets) setOwn(out, f.k, await collect(f.run(fromArray(docs))));
        yield out;
      };
    }
    case '$bucket':
      return compileBucket(arg, env);
    case '$bucketAuto':
      return compileBucketAuto(arg, env);
    case '$sample': {
      if (!isPlainObject(arg) || Object.keys(arg).length !== 1 || !hasOwnKey(arg, 'size')) throw badQuery('$sample stage must specify a size');
      const size = intArg(arg['size'], '$sample size', 0);
      return async function* (input) {
        const docs = await collect(input);
        for (let i = docs.length - 1; i > 0; i--) {
          const j = Math.floor(Math.random() * (i + 1));
          const t = docs[i] as Document;
          docs[i] = docs[j] as Document;
          docs[j] = t;
        }
        yield* docs.slice(0, size);
      };
    }
    case '$out':
    case '$merge': {
      if (index !== count - 1) throw badQuery(`${name} can only be the final stage in the pipeline`);
      if (nesting !== 'top') throw badQuery(`${name} is not allowed in a sub-pipeline`);
      let target: string;
      if (name === '$out') {
        if (typeof arg === 'string') target = arg;
        else if (isPlainObject(arg) && typeof arg['coll'] === 'string') target = arg['coll'];
        else throw badQuery('$out requires a collection name');
      } else {
        if (typeof arg === 'string') target = arg;
        else if (isPlainObject(arg) && typeof arg['into'] === 'string') target = arg['into'];
        else if (isPlainObject(arg) && isPlainObject(arg['into']) && typeof arg['into']['coll'] === 'string') target = arg['into']['coll'];
        else throw badQuery('$merge requires an into collection');
        if (isPlainObject(arg)) {
          for (const k of Object.keys(arg)) if (!['into', 'on', 'let', 'whenMatched', 'whenNotMatched'].includes(k)) throw badQuery(`$merge: unknown option ${k}`);
        }
      }
      const st = stage as Document;
      return async function* (input) {
        const docs = await collect(input);
        if (env.ctx?.write === undefined) throw new LargetableError('NOT_SUPPORTED', `${name} is not available in this context`);
        await env.ctx.write(target, docs, st);
      };
    }
    case '$unionWith': {
      let coll: string;
      let sub: Stage | undefined;
      if (typeof arg === 'string') coll = arg;
      else if (isPlainObject(arg) && typeof arg['coll'] === 'string') {
        coll = arg['coll'];
        if (arg['pipeline'] !== undefined) {
          if (!Array.isArray(arg['pipeline'])) throw badQuery('$unionWith pipeline must be an array');
          sub = compilePipeline(arg['pipeline'] as Document[], env, 'sub');
        }
      } else throw badQuery('$unionWith requires a collection name');
      return async function* (input) {
        yield* input;
        if (env.ctx === undefined) throw new LargetableError('NOT_SUPPORTED', '$unionWith needs a collection context');
        const src = env.ctx.collection(coll);
        yield* sub ? sub(src) : src;
      };
    }
    case '$vectorSearch': {
      if (index !== 0) throw badQuery('$vectorSearch must be the first stage in the pipeline');
      const st = arg as Document;
      return async function* () {
        if (env.ctx?.vectorSearch === undefined) throw new LargetableError('NOT_SUPPORTED', '$vectorSearch is not available in this context');
        yield* env.ctx.vectorSearch(st);
      };
    }
    case '$documents': {
      if (index !== 0) throw badQuery('$documents must be the first stage in the pipeline');
      return async function* () {
        const v = evalExpr(arg, makeContext({}, env.vars, env.now));
        if (!Array.isArray(v) || !v.every(isPlainObject)) throw badQuery('$documents must evaluate to an array of objects');
        yield* v as Document[];
      };
    }
    case '$redact':
    case '$graphLookup':
    case '$setWindowFields':
    case '$densify':
    case '$fill':
    case '$geoNear':
    case '$search':
    case '$searchMeta':
    case '$indexStats':
    case '$collStats':
    case '$changeStream':
    case '$currentOp':
    case '$listSessions':
    case '$planCacheStats':
      throw new LargetableError('NOT_SUPPORTED', `${name} is not supported`);
    default:
      throw badQuery(`unrecognized pipeline stage name: '${name}'`);
  }
}

function compileLookup(arg: unknown, env: Env): Stage {
  if (!isPlainObject(arg)) throw badQuery('$lookup argument must be an object');
  for (const k of Object.keys(arg)) if (!['from', 'localField', 'foreignField', 'as', 'let', 'pipeline'].includes(k)) throw badQuery(`unknown argument to $lookup: ${k}`);
  const from = arg['from'];
  if (typeof from !== 'string' || from === '') throw badQuery('$lookup from must be a collection name');
  const as = arg['as'];
  if (typeof as !== 'string' || as === '' || as.startsWith('$')) throw badQuery('$lookup as must be a field name');
  const asParts = splitPath(as);
  const hasLocal = arg['localField'] !== undefined || arg['foreignField'] !== undefined;
  let localParts: string[] | undefined;
  let foreignParts: string[] | undefined;
  if (hasLocal) {
    if (typeof arg['localField'] !== 'string' || typeof arg['foreignField'] !== 'string') throw badQuery('$lookup requires both localField and foreignField as strings');
    localParts = splitPath(arg['localField']);
    foreignParts = splitPath(arg['foreignField']);
  }
  let letSpec: Document | undefined;
  if (arg['let'] !== undefined) {
    if (!isPlainObject(arg['let'])) throw badQuery('$lookup let must be an object');
    letSpec = arg['let'];
    for (const k of Object.keys(letSpec)) {
      if (!/^[a-z\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*$/.test(k) || RESERVED_KEYS.has(k)) throw badQuery(`'${k}' is not a valid variable name`);
      validateExpression(letSpec[k]);
    }
  }
  let pipelineSpec: Document[] | undefined;
  if (arg['pipeline'] !== undefined) {
    if (!Array.isArray(arg['pipeline'])) throw badQuery('$lookup pipeline must be an array');
    pipelineSpec = arg['pipeline'] as Document[];
    for (const s of pipelineSpec) {
      const n = stageName(s);
      if (n === '$out' || n === '$merge') throw badQuery(`${n} is not allowed within a $lookup pipeline`);
    }
    // validate eagerly with placeholder variables
    const probeVars: Record<string, unknown> = Object.create(null);
    for (const k of Object.keys(env.vars)) probeVars[k] = env.vars[k];
    for (const k of Object.keys(letSpec ?? {})) probeVars[k] = null;
    compilePipeline(pipelineSpec, { vars: probeVars, now: env.now, ctx: env.ctx }, 'sub');
  }
  if (!hasLocal && pipelineSpec === undefined) throw badQuery('$lookup requires either localField/foreignField or pipeline');
  return async function* (input) {
    if (env.ctx === undefined) throw new LargetableError('NOT_SUPPORTED', '$lookup needs a collection context');
    let foreign: Document[] | undefined;
    // hash index over the foreign join values (groupKey), built once; hits are confirmed with valuesEqual
    let index: Map<string, number[]> | undefined;
    const joinKey = (v: unknown): string => (v === undefined || v === null ? 'n' : groupKey(v));
    const foreignValues = (f: Document): unknown[] => {
      const fv: unknown[] = [];
      lookupForMatch(f, foreignParts as string[], 0, fv);
      const out: unknown[] = [];
      for (const x of fv) {
        if (Array.isArray(x)) {
          out.push(x);
          for (const e of x) out.push(e);
        } else out.push(x);
      }
      return out;
    };
    for await (const d of input) {
      if (foreign === undefined) foreign = await collect(env.ctx.collection(from));
      let candidates: Document[] = foreign;
      if (localParts && foreignParts) {
        if (index === undefined) {
          index = new Map();
          for (let i = 0; i < foreign.length; i++) {
            const seen = new Set<string>();
            for (const y of foreignValues(foreign[i] as Document)) {
              const k = joinKey(y);
              if (seen.has(k)) continue;
              seen.add(k);
              const list = index.get(k);
              if (list) list.push(i);
              else index.set(k, [i]);
            }
          }
        }
        const local: unknown[] = [];
        lookupForMatch(d, localParts, 0, local);
        const keys: unknown[] = [];
        for (const v of local) {
          if (Array.isArray(v)) {
            if (v.length === 0) keys.push(undefined);
            for (const e of v) keys.push(e);
          } else keys.push(v);
        }
        const hits = new Set<number>();
        for (const k of keys) for (const i of index.get(joinKey(k)) ?? []) hits.add(i);
        const all = foreign;
        candidates = [...hits]
          .sort((x, y) => x - y)
          .map((i) => all[i] as Document)
          .filter((f) => {
            for (const y of foreignValues(f)) {
              for (const k of keys) {
                if ((k === undefined || k === null) && (y === undefined || y === null)) return true;
                if (k !== undefined && y !== undefined && valuesEqual(k, y)) return true;
              }
            }
            return false;
          });
      }
      let matched = candidates;
      if (pipelineSpec) {
        const vars: Record<string, unknown> = Object.create(null);
        for (const k of Object.keys(env.vars)) vars[k] = env.vars[k];
        if (letSpec) {
          const ctx = makeContext(d, env.vars, env.now);
          for (const k of Object.keys(letSpec)) vars[k] = evalExpr(letSpec[k], ctx);
        }
        const run = compilePipeline(pipelineSpec, { vars, now: env.now, ctx: env.ctx }, 'sub');
        matched = await collect(run(fromArray(candidates)));
      }
      yield setPathCopy(d, asParts, 0, matched.map((m) => cloneValue(m))) as Document;
    }
  };
}

function compileBucket(arg: unknown, env: Env): Stage {
  if (!isPlainObject(arg)) throw badQuery('$bucket argument must be an object');
  for (const k of Object.keys(arg)) if (!['groupBy', 'boundaries', 'default', 'output'].includes(k)) throw badQuery(`unrecognized option to $bucket: ${k}`);
  const groupBy = arg['groupBy'];
  if (!(typeof groupBy === 'string' && groupBy.startsWith('$')) && !isPlainObject(groupBy)) throw badQuery("$bucket groupBy must be a path or an expression object");
  const b = arg['boundaries'];
  if (!Array.isArray(b) || b.length < 2) throw badQuery("$bucket 'boundaries' must be an array of at least 2 values");
  for (let i = 1; i < b.length; i++) {
    if ((isNumeric(b[i]) !== isNumeric(b[i - 1])) || (!isNumeric(b[i]) && typeName(b[i]) !== typeName(b[i - 1]))) throw badQuery("$bucket 'boundaries' must all be of the same type");
    if (compareValues(b[i - 1], b[i]) >= 0) throw badQuery("$bucket 'boundaries' must be sorted in ascending order");
  }
  const hasDefault = hasOwnKey(arg, 'default');
  const dflt = arg['default'];
  if (hasDefault && compareValues(dflt, b[0]) >= 0 && compareValues(dflt, b[b.length - 1]) < 0 && (isNumeric(dflt) === isNumeric(b[0]))) {
    throw badQuery("$bucket 'default' must be less than the lowest boundary or greater than or equal to the highest boundary");
  }
  const output = arg['output'] === undefined ? { count: { $sum: 1 } } : arg['output'];
  if (!isPlainObject(output)) throw badQuery('$bucket output must be an object');
  const accs = parseAccumulators(output, [], '$bucket');
  return async function* (input) {
    const buckets = new Map<number, { id: unknown; accs: Accumulator[] }>();
    for await (const doc of input) {
      const ctx = makeContext(doc, env.vars, env.now);
      const v = evalExpr(groupBy, ctx);
      let idx = -1;
      const vv = v === undefined ? null : v;
      const comparable = (isNumeric(vv) && isNumeric(b[0])) || typeName(vv) === typeName(b[0]);
      if (comparable) {
        for (let i = 0; i < b.length - 1; i++) {
          if (compareValues(vv, b[i]) >= 0 && compareValues(vv, b[i + 1]) < 0) {
            idx = i;
            break;
          }
        }
      }
      if (idx < 0) {
        if (!hasDefault) throw badQuery('$bucket could not find a matching branch for an input, and no default was specified');
        idx = b.length;
      }
      let g = buckets.get(idx);
      if (!g) {
        g = { id: idx === b.length ? dflt : b[idx], accs: accs.map((a) => makeAccumulator(a.op, a)) };
        buckets.set(idx, g);
      }
      accs.forEach((a, i) => (g!.accs[i] as Accumulator).add(a.input(ctx)));
    }
    for (const idx of [...buckets.keys()].sort((x, y) => x - y)) {
      const g = buckets.get(idx)!;
      const d: Document = { _id: g.id };
      accs.forEach((a, i) => setOwn(d, a.field, (g.accs[i] as Accumulator).result()));
      yield d;
    }
  };
}

function compileBucketAuto(arg: unknown, env: Env): Stage {
  if (!isPlainObject(arg)) throw badQuery('$bucketAuto argument must be an object');
  for (const k of Object.keys(arg)) if (!['groupBy', 'buckets', 'output', 'granularity'].includes(k)) throw badQuery(`unrecognized option to $bucketAuto: ${k}`);
  const groupBy = arg['groupBy'];
  if (!(typeof groupBy === 'string' && groupBy.startsWith('$')) && !isPlainObject(groupBy)) throw badQuery("$bucketAuto groupBy must be a path or an expression object");
  const n = intArg(arg['buckets'], '$bucketAuto buckets', 1);
  if (arg['granularity'] !== undefined) throw new LargetableError('NOT_SUPPORTED', '$bucketAuto granularity is not supported');
  const output = arg['output'] === undefined ? { count: { $sum: 1 } } : arg['output'];
  if (!isPlainObject(output)) throw badQuery('$bucketAuto output must be an object');
  const accs = parseAccumulators(output, [], '$bucketAuto');
  return async function* (input) {
    const rows: { key: unknown; doc: Document }[] = [];
    for await (const doc of input) {
      const v = evalExpr(groupBy, makeContext(doc, env.vars, env.now));
      rows.push({ key: v === undefined ? null : v, doc });
    }
    if (rows.length === 0) return;
    rows.sort((x, y) => compareValues(x.key, y.key));
    const per = Math.max(1, Math.round(rows.length / n));
    const buckets: { rows: typeof rows }[] = [];
    let i = 0;
    while (i < rows.length) {
      let end = Math.min(rows.length, i + per);
      if (buckets.length === n - 1) end = rows.length;
      while (end < rows.length && compareValues(rows[end]!.key, rows[end - 1]!.key) === 0) end++;
      buckets.push({ rows: rows.slice(i, end) });
      i = end;
    }
    for (let bi = 0; bi < buckets.length; bi++) {
      const bk = buckets[bi]!;
      const min = bk.rows[0]!.key;
      const max = bi + 1 < buckets.length ? buckets[bi + 1]!.rows[0]!.key : bk.rows[bk.rows.length - 1]!.key;
      const acc = accs.map((a) => makeAccumulator(a.op, a));
      for (const r of bk.rows) {
        const ctx = makeContext(r.doc, env.vars, env.now);
        accs.forEach((a, k) => (acc[k] as Accumulator).add(a.input(ctx)));
      }
      const d: Document = { _id: { min, max } };
      accs.forEach((a, k) => setOwn(d, a.field, (acc[k] as Accumulator).result()));
      yield d;
    }
  };
}

function compilePipeline(pipeline: Document[], env: Env, nesting: Nesting): Stage {
  if (!Array.isArray(pipeline)) throw badQuery('a pipeline must be an array of stages');
  if (pipeline.length > pipelineStagesMax) throw new LargetableError('LIMIT_EXCEEDED', `pipeline has more than ${pipelineStagesMax} stages`);
  const compiled = pipeline.map((s, i) => compileStage(s, i, pipeline.length, env, nesting));
  // fuse runs of per-document stages into one generator; $sort + $limit becomes a bounded top-k
  const stages: Stage[] = [];
  for (let i = 0; i < compiled.length; i++) {
    const s = compiled[i] as Stage;
    const next = compiled[i + 1];
    if (s.sortSpec !== undefined && next?.limit !== undefined) {
      const spec = s.sortSpec;
      const k = next.limit;
      stages.push(async function* (input) {
        yield* await topK(input, spec, k);
      });
      i++;
      continue;
    }
    if (s.sync !== undefined) {
      const fns = [s.sync];
      while (compiled[i + 1]?.sync !== undefined) fns.push((compiled[++i] as Stage).sync!);
      if (fns.length === 1) stages.push(s);
      else {
        stages.push(
          syncStage((d) => {
            let cur: Document | undefined = d;
            for (const f of fns) {
              cur = f(cur);
              if (cur === undefined) return undefined;
            }
            return cur;
          }),
        );
      }
      continue;
    }
    stages.push(s);
  }
  return (input) => {
    let cur = input;
    for (const s of stages) cur = s(cur);
    return cur;
  };
}

/** Run an aggregation pipeline. Stages are validated synchronously (throws before iterating). */
export function runPipeline(source: AsyncIterable<Document>, pipeline: Document[], ctx: PipelineContext): AsyncIterable<Document> {
  guardQuery(pipeline, 'pipeline');
  const env: Env = { vars: Object.create(null) as Record<string, unknown>, now: ctx.now ?? new Date(), ctx };
  const run = compilePipeline(pipeline, env, 'top');
  return run(source);
}

export { isArrayIndex, type EvalContext };
