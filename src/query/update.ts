/**
 * Update documents: operator updates ($set, $inc, $push, ... with positional `$`, `$[]`, `$[id]`),
 * replacement documents and update pipelines. `applyUpdate` never mutates its input; it returns a
 * new document and whether anything changed.
 */
import { Decimal128, Long, Timestamp } from 'bson';
import { compileFilterUnguarded, compileValueCondition, isOperatorObject } from './filter.ts';
import { guardQuery } from './guard.ts';
import { getStrict, isArrayIndex } from './path.ts';
import { applyStageSync } from './pipeline.ts';
import { isRegexValue } from './regex.ts';
import { compileSort } from './sort.ts';
import { checkValue } from './validate.ts';
import type { Document } from './values.ts';
import {
  badQuery, bsonTypeTag, cloneValue, compareValues, getOwn, hasOwnKey, isNumeric, isPlainObject, RESERVED_KEYS, setOwn, toDouble,
  typeName, valuesEqual,
} from './values.ts';
import { LargetableError } from '../errors.ts';
import { updateArrayIndexMax } from '../limits.ts';

export interface UpdateOptions {
  isUpsertInsert: boolean;
  arrayFilters?: Document[];
  query?: Document;
  now?: Date;
}

const UPDATE_OPS = new Set(['$set', '$unset', '$inc', '$mul', '$min', '$max', '$rename', '$setOnInsert', '$currentDate', '$push', '$addToSet', '$pop', '$pull', '$pullAll', '$bit']);

/** Strict structural equality (same types, same field order) used for "modified" detection. */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return a !== 0 || Object.is(a, b);
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameValue(a[i], b[i])) return false;
    return true;
  }
  if (isPlainObject(a)) {
    if (!isPlainObject(b)) return false;
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    if (ka.length !== kb.length) return false;
    for (let i = 0; i < ka.length; i++) {
      if (ka[i] !== kb[i]) return false;
      if (!sameValue(a[ka[i] as string], b[kb[i] as string])) return false;
    }
    return true;
  }
  if (typeof a === 'number' && typeof b === 'number') return Number.isNaN(a) && Number.isNaN(b);
  if (typeName(a) !== typeName(b)) return false;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  return compareValues(a, b) === 0;
}

export function isReplacement(update: Document): boolean {
  const keys = Object.keys(update);
  return keys.length === 0 || (keys[0] as string).charCodeAt(0) !== 36;
}

export function applyUpdate(doc: Document, update: Document | Document[], options: UpdateOptions): { doc: Document; modified: boolean } {
  if (!isPlainObject(doc)) throw badQuery('document must be an object');
  return compileUpdate(update, options)(doc);
}

/**
 * Validate and plan an update once, then apply it to many documents (updateMany). The update and
 * options objects must not be mutated while the returned function is in use.
 */
