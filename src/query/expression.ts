/**
 * Aggregation expressions ($expr, $project/$addFields values, $group keys, update pipelines).
 * An interpreter over the expression value: "$path" reads the current document, "$$var" reads a
 * variable, `{ $op: args }` applies an operator, other objects are evaluated field by field.
 * Missing values are `undefined`; `$$REMOVE` evaluates to missing.
 */
import { Decimal128, Long, ObjectId, Timestamp } from 'bson';
import { LargetableError } from '../errors.ts';
import { expressionArrayLengthMax } from '../limits.ts';
import { guardQuery } from './guard.ts';
import { metaValue } from './meta.ts';
import { getExprPath, splitPath } from './path.ts';
import { compileRegex, regexFromValue, type SafeRegex } from './regex.ts';
import type { Document } from './values.ts';
import {
  badQuery, bsonTypeTag, cloneValue, compareStrings, compareValues, getOwn, hasOwnKey, isNumeric, isPlainObject, isTruthy,
  RESERVED_KEYS, setOwn, toDouble, typeName, valuesEqual,
} from './values.ts';

export interface EvalContext {
  root: Document;
  current: unknown;
  vars: Record<string, unknown>;
  now: Date;
}

type OpFn = (args: unknown, ctx: EvalContext) => unknown;

export function evaluateExpression(expr: unknown, doc: Document, vars?: Record<string, unknown>): unknown {
  guardQuery(expr, 'expression');
  const now = vars !== undefined && hasOwnKey(vars, 'NOW') && vars['NOW'] instanceof Date ? (vars['NOW'] as Date) : new Date();
  const v: Record<string, unknown> = Object.create(null);
  if (vars) for (const k of Object.keys(vars)) v[k] = vars[k];
  return evalExpr(expr, { root: doc, current: doc, vars: v, now });
}

const NO_VARS: Record<string, unknown> = Object.freeze(Object.create(null)) as Record<string, unknown>;

export function makeContext(doc: Document, vars: Record<string, unknown> | undefined, now: Date): EvalContext {
  if (vars === undefined) return { root: doc, current: doc, vars: NO_VARS, now };
  // variable scopes are never written after creation: a null-prototype scope is shared as is
  if (Object.getPrototypeOf(vars) === null) return { root: doc, current: doc, vars, now };
  const v: Record<string, unknown> = Object.create(null);
  for (const k of Object.keys(vars)) v[k] = vars[k];
  return { root: doc, current: doc, vars: v, now };
}

interface ParsedPath {
  /** 0: field of CURRENT, 1: variable */
  kind: 0 | 1;
  name: string;
  parts: string[] | undefined;
}
const parsedPaths = new Map<string, ParsedPath>();

function parsePath(expr: string): ParsedPath {
  let p = parsedPaths.get(expr);
  if (p !== undefined) return p;
  if (expr.charCodeAt(1) === 36) {
    const body = expr.slice(2);
    const dot = body.indexOf('.');
    const name = dot < 0 ? body : body.slice(0, dot);
    if (name === '' || RESERVED_KEYS.has(name)) throw badQuery(`invalid variable name in '${expr}'`);
    p = { kind: 1, name, parts: dot < 0 ? undefined : splitPath(body.slice(dot + 1)) };
  } else {
    if (expr.length === 1) throw badQuery("'$' by itself is not a valid field path");
    p = { kind: 0, name: '', parts: splitPath(expr.slice(1)) };
  }
  if (parsedPaths.size > 10000) parsedPaths.clear();
  parsedPaths.set(expr, p);
  return p;
}

export function evalExpr(expr: unknown, ctx: EvalContext): unknown {
  if (typeof expr === 'string') {
    if (expr.charCodeAt(0) !== 36) return expr;
    return evalPath(expr, ctx);
  }
  if (expr === null || typeof expr !== 'object') return expr;
  if (Array.isArray(expr)) return expr.map((e) => evalExpr(e, ctx));
  if (!isPlainObject(expr)) return expr;
  const keys = Object.keys(expr);
  if (keys.length >= 1 && (keys[0] as string).charCodeAt(0) === 36) {
    if (keys.length !== 1) throw badQuery(`an expression object must have exactly one operator field, got ${keys.join(', ')}`);
    const op = keys[0] as string;
    const fn = Object.prototype.hasOwnProperty.call(OPS, op) ? OPS[op] : undefined;
    if (fn === undefined) throw badQuery(`unrecognized expression operator '${op}'`);
    return fn(expr[op], ctx);
  }
  const out: Document = {};
  for (const k of keys) {
    if (k.charCodeAt(0) === 36) throw badQuery(`field names in an expression object may not start with '$': ${k}`);
    if (RESERVED_KEYS.has(k)) throw badQuery(`reserved field name '${k}'`);
    if (k.includes('.')) throw badQuery(`field names in an expression object may not contain '.': ${k}`);
    const v = evalExpr(expr[k], ctx);
    if (v !== undefined) setOwn(out, k, v);
  }
  return out;
}

function evalPath(expr: string, ctx: EvalContext): unknown {
  const p = parsePath(expr);
  if (p.kind === 0) {
    const parts = p.parts as string[];
    const cur = ctx.current;
    // fast path: a single field of a document
    if (parts.length === 1 && isPlainObject(cur)) {
      const v = getOwn(cur, parts[0] as string);
      return v;
    }
    return getExprPath(cur, parts);
  }
  let base: unknown;
  switch (p.name) {
    case 'ROOT':
      base = ctx.root;
      break;
    case 'CURRENT':
      base = ctx.current;
      break;
    case 'REMOVE':
      return undefined;
    case 'NOW':
      base = ctx.now;
      break;
    default:
      if (!(p.name in ctx.vars)) throw badQuery(`use of undefined variable: ${p.name}`);
      base = ctx.vars[p.name];
  }
  if (p.parts === undefined) return base;
  return getExprPath(base, p.parts);
}

// ---------------------------------------------------------------- helpers

function argsArray(args: unknown, ctx: EvalContext, op: string, min = 0, max = Infinity): unknown[] {
  const list = Array.isArray(args) ? args : [args];
  if (list.length < min || list.length > max) throw badQuery(`${op} takes ${min === max ? min : `${min} to ${max}`} arguments, got ${list.length}`);
  return list.map((a) => evalExpr(a, ctx));
}

function isNullish(v: unknown): boolean {
  return v === null || v === undefined;
}

function num(v: unknown, op: string): number {
  if (!isNumeric(v)) throw badQuery(`${op} only supports numeric types, not ${typeName(v)}`);
  return toDouble(v);
}

function hasDecimal(vals: unknown[]): boolean {
  return vals.some((v) => bsonTypeTag(v) === 'Decimal128');
}

function hasLong(vals: unknown[]): boolean {
  return vals.some((v) => bsonTypeTag(v) === 'Long' || typeof v === 'bigint');
}

/** Build a numeric result matching MongoDB's widening: decimal > double > long > int. */
function numResult(n: number, inputs: unknown[]): unknown {
  if (hasDecimal(inputs)) return Decimal128.fromString(Number.isFinite(n) ? String(n) : Number.isNaN(n) ? 'NaN' : n > 0 ? 'Infinity' : '-Infinity');
  if (hasLong(inputs) && Number.isInteger(n) && inputs.every((v) => typeof v !== 'number' || Number.isInteger(v))) return Long.fromNumber(n);
  return n;
}

/** Comparison for aggregation: missing sorts below null. */
export function aggCompare(a: unknown, b: unknown): number {
  if (a === undefined || b === undefined) {
    if (a === b) return 0;
    return a === undefined ? -1 : 1;
  }
  return compareValues(a, b);
}

function str(v: unknown, op: string): string {
  if (isNullish(v)) return '';
  if (typeof v === 'string') return v;
  if (isNumeric(v) || v instanceof Date || typeof v === 'boolean') return toStringValue(v);
  throw badQuery(`${op} requires a string argument, found: ${typeName(v)}`);
}

function toDateValue(v: unknown, op: string): Date {
  if (v instanceof Date) return v;
  if (bsonTypeTag(v) === 'ObjectId') return (v as ObjectId).getTimestamp();
  if (bsonTypeTag(v) === 'Timestamp') return new Date((v as Timestamp).t * 1000);
  throw badQuery(`${op} requires a date, found ${typeName(v)}`);
}

