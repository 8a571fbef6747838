/**
 * Query filters (find, $match, $pull conditions, partial indexes) compiled to closures with
 * MongoDB semantics: dotted paths through arrays, null matches missing, type bracketing for
 * range operators, BSON cross-type equality.
 */
import { LargetableError } from '../errors.ts';
import { evalExpr, makeContext, validateExpression } from './expression.ts';
import { guardQuery } from './guard.ts';
import { lookupForMatch, splitPath } from './path.ts';
import { compileRegex, isRegexValue, regexFromValue, type SafeRegex } from './regex.ts';
import type { Document } from './values.ts';
import { badQuery, bsonTypeTag, compareValues, getOwn, isNumeric, isPlainObject, isTruthy, toDouble, typeName, typeRank, valuesEqual } from './values.ts';

export interface Matcher {
  test(doc: Document): boolean;
}

type Pred = (doc: Document) => boolean;
/** Predicate over the values reached at one path (`undefined` = missing on that branch). */
type ListPred = (values: unknown[]) => boolean;

export function compileFilter(filter: Document): Matcher {
  if (!isPlainObject(filter)) throw badQuery('filter must be a document');
  guardQuery(filter, 'filter');
  const p = compileDoc(filter);
  return { test: p };
}

/** Compile without the entry guard (already guarded by the caller). */
export function compileFilterUnguarded(filter: Document, vars?: Record<string, unknown>): Pred {
  if (!isPlainObject(filter)) throw badQuery('filter must be a document');
  const prev = currentVars;
  currentVars = vars;
  try {
    return compileDoc(filter);
  } finally {
    currentVars = prev;
  }
}

/** Variables visible to $expr while compiling (set by compileFilterUnguarded; compile is synchronous). */
let currentVars: Record<string, unknown> | undefined;

const TRUE: Pred = () => true;

function compileDoc(filter: Document): Pred {
  const preds: Pred[] = [];
  for (const key of Object.keys(filter)) {
    const value = filter[key];
    if (key.charCodeAt(0) === 36) {
      switch (key) {
        case '$and':
        case '$or':
        case '$nor': {
          if (!Array.isArray(value) || value.length === 0) throw badQuery(`${key} argument must be a non-empty array`);
          const subs = value.map((f) => {
            if (!isPlainObject(f)) throw badQuery(`${key} argument's entries must be objects`);
            return compileDoc(f);
          });
          if (key === '$and') preds.push((d) => subs.every((s) => s(d)));
          else if (key === '$or') preds.push((d) => subs.some((s) => s(d)));
          else preds.push((d) => !subs.some((s) => s(d)));
          break;
        }
        case '$expr': {
          const expr = value;
          validateExpression(expr);
          const vars = currentVars;
          preds.push((d) => isTruthy(evalExpr(expr, makeContext(d, vars, new Date()))));
          break;
        }
        case '$comment':
          break;
        case '$alwaysTrue':
          preds.push(TRUE);
          break;
        case '$alwaysFalse':
          preds.push(() => false);
          break;
        case '$text':
        case '$jsonSchema':
        case '$sampleRate':
          throw new LargetableError('NOT_SUPPORTED', `${key} is not supported`);
        default:
          throw badQuery(`unknown top level operator: ${key}`);
      }
      continue;
    }
    preds.push(compileField(key, value));
  }
  if (preds.length === 0) return TRUE;
  if (preds.length === 1) return preds[0] as Pred;
  return (d) => {
    for (const p of preds) if (!p(d)) return false;
    return true;
  };
}

function compileField(path: string, cond: unknown): Pred {
  const parts = splitPath(path);
  const lp = compileCondition(cond);
  // one scratch array per compiled field: a field predicate is never re-entered while it runs
  const values: unknown[] = [];
  if (parts.length === 1) {
    // a top-level field of a document reaches exactly its own value (lookupForMatch's one push),
    // handed over in a one-element scratch whose length never changes: emptying `values` by
    // `length = 0` drops its backing store, and the next push allocates one (~150 B per test)
    const key = parts[0]!;
    const one: unknown[] = [undefined];
    return (doc) => {
      if (!isPlainObject(doc)) {
        values.length = 0;
        lookupForMatch(doc, parts, 0, values);
        const r = lp(values);
        values.length = 0;
        return r;
      }
      one[0] = getOwn(doc, key);
      const r = lp(one);
      one[0] = undefined;
      return r;
    };
  }
  return (doc) => {
    values.length = 0;
    lookupForMatch(doc, parts, 0, values);
    const r = lp(values);
    values.length = 0;
    return r;
  };
}

export function isOperatorObject(v: unknown): v is Document {
  if (!isPlainObject(v)) return false;
  const keys = Object.keys(v);
  return keys.length > 0 && (keys[0] as string).charCodeAt(0) === 36;
}