export function compileUpdate(update: Document | Document[], options: UpdateOptions): (doc: Document) => { doc: Document; modified: boolean } {
  guardQuery(update, 'update');
  if (options.arrayFilters !== undefined) guardQuery(options.arrayFilters, 'arrayFilters');
  const now = options.now ?? new Date();
  let apply: (doc: Document) => Document;
  if (Array.isArray(update)) {
    if (options.arrayFilters !== undefined && options.arrayFilters.length > 0) throw badQuery('arrayFilters may not be specified for pipeline-style updates');
    for (const stage of update) if (!isPlainObject(stage)) throw badQuery('each update pipeline stage must be an object');
    apply = (doc) => {
      let out = cloneValue(doc);
      for (const stage of update) out = applyStageSync(out, stage, { now, updatePipeline: true });
      checkValue(out, 0, '');
      if (hasOwnKey(doc, '_id') && !hasOwnKey(out, '_id')) out = reorderId(out, doc['_id']);
      return out;
    };
  } else if (!isPlainObject(update)) {
    throw badQuery('update must be a document or a pipeline');
  } else if (isReplacement(update)) {
    for (const k of Object.keys(update)) if (k.charCodeAt(0) === 36) throw badQuery(`replacement document may not contain operator ${k}`);
    checkValue(update, 0, '');
    if (options.arrayFilters !== undefined && options.arrayFilters.length > 0) throw badQuery('arrayFilters may not be specified for replacement documents');
    apply = (doc) => {
      const out: Document = {};
      if (hasOwnKey(doc, '_id')) setOwn(out, '_id', doc['_id']);
      for (const k of Object.keys(update)) {
        if (k === '_id' && hasOwnKey(doc, '_id')) continue;
        setOwn(out, k, cloneValue(update[k]));
      }
      if (hasOwnKey(update, '_id') && hasOwnKey(doc, '_id') && !sameIdValue(update['_id'], doc['_id'])) throw immutableId();
      return out;
    };
  } else {
    const plan = planOperators(update, options);
    apply = (doc) => applyPlan(doc, plan, options, now);
  }
  return (doc) => {
    if (!isPlainObject(doc)) throw badQuery('document must be an object');
    const out = apply(doc);
    if (hasOwnKey(doc, '_id') && !sameIdValue(getOwn(out, '_id'), doc['_id'])) throw immutableId();
    return { doc: out, modified: !sameValue(doc, out) };
  };
}

function sameIdValue(a: unknown, b: unknown): boolean {
  return a !== undefined && valuesEqual(a, b) && (typeName(a) === typeName(b) || (isNumeric(a) && isNumeric(b)));
}

function immutableId(): LargetableError {
  return badQuery("Performing an update on the path '_id' would modify the immutable field '_id'");
}

function reorderId(doc: Document, id: unknown): Document {
  const out: Document = { _id: id };
  for (const k of Object.keys(doc)) if (k !== '_id') setOwn(out, k, doc[k]);
  return out;
}

interface Entry {
  op: string;
  path: string;
  parts: string[];
  arg: unknown;
  to?: string[];
}

/** Compare path strings the way MongoDB 5+ orders update application (lexicographic, numbers numeric). */
function comparePaths(a: string[], b: string[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i] as string;
    const y = b[i] as string;
    if (x === y) continue;
    const xn = isArrayIndex(x);
    const yn = isArrayIndex(y);
    if (xn && yn) return Number(x) - Number(y);
    return x < y ? -1 : 1;
  }
  return a.length - b.length;
}

function parseUpdatePath(path: string, op: string): string[] {
  if (typeof path !== 'string' || path === '') throw badQuery(`an empty update path is not valid (${op})`);
  const parts = path.split('.');
  for (const p of parts) {
    if (p === '') throw badQuery(`the update path '${path}' contains an empty field name, which is not allowed`);
    if (RESERVED_KEYS.has(p)) throw badQuery(`reserved field name '${p}' in update path '${path}'`);
    if (p.charCodeAt(0) === 36 && p !== '$' && p !== '$[]' && !/^\$\[[a-z][A-Za-z0-9]*\]$/.test(p)) {
      throw badQuery(`the dollar ($) prefixed field '${p}' in '${path}' is not valid for storage`);
    }
  }
  return parts;
}

function isPrefixOrEqual(a: string[], b: string[]): boolean {
  if (a.length > b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as string;
    const y = b[i] as string;
    // a positional component ($, $[], $[id]) may stand for any element
    if (x !== y && x.charCodeAt(0) !== 36 && y.charCodeAt(0) !== 36) return false;
  }
  return true;
}

interface Plan {
  entries: Entry[];
  filters: ArrayFilters;
  query?: (d: Document) => boolean;
}