function tzOffsetMs(tz: unknown, d: Date): number {
  if (tz === undefined || tz === null) return 0;
  if (typeof tz !== 'string') throw badQuery('timezone must be a string');
  if (tz === 'UTC' || tz === 'GMT' || tz === 'Z') return 0;
  const m = /^([+-])(\d{2}):?(\d{2})?$/.exec(tz);
  if (m) return (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3] ?? 0)) * 60000;
  // Olson names: use Intl to find the offset at this instant.
  try {
    const fmt = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
    const parts: Record<string, number> = {};
    for (const p of fmt.formatToParts(d)) if (p.type !== 'literal') parts[p.type] = Number(p.value);
    const asUtc = Date.UTC(parts['year'] ?? 0, (parts['month'] ?? 1) - 1, parts['day'] ?? 1, parts['hour'] ?? 0, parts['minute'] ?? 0, parts['second'] ?? 0);
    return asUtc - (d.getTime() - d.getUTCMilliseconds());
  } catch {
    throw badQuery(`unrecognized time zone identifier: ${tz}`);
  }
}

function dateArgs(args: unknown, ctx: EvalContext, op: string): { d: Date; local: Date } | null {
  let dateExpr: unknown = args;
  let tz: unknown;
  if (Array.isArray(args)) {
    if (args.length !== 1) throw badQuery(`${op} takes 1 argument`);
    dateExpr = args[0];
  } else if (isPlainObject(args) && hasOwnKey(args, 'date')) {
    dateExpr = args['date'];
    tz = evalExpr(args['timezone'], ctx);
  }
  const v = evalExpr(dateExpr, ctx);
  if (isNullish(v)) return null;
  const d = toDateValue(v, op);
  return { d, local: new Date(d.getTime() + tzOffsetMs(tz, d)) };
}

function dayOfYear(d: Date): number {
  return Math.floor((d.getTime() - Date.UTC(d.getUTCFullYear(), 0, 1)) / 86400000) + 1;
}

function isoWeekParts(d: Date): { year: number; week: number; day: number } {
  const day = d.getUTCDay() === 0 ? 7 : d.getUTCDay();
  const th = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 4 - day));
  const year = th.getUTCFullYear();
  const week = Math.ceil(((th.getTime() - Date.UTC(year, 0, 1)) / 86400000 + 1) / 7);
  return { year, week, day };
}

function pad(n: number, w: number): string {
  const s = String(Math.abs(n));
  return (n < 0 ? '-' : '') + (s.length >= w ? s : '0'.repeat(w - s.length) + s);
}

function dateToString(local: Date, format: string): string {
  let out = '';
  for (let i = 0; i < format.length; i++) {
    const c = format[i];
    if (c !== '%') {
      out += c;
      continue;
    }
    const f = format[++i];
    switch (f) {
      case 'Y': out += pad(local.getUTCFullYear(), 4); break;
      case 'm': out += pad(local.getUTCMonth() + 1, 2); break;
      case 'd': out += pad(local.getUTCDate(), 2); break;
      case 'H': out += pad(local.getUTCHours(), 2); break;
      case 'M': out += pad(local.getUTCMinutes(), 2); break;
      case 'S': out += pad(local.getUTCSeconds(), 2); break;
      case 'L': out += pad(local.getUTCMilliseconds(), 3); break;
      case 'j': out += pad(dayOfYear(local), 3); break;
      case 'w': out += String(local.getUTCDay() + 1); break;
      case 'u': out += String(isoWeekParts(local).day); break;
      case 'U': out += pad(sundayWeek(local), 2); break;
      case 'V': out += pad(isoWeekParts(local).week, 2); break;
      case 'G': out += pad(isoWeekParts(local).year, 4); break;
      case 'z': out += '+0000'; break;
      case 'Z': out += '+000'; break;
      case 'b': out += MONTHS[local.getUTCMonth()]; break;
      case 'B': out += MONTHS_LONG[local.getUTCMonth()]; break;
      case '%': out += '%'; break;
      default: throw badQuery(`invalid format character '%${f ?? ''}' in $dateToString format`);
    }
  }
  return out;
}
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const MONTHS_LONG = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

function sundayWeek(d: Date): number {
  const doy = dayOfYear(d) - 1;
  const jan1 = new Date(Date.UTC(d.getUTCFullYear(), 0, 1)).getUTCDay();
  return Math.floor((doy + jan1) / 7);
}

const UNIT_MS: Record<string, number> = { millisecond: 1, second: 1000, minute: 60000, hour: 3600000, day: 86400000, week: 604800000 };

function addUnits(d: Date, unit: string, amount: number): Date {
  if (!Number.isInteger(amount)) throw badQuery('amount must be an integer');
  if (hasOwnKey(UNIT_MS, unit)) return new Date(d.getTime() + amount * (UNIT_MS[unit] as number));
  const months = unit === 'month' ? amount : unit === 'quarter' ? amount * 3 : unit === 'year' ? amount * 12 : NaN;
  if (Number.isNaN(months)) throw badQuery(`unknown time unit: ${unit}`);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth() + months;
  const target = new Date(Date.UTC(y, m, 1, d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds()));
  const lastDay = new Date(Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0)).getUTCDate();
  target.setUTCDate(Math.min(d.getUTCDate(), lastDay));
  return target;
}

function dateDiff(a: Date, b: Date, unit: string): number {
  switch (unit) {
    case 'year': return b.getUTCFullYear() - a.getUTCFullYear();
    case 'quarter': return Math.floor(b.getUTCMonth() / 3) + b.getUTCFullYear() * 4 - (Math.floor(a.getUTCMonth() / 3) + a.getUTCFullYear() * 4);
    case 'month': return b.getUTCFullYear() * 12 + b.getUTCMonth() - (a.getUTCFullYear() * 12 + a.getUTCMonth());
    case 'week': {
      const wa = Math.floor((a.getTime() / 86400000 + 3) / 7);
      const wb = Math.floor((b.getTime() / 86400000 + 3) / 7);
      return wb - wa;
    }
    default: {
      const u = hasOwnKey(UNIT_MS, unit) ? (UNIT_MS[unit] as number) : NaN;
      if (Number.isNaN(u)) throw badQuery(`unknown time unit: ${unit}`);
      return Math.floor(b.getTime() / u) - Math.floor(a.getTime() / u);
    }
  }
}

function truncDate(d: Date, unit: string, binSize: number): Date {
  const t = d.getTime();
  switch (unit) {
    case 'year': {
      const y = d.getUTCFullYear();
      return new Date(Date.UTC(y - (((y % binSize) + binSize) % binSize), 0, 1));
    }
    case 'quarter':
    case 'month': {
      const months = d.getUTCFullYear() * 12 + d.getUTCMonth();
      const size = unit === 'quarter' ? binSize * 3 : binSize;
      const m = months - (((months % size) + size) % size);
      return new Date(Date.UTC(Math.floor(m / 12), m % 12, 1));
    }
    case 'week': {
      // weeks start on Sunday (MongoDB default startOfWeek)
      const days = Math.floor(t / 86400000) + 4; // 1970-01-04 was a Sunday => offset
      const w = Math.floor(days / 7);
      const wb = w - (((w % binSize) + binSize) % binSize);
      return new Date((wb * 7 - 4) * 86400000);
    }
    default: {
      const u = hasOwnKey(UNIT_MS, unit) ? (UNIT_MS[unit] as number) * binSize : NaN;
      if (Number.isNaN(u)) throw badQuery(`unknown time unit: ${unit}`);
      return new Date(t - (((t % u) + u) % u));
    }
  }
}

export function toStringValue(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') {
    if (Number.isInteger(v) && Math.abs(v) < 1e21) return String(v);
    return String(v);
  }
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Date) return v.toISOString();
  const t = bsonTypeTag(v);
  if (t === 'ObjectId') return (v as ObjectId).toHexString();
  if (t === 'Long' || t === 'Decimal128' || t === 'Int32' || t === 'Double') return String((v as { toString(): string }).toString());
  if (t === 'Binary') return (v as { toString(enc: string): string }).toString('base64');
  throw badQuery(`unsupported conversion from ${typeName(v)} to string`);
}

function toBool(v: unknown): boolean {
  return isTruthy(v);
}

function parseNumberStrict(s: string, op: string): number {
  const t = s.trim();
  // unambiguous (linear-time) pattern; long inputs are refused outright
  if (t === '' || t.length > 1000 || !/^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$|^[+-]?(?:Infinity|NaN)$/i.test(t)) {
    throw badQuery(`${op}: failed to parse number '${s.slice(0, 50)}'`);
  }
  return Number(t.replace(/^([+-]?)infinity$/i, '$1Infinity').replace(/^[+-]?nan$/i, 'NaN'));
}

