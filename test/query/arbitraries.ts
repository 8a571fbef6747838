/**
 * fast-check generators for documents, filters, updates, projections, sorts and pipelines.
 * Reusable by other suites (indexed vs unindexed, memtable vs compacted): every generator draws
 * from a small field-name alphabet so that paths collide, arrays nest and types mix.
 *
 * Options exclude the documented divergences between mingo and MongoDB (docs/COMPATIBILITY.md)
 * when a generator feeds the mingo differential suite (`forMingo: true`).
 */
import fc from 'fast-check';
import { ObjectId } from 'bson';

export type Doc = { [key: string]: unknown };

/** fc.record with ordinary (Object.prototype) objects: mingo cannot clone null-prototype objects. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function rec<T extends Record<string, fc.Arbitrary<unknown>>>(shape: T): fc.Arbitrary<{ [K in keyof T]: T[K] extends fc.Arbitrary<infer U> ? U : never }> {
  return fc.record(shape, { noNullPrototype: true }) as never;
}

export interface GenOptions {
  /** Exclude constructs where mingo 6.5.6 is known to differ from MongoDB (see COMPATIBILITY.md). */
  forMingo?: boolean;
  /** Generate no arrays at all (mingo sorts arrays as whole values, MongoDB by min/max element). */
  noArrays?: boolean;
  /** Generate no NaN (mingo's $sum ignores NaN and its $min/$max do not order NaN below numbers). */
  noNaN?: boolean;
  /** Generate no ObjectIds and Dates (mingo sorts and traverses them as plain objects). */
  noBsonObjects?: boolean;
}

export const FIELDS = ['a', 'b', 'c'] as const;
export const OIDS = ['5f0000000000000000000001', '5f0000000000000000000002', '650000000000000000000003'].map((h) => ObjectId.createFromHexString(h));
export const DATES = [new Date(0), new Date(86400000), new Date(1700000000000)];

/** A path of 1-3 components drawn from FIELDS, sometimes with an array index. */
export const arbPath: fc.Arbitrary<string> = fc
  .array(fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...FIELDS) }, { weight: 1, arbitrary: fc.constantFrom('0', '1') }), { minLength: 1, maxLength: 3 })
  .filter((p) => !/^\d/.test(p[0] as string))
  .map((p) => p.join('.'));

/** A path without numeric components. */
export const arbPlainPath: fc.Arbitrary<string> = fc.array(fc.constantFrom(...FIELDS), { minLength: 1, maxLength: 3 }).map((p) => p.join('.'));

export function arbScalar(opts: GenOptions = {}): fc.Arbitrary<unknown> {
  const list: fc.Arbitrary<unknown>[] = [
    fc.integer({ min: -3, max: 5 }),
    fc.constantFrom(0.5, -1.5, 2.25),
    // mingo's $unwind drops empty strings (falsy): no '' when comparing with it
    opts.forMingo ? fc.constantFrom('a', 'b', 'ab', 'B', 'ba') : fc.constantFrom('', 'a', 'b', 'ab', 'B', 'ba'),
    fc.boolean(),
    fc.constant(null),
  ];
  if (!opts.noBsonObjects) list.push(fc.constantFrom(...DATES), fc.constantFrom(...OIDS));
  list.push(opts.noNaN ? fc.constant(-0) : fc.constantFrom(-0, NaN));
  return fc.oneof(...list);
}

/** A value: scalar, nested document or array (arrays of arrays included). */
export function arbValue(opts: GenOptions = {}, depth = 3): fc.Arbitrary<unknown> {
  if (depth <= 0) return arbScalar(opts);
  if (opts.noArrays) {
    return fc.oneof(
      { weight: 4, arbitrary: arbScalar(opts) },
      { weight: 1, arbitrary: fc.dictionary(fc.constantFrom(...FIELDS), fc.constant(null), { maxKeys: 3, noNullPrototype: true }).chain((shape) => arbObjectWithKeys(Object.keys(shape), opts, depth - 1)) },
    );
  }
  return fc.oneof(
    { weight: 4, arbitrary: arbScalar(opts) },
    // mingo treats an empty embedded document like a missing value in several places
    { weight: 1, arbitrary: fc.dictionary(fc.constantFrom(...FIELDS), fc.constant(null), { minKeys: opts.forMingo ? 1 : 0, maxKeys: 3, noNullPrototype: true }).chain((shape) => arbObjectWithKeys(Object.keys(shape), opts, depth - 1)) },
    {
      weight: 1,
      arbitrary: fc.array(
        opts.forMingo ? arbValue(opts, depth - 1).filter((v) => !Array.isArray(v)) : arbValue(opts, depth - 1),
        { maxLength: 3 },
      ),
    },
  );
}

