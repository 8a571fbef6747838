/**
 * Database and collection name validation shared by REST and the wire protocol.
 * Refused: empty, over `nameSizeBytesMax` UTF-8 bytes, `..`, `/`, `\`, NUL, `$`, control
 * characters, and (for databases) `.`, space and `"`. Collection names may contain `.`
 * (as in MongoDB: `a.b`) but not start or end with one.
 */
import { LargetableError } from '../errors.ts';
import { nameSizeBytesMax, validNamesCachedMax } from '../limits.ts';

const encoder = new TextEncoder();

function check(kind: 'database' | 'collection', name: unknown): string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new LargetableError('INVALID_ARGUMENT', `${kind} name must be a non-empty string`, { details: { kind } });
  }
  // UTF-8 takes at most 3 bytes per UTF-16 unit: encode only a name that could be too long
  const bytes = name.length * 3 <= nameSizeBytesMax ? name.length : encoder.encode(name).length;
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

/**
 * Names already found valid (validity depends on the name alone): the wire and REST paths check
 * the same few names on every request, so a hit skips the checks. Bounded: cleared when full.
 */
const validDbNames = new Set<string>();
const validCollectionNames = new Set<string>();

function remember(set: Set<string>, name: string): string {
  if (set.size >= validNamesCachedMax) set.clear();
  set.add(name);
  return name;
}

/** Returns `name` if it is a valid database name, else throws INVALID_ARGUMENT. */
export function validateDbName(name: unknown): string {
  if (typeof name === 'string' && validDbNames.has(name)) return name;
  return remember(validDbNames, check('database', name));
}

/** Returns `name` if it is a valid collection name, else throws INVALID_ARGUMENT. */
export function validateCollectionName(name: unknown): string {
  if (typeof name === 'string' && validCollectionNames.has(name)) return name;
  return remember(validCollectionNames, check('collection', name));
}
