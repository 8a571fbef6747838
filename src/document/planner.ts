/**
 * Query planner: turns a filter (+ sort, limit) into candidate access paths and picks one by cost.
 *
 * Candidates: COLLSCAN over the collection's document keyspace (which is ordered by _id), IDHACK
 * point lookups for `_id` equality / `$in`, `_id` ranges over the document keyspace, and IXSCAN over
 * each usable secondary index (equality prefix, `$in` points, one range field, sort by index order).
 * Index bounds are always a superset of the matching documents: every fetched document is re-checked
 * against the full filter, except covered plans whose filter is answered from the index key.
 * Cost = keys in the index bounds, counted up to `plannerSampleKeysMax` keys and past that taken
 * from the store's block indexes (`approximateCount`), times the cost of a document fetch when
 * the collection does not fit the caches (random block reads against a scan's sequential ones),
 * with a penalty for an in-memory sort; ties prefer sort-providing, then longer equality prefixes.
 */
import { LargetableError } from '../errors.ts';
import { plannerIntervalsMax, plannerSampleKeysMax } from '../limits.ts';
import { isPlainObject, type Document } from '../query/values.ts';
import type { CollMeta, RuntimeIndex } from './engine.ts';
import { complement, encodeValue, prefixEnd, Tag, tagOf, concatBytes } from './keycodec.ts';
import { collectionPrefix } from './keyspace.ts';
import type { KVReader } from './kv.ts';

type Bound = { v: unknown; inc: boolean } | { bracket: number } | null;
export interface FieldInterval {
  lo: Bound;
  hi: Bound;
  /** exact single point (lo == hi inclusive) */
  point?: boolean;
}

export interface ByteRange {
  gte: Uint8Array;
  lt: Uint8Array | undefined;
}

export type Plan =
  | { stage: 'COLLSCAN'; reverse: boolean; providesSort: boolean; range?: ByteRange; idBounds?: string[] }
  | { stage: 'IDHACK'; ids: unknown[] }
  | {
      stage: 'IXSCAN';
      index: RuntimeIndex;
      ranges: ByteRange[];
      reverse: boolean;
      providesSort: boolean;
      covered: boolean;
      /** The index bounds answer the filter exactly: fetched documents need no re-check. */
      exact: boolean;
      eqFields: number;
      bounds: Document;
      estimate?: number;
    };

const RANGE_OPS = new Set(['$gt', '$gte', '$lt', '$lte']);

function indexableScalar(v: unknown): boolean {
  if (v === undefined) return false;
  if (Array.isArray(v)) return false;
  if (v instanceof RegExp) return false;
  const t = tagOf(v);
  if (t === Tag.object) return false;
  if (t === Tag.regex) return false;
  if (t === Tag.minKey || t === Tag.maxKey) return false;
  return true;
}

/** Field predicates usable for bounds: path -> list of interval sets (each set is a conjunct). */
export function extractPredicates(filter: Document): Map<string, FieldInterval[][]> {
  const out = new Map<string, FieldInterval[][]>();
  const add = (path: string, set: FieldInterval[]) => {
    const l = out.get(path);
    if (l) l.push(set);
    else out.set(path, [set]);
  };
  const visit = (f: Document) => {
    for (const [k, cond] of Object.entries(f)) {
      if (k === '$and' && Array.isArray(cond)) {
        for (const c of cond) if (isPlainObject(c)) visit(c);
        continue;
      }
      if (k.startsWith('$')) continue;
      if (isPlainObject(cond) && Object.keys(cond).some((x) => x.startsWith('$'))) {
        for (const [op, arg] of Object.entries(cond)) {
          if (op === '$eq' && indexableScalar(arg) && arg !== null) add(k, [{ lo: { v: arg, inc: true }, hi: { v: arg, inc: true }, point: true }]);
          else if (op === '$eq' && arg === null) add(k, [{ lo: { v: null, inc: true }, hi: { v: null, inc: true }, point: true }]);
          else if (op === '$in' && Array.isArray(arg) && arg.length > 0 && arg.every((x) => indexableScalar(x) || x === null)) {
            add(
              k,
              arg.map((x) => ({ lo: { v: x, inc: true }, hi: { v: x, inc: true }, point: true })),
            );
          } else if (RANGE_OPS.has(op) && indexableScalar(arg) && arg !== null) {
            const tag = tagOf(arg);
            if (op === '$gt' || op === '$gte') add(k, [{ lo: { v: arg, inc: op === '$gte' }, hi: { bracket: tag } }]);
            else add(k, [{ lo: { bracket: tag }, hi: { v: arg, inc: op === '$lte' } }]);
          }
        }
        continue;
      }
      if (indexableScalar(cond)) add(k, [{ lo: { v: cond, inc: true }, hi: { v: cond, inc: true }, point: true }]);
      else if (cond === null) add(k, [{ lo: { v: null, inc: true }, hi: { v: null, inc: true }, point: true }]);
    }
  };
  visit(filter);
  return out;
}

