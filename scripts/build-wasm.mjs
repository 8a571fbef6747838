#!/usr/bin/env node
// Builds the kernels (assembly/kernels.ts) into build/simd.wasm, build/scalar.wasm and
// build/debug.wasm with the targets in asconfig.json. Usage: node scripts/build-wasm.mjs [target...]
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const asc = join(root, 'node_modules', 'assemblyscript', 'bin', 'asc.js');
const targets = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['simd', 'scalar', 'debug'];
mkdirSync(join(root, 'build'), { recursive: true });
// asconfig.json's entry is assembly/kernels.ts; every other assembly/*.ts module (e.g. vector.ts)
// is linked into the same wasm (CLI entries are added to the config's), so one module exports
// every kernel and shares one memory.
const extra = readdirSync(join(root, 'assembly'))
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && f !== 'kernels.ts')
  .sort()
  .map((f) => `assembly/${f}`);
for (const target of targets) {
  const started = Date.now();
  const r = spawnSync(process.execPath, [asc, ...extra, '--target', target], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`build-wasm: target ${target} failed`);
    process.exit(r.status ?? 1);
  }
  console.log(`build-wasm: ${target} ok (${Date.now() - started} ms)${extra.length ? ` with ${extra.join(', ')}` : ''}`);
}
