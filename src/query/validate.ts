/**
 * Validation of documents before they are stored.
 *
 * Refused (INVALID_DOCUMENT): keys `__proto__`, `constructor`, `prototype`; field names starting
 * with `$` (at any depth); field names containing NUL; nesting deeper than limits.documentDepthMax;
 * values that are neither plain objects, arrays, primitives, Dates, RegExps, Uint8Arrays nor bson
 * values (functions, symbols, Maps, class instances); an array or regex `_id`.
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

/** Check keys and value kinds of `v` (a document or any value inside one). */
export function checkValue(v: unknown, depth: number, path: string): void {
  switch (typeof v) {
    case 'string':
    case 'number':
    case 'boolean':
    case 'bigint':
    case 'undefined':
      return;
    case 'object':
      break;
    default:
      throw invalid(`unsupported value of type ${typeof v} at '${path}'`, path);
  }
  if (v === null) return;
  if (Array.isArray(v)) {
    if (depth >= documentDepthMax) throw invalid(`document nested deeper than ${documentDepthMax} levels at '${path}'`, path);
    for (let i = 0; i < v.length; i++) {
      const e = v[i];
      if (e !== null && typeof e === 'object') checkValue(e, depth + 1, path + '.' + i);
      else checkValue(e, depth + 1, path);
    }
    return;
  }
  if (isPlainObject(v)) {
    if (depth >= documentDepthMax) throw invalid(`document nested deeper than ${documentDepthMax} levels at '${path}'`, path);
    for (const k of Object.keys(v)) {
      if (RESERVED_KEYS.has(k)) throw invalid(`reserved field name '${k}' at '${path}'`, path);
      if (k.charCodeAt(0) === 36) throw invalid(`field names may not start with '$' ('${k}' at '${path}')`, path);
      if (k.includes('\0')) throw invalid(`field names may not contain NUL at '${path}'`, path);
      const e = v[k];
      if (e !== null && typeof e === 'object') checkValue(e, depth + 1, path ? path + '.' + k : k);
      else checkValue(e, depth + 1, path);
    }
    return;
  }
  if (v instanceof Date || v instanceof RegExp || v instanceof Uint8Array) return;
  const tag = bsonTypeTag(v);
  if (tag !== undefined && BSON_TAGS.has(tag)) return;
  throw invalid(`unsupported object (${Object.prototype.toString.call(v)}) at '${path}'`, path);
}

export function validateDocument(doc: Document): void {
  if (!isPlainObject(doc)) throw new LargetableError('INVALID_DOCUMENT', 'a document must be a plain object');
  checkValue(doc, 0, '');
  const id = doc['_id'];
  if (Object.prototype.hasOwnProperty.call(doc, '_id')) {
    if (Array.isArray(id)) throw invalid("_id can't be an array", '_id');
    if (id instanceof RegExp || bsonTypeTag(id) === 'BSONRegExp') throw invalid("_id can't be a regex", '_id');
    if (id === undefined) throw invalid("_id can't be undefined", '_id');
  }
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