/** Condition on a field: an operator object, a regex, or a literal for equality. */
function compileCondition(cond: unknown): ListPred {
  if (isOperatorObject(cond)) return compileOperators(cond);
  if (isRegexValue(cond)) {
    const re = regexFromValue(cond) as SafeRegex;
    return anyExpand((v) => regexMatches(re, v, cond));
  }
  checkLiteral(cond, 0);
  return eqPred(cond);
}

/** A literal (equality operand) must not hide operators: `{a: {b: {$gt: 1}}}` is BAD_QUERY. */
export function checkLiteral(v: unknown, depth: number): void {
  if (Array.isArray(v)) {
    for (const e of v) if (e !== null && typeof e === 'object') checkLiteral(e, depth + 1);
    return;
  }
  if (!isPlainObject(v)) {
    if (typeof v === 'function' || typeof v === 'symbol') throw badQuery('functions and symbols are not query values');
    return;
  }
  for (const k of Object.keys(v)) {
    if (k.charCodeAt(0) === 36) throw badQuery(`unknown operator ${k} where a value was expected`);
    const e = v[k];
    if (e !== null && typeof e === 'object') checkLiteral(e, depth + 1);
  }
}

/** While false, operators test each reached value only (no implicit array-element pass): $elemMatch value mode. */
let expandArrays = true;

function anyExpand(test: (v: unknown) => boolean): ListPred {
  if (!expandArrays) {
    return (values) => {
      for (const v of values) if (test(v)) return true;
      return false;
    };
  }
  return (values) => {
    for (const v of values) {
      if (test(v)) return true;
      if (Array.isArray(v)) for (const e of v) if (test(e)) return true;
    }
    return false;
  };
}

function sortedFlags(f: string): string {
  return [...f].filter((c) => c !== 'g' && c !== 'y' && c !== 'd').sort().join('');
}

/** A string matches by regex; a stored regex matches when pattern and flags are the same (MongoDB). */
function regexMatches(re: SafeRegex, v: unknown, _pattern: unknown): boolean {
  if (typeof v === 'string') return re.test(v);
  if (v instanceof RegExp) return v.source === re.source && sortedFlags(v.flags) === sortedFlags(re.flags);
  if (bsonTypeTag(v) === 'BSONRegExp') {
    const r = v as { pattern: string; options: string };
    return r.pattern === re.source && sortedFlags(r.options) === sortedFlags(re.flags);
  }
  return false;
}

function eqTest(x: unknown): (v: unknown) => boolean {
  if (x === null || x === undefined) return (v) => v === null || v === undefined;
  return (v) => v !== undefined && valuesEqual(v, x);
}

function eqPred(x: unknown): ListPred {
  return anyExpand(eqTest(x));
}

function inPred(list: unknown, op: string): ListPred {
  if (!Array.isArray(list)) throw badQuery(`${op} needs an array`);
  // strings and finite JS numbers go to hash sets; everything else is tested one by one
  const strings = new Set<string>();
  const numbers = new Set<number>();
  const tests: ((v: unknown) => boolean)[] = [];
  for (const x of list) {
    if (isRegexValue(x)) {
      const re = regexFromValue(x) as SafeRegex;
      tests.push((v: unknown) => regexMatches(re, v, x));
      continue;
    }
    if (isOperatorObject(x)) throw badQuery(`cannot nest operators in ${op}`);
    checkLiteral(x, 0);
    if (typeof x === 'string') strings.add(x);
    else if (typeof x === 'number' && Number.isFinite(x)) numbers.add(x === 0 ? 0 : x);
    else tests.push(eqTest(x));
  }
  const hasNumbers = numbers.size > 0;
  return anyExpand((v) => {
    if (typeof v === 'string') {
      if (strings.has(v)) return true;
    } else if (typeof v === 'number') {
      if (numbers.has(v === 0 ? 0 : v)) return true;
    } else if (hasNumbers && isNumeric(v)) {
      // Long / Decimal128 / bigint against JS numbers: exact comparison
      for (const n of numbers) if (valuesEqual(v, n)) return true;
    }
    for (const t of tests) if (t(v)) return true;
    return false;
  });
}

function rangePred(op: string, x: unknown): ListPred {
  if (isOperatorObject(x)) throw badQuery(`unknown operator ${Object.keys(x)[0]} in ${op}`);
  checkLiteral(x, 0);
  const rx = typeRank(x);
  const acceptEq = op === '$gte' || op === '$lte';
  if (x === null || x === undefined) {
    if (acceptEq) return eqPred(null);
    return () => false;
  }
  const crossType = rx === 1 || rx === 14; // MinKey / MaxKey compare with everything
  const ok = (c: number): boolean => (op === '$gt' ? c > 0 : op === '$gte' ? c >= 0 : op === '$lt' ? c < 0 : c <= 0);
  // MongoDB: in query comparisons NaN equals NaN but is neither greater nor less than any number
  const xNaN = rx === 3 && Number.isNaN(toDouble(x));
  return anyExpand((v) => {
    if (v === undefined) return false;
    if (!crossType && typeRank(v) !== rx) return false;
    if (rx === 3) {
      const vNaN = Number.isNaN(toDouble(v));
      if (xNaN || vNaN) return acceptEq && xNaN && vNaN;
    }
    return ok(compareValues(v, x));
  });
}

