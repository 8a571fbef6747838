/**
 * Entry guards shared by filters, updates, projections and pipelines: forbidden operators at any
 * depth, nesting depth, and reserved keys.
 */
import { LargetableError } from '../errors.ts';
import { documentDepthMax } from '../limits.ts';
import { badQuery, isPlainObject } from './values.ts';

export const FORBIDDEN_OPERATORS: ReadonlySet<string> = new Set(['$where', '$function', '$accumulator']);

/** Throws FORBIDDEN_OPERATOR for $where/$function/$accumulator anywhere, BAD_QUERY when nested too deep. */
export function guardQuery(value: unknown, what: string, depth = 0): void {
  if (depth > documentDepthMax + 2) throw badQuery(`${what} nested deeper than ${documentDepthMax}`);
  if (Array.isArray(value)) {
    for (const v of value) if (v !== null && typeof v === 'object') guardQuery(v, what, depth + 1);
    return;
  }
  if (!isPlainObject(value)) return;
  for (const k of Object.keys(value)) {
    if (k.charCodeAt(0) === 36 && FORBIDDEN_OPERATORS.has(k)) {
      throw new LargetableError('FORBIDDEN_OPERATOR', `${k} is not allowed (server-side JavaScript is refused)`, { details: { operator: k } });
    }
    const v = value[k];
    if (v !== null && typeof v === 'object') guardQuery(v, what, depth + 1);
  }
}
