#!/usr/bin/env node
// npm start: build when dist/ or build/ is missing or stale (scripts/build.mjs --if-needed), then `largetable serve --data ./data` (extra
// arguments after `npm start --` are passed on, e.g. `npm start -- --port 9000`).
import { spawnSync, spawn } from 'node:child_process';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const build = spawnSync(process.execPath, [join(root, 'scripts/build.mjs'), '--if-needed'], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);
const args = process.argv.slice(2);
const child = spawn(process.execPath, [join(root, 'bin/largetable.js'), 'serve', ...(args.includes('--data') ? [] : ['--data', './data']), ...args], { cwd: process.cwd(), stdio: 'inherit' });
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
