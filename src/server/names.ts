/**
 * Database and collection name validation shared by REST and the wire protocol.
 * Refused: empty, over `nameSizeBytesMax` UTF-8 bytes, `..`, `/`, `\`, NUL, `$`, control
 * characters, and (for databases) `.`, space and `"`. Collection names may contain `.`
 * (as in MongoDB: `a.b`) but not start or end with one.
 */
import { LargetableError } from '../errors.ts';
import { nameSizeBytesMax } from '../limits.ts';

const encoder = new TextEncoder();

function check(kind: 'database' | 'collection', name: unknown): string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new LargetableError('INVALID_ARGUMENT', `${kind} name must be a non-empty string`, { details: { kind } });
  }
  const bytes = encoder.encode(name).length;
  const why =
    bytes > nameSizeBytesMax ? `longer than ${nameSizeBytesMax} bytes`
    : name.includes('..') ? 'contains ".."'
    : /[\/\\\0$]/.test(name) ? 'contains one of / \\ NUL $'
    : /[\x00-\x1f\x7f]/.test(name) ? 'contains a control character'
    : kind === 'database' && /[. "*<>:|?]/.test(name) ? 'contains one of . space " * < > : | ?'
    : kind === 'collection' && (name.startsWith('.') || name.endsWith('.')) ? 'starts or ends with "."'
    : kind === 'collection' && name.startsWith('system.') ? 'is reserved (system.*)'
    : undefined;
  if (why) throw new LargetableError('INVALID_ARGUMENT', `invalid ${kind} name ${JSON.stringify(name.slice(0, 80))}: ${why}`, { details: { kind, name: name.slice(0, 80) } });
  return name;
}

/** Returns `name` if it is a valid database name, else throws INVALID_ARGUMENT. */
export function validateDbName(name: unknown): string {
  return check('database', name);
}

/** Returns `name` if it is a valid collection name, else throws INVALID_ARGUMENT. */
export function validateCollectionName(name: unknown): string {
  return check('collection', name);
}
