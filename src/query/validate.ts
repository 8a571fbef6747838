/**
 * Validation of documents before they are stored.
 *
 * Refused (INVALID_DOCUMENT): keys `__proto__`, `constructor`, `prototype`; field names starting
 * with `$` (at any depth); field names containing NUL; nesting deeper than limits.documentDepthMax;
 * values that are neither plain objects, arrays, primitives, Dates, RegExps, Uint8Arrays nor bson
 * values (functions, symbols, Maps, class instances); an array or regex `_id`. Numeric typed arrays
 * (Float32Array, Int32Array, ...; not BigInt64Array) are allowed and stored as bson stores them.
 * Dots in field names are ALLOWED (MongoDB 5+ behaviour), but such fields cannot be addressed by
 * dotted paths in queries and updates (as in MongoDB).
 * Refused (LIMIT_EXCEEDED): encoded size over limits.documentSizeBytesMax (bson calculateObjectSize).
 */
import { calculateObjectSize } from 'bson';
import { LargetableError } from '../errors.ts';
import { documentDepthMax, documentSizeBytesMax } from '../limits.ts';
import type { Document } from './values.ts';
import { bsonTypeTag, isPlainObject, RESERVED_KEYS } from './values.ts';

const BSON_TAGS = new Set(['ObjectId', 'Long', 'Decimal128', 'Int32', 'Double', 'Binary', 'BSONRegExp', 'Timestamp', 'MinKey', 'MaxKey', 'Code', 'BSONSymbol', 'DBRef']);

function invalid(message: string, path: string): LargetableError {
  return new LargetableError('INVALID_DOCUMENT', message, { details: { path } });
}

/**
 * Check keys and value kinds of `v` (a document or any value inside one). Returns an upper bound
 * of its encoded BSON size (Infinity when unknown), so the exact size is only computed near the limit.
 */
export function checkValue(v: unknown, depth: number, path: string): number {
  switch (typeof v) {
    case 'string':
      return 5 + v.length * 3;
    case 'number':
    case 'bigint':
      return 8;
    case 'boolean':
      return 1;
    case 'undefined':
      return 0;
    case 'object':
      break;
    default:
      throw invalid(`unsupported value of type ${typeof v} at '${path}'`, path);
  }
  if (v === null) return 0;
  if (Array.isArray(v)) {
    if (depth >= documentDepthMax) throw invalid(`document nested deeper than ${documentDepthMax} levels at '${path}'`, path);
    let size = 5;
    for (let i = 0; i < v.length; i++) {
      const e = v[i];
      size += 12 + (e !== null && typeof e === 'object' ? checkValue(e, depth + 1, path + '.' + i) : checkValue(e, depth + 1, path));
    }
    return size;
  }
  if (isPlainObject(v)) {
    if (depth >= documentDepthMax) throw invalid(`document nested deeper than ${documentDepthMax} levels at '${path}'`, path);
    let size = 5;
    for (const k of Object.keys(v)) {
      if (RESERVED_KEYS.has(k)) throw invalid(`reserved field name '${k}' at '${path}'`, path);
      if (k.charCodeAt(0) === 36) throw invalid(`field names may not start with '$' ('${k}' at '${path}')`, path);
      if (k.includes('\0')) throw invalid(`field names may not contain NUL at '${path}'`, path);
      const e = v[k];
      size += 2 + k.length * 3 + (e !== null && typeof e === 'object' ? checkValue(e, depth + 1, path ? path + '.' + k : k) : checkValue(e, depth + 1, path));
    }
    return size;
  }
  if (v instanceof Date) return 8;
  if (v instanceof RegExp) return 2 + v.source.length * 3 + v.flags.length;
  if (v instanceof Uint8Array) return 9 + v.length;
  const tag = bsonTypeTag(v);
  if (tag !== undefined && BSON_TAGS.has(tag)) {
    switch (tag) {
      case 'ObjectId':
        return 12;
      case 'Long':
      case 'Int32':
      case 'Double':
      case 'Timestamp':
        return 8;
      case 'Decimal128':
        return 16;
      case 'MinKey':
      case 'MaxKey':
        return 0;
      case 'Binary': {
        const b = (v as { buffer?: Uint8Array; position?: number }).buffer;
        return 9 + (b instanceof Uint8Array ? b.length : Infinity);
      }
      case 'BSONRegExp': {
        const r = v as { pattern: string; options: string };
        return 2 + String(r.pattern).length * 3 + String(r.options).length;
      }
      default:
        return Infinity;
    }
  }
  if (ArrayBuffer.isView(v) && !(v instanceof DataView) && !(v instanceof BigInt64Array) && !(v instanceof BigUint64Array)) {
    // numeric typed arrays (e.g. Float32Array vectors): bson stores them as a sub-document
    // { '0': x, '1': y, ... } of doubles, which is what reads give back
    return 5 + (v as unknown as ArrayLike<number>).length * 20;
  }
  throw invalid(`unsupported object (${Object.prototype.toString.call(v)}) at '${path}'`, path);
}

export function validateDocument(doc: Document): void {
  if (!isPlainObject(doc)) throw new LargetableError('INVALID_DOCUMENT', 'a document must be a plain object');
  const bound = checkValue(doc, 0, '');
  const id = doc['_id'];
  if (Object.prototype.hasOwnProperty.call(doc, '_id')) {
    if (Array.isArray(id)) throw invalid("_id can't be an array", '_id');
    if (id instanceof RegExp || bsonTypeTag(id) === 'BSONRegExp') throw invalid("_id can't be a regex", '_id');
    if (id === undefined) throw invalid("_id can't be undefined", '_id');
  }
  if (bound <= documentSizeBytesMax) return;
  let size: number;
  try {
    size = calculateObjectSize(doc, { serializeFunctions: false, ignoreUndefined: false });
  } catch (err) {
    throw new LargetableError('INVALID_DOCUMENT', `document cannot be encoded: ${(err as Error).message}`, { cause: err });
  }
  if (size > documentSizeBytesMax) {
    throw new LargetableError('LIMIT_EXCEEDED', `document is ${size} bytes, over the ${documentSizeBytesMax} byte limit`, { details: { size } });
  }
}