function cmpEnc(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1;
  return a.length - b.length;
}

/** Asc byte boundaries of an interval. */
function ascBytes(iv: FieldInterval): { start: Uint8Array; end: Uint8Array | undefined } {
  const lo = iv.lo;
  const hi = iv.hi;
  let start: Uint8Array;
  if (lo === null) start = new Uint8Array(0);
  else if ('bracket' in lo) start = Uint8Array.of(lo.bracket);
  else start = lo.inc ? encodeValue(lo.v) : prefixEnd(encodeValue(lo.v))!;
  let end: Uint8Array | undefined;
  if (hi === null) end = undefined;
  else if ('bracket' in hi) end = Uint8Array.of(hi.bracket + 1);
  else end = hi.inc ? prefixEnd(encodeValue(hi.v)) : encodeValue(hi.v);
  return { start, end };
}

function descBytes(iv: FieldInterval): { start: Uint8Array; end: Uint8Array | undefined } {
  const lo = iv.lo;
  const hi = iv.hi;
  let start: Uint8Array;
  if (hi === null) start = new Uint8Array(0);
  else if ('bracket' in hi) start = Uint8Array.of(~hi.bracket & 0xff);
  else start = hi.inc ? complement(encodeValue(hi.v)) : prefixEnd(complement(encodeValue(hi.v)))!;
  let end: Uint8Array | undefined;
  if (lo === null) end = undefined;
  else if ('bracket' in lo) end = Uint8Array.of((~lo.bracket & 0xff) + 1);
  else end = lo.inc ? prefixEnd(complement(encodeValue(lo.v))) : complement(encodeValue(lo.v));
  return { start, end };
}

/** Intersect conjunct interval sets of one field (only single-interval sets are intersected). */
function intersectField(sets: FieldInterval[][], multikey: boolean): FieldInterval[] {
  // prefer a point set ($eq / $in), smallest first
  const pointSets = sets.filter((s) => s.every((i) => i.point)).sort((a, b) => a.length - b.length);
  if (pointSets.length > 0) return pointSets[0]!;
  if (multikey) return sets[0]!;
  // intersect single ranges: max lower, min upper (same bracket assumed by construction)
  let lo: Bound = null;
  let hi: Bound = null;
  for (const s of sets) {
    if (s.length !== 1) continue;
    const iv = s[0]!;
    if (iv.lo && !('bracket' in iv.lo)) {
      if (!lo || 'bracket' in lo) lo = iv.lo;
      else {
        const c = cmpEnc(encodeValue(iv.lo.v), encodeValue(lo.v));
        if (c > 0 || (c === 0 && !iv.lo.inc)) lo = iv.lo;
      }
    } else if (iv.lo && !lo) lo = iv.lo;
    if (iv.hi && !('bracket' in iv.hi)) {
      if (!hi || 'bracket' in hi) hi = iv.hi;
      else {
        const c = cmpEnc(encodeValue(iv.hi.v), encodeValue(hi.v));
        if (c < 0 || (c === 0 && !iv.hi.inc)) hi = iv.hi;
      }
    } else if (iv.hi && !hi) hi = iv.hi;
  }
  // mixed brackets (e.g. $gt 5 and $lt "a") can never match; keep one side, re-check filters
  if (lo && hi && !('bracket' in lo) && !('bracket' in hi) && tagOf(lo.v) !== tagOf(hi.v)) return [sets[0]![0]!];
  if (lo && 'bracket' in lo && hi && !('bracket' in hi)) lo = { bracket: tagOf(hi.v) };
  if (hi && 'bracket' in hi && lo && !('bracket' in lo)) hi = { bracket: tagOf(lo.v) };
  return [{ lo, hi }];
}

