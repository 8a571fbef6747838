#!/usr/bin/env node
// Builds the kernels (assembly/kernels.ts) into build/simd.wasm, build/scalar.wasm and
// build/debug.wasm with the targets in asconfig.json. Usage: node scripts/build-wasm.mjs [target...]
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const asc = join(root, 'node_modules', 'assemblyscript', 'bin', 'asc.js');
const targets = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['simd', 'scalar', 'debug'];
mkdirSync(join(root, 'build'), { recursive: true });
for (const target of targets) {
  const started = Date.now();
  const r = spawnSync(process.execPath, [asc, '--target', target], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`build-wasm: target ${target} failed`);
    process.exit(r.status ?? 1);
  }
  console.log(`build-wasm: ${target} ok (${Date.now() - started} ms)`);
}