function convert(v: unknown, to: string, op: string): unknown {
  if (isNullish(v)) return null;
  switch (to) {
    case 'double':
    case 'number': {
      if (typeof v === 'string') return parseNumberStrict(v, op);
      if (typeof v === 'boolean') return v ? 1 : 0;
      if (v instanceof Date) return v.getTime();
      if (isNumeric(v)) return toDouble(v);
      break;
    }
    case 'int': {
      let n: number;
      if (typeof v === 'string') {
        if (!/^[+-]?\d+$/.test(v.trim())) throw badQuery(`${op}: failed to parse int '${v}'`);
        n = Number(v);
      } else if (typeof v === 'boolean') n = v ? 1 : 0;
      else if (isNumeric(v)) n = Math.trunc(toDouble(v));
      else break;
      if (!Number.isFinite(n) || n > 2147483647 || n < -2147483648) throw badQuery(`${op}: conversion would overflow int`);
      return n;
    }
    case 'long': {
      if (typeof v === 'string') {
        if (!/^[+-]?\d+$/.test(v.trim())) throw badQuery(`${op}: failed to parse long '${v}'`);
        return Long.fromString(v.trim());
      }
      if (typeof v === 'boolean') return Long.fromNumber(v ? 1 : 0);
      if (v instanceof Date) return Long.fromNumber(v.getTime());
      if (isNumeric(v)) {
        if (bsonTypeTag(v) === 'Long') return v;
        const n = Math.trunc(toDouble(v));
        if (!Number.isFinite(n)) throw badQuery(`${op}: conversion would overflow long`);
        return Long.fromNumber(n);
      }
      break;
    }
    case 'decimal': {
      if (typeof v === 'string') {
        parseNumberStrict(v, op);
        return Decimal128.fromString(v.trim());
      }
      if (typeof v === 'boolean') return Decimal128.fromString(v ? '1' : '0');
      if (v instanceof Date) return Decimal128.fromString(String(v.getTime()));
      if (isNumeric(v)) return bsonTypeTag(v) === 'Decimal128' ? v : Decimal128.fromString(String(toDouble(v)));
      break;
    }
    case 'bool':
      return toBool(v);
    case 'string':
      return toStringValue(v);
    case 'date': {
      if (v instanceof Date) return v;
      if (typeof v === 'string') {
        const d = new Date(v);
        if (Number.isNaN(d.getTime())) throw badQuery(`${op}: failed to parse date '${v}'`);
        return d;
      }
      if (isNumeric(v)) return new Date(toDouble(v));
      if (bsonTypeTag(v) === 'ObjectId') return (v as ObjectId).getTimestamp();
      if (bsonTypeTag(v) === 'Timestamp') return new Date((v as Timestamp).t * 1000);
      break;
    }
    case 'objectId': {
      if (bsonTypeTag(v) === 'ObjectId') return v;
      if (typeof v === 'string' && /^[0-9a-fA-F]{24}$/.test(v)) return ObjectId.createFromHexString(v);
      if (typeof v === 'string') throw badQuery(`${op}: failed to parse objectId '${v}'`);
      break;
    }
    default:
      throw badQuery(`${op}: unknown target type ${to}`);
  }
  throw badQuery(`${op}: unsupported conversion from ${typeName(v)} to ${to}`);
}

const TYPE_NUM_TO_NAME: Record<number, string> = { 1: 'double', 2: 'string', 7: 'objectId', 8: 'bool', 9: 'date', 16: 'int', 18: 'long', 19: 'decimal' };

function sumValues(vals: unknown[]): unknown {
  let total = 0;
  const used: unknown[] = [];
  for (const v of vals) {
    if (isNumeric(v)) {
      total += toDouble(v);
      used.push(v);
    }
  }
  return numResult(total, used);
}

export function avgValues(vals: unknown[]): unknown {
  const nums = vals.filter(isNumeric);
  if (nums.length === 0) return null;
  const s = nums.reduce((a: number, v) => a + toDouble(v), 0);
  const avg = s / nums.length;
  return hasDecimal(nums) ? numResult(avg, nums) : avg;
}

export function stdDev(vals: unknown[], sample: boolean): number | null {
  const nums = vals.filter(isNumeric).map(toDouble);
  const n = nums.length;
  if (n === 0 || (sample && n < 2)) return null;
  const mean = nums.reduce((a, b) => a + b, 0) / n;
  const ss = nums.reduce((a, b) => a + (b - mean) * (b - mean), 0);
  return Math.sqrt(ss / (sample ? n - 1 : n));
}

function minMax(vals: unknown[], max: boolean): unknown {
  let best: unknown;
  for (const v of vals) {
    if (isNullish(v)) continue;
    if (best === undefined || (max ? compareValues(v, best) > 0 : compareValues(v, best) < 0)) best = v;
  }
  return best === undefined ? null : best;
}

function arrayAccumulatorArgs(args: unknown, ctx: EvalContext): unknown[] {
  if (Array.isArray(args)) {
    if (args.length === 1) {
      const v = evalExpr(args[0], ctx);
      return Array.isArray(v) ? v : [v];
    }
    return args.map((a) => evalExpr(a, ctx));
  }
  const v = evalExpr(args, ctx);
  return Array.isArray(v) ? v : [v];
}

function withVars(ctx: EvalContext, extra: Record<string, unknown>): EvalContext {
  const vars: Record<string, unknown> = Object.create(ctx.vars);
  for (const k of Object.keys(extra)) vars[k] = extra[k];
  return { root: ctx.root, current: ctx.current, vars, now: ctx.now };
}