/** The lowest and highest bound MongoDB prints for a type bracket (explain indexBounds). */
function bracketText(tag: number, side: 'lo' | 'hi'): string {
  const lo = side === 'lo';
  switch (tag) {
    case Tag.number:
      return lo ? '-inf.0' : 'inf.0';
    case Tag.string:
      return lo ? '""' : '{}';
    case Tag.object:
      return lo ? '{}' : '[]';
    case Tag.array:
      return lo ? '[]' : 'BinData(0, )';
    case Tag.binary:
      return lo ? 'BinData(0, )' : "ObjectId('000000000000000000000000')";
    case Tag.objectId:
      return lo ? "ObjectId('000000000000000000000000')" : "ObjectId('ffffffffffffffffffffffff')";
    case Tag.boolFalse:
    case Tag.boolTrue:
      return lo ? 'false' : 'true';
    case Tag.date:
      return lo ? 'new Date(-9223372036854775808)' : 'new Date(9223372036854775807)';
    case Tag.timestamp:
      return lo ? 'Timestamp(0, 0)' : 'Timestamp(4294967295, 4294967295)';
    case Tag.nul:
      return 'null';
    default:
      return lo ? 'MinKey' : 'MaxKey';
  }
}

/** A bound value as MongoDB prints it in explain output. */
function valueText(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number') return Number.isNaN(v) ? 'nan.0' : v === Infinity ? 'inf.0' : v === -Infinity ? '-inf.0' : String(v);
  if (v instanceof Date) return `new Date(${v.getTime()})`;
  if (v !== null && typeof v === 'object' && (v as { _bsontype?: string })._bsontype === 'ObjectId') return `ObjectId('${String((v as { toHexString(): string }).toHexString())}')`;
  if (v === null || typeof v !== 'object') return String(v);
  return JSON.stringify(v);
}

function boundText(iv: FieldInterval, dir: 1 | -1 = 1): string {
  const show = (b: Bound, side: 'lo' | 'hi'): string => {
    if (b === null) return side === 'lo' ? 'MinKey' : 'MaxKey';
    if ('bracket' in b) return bracketText(b.bracket, side);
    return valueText(b.v);
  };
  const l = iv.lo && !('bracket' in iv.lo) && !iv.lo.inc ? '(' : '[';
  // the bracket ends MongoDB prints as the next type's first value ("{}" after strings) are exclusive
  const openEnd = iv.hi && 'bracket' in iv.hi && ([Tag.string, Tag.object, Tag.array, Tag.binary] as number[]).includes(iv.hi.bracket);
  const r = (iv.hi && !('bracket' in iv.hi) && !iv.hi.inc) || openEnd ? ')' : ']';
  if (dir === -1) return `${r === ')' ? '(' : '['}${show(iv.hi, 'hi')}, ${show(iv.lo, 'lo')}${l === '(' ? ')' : ']'}`;
  return `${l}${show(iv.lo, 'lo')}, ${show(iv.hi, 'hi')}${r}`;
}

/** Bounds of one index field as MongoDB prints them (a descending field lists them high to low). */
function fieldBounds(ivs: FieldInterval[], dir: 1 | -1): string[] {
  const t = ivs.map((iv) => boundText(iv, dir));
  return dir === -1 ? t.reverse() : t;
}

const FULL: FieldInterval = { lo: null, hi: null };

export interface PlanRequest {
  filter: Document;
  sort?: Document | undefined;
  projection?: Document | undefined;
  limit?: number | undefined;
  skip?: number | undefined;
  hint?: string | Document | undefined;
}