function arbObjectWithKeys(keys: string[], opts: GenOptions, depth: number): fc.Arbitrary<Doc> {
  return fc.tuple(...keys.map(() => arbValue(opts, depth))).map((vals) => {
    const o: Doc = {};
    keys.forEach((k, i) => (o[k] = vals[i]));
    return o;
  });
}

/** One document without _id (fields from FIELDS, some missing). */
export function arbDocBody(opts: GenOptions = {}): fc.Arbitrary<Doc> {
  return fc.subarray([...FIELDS]).chain((keys) => arbObjectWithKeys(keys, opts, 3));
}

/** A small collection: documents with _id 0..n-1. */
export function arbDocs(opts: GenOptions = {}, maxLength = 8): fc.Arbitrary<Doc[]> {
  return fc.array(arbDocBody(opts), { minLength: 0, maxLength }).map((bodies) => bodies.map((b, i) => ({ _id: i, ...b })));
}

/** Operand values for filters. */
export function arbOperand(opts: GenOptions = {}): fc.Arbitrary<unknown> {
  return fc.oneof({ weight: 5, arbitrary: arbScalar(opts) }, { weight: 1, arbitrary: fc.array(arbScalar(opts), { maxLength: 2 }) });
}

export function arbFieldCondition(opts: GenOptions = {}, depth = 2): fc.Arbitrary<unknown> {
  const scalarOp = fc.oneof(
    rec({ $eq: arbOperand(opts) }),
    rec({ $ne: arbOperand(opts) }),
    rec({ $gt: arbScalar(opts) }),
    rec({ $gte: arbScalar(opts) }),
    rec({ $lt: arbScalar(opts) }),
    rec({ $lte: arbScalar(opts) }),
    rec({ $gt: fc.integer({ min: -2, max: 3 }), $lt: fc.integer({ min: 0, max: 5 }) }),
    rec({ $in: fc.array(arbScalar(opts), { maxLength: 3 }) }),
    rec({ $nin: fc.array(arbScalar(opts), { maxLength: 3 }) }),
    rec({ $exists: fc.boolean() }),
    rec({ $type: fc.constantFrom('number', 'string', 'object', 'array', 'bool', 'null', 'date', 'objectId', 'double', 'int') }),
    rec({ $size: fc.integer({ min: 0, max: 3 }) }),
    rec({ $mod: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 0, max: 2 })) }),
    rec({ $regex: fc.constantFrom('^a', 'b$', 'a|b', '^$', '[ab]+', 'A') }),
    rec({ $regex: fc.constantFrom('^a', 'b'), $options: fc.constantFrom('i', '') }),
    rec({ $all: fc.array(arbScalar(opts), { minLength: 1, maxLength: 2 }) }),
  );
  if (depth <= 0) return fc.oneof(arbOperand(opts), scalarOp);
  return fc.oneof(
    { weight: 3, arbitrary: arbOperand(opts) },
    { weight: 6, arbitrary: scalarOp },
    { weight: 1, arbitrary: rec({ $not: scalarOp }) },
    { weight: 1, arbitrary: rec({ $elemMatch: fc.oneof(scalarOp, arbFilterRaw(opts, depth - 1)) }) },
  );
}

/**
 * True when a filter avoids the documented mingo divergences (COMPATIBILITY.md, "mingo"):
 * null equality on dotted paths, $gte/$lte null, $mod, $type 'array' / $size on dotted paths.
 */
export function isMingoSafeFilter(f: unknown): boolean {
  if (Array.isArray(f)) return f.every(isMingoSafeFilter);
  if (f === null || typeof f !== 'object' || f instanceof Date || f instanceof ObjectId) return true;
  for (const [k, v] of Object.entries(f as Doc)) {
    if (k === '$mod' || k === '$all') return false;
    if (k === '$elemMatch' && v !== null && typeof v === 'object' && !Object.keys(v).every((x) => x.startsWith('$') && !['$and', '$or', '$nor'].includes(x))) {
      return false;
    }
    if (k === '$type') return false;
    if ((k === '$gte' || k === '$lte') && v === null) return false;
    // NaN in query comparisons equals only NaN in MongoDB; mingo orders it like JS
    if ((k === '$gt' || k === '$gte' || k === '$lt' || k === '$lte') && Number.isNaN(v)) return false;
    if (k.startsWith('$')) {
      if (!isMingoSafeFilter(v)) return false;
      continue;
    }
    const dotted = k.includes('.');
    if (dotted && (containsNullEquality(v) || containsArrayOperand(v))) return false;
    if (dotted && JSON.stringify(v ?? null).match(/"\$size"|"array"/)) return false;
    if (dotted && JSON.stringify(v ?? null).includes('"$exists"')) return false;
    if (!isMingoSafeFilter(v)) return false;
  }
  return true;
}