function planOperators(update: Document, options: UpdateOptions): Plan {
  const entries: Entry[] = [];
  for (const op of Object.keys(update)) {
    if (op.charCodeAt(0) !== 36) throw badQuery(`unknown modifier: ${op}. Expected a valid update modifier or pipeline-style update`);
    if (!UPDATE_OPS.has(op)) throw badQuery(`unknown modifier: ${op}`);
    if (op === '$bit') throw new LargetableError('NOT_SUPPORTED', '$bit is not supported');
    const fields = update[op];
    if (!isPlainObject(fields)) throw badQuery(`modifiers operate on fields but we found type ${typeName(fields)} instead (${op})`);
    if (op === '$setOnInsert' && !options.isUpsertInsert) {
      for (const path of Object.keys(fields)) {
        // still validated and conflict-checked
        entries.push({ op: '$noop', path, parts: parseUpdatePath(path, op), arg: fields[path] });
      }
      continue;
    }
    for (const path of Object.keys(fields)) {
      const parts = parseUpdatePath(path, op);
      const arg = fields[path];
      const e: Entry = { op, path, parts, arg };
      if (op === '$rename') {
        if (typeof arg !== 'string') throw badQuery(`the 'to' field for $rename must be a string: ${path}: ${String(arg)}`);
        const to = parseUpdatePath(arg, op);
        if (parts.some((p) => p.charCodeAt(0) === 36) || to.some((p) => p.charCodeAt(0) === 36)) throw badQuery('$rename may not use positional operators');
        if (isPrefixOrEqual(parts, to) || isPrefixOrEqual(to, parts)) throw badQuery(`the source and target field for $rename must not be on the same path: ${path}: ${arg}`);
        e.to = to;
      }
      entries.push(e);
    }
  }
  // conflicts: no target path may be a prefix of (or equal to) another
  const targets: { parts: string[]; path: string }[] = [];
  for (const e of entries) {
    targets.push({ parts: e.parts, path: e.path });
    if (e.to) targets.push({ parts: e.to, path: e.to.join('.') });
  }
  targets.sort((a, b) => comparePaths(a.parts, b.parts));
  for (let i = 1; i < targets.length; i++) {
    const a = targets[i - 1] as { parts: string[]; path: string };
    for (let j = i; j < targets.length; j++) {
      const b = targets[j] as { parts: string[]; path: string };
      if (isPrefixOrEqual(a.parts, b.parts) || isPrefixOrEqual(b.parts, a.parts)) {
        throw badQuery(`Updating the path '${b.path}' would create a conflict at '${a.path}'`);
      }
      if (a.parts[0] !== b.parts[0] && (a.parts[0] as string).charCodeAt(0) !== 36) break;
    }
  }
  // array filters
  const filters = compileArrayFilters(options.arrayFilters, entries);
  entries.sort((a, b) => comparePaths(a.parts, b.parts));
  for (const e of entries) if (e.op !== '$noop') checkArg(e);
  return { entries, filters };
}

function applyPlan(doc: Document, plan: Plan, options: UpdateOptions, now: Date): Document {
  const { entries, filters } = plan;
  const out = cloneValue(doc);
  const getQuery = (): ((d: Document) => boolean) => {
    if (plan.query === undefined) {
      if (options.query === undefined) throw badQuery('The positional operator did not find the match needed from the query.');
      guardQuery(options.query, 'filter');
      plan.query = compileFilterUnguarded(options.query);
    }
    return plan.query;
  };
  for (const e of entries) {
    if (e.op === '$noop') continue;
    const concrete = expandPositional(doc, out, e.parts, filters, getQuery);
    for (const parts of concrete) applyOne(out, e, parts, now);
  }
  return out;
}

function checkArg(e: Entry): void {
  switch (e.op) {
    case '$set':
    case '$setOnInsert':
    case '$min':
    case '$max':
      checkValue(e.arg, 1, e.path);
      break;
    case '$inc':
    case '$mul':
      if (!isNumeric(e.arg)) throw badQuery(`Cannot ${e.op === '$inc' ? 'increment' : 'multiply'} with non-numeric argument: {${e.path}: ${String(e.arg)}}`);
      break;
    case '$push':
    case '$addToSet':
      if (isPlainObject(e.arg) && hasOwnKey(e.arg, '$each')) {
        checkValue(e.arg['$each'], 1, e.path);
      } else checkValue(e.arg, 1, e.path);
      break;
    default:
      break;
  }
}