function checkVarName(name: string): void {
  if (!/^[a-z\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*$/.test(name) || name === 'CURRENT' || name === 'ROOT' || RESERVED_KEYS.has(name)) {
    throw badQuery(`'${name}' is not a valid variable name`);
  }
}

function objArgs(args: unknown, op: string, required: string[], optional: string[] = []): Document {
  if (!isPlainObject(args)) throw badQuery(`${op} requires an object as an argument`);
  for (const k of Object.keys(args)) if (!required.includes(k) && !optional.includes(k)) throw badQuery(`${op} found an unknown argument: ${k}`);
  for (const k of required) if (!hasOwnKey(args, k)) throw badQuery(`${op} requires '${k}'`);
  return args;
}

function intArg(v: unknown, op: string, what: string): number {
  if (!isNumeric(v)) throw badQuery(`${op}: ${what} must be a number`);
  const n = toDouble(v);
  if (!Number.isInteger(n)) throw badQuery(`${op}: ${what} must be an integer`);
  return n;
}

function arrArg(v: unknown, op: string): unknown[] {
  if (!Array.isArray(v)) throw badQuery(`${op} requires an array, found ${typeName(v)}`);
  return v;
}

function codePoints(s: string): string[] {
  return Array.from(s);
}

function utf8Len(s: string): number {
  return new TextEncoder().encode(s).length;
}

function setOf(vals: unknown[]): unknown[] {
  const out: unknown[] = [];
  for (const v of vals) if (!out.some((o) => valuesEqual(o, v))) out.push(v);
  return out;
}

function regexArgs(args: unknown, ctx: EvalContext, op: string): { input: string; re: SafeRegex } | null {
  const a = objArgs(args, op, ['input', 'regex'], ['options']);
  const input = evalExpr(a['input'], ctx);
  const regex = evalExpr(a['regex'], ctx);
  const options = evalExpr(a['options'], ctx);
  if (isNullish(input) || isNullish(regex)) return null;
  if (typeof input !== 'string') throw badQuery(`${op} needs 'input' to be of type string`);
  if (options !== undefined && options !== null && typeof options !== 'string') throw badQuery(`${op} needs 'options' to be a string`);
  let re: SafeRegex;
  if (typeof regex === 'string') re = compileRegex(regex, (options as string | undefined) ?? '');
  else {
    const r = regexFromValue(regex, (options as string | undefined) ?? undefined);
    if (r === undefined) throw badQuery(`${op} needs 'regex' to be of type string or regex`);
    re = r;
  }
  return { input, re };
}

function regexResult(m: { match: string; index: number; captures: (string | null)[] }, input: string): Document {
  // idx is in code points
  return { match: m.match, idx: codePoints(input.slice(0, m.index)).length, captures: m.captures };
}

function trimChars(s: string, chars: string | undefined, left: boolean, right: boolean): string {
  const set = chars === undefined ? [' ', '\t', '\n', '\r', '\f', '\v', '\0', '\u00a0', '\u2000', '\u2001', '\u2002', '\u2003', '\u2004', '\u2005', '\u2006', '\u2007', '\u2008', '\u2009', '\u200a'] : codePoints(chars);
  const cps = codePoints(s);
  let i = 0;
  let j = cps.length;
  if (left) while (i < j && set.includes(cps[i] as string)) i++;
  if (right) while (j > i && set.includes(cps[j - 1] as string)) j--;
  return cps.slice(i, j).join('');
}

// ---------------------------------------------------------------- operators

const OPS: Record<string, OpFn> = Object.create(null);

function def(names: string | string[], fn: OpFn): void {
  for (const n of Array.isArray(names) ? names : [names]) OPS[n] = fn;
}

// literals and variables
def('$literal', (a) => a);
def('$let', (a, ctx) => {
  const args = objArgs(a, '$let', ['vars', 'in']);
  if (!isPlainObject(args['vars'])) throw badQuery('$let vars must be an object');
  const vars: Record<string, unknown> = {};
  for (const k of Object.keys(args['vars'])) {
    checkVarName(k);
    vars[k] = evalExpr(args['vars'][k], ctx);
  }
  return evalExpr(args['in'], withVars(ctx, vars));
});

// arithmetic
def('$add', (a, ctx) => {
  const vals = argsArray(a, ctx, '$add');
  let total = 0;
  let date: Date | undefined;
  for (const v of vals) {
    if (isNullish(v)) return null;
    if (v instanceof Date) {
      if (date) throw badQuery('only one date allowed in an $add expression');
      date = v;
      total += v.getTime();
    } else total += num(v, '$add');
  }
  if (date) return new Date(total);
  return numResult(total, vals);
});
def('$subtract', (a, ctx) => {
  const [x, y] = argsArray(a, ctx, '$subtract', 2, 2);
  if (isNullish(x) || isNullish(y)) return null;
  if (x instanceof Date && y instanceof Date) return x.getTime() - y.getTime();
  if (x instanceof Date) return new Date(x.getTime() - num(y, '$subtract'));
  return numResult(num(x, '$subtract') - num(y, '$subtract'), [x, y]);
});
def('$multiply', (a, ctx) => {
  const vals = argsArray(a, ctx, '$multiply');
  let p = 1;
  for (const v of vals) {
    if (isNullish(v)) return null;
    p *= num(v, '$multiply');
  }
  return numResult(p, vals);
});
def('$divide', (a, ctx) => {
  const [x, y] = argsArray(a, ctx, '$divide', 2, 2);
  if (isNullish(x) || isNullish(y)) return null;
  const d = num(y, '$divide');
  if (d === 0) throw badQuery("can't $divide by zero");
  const r = num(x, '$divide') / d;
  return hasDecimal([x, y]) ? numResult(r, [x, y]) : r;
});
def('$mod', (a, ctx) => {
  const [x, y] = argsArray(a, ctx, '$mod', 2, 2);
  if (isNullish(x) || isNullish(y)) return null;
  const d = num(y, '$mod');
  if (d === 0) throw badQuery("can't $mod by zero");
  const r = num(x, '$mod') % d;
  return numResult(r === 0 ? 0 : r, [x, y]);
});
function unaryMath(name: string, f: (n: number) => number, keepType = false): void {
  def(name, (a, ctx) => {
    const [x] = argsArray(a, ctx, name, 1, 1);
    if (isNullish(x)) return null;
    const r = f(num(x, name));
    return keepType ? numResult(r, [x]) : hasDecimal([x]) ? numResult(r, [x]) : r;
  });
}
unaryMath('$abs', Math.abs, true);
unaryMath('$ceil', Math.ceil, true);
unaryMath('$floor', Math.floor, true);
unaryMath('$exp', Math.exp);
unaryMath('$sqrt', (n) => {
  if (n < 0) throw badQuery('$sqrt\'s argument must be greater than or equal to 0');
  return Math.sqrt(n);
});
unaryMath('$ln', (n) => {
  if (n <= 0 && !Number.isNaN(n)) throw badQuery("$ln's argument must be a positive number");
  return Math.log(n);
});
unaryMath('$log10', (n) => {
  if (n <= 0 && !Number.isNaN(n)) throw badQuery("$log10's argument must be a positive number");
  return Math.log10(n);
});
def('$log', (a, ctx) => {
  const [x, b] = argsArray(a, ctx, '$log', 2, 2);
  if (isNullish(x) || isNullish(b)) return null;
  const n = num(x, '$log');
  const base = num(b, '$log');
  if (n <= 0 || base <= 0 || base === 1) throw badQuery('$log arguments out of range');
  return Math.log(n) / Math.log(base);
});
def('$pow', (a, ctx) => {
  const [x, y] = argsArray(a, ctx, '$pow', 2, 2);
  if (isNullish(x) || isNullish(y)) return null;
  const b = num(x, '$pow');
  const e = num(y, '$pow');
  if (b === 0 && e < 0) throw badQuery('$pow cannot take a base of 0 and a negative exponent');
  return numResult(Math.pow(b, e), [x, y]);
});
function roundTo(n: number, place: number, trunc: boolean): number {
  const f = Math.pow(10, place);
  if (trunc) return Math.trunc(n * f) / f;
  // round half to even
  const x = n * f;
  const r = Math.round(x);
  const isHalf = Math.abs(x % 1) === 0.5;
  const even = isHalf ? (r % 2 === 0 ? r : r - 1) : r;
  return (isHalf ? even : r) / f;
}
for (const [name, trunc] of [['$round', false], ['$trunc', true]] as const) {
  def(name, (a, ctx) => {
    const [x, p] = argsArray(a, ctx, name, 1, 2);
    if (isNullish(x) || (p !== undefined && p === null)) return null;
    const place = p === undefined ? 0 : intArg(p, name, 'place');
    if (place < -20 || place > 100) throw badQuery(`${name} place must be between -20 and 100`);
    const n = num(x, name);
    if (!Number.isFinite(n)) return x;
    return numResult(roundTo(n, place, trunc), [x]);
  });
}

// comparison
function cmpOp(name: string, ok: (c: number) => boolean): void {
  def(name, (a, ctx) => {
    const [x, y] = argsArray(a, ctx, name, 2, 2);
    return ok(aggCompare(x, y));
  });
}
cmpOp('$eq', (c) => c === 0);
cmpOp('$ne', (c) => c !== 0);
cmpOp('$gt', (c) => c > 0);
cmpOp('$gte', (c) => c >= 0);
cmpOp('$lt', (c) => c < 0);
cmpOp('$lte', (c) => c <= 0);
def('$cmp', (a, ctx) => {
  const [x, y] = argsArray(a, ctx, '$cmp', 2, 2);
  return aggCompare(x, y);
});

// boolean
def('$and', (a, ctx) => {
  for (const e of Array.isArray(a) ? a : [a]) if (!isTruthy(evalExpr(e, ctx))) return false;
  return true;
});
def('$or', (a, ctx) => {
  for (const e of Array.isArray(a) ? a : [a]) if (isTruthy(evalExpr(e, ctx))) return true;
  return false;
});
def('$not', (a, ctx) => {
  const [x] = argsArray(a, ctx, '$not', 1, 1);
  return !isTruthy(x);
});

// conditional
def('$cond', (a, ctx) => {
  let c: unknown, t: unknown, e: unknown;
  if (Array.isArray(a)) {
    if (a.length !== 3) throw badQuery('$cond takes 3 arguments');
    [c, t, e] = a;
  } else {
    const o = objArgs(a, '$cond', ['if', 'then', 'else']);
    c = o['if'];
    t = o['then'];
    e = o['else'];
  }
  return isTruthy(evalExpr(c, ctx)) ? evalExpr(t, ctx) : evalExpr(e, ctx);
});
def('$ifNull', (a, ctx) => {
  const list = arrArg(a, '$ifNull');
  if (list.length < 2) throw badQuery('$ifNull needs at least two arguments');
  for (let i = 0; i < list.length - 1; i++) {
    const v = evalExpr(list[i], ctx);
    if (!isNullish(v)) return v;
  }
  return evalExpr(list[list.length - 1], ctx);
});
def('$switch', (a, ctx) => {
  const o = objArgs(a, '$switch', ['branches'], ['default']);
  for (const b of arrArg(o['branches'], '$switch')) {
    const br = objArgs(b, '$switch branch', ['case', 'then']);
    if (isTruthy(evalExpr(br['case'], ctx))) return evalExpr(br['then'], ctx);
  }
  if (!hasOwnKey(o, 'default')) throw badQuery('$switch could not find a matching branch for an input, and no default was specified');
  return evalExpr(o['default'], ctx);
});

// strings
def('$concat', (a, ctx) => {
  const vals = argsArray(a, ctx, '$concat');
  let s = '';
  for (const v of vals) {
    if (isNullish(v)) return null;
    if (typeof v !== 'string') throw badQuery(`$concat only supports strings, not ${typeName(v)}`);
    s += v;
  }
  return s;
});
OPS['$toLower'] = (a, ctx) => str(argsArray(a, ctx, '$toLower', 1, 1)[0], '$toLower').toLowerCase();
OPS['$toUpper'] = (a, ctx) => str(argsArray(a, ctx, '$toUpper', 1, 1)[0], '$toUpper').toUpperCase();
function substrCP(a: unknown, ctx: EvalContext, name: string): unknown {
  const [s, start, len] = argsArray(a, ctx, name, 3, 3);
  const cps = codePoints(str(s, name));
  const i = intArg(start, name, 'starting index');
  const n = intArg(len, name, 'length');
  if (i < 0) throw badQuery(`${name}: starting index must be non-negative`);
  return cps.slice(i, n < 0 ? undefined : i + n).join('');
}
def('$substrCP', (a, ctx) => substrCP(a, ctx, '$substrCP'));
function substrBytes(a: unknown, ctx: EvalContext, name: string): unknown {
  const [s, start, len] = argsArray(a, ctx, name, 3, 3);
  const bytes = new TextEncoder().encode(str(s, name));
  const i = intArg(start, name, 'starting index');
  const n = intArg(len, name, 'length');
  if (i < 0) throw badQuery(`${name}: starting index must be non-negative`);
  const slice = bytes.subarray(Math.min(i, bytes.length), n < 0 ? bytes.length : Math.min(bytes.length, i + n));
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(slice);
  } catch {
    throw badQuery(`${name}: invalid range, ending index is in the middle of a UTF-8 character`);
  }
}
def('$substrBytes', (a, ctx) => substrBytes(a, ctx, '$substrBytes'));
def('$substr', (a, ctx) => substrBytes(a, ctx, '$substr'));
def('$strLenCP', (a, ctx) => {
  const [s] = argsArray(a, ctx, '$strLenCP', 1, 1);
  if (typeof s !== 'string') throw badQuery(`$strLenCP requires a string argument, found: ${typeName(s)}`);
  return codePoints(s).length;
});
def('$strLenBytes', (a, ctx) => {
  const [s] = argsArray(a, ctx, '$strLenBytes', 1, 1);
  if (typeof s !== 'string') throw badQuery(`$strLenBytes requires a string argument, found: ${typeName(s)}`);
  return utf8Len(s);
});
def('$strcasecmp', (a, ctx) => {
  const [x, y] = argsArray(a, ctx, '$strcasecmp', 2, 2);
  return compareStrings(str(x, '$strcasecmp').toUpperCase(), str(y, '$strcasecmp').toUpperCase());
});
def('$split', (a, ctx) => {
  const [s, d] = argsArray(a, ctx, '$split', 2, 2);
  if (isNullish(s)) return null;
  if (typeof s !== 'string' || typeof d !== 'string') throw badQuery('$split requires string arguments');
  if (d === '') throw badQuery("$split requires a non-empty separator");
  return s.split(d);
});
for (const [name, l, r] of [['$trim', true, true], ['$ltrim', true, false], ['$rtrim', false, true]] as const) {
  def(name, (a, ctx) => {
    const o = objArgs(a, name, ['input'], ['chars']);
    const input = evalExpr(o['input'], ctx);
    const chars = evalExpr(o['chars'], ctx);
    if (isNullish(input)) return null;
    if (typeof input !== 'string') throw badQuery(`${name} requires its input to be a string`);
    if (chars !== undefined && chars !== null && typeof chars !== 'string') throw badQuery(`${name} requires 'chars' to be a string`);
    if (chars === null) return null;
    return trimChars(input, chars as string | undefined, l, r);
  });
}
def('$indexOfCP', (a, ctx) => {
  const [s, sub, st, en] = argsArray(a, ctx, '$indexOfCP', 2, 4);
  if (isNullish(s)) return null;
  if (typeof s !== 'string' || typeof sub !== 'string') throw badQuery('$indexOfCP requires strings');
  const cps = codePoints(s);
  const subCps = codePoints(sub);
  const start = st === undefined ? 0 : intArg(st, '$indexOfCP', 'start');
  const end = en === undefined ? cps.length : intArg(en, '$indexOfCP', 'end');
  if (start < 0 || end < 0) throw badQuery('$indexOfCP indexes must be non-negative');
  for (let i = start; i + subCps.length <= Math.min(end, cps.length); i++) {
    let ok = true;
    for (let j = 0; j < subCps.length; j++) if (cps[i + j] !== subCps[j]) { ok = false; break; }
    if (ok) return i;
  }
  return -1;
});
def('$indexOfBytes', (a, ctx) => {
  const [s, sub, st, en] = argsArray(a, ctx, '$indexOfBytes', 2, 4);
  if (isNullish(s)) return null;
  if (typeof s !== 'string' || typeof sub !== 'string') throw badQuery('$indexOfBytes requires strings');
  const enc = new TextEncoder();
  const b = enc.encode(s);
  const sb = enc.encode(sub);
  const start = st === undefined ? 0 : intArg(st, '$indexOfBytes', 'start');
  const end = en === undefined ? b.length : intArg(en, '$indexOfBytes', 'end');
  for (let i = start; i + sb.length <= Math.min(end, b.length); i++) {
    let ok = true;
    for (let j = 0; j < sb.length; j++) if (b[i + j] !== sb[j]) { ok = false; break; }
    if (ok) return i;
  }
  return -1;
});
def('$regexMatch', (a, ctx) => {
  const r = regexArgs(a, ctx, '$regexMatch');
  return r === null ? false : r.re.test(r.input);
});
def('$regexFind', (a, ctx) => {
  const r = regexArgs(a, ctx, '$regexFind');
  if (r === null) return null;
  const m = r.re.exec(r.input);
  return m === null ? null : regexResult(m, r.input);
});
def('$regexFindAll', (a, ctx) => {
  const r = regexArgs(a, ctx, '$regexFindAll');
  if (r === null) return [];
  const out: Document[] = [];
  let from = 0;
  while (from <= r.input.length) {
    const m = r.re.exec(r.input, from);
    if (m === null) break;
    out.push(regexResult(m, r.input));
    from = m.index + Math.max(m.match.length, 1);
    if (out.length > expressionArrayLengthMax) throw new LargetableError('LIMIT_EXCEEDED', '$regexFindAll produced too many matches');
  }
  return out;
});
for (const [name, all] of [['$replaceOne', false], ['$replaceAll', true]] as const) {
  def(name, (a, ctx) => {
    const o = objArgs(a, name, ['input', 'find', 'replacement']);
    const input = evalExpr(o['input'], ctx);
    const find = evalExpr(o['find'], ctx);
    const rep = evalExpr(o['replacement'], ctx);
    if (isNullish(input) || isNullish(find) || isNullish(rep)) return null;
    if (typeof input !== 'string' || typeof find !== 'string' || typeof rep !== 'string') throw badQuery(`${name} requires strings`);
    return all ? input.split(find).join(rep) : input.replace(find, () => rep);
  });
}
def('$toString', (a, ctx) => convert(argsArray(a, ctx, '$toString', 1, 1)[0], 'string', '$toString'));