const TYPE_CODES: Record<number, string> = {
  1: 'double', 2: 'string', 3: 'object', 4: 'array', 5: 'binData', 6: 'undefined', 7: 'objectId', 8: 'bool',
  9: 'date', 10: 'null', 11: 'regex', 12: 'dbPointer', 13: 'javascript', 14: 'symbol', 15: 'javascriptWithScope',
  16: 'int', 17: 'timestamp', 18: 'long', 19: 'decimal', [-1]: 'minKey', 127: 'maxKey',
};
const TYPE_NAMES = new Set([...Object.values(TYPE_CODES), 'number']);

function typeNameOf(t: unknown): string {
  if (typeof t === 'string') {
    if (!TYPE_NAMES.has(t)) throw badQuery(`unknown type name alias: ${t}`);
    return t;
  }
  if (isNumeric(t)) {
    const n = toDouble(t);
    const name = Object.prototype.hasOwnProperty.call(TYPE_CODES, n) ? TYPE_CODES[n] : undefined;
    if (name === undefined) throw badQuery(`invalid numerical type code: ${n}`);
    return name;
  }
  throw badQuery('type must be represented as a number or a string');
}

export function matchesType(v: unknown, name: string): boolean {
  if (v === undefined) return false;
  const t = typeName(v);
  if (name === 'number') return t === 'int' || t === 'double' || t === 'long' || t === 'decimal';
  return t === name;
}

function typePred(arg: unknown): ListPred {
  const names = (Array.isArray(arg) ? arg : [arg]).map(typeNameOf);
  if (names.length === 0) throw badQuery('$type must match at least one type');
  const test = (v: unknown): boolean => names.some((n) => matchesType(v, n));
  return anyExpand(test);
}

function modPred(arg: unknown): ListPred {
  if (!Array.isArray(arg) || arg.length !== 2) throw badQuery('malformed mod, needs to be an array of [divisor, remainder]');
  if (!isNumeric(arg[0]) || !isNumeric(arg[1])) throw badQuery('malformed mod, divisor and remainder must be numbers');
  const d = Math.trunc(toDouble(arg[0]));
  const r = Math.trunc(toDouble(arg[1]));
  if (!Number.isFinite(d) || !Number.isFinite(r)) throw badQuery('malformed mod, divisor and remainder must be finite');
  if (d === 0) throw badQuery('divisor cannot be 0');
  return anyExpand((v) => {
    if (!isNumeric(v)) return false;
    const n = toDouble(v);
    if (!Number.isFinite(n)) return false;
    const m = Math.trunc(n) % d;
    return (m === 0 ? 0 : m) === r;
  });
}

function sizePred(arg: unknown): ListPred {
  if (!isNumeric(arg)) throw badQuery('$size needs a number');
  const n = toDouble(arg);
  if (!Number.isInteger(n)) throw badQuery('$size must be a whole number');
  if (n < 0) throw badQuery('$size may not be negative');
  return (values) => values.some((v) => Array.isArray(v) && v.length === n);
}

function elemMatchPred(arg: unknown): ListPred {
  if (!isPlainObject(arg)) throw badQuery('$elemMatch needs an Object');
  const keys = Object.keys(arg);
  const valueMode = keys.length > 0 && keys.every((k) => k.charCodeAt(0) === 36 && k !== '$and' && k !== '$or' && k !== '$nor' && k !== '$expr');
  let elemTest: (e: unknown) => boolean;
  if (valueMode) {
    const prev = expandArrays;
    expandArrays = false;
    let lp: ListPred;
    try {
      lp = compileOperators(arg);
    } finally {
      expandArrays = prev;
    }
    elemTest = (e) => lp([e]);
  } else {
    const prev = expandArrays;
    expandArrays = true;
    let p: Pred;
    try {
      p = compileDoc(arg);
    } finally {
      expandArrays = prev;
    }
    // MongoDB tests every element that is a BSON object, and an array element is one (keys "0", "1", ...)
    elemTest = (e) => (isPlainObject(e) ? p(e) : Array.isArray(e) ? p(arrayAsDocument(e)) : false);
  }
  return (values) => {
    for (const v of values) if (Array.isArray(v)) for (const e of v) if (elemTest(e)) return true;
    return false;
  };
}