type ArrayFilters = Map<string, (elem: unknown) => boolean>;

function compileArrayFilters(list: Document[] | undefined, entries: Entry[]): ArrayFilters {
  const used = new Set<string>();
  for (const e of entries) for (const p of e.parts) if (p.startsWith('$[') && p !== '$[]') used.add(p.slice(2, -1));
  const out: ArrayFilters = new Map();
  if (list !== undefined) {
    if (!Array.isArray(list)) throw badQuery('arrayFilters must be an array');
    for (const f of list) {
      if (!isPlainObject(f)) throw badQuery('arrayFilters entries must be objects');
      const keys = Object.keys(f);
      if (keys.length === 0) throw badQuery('Cannot use an expression without a top-level field name in arrayFilters');
      let id: string | undefined;
      for (const k of keys) {
        const top = k.split('.')[0] as string;
        if (k.charCodeAt(0) === 36) throw badQuery('Cannot use an expression without a top-level field name in arrayFilters');
        if (!/^[a-z][A-Za-z0-9]*$/.test(top)) throw badQuery(`The top-level field name must be an alphanumeric string beginning with a lowercase letter, found '${top}'`);
        if (id !== undefined && id !== top) throw badQuery(`Error parsing array filter: expected a single top-level field name, found '${id}' and '${top}'`);
        id = top;
      }
      if (id === undefined) continue;
      if (out.has(id)) throw badQuery(`Found multiple array filters with the same top-level field name ${id}`);
      const m = compileFilterUnguarded(f);
      const name = id;
      out.set(id, (elem) => m({ [name]: elem } as Document));
    }
  }
  for (const id of used) if (!out.has(id)) throw badQuery(`No array filter found for identifier '${id}'`);
  for (const id of out.keys()) if (!used.has(id)) throw badQuery(`The array filter for identifier '${id}' was not used in the update`);
  return out;
}

/** Replace the array at `prefix` with a one-element array (for positional `$` resolution). */
function withArrayReplaced(doc: unknown, prefix: string[], i: number, value: unknown[]): unknown {
  if (i === prefix.length) return value;
  const key = prefix[i] as string;
  if (Array.isArray(doc)) {
    const copy = doc.slice();
    const idx = Number(key);
    copy[idx] = withArrayReplaced(doc[idx], prefix, i + 1, value);
    return copy;
  }
  if (isPlainObject(doc)) {
    const copy: Document = {};
    for (const k of Object.keys(doc)) setOwn(copy, k, doc[k]);
    setOwn(copy, key, withArrayReplaced(doc[key], prefix, i + 1, value));
    return copy;
  }
  return doc;
}

function expandPositional(
  original: Document,
  cur: Document,
  parts: string[],
  filters: ArrayFilters,
  getQuery: () => (d: Document) => boolean,
): string[][] {
  let results: string[][] = [[]];
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i] as string;
    if (p.charCodeAt(0) !== 36) {
      for (const r of results) r.push(p);
      continue;
    }
    const next: string[][] = [];
    for (const r of results) {
      if (p === '$') {
        if (parts.indexOf('$', i + 1) >= 0) throw badQuery('Too many positional (i.e. \'$\') elements found in path');
        const arr = getStrict(original, r);
        if (!Array.isArray(arr)) throw badQuery('The positional operator did not find the match needed from the query.');
        const q = getQuery();
        let found = -1;
        for (let j = 0; j < arr.length; j++) {
          if (q(withArrayReplaced(original, r, 0, [arr[j]]) as Document)) {
            found = j;
            break;
          }
        }
        if (found < 0) throw badQuery('The positional operator did not find the match needed from the query.');
        next.push([...r, String(found)]);
        continue;
      }
      const arr = getStrict(cur, r);
      if (!Array.isArray(arr)) {
        if (arr === undefined) throw badQuery(`The path '${r.join('.')}' must exist in the document in order to apply array updates.`);
        throw badQuery(`Cannot apply array updates to non-array element ${r.join('.')}: ${typeName(arr)}`);
      }
      if (p === '$[]') {
        for (let j = 0; j < arr.length; j++) next.push([...r, String(j)]);
      } else {
        const f = filters.get(p.slice(2, -1)) as (e: unknown) => boolean;
        for (let j = 0; j < arr.length; j++) if (f(arr[j])) next.push([...r, String(j)]);
      }
    }
    results = next;
  }
  return results;
}

