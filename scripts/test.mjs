#!/usr/bin/env node
// npm test: the same node:test files on Deno, the Chromium suites, then Node last (its TAP summary
// closes the CI log). `node scripts/test.mjs node|deno|browser [files...]` runs one leg.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const [leg = 'all', ...only] = process.argv.slice(2);

function walk(dir, out = []) {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.ts')) out.push(relative(root, p));
  }
  return out;
}
const files = only.length ? only : ['src', 'platform', 'test'].flatMap((d) => walk(join(root, d))).sort();

// Each leg has a wall-clock bound so that a hung test fails CI instead of stalling it.
// The Node leg runs last (`closesLog`): its TAP summary must close the log, so nothing follows it.
function run(cmd, args, { env = {}, timeoutMinutes = 10, closesLog = false } = {}) {
  console.log(`\n$ ${cmd} ${args.length > 12 ? args.slice(0, 8).join(' ') + ` ... (${args.length - 8} more)` : args.join(' ')}`);
  const t0 = Date.now();
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env }, timeout: timeoutMinutes * 60_000, killSignal: 'SIGKILL' });
  const s = ((Date.now() - t0) / 1000).toFixed(0);
  if (r.error?.code === 'ETIMEDOUT') { console.log(`# ${cmd} killed after ${timeoutMinutes} min (${s} s)`); return 1; }
  if (!closesLog) console.log(`# leg finished in ${s} s with status ${r.status}`);
  return r.status ?? 1;
}

const legs = {
  deno: () => run(join(root, 'node_modules/.bin/deno'), ['test', '-A', '--no-check', '--quiet', ...files], { env: { LARGETABLE_TEST_RUNTIME: 'deno' }, timeoutMinutes: 8 }),
  browser: () => run(process.execPath, [join(root, 'test/browser/run.mjs')], { timeoutMinutes: 5 }),
  node: () => run(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=300000', ...files], { env: { LARGETABLE_TEST_RUNTIME: 'node' }, timeoutMinutes: 14, closesLog: true }),
};

// Tests load build/*.wasm and the package self-reference (dist/): build first when missing or stale.
const build = spawnSync(process.execPath, [join(root, 'scripts/build.mjs'), '--if-needed'], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);

if (leg !== 'all') {
  if (!legs[leg]) { console.error(`unknown leg ${leg}: node | deno | browser | all`); process.exit(2); }
  process.exit(legs[leg]());
}
const failedLegs = [];
for (const name of ['deno', 'browser', 'node']) if (legs[name]() !== 0) failedLegs.push(name);
if (failedLegs.length) console.log(`# legs failed: ${failedLegs.join(', ')}`);
process.exit(failedLegs.length ? 1 : 0);