function containsArrayOperand(cond: unknown): boolean {
  if (Array.isArray(cond)) return true;
  if (cond === null || typeof cond !== 'object' || cond instanceof Date || cond instanceof ObjectId) return false;
  return Object.entries(cond as Doc).some(([k, v]) => (k !== '$in' && k !== '$nin' && k !== '$all' && Array.isArray(v)) || ((k === '$in' || k === '$nin' || k === '$all') && Array.isArray(v) && v.some(Array.isArray)) || (v !== null && typeof v === 'object' && !Array.isArray(v) && containsArrayOperand(v)));
}

function containsNullEquality(cond: unknown): boolean {
  if (cond === null) return true;
  if (Array.isArray(cond)) return cond.some((c) => c === null);
  if (typeof cond !== 'object' || cond instanceof Date || cond instanceof ObjectId) return false;
  return Object.values(cond as Doc).some((v) => v === null || (Array.isArray(v) && v.includes(null)) || (v !== null && typeof v === 'object' && containsNullEquality(v)));
}

/** A query filter. */
export function arbFilter(opts: GenOptions = {}, depth = 2): fc.Arbitrary<Doc> {
  if (opts.forMingo) return arbFilterRaw(opts, depth).filter(isMingoSafeFilter);
  return arbFilterRaw(opts, depth);
}

function arbFilterRaw(opts: GenOptions, depth: number): fc.Arbitrary<Doc> {
  const leaf = fc.dictionary(arbPath, arbFieldCondition(opts, depth), { minKeys: 1, maxKeys: 2, noNullPrototype: true });
  if (depth <= 0) return leaf;
  return fc.oneof(
    { weight: 6, arbitrary: leaf },
    { weight: 1, arbitrary: rec({ $and: fc.array(arbFilterRaw(opts, depth - 1), { minLength: 1, maxLength: 2 }) }) },
    { weight: 1, arbitrary: rec({ $or: fc.array(arbFilterRaw(opts, depth - 1), { minLength: 1, maxLength: 2 }) }) },
    { weight: 1, arbitrary: rec({ $nor: fc.array(arbFilterRaw(opts, depth - 1), { minLength: 1, maxLength: 2 }) }) },
  );
}

/** A sort specification over 1-2 paths (the suite appends `_id: 1` as a tie-breaker). */
export const arbSort: fc.Arbitrary<Doc> = fc.dictionary(arbPlainPath, fc.constantFrom(1, -1), { minKeys: 1, maxKeys: 2, noNullPrototype: true });

/** A find() projection: inclusion or exclusion, dotted paths, optional _id and $slice. */
export function arbProjection(opts: GenOptions = {}): fc.Arbitrary<Doc> {
  const basic = fc.tuple(fc.uniqueArray(arbPlainPath, { minLength: 1, maxLength: 2 }), fc.constantFrom(0, 1), fc.option(fc.constantFrom(0, 1))).map(([paths, on, id]) => {
    const p: Doc = {};
    const chosen: string[] = [];
    for (const path of paths) {
      if (chosen.some((c) => c === path || c.startsWith(path + '.') || path.startsWith(c + '.'))) continue;
      chosen.push(path);
      p[path] = on;
    }
    // mingo reads {_id: 1, a: 0} as an inclusion; MongoDB as an exclusion (COMPATIBILITY.md)
    if (id !== null && !(opts.forMingo && on === 0 && id === 1)) p['_id'] = id;
    return p;
  });
  if (opts.forMingo) return basic;
  return fc.oneof(basic, fc.tuple(fc.constantFrom(...FIELDS), fc.integer({ min: -2, max: 2 })).map(([f, n]) => ({ [f]: { $slice: n } })));
}