function describe(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return typeName(v);
  }
}

/** Navigate to the parent container of `parts`, creating objects when `create`. */
function parentOf(doc: Document, parts: string[], create: boolean): { container: Document | unknown[]; key: string } | undefined {
  let cur: unknown = doc;
  for (let i = 0; i < parts.length - 1; i++) {
    const p = parts[i] as string;
    let next: unknown;
    if (Array.isArray(cur)) {
      if (!isArrayIndex(p)) {
        if (!create) return undefined;
        throw badQuery(`Cannot create field '${p}' in element {${parts.slice(0, i).join('.')}: ${describe(cur)}}`);
      }
      const idx = Number(p);
      next = cur[idx];
      if (next === undefined) {
        if (!create) return undefined;
        if (idx > updateArrayIndexMax) throw new LargetableError('LIMIT_EXCEEDED', `array index ${idx} is over the ${updateArrayIndexMax} update limit`);
        while (cur.length < idx) cur.push(null);
        next = {};
        cur[idx] = next;
      }
    } else if (isPlainObject(cur)) {
      next = getOwn(cur, p);
      if (next === undefined) {
        if (!create) return undefined;
        next = {};
        setOwn(cur, p, next);
      }
    } else {
      if (!create) return undefined;
      throw badQuery(`Cannot create field '${p}' in element {${parts[i - 1] ?? ''}: ${describe(cur)}}`);
    }
    if (!Array.isArray(next) && !isPlainObject(next)) {
      if (!create) return undefined;
      throw badQuery(`Cannot create field '${parts[i + 1] ?? ''}' in element {${p}: ${describe(next)}}`);
    }
    cur = next;
  }
  const last = parts[parts.length - 1] as string;
  if (Array.isArray(cur)) {
    if (!isArrayIndex(last)) {
      if (!create) return undefined;
      throw badQuery(`Cannot create field '${last}' in element {${parts[parts.length - 2] ?? ''}: ${describe(cur)}}`);
    }
    return { container: cur, key: last };
  }
  return { container: cur as Document, key: last };
}

function getAt(pc: { container: Document | unknown[]; key: string }): unknown {
  if (Array.isArray(pc.container)) return pc.container[Number(pc.key)];
  return getOwn(pc.container, pc.key);
}

function setAt(pc: { container: Document | unknown[]; key: string }, v: unknown): void {
  if (Array.isArray(pc.container)) {
    const idx = Number(pc.key);
    if (idx > updateArrayIndexMax) throw new LargetableError('LIMIT_EXCEEDED', `array index ${idx} is over the ${updateArrayIndexMax} update limit`);
    while (pc.container.length < idx) pc.container.push(null);
    pc.container[idx] = v;
  } else setOwn(pc.container, pc.key, v);
}

function unsetAt(pc: { container: Document | unknown[]; key: string }): void {
  if (Array.isArray(pc.container)) {
    const idx = Number(pc.key);
    if (idx < pc.container.length) pc.container[idx] = null;
  } else if (hasOwnKey(pc.container, pc.key)) delete pc.container[pc.key];
}