// type
def('$type', (a, ctx) => typeName(argsArray(a, ctx, '$type', 1, 1)[0]));
def('$isNumber', (a, ctx) => isNumeric(argsArray(a, ctx, '$isNumber', 1, 1)[0]));
def('$isArray', (a, ctx) => Array.isArray(argsArray(a, ctx, '$isArray', 1, 1)[0]));
def('$toInt', (a, ctx) => convert(argsArray(a, ctx, '$toInt', 1, 1)[0], 'int', '$toInt'));
def('$toLong', (a, ctx) => convert(argsArray(a, ctx, '$toLong', 1, 1)[0], 'long', '$toLong'));
def('$toDouble', (a, ctx) => convert(argsArray(a, ctx, '$toDouble', 1, 1)[0], 'double', '$toDouble'));
def('$toDecimal', (a, ctx) => convert(argsArray(a, ctx, '$toDecimal', 1, 1)[0], 'decimal', '$toDecimal'));
def('$toBool', (a, ctx) => convert(argsArray(a, ctx, '$toBool', 1, 1)[0], 'bool', '$toBool'));
def('$toDate', (a, ctx) => convert(argsArray(a, ctx, '$toDate', 1, 1)[0], 'date', '$toDate'));
def('$toObjectId', (a, ctx) => convert(argsArray(a, ctx, '$toObjectId', 1, 1)[0], 'objectId', '$toObjectId'));
def('$convert', (a, ctx) => {
  const o = objArgs(a, '$convert', ['input', 'to'], ['onError', 'onNull', 'format', 'base', 'byteOrder', 'subtype']);
  const input = evalExpr(o['input'], ctx);
  let to = evalExpr(o['to'], ctx);
  if (isNumeric(to)) {
    const n = toDouble(to);
    to = hasOwnKey(TYPE_NUM_TO_NAME, String(n)) ? TYPE_NUM_TO_NAME[n] : undefined;
  }
  if (typeof to !== 'string') throw badQuery('$convert: unknown target type');
  if (isNullish(input)) return hasOwnKey(o, 'onNull') ? evalExpr(o['onNull'], ctx) : null;
  try {
    return convert(input, to, '$convert');
  } catch (err) {
    if (hasOwnKey(o, 'onError')) return evalExpr(o['onError'], ctx);
    throw err;
  }
});