/** Update operator documents whose target paths do not conflict. */
export function arbUpdate(opts: GenOptions = {}): fc.Arbitrary<Doc> {
  const val = arbValue(opts, 1);
  const num = fc.integer({ min: -2, max: 3 });
  const ops: [string, fc.Arbitrary<unknown>][] = [
    ['$set', val],
    ['$unset', fc.constant('')],
    ['$inc', num],
    ['$mul', num],
    // mingo orders ObjectIds as plain objects: keep them out of $min/$max when comparing with it
    ['$min', arbScalar(opts.forMingo ? { ...opts, noBsonObjects: true } : opts)],
    ['$max', arbScalar(opts.forMingo ? { ...opts, noBsonObjects: true } : opts)],
    ['$push', val],
    ['$addToSet', arbScalar(opts)],
    ['$pop', fc.constantFrom(1, -1)],
    ['$pull', arbScalar(opts)],
    ['$pullAll', fc.array(arbScalar(opts), { maxLength: 2 })],
    ['$push', rec({ $each: fc.array(arbScalar(opts), { maxLength: 3 }) })],
    ['$addToSet', rec({ $each: fc.array(arbScalar(opts), { maxLength: 3 }) })],
  ];
  const entry = fc.tuple(fc.integer({ min: 0, max: ops.length - 1 }), arbPlainPath).chain(([i, path]) => {
    const [op, arb] = ops[i] as [string, fc.Arbitrary<unknown>];
    return arb.map((v) => [op, path, v] as const);
  });
  return fc.array(entry, { minLength: 1, maxLength: 3 }).map((entries) => {
    const u: Record<string, Doc> = {};
    const used: string[] = [];
    for (const [op, path, v] of entries) {
      if (used.some((p) => p === path || p.startsWith(path + '.') || path.startsWith(p + '.'))) continue;
      used.push(path);
      (u[op] ??= {})[path] = v;
    }
    return u;
  });
}

/** Aggregation pipelines of common stages. */
export function arbPipeline(opts: GenOptions = {}): fc.Arbitrary<Doc[]> {
  const field = fc.constantFrom(...FIELDS);
  const fieldRef = arbPlainPath.map((p) => '$' + p);
  const numExpr = fc.oneof(fieldRef, fc.integer({ min: -2, max: 3 }));
  const expr: fc.Arbitrary<unknown> = fc.oneof(
    fieldRef,
    // mingo's $add over missing/non-numeric gives NaN; MongoDB null or an error
    opts.forMingo ? fc.constant({ $literal: 1 }) : rec({ $add: fc.tuple(numExpr, fc.integer({ min: 0, max: 3 })) }).map((o) => ({ $ifNull: [o, null] })),
    // aggregation $gt compares across types in BSON order; mingo only within a type
    rec({ $cond: fc.tuple(rec({ [opts.forMingo ? '$eq' : '$gt']: fc.tuple(opts.forMingo ? fc.constant('$_id') : fieldRef, fc.integer({ min: 0, max: 3 })) }), fc.constant('hi'), fc.constant('lo')) }),
    // $type of a missing field is 'missing' in MongoDB
    opts.forMingo ? fc.constant('$_id') : rec({ $type: fieldRef }),
    // '$a.b' over an array is an array in MongoDB (mingo: only if some element has b)
    opts.forMingo ? rec({ $ifNull: fc.tuple(fieldRef, fc.constant(0)) }) : rec({ $isArray: fieldRef }),
    rec({ $ifNull: fc.tuple(fieldRef, fc.constant('none')) }),
    // aggregation $eq: missing is not equal to null in MongoDB (mingo: equal)
    // (and mingo compares an array field to a scalar element-wise)
    rec({ $eq: fc.tuple(opts.forMingo ? fc.constant('$_id') : fieldRef, opts.forMingo ? arbScalar(opts).filter((v) => v !== null) : arbScalar(opts)) }),
    rec({ $toString: fc.constantFrom('$_id') }),
  );
  const acc = fc.oneof(
    fc.constant({ $sum: 1 }),
    fieldRef.map((f) => ({ $sum: f })),
    fieldRef.map((f) => ({ $push: f })),
    fieldRef.map((f) => ({ $first: f })),
    fieldRef.map((f) => ({ $last: f })),
    // mingo's $min/$max flatten arrays and its $avg over no numbers is 0 (MongoDB: BSON order, null)
    fieldRef.map((f) => (opts.forMingo ? { $first: f } : { $max: f })),
    fieldRef.map((f) => (opts.forMingo ? { $last: f } : { $min: f })),
    fieldRef.map((f) => (opts.forMingo ? { $push: f } : { $avg: f })),
    fc.constant({ $count: {} }),
  );
  const stage: fc.Arbitrary<Doc> = fc.oneof(
    arbFilter(opts, 1).map((f) => ({ $match: f })),
    fc.dictionary(field, fc.oneof(fc.constant(1), expr), { minKeys: 1, maxKeys: 2, noNullPrototype: true }).map((p) => ({ $project: p })),
    fc.dictionary(fc.constantFrom('x', 'y'), expr, { minKeys: 1, maxKeys: 2, noNullPrototype: true }).map((p) => ({ $addFields: p })),
    fc.tuple(fc.oneof(fieldRef, fc.constant(null)), fc.dictionary(fc.constantFrom('n', 'm'), acc, { minKeys: 1, maxKeys: 2, noNullPrototype: true })).map(([id, accs]) => ({ $group: { _id: id, ...accs } })),
    // mingo sorts arrays as whole values (MongoDB: by min/max element): sort on _id only for mingo
    opts.forMingo ? fc.constantFrom(1, -1).map((d) => ({ $sort: { _id: d } })) : arbSort.map((s) => ({ $sort: { ...s, _id: 1 } })),
    fc.integer({ min: 1, max: 5 }).map((n) => ({ $limit: n })),
    fc.integer({ min: 0, max: 3 }).map((n) => ({ $skip: n })),
    // $unwind does not traverse arrays on its path in MongoDB (mingo does): single fields for mingo
    rec({ path: opts.forMingo ? field.map((f) => '$' + f) : fieldRef, preserveNullAndEmptyArrays: fc.boolean() }).map((u) => ({ $unwind: u })),
    // mingo emits {total: 0} on empty input; MongoDB emits nothing
    opts.forMingo ? fc.constant({ $limit: 2 }) : fc.constant({ $count: 'total' }),
    field.map((f) => ({ $unset: f })),
  );
  const pipeline = fc.array(stage, { minLength: 1, maxLength: 3 });
  if (!opts.forMingo) return pipeline;
  // mingo 6.5.6 applies a $skip or $match that follows a $limit before it; it sorts array _ids as whole values
  return pipeline.filter((p) => !p.some((s, i) => (('$skip' in s || '$match' in s) && p.slice(0, i).some((t) => '$limit' in t)) || ('$sort' in s && p.slice(0, i).some((t) => '$group' in t))));
}