function arith(op: '$inc' | '$mul', cur: unknown, arg: unknown, path: string): unknown {
  if (cur === undefined) {
    if (op === '$inc') return cloneValue(arg);
    const t = bsonTypeTag(arg);
    if (t === 'Long' || typeof arg === 'bigint') return Long.fromNumber(0);
    if (t === 'Decimal128') return Decimal128.fromString('0');
    return 0;
  }
  if (!isNumeric(cur)) {
    throw badQuery(`Cannot apply ${op} to a value of non-numeric type. {_id: ...} has the field '${path}' of non-numeric type ${typeName(cur)}`);
  }
  const ct = bsonTypeTag(cur) ?? (typeof cur === 'bigint' ? 'Long' : 'number');
  const at = bsonTypeTag(arg) ?? (typeof arg === 'bigint' ? 'Long' : 'number');
  if (ct === 'Decimal128' || at === 'Decimal128') {
    const r = op === '$inc' ? toDouble(cur) + toDouble(arg) : toDouble(cur) * toDouble(arg);
    return Decimal128.fromString(String(r));
  }
  if ((ct === 'Long' || at === 'Long') && Number.isInteger(toDouble(cur)) && Number.isInteger(toDouble(arg))) {
    const x = typeof cur === 'bigint' ? cur : ct === 'Long' ? (cur as Long).toBigInt() : BigInt(toDouble(cur));
    const y = typeof arg === 'bigint' ? arg : at === 'Long' ? (arg as Long).toBigInt() : BigInt(toDouble(arg));
    const r = op === '$inc' ? x + y : x * y;
    if (r > 9223372036854775807n || r < -9223372036854775808n) throw badQuery(`${op} would overflow a 64-bit integer`);
    return Long.fromBigInt(r);
  }
  return op === '$inc' ? toDouble(cur) + toDouble(arg) : toDouble(cur) * toDouble(arg);
}