// dates
function datePart(name: string, f: (d: Date) => number): void {
  def(name, (a, ctx) => {
    const r = dateArgs(a, ctx, name);
    return r === null ? null : f(r.local);
  });
}
datePart('$year', (d) => d.getUTCFullYear());
datePart('$month', (d) => d.getUTCMonth() + 1);
datePart('$dayOfMonth', (d) => d.getUTCDate());
datePart('$hour', (d) => d.getUTCHours());
datePart('$minute', (d) => d.getUTCMinutes());
datePart('$second', (d) => d.getUTCSeconds());
datePart('$millisecond', (d) => d.getUTCMilliseconds());
datePart('$dayOfWeek', (d) => d.getUTCDay() + 1);
datePart('$dayOfYear', dayOfYear);
datePart('$week', sundayWeek);
datePart('$isoWeek', (d) => isoWeekParts(d).week);
datePart('$isoWeekYear', (d) => isoWeekParts(d).year);
datePart('$isoDayOfWeek', (d) => isoWeekParts(d).day);
def('$dateToString', (a, ctx) => {
  const o = objArgs(a, '$dateToString', ['date'], ['format', 'timezone', 'onNull']);
  const v = evalExpr(o['date'], ctx);
  if (isNullish(v)) return hasOwnKey(o, 'onNull') ? evalExpr(o['onNull'], ctx) : null;
  const d = toDateValue(v, '$dateToString');
  const format = o['format'] === undefined ? '%Y-%m-%dT%H:%M:%S.%LZ' : evalExpr(o['format'], ctx);
  if (typeof format !== 'string') throw badQuery('$dateToString format must be a string');
  const local = new Date(d.getTime() + tzOffsetMs(evalExpr(o['timezone'], ctx), d));
  return dateToString(local, format);
});
def('$dateFromString', (a, ctx) => {
  const o = objArgs(a, '$dateFromString', ['dateString'], ['format', 'timezone', 'onError', 'onNull']);
  const s = evalExpr(o['dateString'], ctx);
  if (isNullish(s)) return hasOwnKey(o, 'onNull') ? evalExpr(o['onNull'], ctx) : null;
  const d = typeof s === 'string' ? new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(s) || !/T|\d:\d/.test(s) ? s : s + 'Z') : new Date(NaN);
  if (Number.isNaN(d.getTime())) {
    if (hasOwnKey(o, 'onError')) return evalExpr(o['onError'], ctx);
    throw badQuery(`$dateFromString: error parsing date string '${String(s)}'`);
  }
  return new Date(d.getTime() - tzOffsetMs(evalExpr(o['timezone'], ctx), d));
});
def('$dateFromParts', (a, ctx) => {
  const o = objArgs(a, '$dateFromParts', [], ['year', 'month', 'day', 'hour', 'minute', 'second', 'millisecond', 'timezone', 'isoWeekYear', 'isoWeek', 'isoDayOfWeek']);
  const get = (k: string, dflt: number): number | null => {
    const v = evalExpr(o[k], ctx);
    if (v === undefined) return dflt;
    if (v === null) return null;
    return intArg(v, '$dateFromParts', k);
  };
  if (hasOwnKey(o, 'isoWeekYear')) {
    const y = get('isoWeekYear', 1970);
    const w = get('isoWeek', 1);
    const dw = get('isoDayOfWeek', 1);
    if (y === null || w === null || dw === null) return null;
    const jan4 = new Date(Date.UTC(y, 0, 4));
    const jan4Day = jan4.getUTCDay() === 0 ? 7 : jan4.getUTCDay();
    const t = Date.UTC(y, 0, 4 - jan4Day + 1 + (w - 1) * 7 + (dw - 1), get('hour', 0) ?? 0, get('minute', 0) ?? 0, get('second', 0) ?? 0, get('millisecond', 0) ?? 0);
    return new Date(t);
  }
  if (!hasOwnKey(o, 'year')) throw badQuery("$dateFromParts requires 'year'");
  const parts = ['year', 'month', 'day', 'hour', 'minute', 'second', 'millisecond'].map((k, i) => get(k, i === 1 || i === 2 ? 1 : 0));
  if (parts.some((p) => p === null)) return null;
  const [y, mo, d, h, mi, s, ms] = parts as number[];
  const t = new Date(Date.UTC(2000, (mo as number) - 1, d as number, h as number, mi as number, s as number, ms as number));
  t.setUTCFullYear((y as number) + t.getUTCFullYear() - 2000);
  const off = tzOffsetMs(evalExpr(o['timezone'], ctx), t);
  return new Date(t.getTime() - off);
});
def('$dateToParts', (a, ctx) => {
  const o = objArgs(a, '$dateToParts', ['date'], ['timezone', 'iso8601']);
  const r = dateArgs({ date: o['date'], timezone: o['timezone'] }, ctx, '$dateToParts');
  if (r === null) return null;
  const d = r.local;
  if (isTruthy(evalExpr(o['iso8601'], ctx))) {
    const w = isoWeekParts(d);
    return { isoWeekYear: w.year, isoWeek: w.week, isoDayOfWeek: w.day, hour: d.getUTCHours(), minute: d.getUTCMinutes(), second: d.getUTCSeconds(), millisecond: d.getUTCMilliseconds() };
  }
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour: d.getUTCHours(), minute: d.getUTCMinutes(), second: d.getUTCSeconds(), millisecond: d.getUTCMilliseconds() };
});
for (const [name, sign] of [['$dateAdd', 1], ['$dateSubtract', -1]] as const) {
  def(name, (a, ctx) => {
    const o = objArgs(a, name, ['startDate', 'unit', 'amount'], ['timezone']);
    const sd = evalExpr(o['startDate'], ctx);
    const unit = evalExpr(o['unit'], ctx);
    const amount = evalExpr(o['amount'], ctx);
    if (isNullish(sd) || isNullish(unit) || isNullish(amount)) return null;
    if (typeof unit !== 'string') throw badQuery(`${name} unit must be a string`);
    return addUnits(toDateValue(sd, name), unit, sign * intArg(amount, name, 'amount'));
  });
}
def('$dateDiff', (a, ctx) => {
  const o = objArgs(a, '$dateDiff', ['startDate', 'endDate', 'unit'], ['timezone', 'startOfWeek']);
  const s = evalExpr(o['startDate'], ctx);
  const e = evalExpr(o['endDate'], ctx);
  const unit = evalExpr(o['unit'], ctx);
  if (isNullish(s) || isNullish(e) || isNullish(unit)) return null;
  if (typeof unit !== 'string') throw badQuery('$dateDiff unit must be a string');
  return dateDiff(toDateValue(s, '$dateDiff'), toDateValue(e, '$dateDiff'), unit);
});
def('$dateTrunc', (a, ctx) => {
  const o = objArgs(a, '$dateTrunc', ['date', 'unit'], ['binSize', 'timezone', 'startOfWeek']);
  const d = evalExpr(o['date'], ctx);
  const unit = evalExpr(o['unit'], ctx);
  const bs = o['binSize'] === undefined ? 1 : evalExpr(o['binSize'], ctx);
  if (isNullish(d) || isNullish(unit) || isNullish(bs)) return null;
  if (typeof unit !== 'string') throw badQuery('$dateTrunc unit must be a string');
  const n = intArg(bs, '$dateTrunc', 'binSize');
  if (n <= 0) throw badQuery('$dateTrunc binSize must be positive');
  return truncDate(toDateValue(d, '$dateTrunc'), unit, n);
});