/** Candidate plans for a request (COLLSCAN always last). */
export function candidatePlans(coll: CollMeta, indexes: RuntimeIndex[], req: PlanRequest): Plan[] {
  if (req.hint !== undefined) checkHint(req.hint, indexes);
  const preds = extractPredicates(req.filter);
  const plans: Plan[] = [];
  const sortEntries = req.sort ? Object.entries(req.sort) : [];

  // _id
  const idSets = preds.get('_id');
  const hintAllowsId = !req.hint || req.hint === '_id_' || (isPlainObject(req.hint) && JSON.stringify(req.hint) === '{"_id":1}');
  if (idSets && hintAllowsId) {
    const iv = intersectField(idSets, false);
    if (iv.every((i) => i.point)) {
      plans.push({ stage: 'IDHACK', ids: iv.map((i) => (i.lo as { v: unknown }).v) });
    } else if (iv.length === 1) {
      const { start, end } = ascBytes(iv[0]!);
      const p = collectionPrefix(coll.id);
      const byIdSort = sortEntries.length === 1 && sortEntries[0]![0] === '_id';
      plans.push({
        stage: 'COLLSCAN',
        reverse: byIdSort && Number(sortEntries[0]![1]) < 0,
        providesSort: byIdSort,
        range: { gte: concatBytes(p, start), lt: end ? concatBytes(p, end) : prefixEnd(p) },
        idBounds: [boundText(iv[0]!)],
      });
    }
  }

  for (const ix of indexes) {
    if (ix.plugin) continue;
    if (req.hint && !hintMatches(req.hint, ix)) continue;
    const multikey = !!ix.meta.multikey;
    const fieldIvs: FieldInterval[][] = [];
    let eqFields = 0;
    let usedAny = false;
    let rangeSeen = false;
    for (const f of ix.fields) {
      const sets = preds.get(f.path);
      if (!sets || rangeSeen) {
        fieldIvs.push([FULL]);
        rangeSeen = true;
        continue;
      }
      const iv = intersectField(sets, multikey);
      usedAny = true;
      fieldIvs.push(iv);
      if (iv.every((i) => i.point)) eqFields++;
      else rangeSeen = true;
    }
    // sort by index order: sort keys must follow the equality prefix (single points), same or all-reversed directions
    let providesSort = false;
    let reverse = false;
    if (sortEntries.length > 0 && !multikey) {
      let lead = 0;
      while (lead < ix.fields.length && fieldIvs[lead]!.length === 1 && fieldIvs[lead]![0]!.point) lead++;
      const singlePoint = new Set(ix.fields.slice(0, lead).map((f) => f.path));
      const rest = sortEntries.filter(([k]) => !singlePoint.has(k));
      let ok = true;
      let dirSign = 0;
      for (let i = 0; i < rest.length; i++) {
        const f = ix.fields[lead + i];
        const [k, d] = rest[i]!;
        if (!f && k === '_id' && i === rest.length - 1 && lead + i === ix.fields.length) {
          // index keys end with the ascending _id: it breaks ties in index order
          const s = Number(d) < 0 ? -1 : 1;
          if (dirSign === 0) dirSign = s;
          else if (dirSign !== s) ok = false;
          continue;
        }
        if (!f || f.path !== k) {
          ok = false;
          break;
        }
        const s = (Number(d) < 0 ? -1 : 1) * f.dir;
        if (dirSign === 0) dirSign = s;
        else if (dirSign !== s) ok = false;
      }
      if (ok) {
        providesSort = true;
        reverse = dirSign < 0;
      }
    }
    if (!usedAny && !providesSort && !req.hint) continue;
    if (ix.meta.sparse || ix.partial) {
      if (!usedAny) continue;
      if (ix.meta.sparse && !fieldIvs.some((ivs) => ivs[0] !== FULL && !ivs.some(includesNull))) continue;
      if (ix.partial && !partialImplied(ix, req.filter)) continue;
    }
    // expand to byte ranges
    let prefixes: Uint8Array[] = [ix.prefix];
    const bounds: Document = {};
    let ranges: ByteRange[] = [];
    let tooMany = false;
    for (let j = 0; j < ix.fields.length; j++) {
      const f = ix.fields[j]!;
      const ivs = fieldIvs[j]!;
      bounds[f.path] = fieldBounds(ivs, f.dir);
      if (ivs[0] === FULL && ivs.length === 1) {
        // remaining fields unbounded
        ranges = prefixes.map((p) => ({ gte: p, lt: prefixEnd(p) }));
        for (let r = j + 1; r < ix.fields.length; r++) bounds[ix.fields[r]!.path] = [ix.fields[r]!.dir === -1 ? '[MaxKey, MinKey]' : '[MinKey, MaxKey]'];
        break;
      }
      const isLastBounded = !ivs.every((iv) => iv.point) || j === ix.fields.length - 1;
      if (ivs.every((iv) => iv.point) && !isLastBounded) {
        const next: Uint8Array[] = [];
        for (const p of prefixes)
          for (const iv of ivs) {
            const e = encodeValue((iv.lo as { v: unknown }).v);
            next.push(concatBytes(p, f.dir === -1 ? complement(e) : e));
          }
        if (next.length > plannerIntervalsMax) {
          tooMany = true;
          break;
        }
        prefixes = next;
        continue;
      }
      for (const p of prefixes)
        for (const iv of ivs) {
          const { start, end } = f.dir === -1 ? descBytes(iv) : ascBytes(iv);
          ranges.push({ gte: concatBytes(p, start), lt: end ? concatBytes(p, end) : prefixEnd(p) });
        }
      for (let r = j + 1; r < ix.fields.length; r++) bounds[ix.fields[r]!.path] = [ix.fields[r]!.dir === -1 ? '[MaxKey, MinKey]' : '[MinKey, MaxKey]'];
      break;
    }
    if (tooMany || ranges.length > plannerIntervalsMax) continue;
    ranges.sort((a, b) => cmpEnc(a.gte, b.gte));
    const covered = isCovered(ix, req, fieldIvs);
    plans.push({ stage: 'IXSCAN', index: ix, ranges, reverse, providesSort, covered, eqFields, bounds, exact: isExact(ix, req.filter, fieldIvs) });
  }
  const byIdSort = sortEntries.length === 1 && sortEntries[0]![0] === '_id';
  if (!req.hint || req.hint === '$natural' || (isPlainObject(req.hint) && '$natural' in req.hint) || plans.length === 0) {
    plans.push({ stage: 'COLLSCAN', reverse: byIdSort && Number(sortEntries[0]![1]) < 0, providesSort: byIdSort });
  }
  return plans;
}