function applyOne(doc: Document, e: Entry, parts: string[], now: Date): void {
  const path = parts.join('.');
  switch (e.op) {
    case '$set':
    case '$setOnInsert': {
      const pc = parentOf(doc, parts, true)!;
      const cur = getAt(pc);
      if (cur !== undefined && sameValue(cur, e.arg)) return;
      setAt(pc, cloneValue(e.arg));
      return;
    }
    case '$unset': {
      const pc = parentOf(doc, parts, false);
      if (pc) unsetAt(pc);
      return;
    }
    case '$inc':
    case '$mul': {
      const pc = parentOf(doc, parts, true)!;
      setAt(pc, arith(e.op, getAt(pc), e.arg, path));
      return;
    }
    case '$min':
    case '$max': {
      const pc = parentOf(doc, parts, true)!;
      const cur = getAt(pc);
      if (cur === undefined) {
        setAt(pc, cloneValue(e.arg));
        return;
      }
      const c = compareValues(e.arg, cur);
      if (e.op === '$min' ? c < 0 : c > 0) setAt(pc, cloneValue(e.arg));
      return;
    }
    case '$currentDate': {
      let v: unknown;
      if (e.arg === true) v = new Date(now.getTime());
      else if (isPlainObject(e.arg) && Object.keys(e.arg).length === 1 && (e.arg['$type'] === 'date' || e.arg['$type'] === 'timestamp')) {
        v = e.arg['$type'] === 'date' ? new Date(now.getTime()) : new Timestamp({ t: Math.floor(now.getTime() / 1000), i: 1 });
      } else if (e.arg === false) v = new Date(now.getTime());
      else throw badQuery(`$currentDate: ${path} must be a boolean or {$type: 'date'|'timestamp'}`);
      setAt(parentOf(doc, parts, true)!, v);
      return;
    }
    case '$rename': {
      if (parts.some((p, i) => i < parts.length - 1 && Array.isArray(getStrict(doc, parts.slice(0, i + 1))))) {
        throw badQuery(`The source field cannot be an array element, '${path}' in doc has an array field`);
      }
      const src = parentOf(doc, parts, false);
      if (src === undefined || Array.isArray(src.container)) return;
      const v = getAt(src);
      if (v === undefined) return;
      const to = e.to as string[];
      if (to.some((p, i) => i < to.length - 1 && Array.isArray(getStrict(doc, to.slice(0, i + 1))))) {
        throw badQuery(`The destination field cannot be an array element, '${to.join('.')}' in doc has an array field`);
      }
      unsetAt(src);
      const dst = parentOf(doc, to, true)!;
      if (Array.isArray(dst.container)) throw badQuery('The destination field cannot be an array element');
      setAt(dst, v);
      return;
    }
    case '$push':
      return push(doc, parts, path, e.arg);
    case '$addToSet': {
      const pc = parentOf(doc, parts, true)!;
      const cur = getAt(pc);
      if (cur !== undefined && !Array.isArray(cur)) throw badQuery(`Cannot apply $addToSet to non-array field. Field named '${parts[parts.length - 1]}' has non-array type ${typeName(cur)}`);
      let items: unknown[];
      if (isPlainObject(e.arg) && hasOwnKey(e.arg, '$each')) {
        if (Object.keys(e.arg).length !== 1) throw badQuery('$addToSet only supports the $each modifier');
        if (!Array.isArray(e.arg['$each'])) throw badQuery(`The argument to $each in $addToSet must be an array but it was of type ${typeName(e.arg['$each'])}`);
        items = e.arg['$each'];
      } else items = [e.arg];
      const arr = cur === undefined ? [] : (cur as unknown[]);
      for (const it of items) if (!arr.some((x) => valuesEqual(x, it) && sameShape(x, it))) arr.push(cloneValue(it));
      if (cur === undefined) setAt(pc, arr);
      return;
    }
    case '$pop': {
      if (!isNumeric(e.arg) || (toDouble(e.arg) !== 1 && toDouble(e.arg) !== -1)) throw badQuery('$pop expects 1 or -1');
      const pc = parentOf(doc, parts, false);
      if (!pc) return;
      const cur = getAt(pc);
      if (cur === undefined) return;
      if (!Array.isArray(cur)) throw badQuery(`Path '${path}' contains an element of non-array type '${typeName(cur)}'`);
      if (toDouble(e.arg) === 1) cur.pop();
      else cur.shift();
      return;
    }
    case '$pull':
    case '$pullAll': {
      let test: (v: unknown) => boolean;
      if (e.op === '$pullAll') {
        if (!Array.isArray(e.arg)) throw badQuery(`$pullAll requires an array argument but was given a ${typeName(e.arg)}`);
        const list = e.arg;
        test = (v) => list.some((x) => valuesEqual(v, x) && sameShape(v, x));
      } else if (isOperatorObject(e.arg) || isRegexValue(e.arg)) {
        test = compileValueCondition(e.arg);
      } else if (isPlainObject(e.arg)) {
        const m = compileFilterUnguarded(e.arg);
        test = (v) => isPlainObject(v) && m(v);
      } else {
        const x = e.arg;
        test = (v) => valuesEqual(v, x) && sameShape(v, x);
      }
      const pc = parentOf(doc, parts, false);
      if (!pc) return;
      const cur = getAt(pc);
      if (cur === undefined) return;
      if (!Array.isArray(cur)) throw badQuery('Cannot apply $pull to a non-array value');
      const kept = cur.filter((v) => !test(v));
      if (kept.length !== cur.length) setAt(pc, kept);
      return;
    }
    default:
      throw badQuery(`unknown modifier ${e.op}`);
  }
}

/** Equality for arrays/objects also requires the same field order (valuesEqual already does). */
function sameShape(_a: unknown, _b: unknown): boolean {
  return true;
}