// arrays
def('$size', (a, ctx) => {
  const [v] = argsArray(a, ctx, '$size', 1, 1);
  if (!Array.isArray(v)) throw badQuery(`The argument to $size must be an array. Type of the argument was ${typeName(v)}`);
  return v.length;
});
def('$arrayElemAt', (a, ctx) => {
  const [arr, idx] = argsArray(a, ctx, '$arrayElemAt', 2, 2);
  if (isNullish(arr) || isNullish(idx)) return null;
  const list = arrArg(arr, '$arrayElemAt');
  const i = intArg(idx, '$arrayElemAt', 'index');
  return i < 0 ? list[list.length + i] : list[i];
});
def('$first', (a, ctx) => {
  const [v] = argsArray(a, ctx, '$first', 1, 1);
  if (isNullish(v)) return null;
  return arrArg(v, '$first')[0];
});
def('$last', (a, ctx) => {
  const [v] = argsArray(a, ctx, '$last', 1, 1);
  if (isNullish(v)) return null;
  const l = arrArg(v, '$last');
  return l[l.length - 1];
});
def('$concatArrays', (a, ctx) => {
  const vals = argsArray(a, ctx, '$concatArrays');
  const out: unknown[] = [];
  for (const v of vals) {
    if (isNullish(v)) return null;
    out.push(...arrArg(v, '$concatArrays'));
  }
  return out;
});
def('$filter', (a, ctx) => {
  const o = objArgs(a, '$filter', ['input', 'cond'], ['as', 'limit']);
  const input = evalExpr(o['input'], ctx);
  if (isNullish(input)) return null;
  const as = o['as'] === undefined ? 'this' : o['as'];
  if (typeof as !== 'string') throw badQuery('$filter as must be a string');
  checkVarName(as);
  const limV = o['limit'] === undefined ? undefined : evalExpr(o['limit'], ctx);
  const lim = limV === undefined || limV === null ? Infinity : intArg(limV, '$filter', 'limit');
  const out: unknown[] = [];
  for (const e of arrArg(input, '$filter')) {
    if (out.length >= lim) break;
    if (isTruthy(evalExpr(o['cond'], withVars(ctx, { [as]: e })))) out.push(e);
  }
  return out;
});
def('$map', (a, ctx) => {
  const o = objArgs(a, '$map', ['input', 'in'], ['as']);
  const input = evalExpr(o['input'], ctx);
  if (isNullish(input)) return null;
  const as = o['as'] === undefined ? 'this' : o['as'];
  if (typeof as !== 'string') throw badQuery('$map as must be a string');
  checkVarName(as);
  return arrArg(input, '$map').map((e) => {
    const r = evalExpr(o['in'], withVars(ctx, { [as]: e }));
    return r === undefined ? null : r;
  });
});
def('$reduce', (a, ctx) => {
  const o = objArgs(a, '$reduce', ['input', 'initialValue', 'in']);
  const input = evalExpr(o['input'], ctx);
  if (isNullish(input)) return null;
  let acc = evalExpr(o['initialValue'], ctx);
  for (const e of arrArg(input, '$reduce')) acc = evalExpr(o['in'], withVars(ctx, { value: acc, this: e }));
  return acc;
});
def('$in', (a, ctx) => {
  const [x, arr] = argsArray(a, ctx, '$in', 2, 2);
  if (!Array.isArray(arr)) throw badQuery(`$in requires an array as a second argument, found: ${typeName(arr)}`);
  return arr.some((e) => aggCompare(e, x) === 0);
});
def('$indexOfArray', (a, ctx) => {
  const [arr, x, st, en] = argsArray(a, ctx, '$indexOfArray', 2, 4);
  if (isNullish(arr)) return null;
  const list = arrArg(arr, '$indexOfArray');
  const start = st === undefined ? 0 : intArg(st, '$indexOfArray', 'start');
  const end = en === undefined ? list.length : intArg(en, '$indexOfArray', 'end');
  for (let i = start; i < Math.min(end, list.length); i++) if (aggCompare(list[i], x) === 0) return i;
  return -1;
});
def('$range', (a, ctx) => {
  const [s, e, st] = argsArray(a, ctx, '$range', 2, 3);
  const start = intArg(s, '$range', 'start');
  const end = intArg(e, '$range', 'end');
  const step = st === undefined ? 1 : intArg(st, '$range', 'step');
  if (step === 0) throw badQuery('$range requires a non-zero step value');
  const n = Math.max(0, Math.ceil((end - start) / step));
  if (n > expressionArrayLengthMax) throw new LargetableError('LIMIT_EXCEEDED', `$range would produce more than ${expressionArrayLengthMax} elements`);
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(start + i * step);
  return out;
});
def('$reverseArray', (a, ctx) => {
  const [v] = argsArray(a, ctx, '$reverseArray', 1, 1);
  if (isNullish(v)) return null;
  return [...arrArg(v, '$reverseArray')].reverse();
});
def('$slice', (a, ctx) => {
  const vals = argsArray(a, ctx, '$slice', 2, 3);
  const arr = vals[0];
  if (isNullish(arr) || vals.slice(1).some(isNullish)) return null;
  const list = arrArg(arr, '$slice');
  if (vals.length === 2) {
    const n = intArg(vals[1], '$slice', 'n');
    return n >= 0 ? list.slice(0, n) : list.slice(Math.max(0, list.length + n));
  }
  let pos = intArg(vals[1], '$slice', 'position');
  const n = intArg(vals[2], '$slice', 'n');
  if (n <= 0) throw badQuery('$slice: third argument must be positive');
  if (pos < 0) pos = Math.max(0, list.length + pos);
  return list.slice(pos, pos + n);
});
def('$isIn', (a, ctx) => OPS['$in']?.(a, ctx));
def('$zip', (a, ctx) => {
  const o = objArgs(a, '$zip', ['inputs'], ['useLongestLength', 'defaults']);
  const inputs = evalExpr(o['inputs'], ctx);
  if (isNullish(inputs)) return null;
  const lists = arrArg(inputs, '$zip').map((l) => (isNullish(l) ? null : arrArg(l, '$zip')));
  if (lists.some((l) => l === null)) return null;
  const ls = lists as unknown[][];
  const longest = isTruthy(o['useLongestLength']);
  const defaults = o['defaults'] === undefined ? [] : arrArg(evalExpr(o['defaults'], ctx), '$zip');
  const n = ls.length === 0 ? 0 : longest ? Math.max(...ls.map((l) => l.length)) : Math.min(...ls.map((l) => l.length));
  const out: unknown[] = [];
  for (let i = 0; i < n; i++) out.push(ls.map((l, j) => (i < l.length ? l[i] : (defaults[j] ?? null))));
  return out;
});
def('$arrayToObject', (a, ctx) => {
  const [v] = argsArray(a, ctx, '$arrayToObject', 1, 1);
  if (isNullish(v)) return null;
  const out: Document = {};
  for (const e of arrArg(v, '$arrayToObject')) {
    let k: unknown, val: unknown;
    if (Array.isArray(e)) {
      if (e.length !== 2) throw badQuery('$arrayToObject requires an array of size 2 arrays');
      [k, val] = e;
    } else if (isPlainObject(e)) {
      k = e['k'];
      val = e['v'];
      if (Object.keys(e).length !== 2 || !hasOwnKey(e, 'k') || !hasOwnKey(e, 'v')) throw badQuery('$arrayToObject requires an object with keys k and v');
    } else throw badQuery('$arrayToObject requires an array of arrays or documents');
    if (typeof k !== 'string') throw badQuery('$arrayToObject requires string keys');
    if (RESERVED_KEYS.has(k)) throw badQuery(`reserved field name '${k}'`);
    if (k.includes('\0')) throw badQuery('field names may not contain NUL');
    if (hasOwnKey(out, k)) delete out[k];
    setOwn(out, k, val);
  }
  return out;
});
def('$objectToArray', (a, ctx) => {
  const [v] = argsArray(a, ctx, '$objectToArray', 1, 1);
  if (isNullish(v)) return null;
  if (!isPlainObject(v)) throw badQuery(`$objectToArray requires a document input, found: ${typeName(v)}`);
  return Object.keys(v).map((k) => ({ k, v: v[k] }));
});
def('$sortArray', (a, ctx) => {
  const o = objArgs(a, '$sortArray', ['input', 'sortBy']);
  const input = evalExpr(o['input'], ctx);
  if (isNullish(input)) return null;
  const list = [...arrArg(input, '$sortArray')];
  const by = o['sortBy'];
  if (isNumeric(by)) {
    const dir = toDouble(by);
    return list.sort((x, y) => dir * compareValues(x, y));
  }
  if (!isPlainObject(by)) throw badQuery('$sortArray sortBy must be 1, -1 or a sort document');
  const specs = Object.keys(by).map((k) => ({ parts: splitPath(k), dir: toDouble(by[k]) }));
  return list.sort((x, y) => {
    for (const s of specs) {
      const c = compareValues(getExprPath(x, s.parts) ?? null, getExprPath(y, s.parts) ?? null);
      if (c !== 0) return s.dir * c;
    }
    return 0;
  });
});

