#!/usr/bin/env node
// npm run build: the wasm kernels (build/*.wasm) and the compiled package (dist/), so that the
// package self-reference `import { open } from 'largetable'` and the `largetable` bin work.
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
function step(label, cmd, args) {
  const t0 = Date.now();
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) { console.error(`build: ${label} failed`); process.exit(r.status ?? 1); }
  console.log(`build: ${label} ${Date.now() - t0} ms`);
}
if (existsSync(join(root, 'scripts/build-wasm.mjs'))) step('wasm', process.execPath, [join(root, 'scripts/build-wasm.mjs')]);
rmSync(join(root, 'dist'), { recursive: true, force: true });
step('dist', process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json']);
