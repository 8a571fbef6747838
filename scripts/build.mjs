#!/usr/bin/env node
// npm run build: the wasm kernels (build/*.wasm) and the compiled package (dist/), so that the
// package self-reference `import { open } from 'largetable'` and the `largetable` bin work.
// `--if-needed` builds only when dist/ or build/ is missing or older than the sources (used by
// `npm start` and `npm test`, so both work right after `npm ci` on a fresh clone).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const marker = join(root, 'dist/platform/node/cli.js');

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

if (process.argv.includes('--if-needed')) {
  const built = existsSync(marker) && existsSync(join(root, 'dist/platform/node/bundle.js')) && existsSync(join(root, 'build/simd.wasm')) && existsSync(join(root, 'build/scalar.wasm'));
  const stale = built && ['src', 'platform', 'assembly'].some((d) => newestSource(join(root, d)) > statSync(marker).mtimeMs);
  if (built && !stale) process.exit(0);
  console.error(`build: ${built ? 'sources changed since the last build' : 'dist/ or build/ missing'}; building`);
}

function step(label, cmd, args) {
  const t0 = Date.now();
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) { console.error(`build: ${label} failed`); process.exit(r.status ?? 1); }
  console.log(`build: ${label} ${Date.now() - t0} ms`);
}
step('wasm', process.execPath, [join(root, 'scripts/build-wasm.mjs')]);
rmSync(join(root, 'dist'), { recursive: true, force: true });
step('dist', process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json']);

// The Node entry as one module (what `import ... from 'largetable'` loads on Node): Node 20 resolves,
// reads and links each of dist's ~80 modules of that graph separately, about half of a cold import
// (measured ~240 -> ~110 ms of CPU). Same sources; it sits next to index.js so that its relative
// URLs (build/*.wasm) hold.
// The other runtimes' entries (deno, browser, edge) and the CLI use the per-file dist/ as before.
{
  const t0 = Date.now();
  const { buildSync } = await import('esbuild');
  buildSync({
    entryPoints: [join(root, 'platform/node/index.ts')],
    outfile: join(root, 'dist/platform/node/bundle.js'),
    // bson stays external (a document's ObjectId, Long, ... must be the caller's bson classes);
    // the other packages of this graph (re2js, idb-keyval) are bundled in: each separate package
    // module costs a cold import its resolution, read and decode (re2js's file is not ASCII), and
    // under a loader hook (tsx, as the bench runs) a round trip to the hook thread and a lex each
    external: ['bson'],
    bundle: true, platform: 'node', format: 'esm', target: 'node20',
    // without comments and indentation: 870 -> 600 KB, all ASCII (comments held 'µs'), less for
    // Node to decode and V8 to scan at every cold import (identifiers and syntax kept as written)
    minifyWhitespace: true,
    keepNames: true, logLevel: 'warning',
  });
  console.log(`build: node bundle ${Date.now() - t0} ms`);
}
