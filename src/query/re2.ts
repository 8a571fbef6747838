/**
 * The regex engine (re2js) behind a function: the Node bundle (scripts/build.mjs) puts
 * platform/node/re2-lazy.ts in this module's place, which loads re2js at the first regex instead of
 * at import (its module is ~330 KB: ~35 ms of CPU of a cold import, mostly its Unicode tables).
 * Every other build and the sources import it here, up front.
 */
import { RE2JS } from 're2js';

export function re2(): typeof RE2JS {
  return RE2JS;
}
