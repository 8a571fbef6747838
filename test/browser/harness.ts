/**
 * Minimal test harness for suites that run inside Chromium (test/browser/NAME.browser.ts).
 * node:test and node:assert cannot be bundled for the browser, so suites use this instead:
 *
 *   import { test, assert } from './harness.ts';
 *   test('idb keeps data', async () => { ... }, { phase: 1 });   // phase defaults to 1
 *
 * test/browser/run.mjs bundles each suite with esbuild (platform=browser, so any `node:` import
 * fails the bundle), opens it in a persistent Chromium profile and runs phase 1, 2, ... with a
 * page reload between phases (same profile: tests of persistence write in phase 1, read in 2).
 *
 * Workers: every `platform/browser/*.worker.ts` and `test/browser/*.worker.ts` is bundled next to
 * the suites as `NAME.worker.js`, so `new URL('./NAME.worker.js', import.meta.url)` from a suite
 * (or from code bundled into it) finds it. Wasm builds are served at `/build/*.wasm`.
 * Pages are cross-origin isolated (COOP/COEP), so SharedArrayBuffer is available.
 */

export interface TestOptions { phase?: number; timeoutMs?: number }
interface Entry { name: string; fn: () => unknown | Promise<unknown>; phase: number; timeoutMs: number }
export interface TestResult { name: string; phase: number; ok: boolean; error?: string; ms: number }

const entries: Entry[] = [];

export function test(name: string, fn: () => unknown | Promise<unknown>, options: TestOptions = {}): void {
  entries.push({ name, fn, phase: options.phase ?? 1, timeoutMs: options.timeoutMs ?? 60_000 });
}

/** Log a measured figure; the runner prints it (not an assertion). */
export function note(message: string): void {
  console.log(`# note: ${message}`);
}

class AssertionError extends Error { override name = 'AssertionError'; }

function fmt(v: unknown): string {
  try {
    return JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? `${x}n` : ArrayBuffer.isView(x) ? Array.from(x as unknown as ArrayLike<number>) : x));
  } catch {
    return String(v);
  }
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  if (a instanceof Date) return a.getTime() === (b as Date).getTime();
  if (ArrayBuffer.isView(a)) {
    const x = a as unknown as ArrayLike<unknown>, y = b as unknown as ArrayLike<unknown>;
    if (x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) return false;
    return true;
  }
  const ka = Object.keys(a), kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (const k of ka) if (!deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  return true;
}

export const assert = {
  ok(value: unknown, message?: string): asserts value {
    if (!value) throw new AssertionError(message ?? `expected truthy, got ${fmt(value)}`);
  },
  equal(actual: unknown, expected: unknown, message?: string): void {
    if (!Object.is(actual, expected)) throw new AssertionError(message ?? `expected ${fmt(expected)}, got ${fmt(actual)}`);
  },
  notEqual(actual: unknown, expected: unknown, message?: string): void {
    if (Object.is(actual, expected)) throw new AssertionError(message ?? `expected not ${fmt(expected)}`);
  },
  deepEqual(actual: unknown, expected: unknown, message?: string): void {
    if (!deepEqual(actual, expected)) throw new AssertionError(message ?? `expected ${fmt(expected)}, got ${fmt(actual)}`);
  },
  near(actual: number, expected: number, tolerance: number, message?: string): void {
    if (!(Math.abs(actual - expected) <= tolerance)) throw new AssertionError(message ?? `expected ${expected} ± ${tolerance}, got ${actual}`);
  },
  throws(fn: () => unknown, check?: (err: unknown) => boolean, message?: string): void {
    try { fn(); } catch (err) {
      if (check && !check(err)) throw new AssertionError(message ?? `unexpected error: ${String(err)}`);
      return;
    }
    throw new AssertionError(message ?? 'expected a throw');
  },
  async rejects(fn: () => Promise<unknown>, check?: (err: unknown) => boolean, message?: string): Promise<void> {
    try { await fn(); } catch (err) {
      if (check && !check(err)) throw new AssertionError(message ?? `unexpected error: ${String(err)}`);
      return;
    }
    throw new AssertionError(message ?? 'expected a rejection');
  },
};

async function runPhase(phase: number): Promise<{ results: TestResult[]; phases: number }> {
  const results: TestResult[] = [];
  const phases = entries.reduce((m, e) => Math.max(m, e.phase), 1);
  for (const e of entries) {
    if (e.phase !== phase) continue;
    const t0 = performance.now();
    try {
      await Promise.race([
        Promise.resolve().then(e.fn),
        new Promise((_, reject) => setTimeout(() => reject(new Error(`timeout after ${e.timeoutMs} ms`)), e.timeoutMs)),
      ]);
      results.push({ name: e.name, phase, ok: true, ms: performance.now() - t0 });
    } catch (err) {
      const error = err instanceof Error ? `${err.name}: ${err.message}\n${err.stack ?? ''}` : String(err);
      results.push({ name: e.name, phase, ok: false, error, ms: performance.now() - t0 });
    }
  }
  return { results, phases };
}

(globalThis as unknown as { __lt_run: typeof runPhase }).__lt_run = runPhase;