const EXACT_OPS = new Set(['$eq', '$gt', '$gte', '$lt', '$lte', '$in']);

function exactScalar(v: unknown): boolean {
  if (v === null) return true;
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return true;
    case 'object':
      if (v instanceof Date) return !Number.isNaN(v.getTime());
      return (v as { _bsontype?: string })._bsontype === 'ObjectId';
    default:
      return false;
  }
}

/**
 * True when the scan bounds are exactly the filter: every filter field is an index field bounded
 * by all of its conditions ($eq/$in/ranges on strings, dates, ObjectIds, booleans, null; not
 * numbers: stored Longs beyond 2^53 and Decimal128 values may share an index key with a double), the index is neither multikey, sparse nor partial, and no field was left unbounded.
 * Strings are excluded from ranges mixing with other types by the type bracket of the bound.
 */
function isExact(ix: RuntimeIndex, filter: Document, fieldIvs: FieldInterval[][]): boolean {
  if (ix.meta.multikey || ix.meta.sparse || ix.partial) return false;
  const keys = Object.keys(filter);
  if (keys.length === 0) return false;
  for (const k of keys) {
    const j = ix.fields.findIndex((f) => f.path === k);
    if (j < 0) return false;
    if (fieldIvs[j]!.some((iv) => iv === FULL)) return false;
    const cond = filter[k];
    if (isPlainObject(cond) && Object.keys(cond).some((x) => x.startsWith('$'))) {
      const ops = Object.keys(cond);
      if (!ops.every((op) => EXACT_OPS.has(op))) return false;
      const ranges = ops.filter((op) => op !== '$eq' && op !== '$in');
      if (ranges.length > 0 && (ops.includes('$eq') || ops.includes('$in'))) return false;
      for (const op of ops) {
        const arg = cond[op];
        if (op === '$in') {
          if (!Array.isArray(arg) || !arg.every(exactScalar)) return false;
        } else if (!exactScalar(arg) || ((op !== '$eq') && arg === null)) return false;
      }
      // two-sided ranges must share a type bracket (else the planner kept one side only)
      if (ranges.length === 2 && tagOf(cond[ranges[0]!]) !== tagOf(cond[ranges[1]!])) return false;
      if (ranges.length > 2) return false;
    } else if (!exactScalar(cond)) return false;
  }
  return true;
}

function includesNull(iv: FieldInterval): boolean {
  if (iv.point) return (iv.lo as { v: unknown }).v === null;
  return iv.lo === null || iv.hi === null;
}

