#!/usr/bin/env node
// npm start: build when dist/ or build/ is missing, then `largetable serve --data ./data` (extra
// arguments after `npm start --` are passed on, e.g. `npm start -- --port 9000`).
import { spawnSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const built = existsSync(join(root, 'dist/platform/node/cli.js')) && (existsSync(join(root, 'build/simd.wasm')) || existsSync(join(root, 'build/scalar.wasm')));
if (!built) {
  console.error('start: building (dist/ or build/ missing)...');
  const r = spawnSync(process.execPath, [join(root, 'scripts/build.mjs')], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
const args = process.argv.slice(2);
const child = spawn(process.execPath, [join(root, 'bin/largetable.js'), 'serve', ...(args.includes('--data') ? [] : ['--data', './data']), ...args], { cwd: process.cwd(), stdio: 'inherit' });
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
