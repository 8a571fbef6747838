#!/usr/bin/env node
// npm start: build when dist/ or build/ is missing, then `largetable serve --data ./data` (extra
// arguments after `npm start --` are passed on, e.g. `npm start -- --port 9000`).
import { spawnSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const marker = join(root, 'dist/platform/node/cli.js');
const built = existsSync(marker) && (existsSync(join(root, 'build/simd.wasm')) || existsSync(join(root, 'build/scalar.wasm')));

/** Newest modification time of the .ts sources that end up in dist/ or build/. */
function newestSource(dir, newest = 0) {
  if (!existsSync(dir)) return newest;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) newest = newestSource(p, newest);
    else if (name.endsWith('.ts') && !name.endsWith('.test.ts')) newest = Math.max(newest, st.mtimeMs);
  }
  return newest;
}
const stale = built && ['src', 'platform', 'assembly'].some((d) => newestSource(join(root, d)) > statSync(marker).mtimeMs);
if (!built || stale) {
  console.error(`start: building (${built ? 'sources changed since the last build' : 'dist/ or build/ missing'})...`);
  const r = spawnSync(process.execPath, [join(root, 'scripts/build.mjs')], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
const args = process.argv.slice(2);
const child = spawn(process.execPath, [join(root, 'bin/largetable.js'), 'serve', ...(args.includes('--data') ? [] : ['--data', './data']), ...args], { cwd: process.cwd(), stdio: 'inherit' });
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