function arrayAsDocument(a: unknown[]): Document {
  const d: Document = {};
  for (let i = 0; i < a.length; i++) d[String(i)] = a[i];
  return d;
}

function allPred(arg: unknown): ListPred {
  if (!Array.isArray(arg)) throw badQuery('$all needs an array');
  if (arg.length === 0) return () => false;
  const preds = arg.map((x) => {
    if (isPlainObject(x) && Object.keys(x)[0] === '$elemMatch') {
      if (Object.keys(x).length !== 1) throw badQuery('$all/$elemMatch has to be consistent');
      return elemMatchPred(x['$elemMatch']);
    }
    if (isOperatorObject(x)) throw badQuery('no $ expressions in $all');
    if (isRegexValue(x)) {
      const re = regexFromValue(x) as SafeRegex;
      return anyExpand((v) => regexMatches(re, v, x));
    }
    checkLiteral(x, 0);
    return eqPred(x);
  });
  return (values) => preds.every((p) => p(values));
}

function compileOperators(cond: Document): ListPred {
  const preds: ListPred[] = [];
  const keys = Object.keys(cond);
  let regexDone = false;
  for (const op of keys) {
    const arg = cond[op];
    switch (op) {
      case '$eq':
        if (isOperatorObject(arg)) throw badQuery(`unknown operator ${Object.keys(arg)[0]} in $eq`);
        checkLiteral(arg, 0);
        preds.push(eqPred(arg));
        break;
      case '$ne': {
        if (isOperatorObject(arg)) throw badQuery(`unknown operator ${Object.keys(arg)[0]} in $ne`);
        if (isRegexValue(arg)) throw badQuery("Can't have regex as arg to $ne.");
        checkLiteral(arg, 0);
        const p = eqPred(arg);
        preds.push((vs) => !p(vs));
        break;
      }
      case '$gt':
      case '$gte':
      case '$lt':
      case '$lte':
        preds.push(rangePred(op, arg));
        break;
      case '$in':
        preds.push(inPred(arg, op));
        break;
      case '$nin': {
        const p = inPred(arg, op);
        preds.push((vs) => !p(vs));
        break;
      }
      case '$exists': {
        const want = isTruthy(arg);
        preds.push((vs) => vs.some((v) => v !== undefined) === want);
        break;
      }
      case '$type':
        preds.push(typePred(arg));
        break;
      case '$mod':
        preds.push(modPred(arg));
        break;
      case '$size':
        preds.push(sizePred(arg));
        break;
      case '$all':
        preds.push(allPred(arg));
        break;
      case '$elemMatch':
        preds.push(elemMatchPred(arg));
        break;
      case '$regex':
      case '$options': {
        if (regexDone) break;
        regexDone = true;
        const src = cond['$regex'];
        const opts = cond['$options'];
        if (src === undefined) throw badQuery('$options needs a $regex');
        if (opts !== undefined && typeof opts !== 'string') throw badQuery('$options has to be a string');
        let re: SafeRegex;
        if (typeof src === 'string') re = compileRegex(src, opts ?? '');
        else if (isRegexValue(src)) re = regexFromValue(src, opts) as SafeRegex;
        else throw badQuery('$regex has to be a string');
        preds.push(anyExpand((v) => regexMatches(re, v, src)));
        break;
      }
      case '$not': {
        let p: ListPred;
        if (isRegexValue(arg)) {
          const re = regexFromValue(arg) as SafeRegex;
          p = anyExpand((v) => regexMatches(re, v, arg));
        } else if (isOperatorObject(arg)) {
          p = compileOperators(arg);
        } else throw badQuery('$not needs a regex or a document of operators');
        preds.push((vs) => !p(vs));
        break;
      }
      case '$comment':
        break;
      case '$near':
      case '$nearSphere':
      case '$geoWithin':
      case '$geoIntersects':
      case '$bitsAllSet':
      case '$bitsAnySet':
      case '$bitsAllClear':
      case '$bitsAnyClear':
        throw new LargetableError('NOT_SUPPORTED', `${op} is not supported`);
      default:
        throw badQuery(`unknown operator: ${op}`);
    }
  }
  if (preds.length === 1) return preds[0] as ListPred;
  return (vs) => {
    for (const p of preds) if (!p(vs)) return false;
    return true;
  };
}

/** Compile a condition applied to one value (used by $pull with operator conditions). */
export function compileValueCondition(cond: unknown): (v: unknown) => boolean {
  guardQuery(cond, 'condition');
  // each array element is tested as a whole (MongoDB matchesSingleElement): no implicit expansion
  const prev = expandArrays;
  expandArrays = false;
  let lp: ListPred;
  try {
    lp = compileCondition(cond);
  } finally {
    expandArrays = prev;
  }
  return (v) => lp([v]);
}