/** A hint must name $natural, the _id index or an existing index (MongoDB: BadValue). */
function checkHint(hint: string | Document, indexes: RuntimeIndex[]): void {
  const bad = (why: string): never => {
    throw new LargetableError('BAD_QUERY', `error processing query: planner returned error :: caused by :: ${why}`, { details: { codeName: 'BadValue', hint } });
  };
  if (typeof hint === 'string') {
    if (hint === '_id_' || hint === '$natural') return;
    if (!indexes.some((ix) => !ix.plugin && ix.meta.name === hint)) bad(`hint provided does not correspond to an existing index: '${hint}'`);
    return;
  }
  if (!isPlainObject(hint) || Object.keys(hint).length === 0) bad('hint must be an index name or a key pattern');
  if ('$natural' in hint) {
    const d = hint.$natural;
    if (Object.keys(hint).length !== 1 || (d !== 1 && d !== -1)) bad('$natural hint must be { $natural: 1 } or { $natural: -1 }');
    return;
  }
  if (JSON.stringify(hint) === '{"_id":1}') return;
  if (!indexes.some((ix) => !ix.plugin && hintMatches(hint, ix))) bad(`hint provided does not correspond to an existing index: ${JSON.stringify(hint)}`);
}

function hintMatches(hint: string | Document, ix: RuntimeIndex): boolean {
  if (typeof hint === 'string') return hint === ix.meta.name;
  return JSON.stringify(hint) === JSON.stringify(ix.meta.key);
}

function partialImplied(ix: RuntimeIndex, filter: Document): boolean {
  const pfe = ix.meta.partialFilterExpression!;
  for (const [k, v] of Object.entries(pfe)) {
    const fv = filter[k];
    if (fv === undefined) return false;
    if (JSON.stringify(fv) === JSON.stringify(v)) continue;
    // an equality in the filter that satisfies the partial expression on its own
    if (indexableScalar(fv) && ix.partial!.test({ ...filterEqualities(filter, pfe), [k]: fv })) continue;
    if (isPlainObject(fv) && isPlainObject(v)) {
      // range in the filter tighter than the partial range
      const f = fv as Document;
      const p = v as Document;
      let ok = true;
      for (const [op, pv] of Object.entries(p)) {
        if (op === '$gt' || op === '$gte') {
          const lo = f.$gt ?? f.$gte ?? f.$eq;
          if (lo === undefined || !ix.partial!.test({ [k]: lo }) && !(op === '$gt' && f.$gt !== undefined && cmpEnc(encodeValue(f.$gt), encodeValue(pv)) >= 0)) ok = false;
        } else if (op === '$lt' || op === '$lte') {
          const hi = f.$lt ?? f.$lte ?? f.$eq;
          if (hi === undefined || !ix.partial!.test({ [k]: hi }) && !(op === '$lt' && f.$lt !== undefined && cmpEnc(encodeValue(f.$lt), encodeValue(pv)) <= 0)) ok = false;
        } else if (op === '$exists' && pv === true) {
          if (Object.keys(f).length === 0) ok = false;
        } else ok = false;
      }
      if (ok) continue;
    }
    return false;
  }
  return true;
}

function filterEqualities(filter: Document, pfe: Document): Document {
  const out: Document = {};
  for (const k of Object.keys(pfe)) if (indexableScalar(filter[k])) out[k] = filter[k];
  return out;
}

function isCovered(ix: RuntimeIndex, req: PlanRequest, fieldIvs: FieldInterval[][]): boolean {
  if (ix.meta.multikey || ix.meta.sparse || ix.partial || !req.projection) return false;
  const proj = req.projection;
  const keys = Object.keys(proj);
  // An exclusion-only projection ({ _id: 0 }) returns every other field: never covered.
  if (keys.length === 0 || (keys.length === 1 && keys[0] === '_id' && (proj._id === 0 || proj._id === false))) return false;
  const paths = new Set(ix.fields.map((f) => f.path));
  for (const k of keys) {
    const v = proj[k];
    if (k === '_id') {
      if (v === 0 || v === false) continue;
      // the document _id trails every index entry (keyspace.ts): decoded from the key, never null-bounded
      if (!paths.has('_id')) {
        if (v === 1 || v === true) continue;
        return false;
      }
    }
    if (!(v === 1 || v === true)) return false;
    if (!paths.has(k)) return false;
    const j = ix.fields.findIndex((f) => f.path === k);
    const ivs = fieldIvs[j]!;
    // only fields bounded away from null/missing are reconstructed exactly
    if (ivs.some((iv) => iv === FULL || includesNull(iv))) return false;
  }
  for (const k of Object.keys(req.filter)) if (!paths.has(k)) return false;
  for (const v of Object.values(req.filter)) {
    if (isPlainObject(v)) for (const op of Object.keys(v)) if (!['$eq', '$gt', '$gte', '$lt', '$lte', '$in'].includes(op)) return false;
  }
  return true;
}