/** A document with arrays at `a` (scalars and {x, y} documents) and `b.c` (numbers), for positional updates. */
export function arbArrayDoc(opts: GenOptions = {}): fc.Arbitrary<Doc> {
  const elem = fc.oneof(arbScalar(opts), fc.record({ x: arbScalar(opts), y: arbScalar(opts) }, { noNullPrototype: true, requiredKeys: [] }));
  return fc
    .record({ a: fc.array(elem, { maxLength: 4 }), b: fc.array(rec({ c: fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }) }), { maxLength: 3 }) }, { noNullPrototype: true })
    .map((d) => ({ _id: 1, ...d }));
}

/** An update with `$[]` / `$[id]` positional paths and the matching arrayFilters. */
export function arbPositionalUpdate(): fc.Arbitrary<{ update: Doc; arrayFilters: Doc[] }> {
  return fc
    .tuple(
      fc.constantFrom('$set', '$inc', '$unset', '$mul'),
      fc.constantFrom('a.$[]', 'a.$[e]', 'a.$[e].x', 'b.$[].c.$[n]', 'b.$[].c.$[]', 'a.$[].x', 'b.$[].c.0'),
      fc.integer({ min: -2, max: 3 }),
      fc.integer({ min: -1, max: 3 }),
    )
    .map(([op, path, v, t]) => {
      const arrayFilters: Doc[] = [];
      if (path.includes('$[e]')) arrayFilters.push(path.includes('.x') ? { 'e.x': { $gte: t } } : { e: { $gte: t } });
      if (path.includes('$[n]')) arrayFilters.push({ n: { $gt: t } });
      return { update: { [op]: { [path]: op === '$unset' ? '' : v } }, arrayFilters };
    });
}

/** find() projections with $elemMatch and $slice (with an inclusion), for documents from arbArrayDoc. */
export const arbProjectionOperator: fc.Arbitrary<Doc> = fc.oneof(
  fc.tuple(fc.integer({ min: -1, max: 3 }), fc.boolean()).map(([t, inc]) => ({ a: { $elemMatch: { x: { $gte: t } } }, ...(inc ? { b: 1 } : {}) })),
  fc.tuple(fc.integer({ min: -1, max: 3 }), fc.boolean()).map(([t, inc]) => ({ b: { $elemMatch: { c: t } }, ...(inc ? { a: 1 } : {}) })),
  fc.tuple(fc.integer({ min: -3, max: 3 }), fc.integer({ min: 1, max: 3 })).map(([s, l]) => ({ a: { $slice: [s, l] }, b: 1 })),
  fc.integer({ min: -3, max: 3 }).map((n) => ({ a: { $slice: n }, _id: 0, b: 1 })),
);
