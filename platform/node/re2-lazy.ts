/**
 * The Node bundle's src/query/re2.ts (swapped in by scripts/build.mjs): re2js loaded synchronously
 * (its CommonJS build, through the package's `require` export) at the first regex compiled, not at
 * import, so that a process that never runs a $regex never pays for the module.
 */
import { createRequire } from 'node:module';
import type { RE2JS } from 're2js';

let engine: typeof RE2JS | undefined;

export function re2(): typeof RE2JS {
  if (engine === undefined) engine = (createRequire(import.meta.url)('re2js') as { RE2JS: typeof RE2JS }).RE2JS;
  return engine;
}