/** Estimated index keys in `plan`'s bounds (exact up to the sample cap). */
export async function estimate(reader: KVReader, plan: Plan, docCount: number): Promise<number> {
  if (plan.stage === 'IDHACK') return plan.ids.length;
  if (plan.stage === 'COLLSCAN') {
    if (!plan.range) return docCount;
    return countRange(reader, [plan.range], docCount);
  }
  return countRange(reader, plan.ranges, docCount);
}

async function countRange(reader: KVReader, ranges: ByteRange[], docCount: number): Promise<number> {
  let n = 0;
  let sampledRanges = 0;
  for (const r of ranges) {
    sampledRanges++;
    const it = reader.range({ gte: r.gte, ...(r.lt ? { lt: r.lt } : {}) });
    for await (const _ of it) {
      n++;
      if (n >= plannerSampleKeysMax) {
        await it.return?.(undefined);
        // past the sample: the store's estimate from its block indexes (the sampled keys are a floor)
        let approx = 0;
        for (const q of ranges) approx += reader.approximateCount(q.gte, q.lt);
        return Math.max(n, Math.min(docCount, approx));
      }
    }
  }
  return n;
}

/**
 * `fetchCost`: what one document fetched by key (an index scan's FETCH) costs next to one document
 * of a collection scan, 1 when the collection's documents fit the caches. Otherwise a fetch that
 * misses reads and inflates a whole block for one document, where a scan reads each block once
 * for all of its documents: a fetch costs about a block's worth of scanned documents.
 */
export function planCost(plan: Plan, est: number, req: PlanRequest, fetchCost = 1): number {
  const wantSort = !!req.sort && Object.keys(req.sort).length > 0;
  const provides = plan.stage === 'IDHACK' || plan.providesSort;
  let cost = est;
  if (plan.stage === 'COLLSCAN' && !plan.range) cost = est * 1.5 + 1;
  if (plan.stage === 'IXSCAN' && !plan.covered) cost = est * fetchCost;
  if (wantSort && !provides) cost += est * 0.5 + 1;
  if (wantSort && provides && req.limit && plan.stage !== 'IDHACK') {
    const residual = plan.stage === 'IXSCAN' ? !filterFullyBounded(req.filter, plan) : Object.keys(req.filter).length > 0;
    if (!residual) cost = Math.min(cost, (req.limit + (req.skip ?? 0)) * 1.1 * fetchCost);
  }
  if (plan.stage === 'IXSCAN') cost -= plan.eqFields * 0.01 + (plan.covered ? 0.5 : 0);
  return cost;
}

function filterFullyBounded(filter: Document, plan: Plan & { stage: 'IXSCAN' }): boolean {
  const paths = new Set(plan.index.fields.map((f) => f.path));
  return Object.keys(filter).every((k) => paths.has(k));
}

/** Shape of a query for the plan cache: field names and operators, not values. */
export function queryShape(req: PlanRequest): string {
  const shape = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(shape);
    if (isPlainObject(v)) {
      const o: Document = {};
      for (const [k, x] of Object.entries(v)) o[k] = k.startsWith('$') || isPlainObject(x) || Array.isArray(x) ? shape(x) : typeof x;
      return o;
    }
    return v === null ? 'null' : typeof v;
  };
  const f = shape(req.filter) as Document;
  // $in arity changes cost, but not the shape
  return JSON.stringify([f, req.sort ?? null, req.projection ? Object.keys(req.projection) : null, req.limit ? 1 : 0, typeof req.hint === 'string' ? req.hint : (req.hint ?? null)]);
}