function push(doc: Document, parts: string[], path: string, arg: unknown): void {
  let each: unknown[];
  let slice: number | undefined;
  let sort: unknown;
  let position: number | undefined;
  if (isPlainObject(arg) && hasOwnKey(arg, '$each')) {
    for (const k of Object.keys(arg)) {
      if (k !== '$each' && k !== '$slice' && k !== '$sort' && k !== '$position') throw badQuery(`Unrecognized clause in $push: ${k}`);
    }
    if (!Array.isArray(arg['$each'])) throw badQuery(`The argument to $each in $push must be an array but it was of type: ${typeName(arg['$each'])}`);
    each = arg['$each'];
    if (hasOwnKey(arg, '$slice')) {
      const s = arg['$slice'];
      if (!isNumeric(s) || !Number.isInteger(toDouble(s))) throw badQuery('The value for $slice must be an integer value');
      slice = toDouble(s);
    }
    if (hasOwnKey(arg, '$position')) {
      const p = arg['$position'];
      if (!isNumeric(p) || !Number.isInteger(toDouble(p))) throw badQuery('The value for $position must be an integer value');
      position = toDouble(p);
    }
    if (hasOwnKey(arg, '$sort')) {
      sort = arg['$sort'];
      if (isPlainObject(sort)) {
        if (Object.keys(sort).length === 0) throw badQuery('The $sort pattern is empty when it should be a set of fields.');
        for (const k of Object.keys(sort)) {
          const d = sort[k];
          if (!isNumeric(d) || (toDouble(d) !== 1 && toDouble(d) !== -1)) throw badQuery('The $sort element value must be either 1 or -1');
        }
      } else if (!isNumeric(sort) || (toDouble(sort) !== 1 && toDouble(sort) !== -1)) throw badQuery('The $sort is invalid: use 1/-1 to sort the whole element, or {field:1/-1} to sort embedded fields');
    }
  } else {
    if (isOperatorObject(arg)) throw badQuery(`unknown modifier in $push: ${Object.keys(arg)[0]}`);
    each = [arg];
  }
  const pc = parentOf(doc, parts, true)!;
  const cur = getAt(pc);
  if (cur !== undefined && !Array.isArray(cur)) {
    throw badQuery(`The field '${path}' must be an array but is of type ${typeName(cur)} in document`);
  }
  let arr = cur === undefined ? [] : (cur as unknown[]);
  const items = each.map((x) => cloneValue(x));
  if (position === undefined || position >= arr.length) arr.push(...items);
  else {
    const at = position < 0 ? Math.max(0, arr.length + position) : position;
    arr.splice(at, 0, ...items);
  }
  if (sort !== undefined) {
    if (isPlainObject(sort)) {
      const cmp = compileSort(sort);
      arr.sort((a, b) => cmp(isPlainObject(a) ? a : {}, isPlainObject(b) ? b : {}));
    } else {
      const dir = toDouble(sort);
      arr.sort((a, b) => dir * compareValues(a, b));
    }
  }
  if (slice !== undefined) arr = slice >= 0 ? arr.slice(0, slice) : slice === 0 ? [] : arr.slice(Math.max(0, arr.length + slice));
  setAt(pc, arr);
}

/** Fields implied by equality in `filter` (for an upsert's inserted document). */
export function upsertSeed(filter: Document): Document {
  guardQuery(filter, 'filter');
  const out: Document = {};
  collectSeed(filter, out);
  return out;
}

function collectSeed(filter: Document, out: Document): void {
  for (const k of Object.keys(filter)) {
    const v = filter[k];
    if (k === '$and') {
      if (Array.isArray(v)) for (const f of v) if (isPlainObject(f)) collectSeed(f, out);
      continue;
    }
    if (k === '$or' || k === '$nor') {
      if (k === '$or' && Array.isArray(v) && v.length === 1 && isPlainObject(v[0])) collectSeed(v[0], out);
      continue;
    }
    if (k.charCodeAt(0) === 36) continue;
    let eq: unknown;
    let has = false;
    if (isOperatorObject(v)) {
      if (hasOwnKey(v, '$eq')) {
        eq = v['$eq'];
        has = true;
      } else if (hasOwnKey(v, '$in') && Array.isArray(v['$in']) && v['$in'].length === 1 && !isRegexValue(v['$in'][0])) {
        eq = v['$in'][0];
        has = true;
      }
    } else if (!isRegexValue(v)) {
      eq = v;
      has = true;
    }
    if (!has) continue;
    const parts = parseUpdatePath(k, 'upsert');
    if (parts.some((p) => p.charCodeAt(0) === 36)) continue;
    const pc = parentOf(out, parts, true);
    if (pc) setAt(pc, cloneValue(eq));
  }
}
