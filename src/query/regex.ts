/**
 * Linear-time regular expressions for $regex, $regexMatch and friends, via re2js (RE2 semantics).
 * Native RegExp is never executed on a user pattern: a RegExp value only contributes its source
 * and flags. Constructs RE2 cannot run in linear time (backreferences, lookaround) are BAD_QUERY.
 */
import { RE2JS } from 're2js';
import { regexPatternLengthMax } from '../limits.ts';
import { badQuery, bsonTypeTag } from './values.ts';

export interface SafeRegex {
  readonly source: string;
  readonly flags: string;
  test(s: string): boolean;
  /** First match: [matched text, index, captures] or null. */
  exec(s: string, from?: number): { match: string; index: number; captures: (string | null)[] } | null;
}

const cache = new Map<string, SafeRegex>();

/** Remove whitespace and #-comments outside character classes (PCRE extended mode). */
function stripExtended(p: string): string {
  let out = '';
  let inClass = false;
  for (let i = 0; i < p.length; i++) {
    const c = p[i] as string;
    if (c === '\\') {
      out += c + (p[i + 1] ?? '');
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      out += c;
      continue;
    }
    if (c === '[') {
      inClass = true;
      out += c;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '\v') continue;
    if (c === '#') {
      while (i < p.length && p[i] !== '\n') i++;
      continue;
    }
    out += c;
  }
  return out;
}

/** Characters with no special meaning in a pattern (outside a class). */
function isLiteralChar(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 32 || c === 95 || c === 45 || c === 58 || c === 64 || c === 44 || c === 59 || c === 39 || c === 34 || c === 61 || c === 60 || c === 62 || c === 33 || c === 37 || c === 38 || c === 126 || c === 96 || c === 47;
}

/** Plain-string fast paths for `^lit`, `lit$`, `^lit$` and `lit` (no flags): same answers as RE2. */
function literalTest(pattern: string): ((s: string) => boolean) | undefined {
  const anchoredStart = pattern.startsWith('^');
  const anchoredEnd = pattern.endsWith('$') && pattern.length > (anchoredStart ? 1 : 0);
  const body = pattern.slice(anchoredStart ? 1 : 0, anchoredEnd ? -1 : undefined);
  for (let i = 0; i < body.length; i++) if (!isLiteralChar(body.charCodeAt(i))) return undefined;
  if (anchoredStart && anchoredEnd) return (s) => s === body;
  if (anchoredStart) return (s) => s.startsWith(body);
  if (anchoredEnd) return (s) => s.endsWith(body);
  return (s) => s.includes(body);
}

export function compileRegex(pattern: string, options = ''): SafeRegex {
  if (typeof pattern !== 'string') throw badQuery('$regex pattern must be a string');
  if (typeof options !== 'string') throw badQuery('$options must be a string');
  if (pattern.length > regexPatternLengthMax) throw badQuery(`regex pattern longer than ${regexPatternLengthMax} characters`);
  if (pattern.includes('\0')) throw badQuery('regex pattern contains a NUL character');
  const key = options + '/' + pattern;
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  let flags = 0;
  let src = pattern;
  for (const f of options) {
    switch (f) {
      case 'i':
        flags |= RE2JS.CASE_INSENSITIVE;
        break;
      case 'm':
        flags |= RE2JS.MULTILINE;
        break;
      case 's':
        flags |= RE2JS.DOTALL;
        break;
      case 'x':
        src = stripExtended(src);
        break;
      case 'u':
      case 'g':
        break;
      default:
        throw badQuery(`invalid regex flag '${f}'`, { options });
    }
  }
  const fast = flags === 0 && src === pattern ? literalTest(pattern) : undefined;
  let re: RE2JS;
  try {
    re = RE2JS.compile(src, flags);
  } catch (err) {
    throw badQuery(`unsupported or invalid regular expression: ${(err as Error).message}`, { pattern });
  }
  const safe: SafeRegex = {
    source: pattern,
    flags: options,
    test: fast ?? ((s: string) => re.test(s)),
    exec: (s: string, from = 0) => {
      const m = re.matcher(s);
      if (!m.find(from)) return null;
      const captures: (string | null)[] = [];
      for (let g = 1; g <= m.groupCount(); g++) captures.push(m.group(g) ?? null);
      return { match: m.group(0) ?? '', index: m.start(0), captures };
    },
  };
  if (cache.size > 1000) cache.clear();
  cache.set(key, safe);
  return safe;
}

/** Regex from a RegExp or BSONRegExp value (flags merged with `extraOptions`). */
export function regexFromValue(v: unknown, extraOptions?: string): SafeRegex | undefined {
  if (v instanceof RegExp) return compileRegex(v.source, mergeFlags(v.flags, extraOptions));
  if (bsonTypeTag(v) === 'BSONRegExp') {
    const r = v as { pattern: string; options: string };
    return compileRegex(r.pattern, mergeFlags(r.options, extraOptions));
  }
  return undefined;
}

function mergeFlags(a: string, b: string | undefined): string {
  let out = '';
  for (const f of a + (b ?? '')) if (f !== 'g' && f !== 'y' && f !== 'd' && f !== 'v' && !out.includes(f)) out += f;
  return out;
}

export function isRegexValue(v: unknown): boolean {
  return v instanceof RegExp || bsonTypeTag(v) === 'BSONRegExp';
}