// sets
function setArgs(a: unknown, ctx: EvalContext, op: string, min = 1, max = Infinity): unknown[][] | null {
  const vals = argsArray(a, ctx, op, min, max);
  if (vals.some(isNullish)) return null;
  return vals.map((v) => arrArg(v, op));
}
def('$setUnion', (a, ctx) => {
  const s = setArgs(a, ctx, '$setUnion', 0);
  return s === null ? null : setOf(s.flat());
});
def('$setIntersection', (a, ctx) => {
  const s = setArgs(a, ctx, '$setIntersection', 0);
  if (s === null) return null;
  if (s.length === 0) return [];
  return setOf(s[0] as unknown[]).filter((v) => s.every((l) => l.some((e) => valuesEqual(e, v))));
});
def('$setDifference', (a, ctx) => {
  const s = setArgs(a, ctx, '$setDifference', 2, 2);
  if (s === null) return null;
  return setOf(s[0] as unknown[]).filter((v) => !(s[1] as unknown[]).some((e) => valuesEqual(e, v)));
});
def('$setEquals', (a, ctx) => {
  const s = setArgs(a, ctx, '$setEquals', 2);
  if (s === null) throw badQuery('$setEquals needs arrays');
  const first = setOf(s[0] as unknown[]);
  return s.every((l) => {
    const o = setOf(l);
    return o.length === first.length && o.every((v) => first.some((e) => valuesEqual(e, v)));
  });
});
def('$setIsSubset', (a, ctx) => {
  const s = setArgs(a, ctx, '$setIsSubset', 2, 2);
  if (s === null) throw badQuery('$setIsSubset needs arrays');
  return (s[0] as unknown[]).every((v) => (s[1] as unknown[]).some((e) => valuesEqual(e, v)));
});
def('$anyElementTrue', (a, ctx) => {
  const [v] = argsArray(a, ctx, '$anyElementTrue', 1, 1);
  return arrArg(v, '$anyElementTrue').some(isTruthy);
});
def('$allElementsTrue', (a, ctx) => {
  const [v] = argsArray(a, ctx, '$allElementsTrue', 1, 1);
  return arrArg(v, '$allElementsTrue').every(isTruthy);
});

// accumulators usable as expressions
def('$sum', (a, ctx) => sumValues(arrayAccumulatorArgs(a, ctx)));
def('$avg', (a, ctx) => avgValues(arrayAccumulatorArgs(a, ctx)));
def('$min', (a, ctx) => minMax(arrayAccumulatorArgs(a, ctx), false));
def('$max', (a, ctx) => minMax(arrayAccumulatorArgs(a, ctx), true));
def('$stdDevPop', (a, ctx) => stdDev(arrayAccumulatorArgs(a, ctx), false));
def('$stdDevSamp', (a, ctx) => stdDev(arrayAccumulatorArgs(a, ctx), true));

// objects
def('$mergeObjects', (a, ctx) => {
  const vals = argsArray(a, ctx, '$mergeObjects');
  const list = vals.length === 1 && Array.isArray(vals[0]) ? (vals[0] as unknown[]) : vals;
  const out: Document = {};
  for (const v of list) {
    if (isNullish(v)) continue;
    if (!isPlainObject(v)) throw badQuery(`$mergeObjects requires object inputs, but input is of type ${typeName(v)}`);
    for (const k of Object.keys(v)) {
      if (v[k] === undefined) continue;
      setOwn(out, k, v[k]);
    }
  }
  return out;
});
def('$getField', (a, ctx) => {
  let field: unknown;
  let input: unknown;
  if (isPlainObject(a) && hasOwnKey(a, 'field')) {
    field = evalExpr(a['field'], ctx);
    input = hasOwnKey(a, 'input') ? evalExpr(a['input'], ctx) : ctx.current;
  } else {
    field = evalExpr(a, ctx);
    input = ctx.current;
  }
  if (typeof field !== 'string') throw badQuery('$getField requires field to be a string');
  if (RESERVED_KEYS.has(field)) throw badQuery(`reserved field name '${field}'`);
  if (!isPlainObject(input)) return isNullish(input) ? null : undefined;
  return getOwn(input, field);
});
def(['$setField', '$unsetField'], (a, ctx) => {
  const o = objArgs(a, '$setField', ['field', 'input'], ['value']);
  const field = evalExpr(o['field'], ctx);
  if (typeof field !== 'string' || RESERVED_KEYS.has(field)) throw badQuery('$setField requires a valid string field');
  const input = evalExpr(o['input'], ctx);
  if (isNullish(input)) return null;
  if (!isPlainObject(input)) throw badQuery('$setField requires a document input');
  const out: Document = {};
  for (const k of Object.keys(input)) if (k !== field) setOwn(out, k, input[k]);
  const value = hasOwnKey(o, 'value') ? evalExpr(o['value'], ctx) : undefined;
  if (value !== undefined) setOwn(out, field, value);
  return out;
});
def('$rand', () => Math.random());
def('$toHashedIndexKey', () => {
  throw new LargetableError('NOT_SUPPORTED', '$toHashedIndexKey is not supported');
});
def('$meta', (a, ctx) => metaValue(ctx.root, a));

/**
 * Check an expression's shape without evaluating it: every operator object has exactly one known
 * operator (`$literal` contents are not inspected) and literal objects have no `$`-prefixed or
 * reserved field names. Throws BAD_QUERY; lets compile sites fail before any document is read.
 */
export function validateExpression(expr: unknown, depth = 0): void {
  if (depth > 200) throw badQuery('expression nested too deeply');
  if (typeof expr === 'string') {
    if (expr === '$') throw badQuery("'$' by itself is not a valid field path");
    if (expr.charCodeAt(0) === 36) parsePath(expr);
    return;
  }
  if (expr === null || typeof expr !== 'object') return;
  if (Array.isArray(expr)) {
    for (const e of expr) validateExpression(e, depth + 1);
    return;
  }
  if (!isPlainObject(expr)) return;
  const keys = Object.keys(expr);
  if (keys.length >= 1 && (keys[0] as string).charCodeAt(0) === 36) {
    if (keys.length !== 1) throw badQuery(`an expression object must have exactly one operator field, got ${keys.join(', ')}`);
    const op = keys[0] as string;
    if (!Object.prototype.hasOwnProperty.call(OPS, op)) throw badQuery(`unrecognized expression operator '${op}'`);
    if (op === '$literal') return;
    const arg = expr[op];
    if (isPlainObject(arg)) {
      // named arguments ({input, as, in}, {if, then, else}, ...): validate each value
      for (const k of Object.keys(arg)) validateExpression(arg[k], depth + 1);
    } else validateExpression(arg, depth + 1);
    return;
  }
  for (const k of keys) {
    if (k.charCodeAt(0) === 36) throw badQuery(`field names in an expression object may not start with '$': ${k}`);
    if (RESERVED_KEYS.has(k)) throw badQuery(`reserved field name '${k}'`);
    validateExpression(expr[k], depth + 1);
  }
}

/** True when `name` is a known expression operator. */
export function isExpressionOperator(name: string): boolean {
  return Object.prototype.hasOwnProperty.call(OPS, name);
}

export { cloneValue };
