#!/usr/bin/env node
// npm run bench -- NAME [args]: installs the peers (bench/package.json) on first use, builds
// dist/ if it is stale, then runs bench/NAME.ts.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const [name, ...rest] = process.argv.slice(2);
const available = readdirSync(here).filter((f) => f.endsWith('.ts') && !f.startsWith('_')).map((f) => f.slice(0, -3));
if (!name || !available.includes(name)) {
  console.error(`usage: npm run bench -- NAME [args]\n  NAME: ${available.join(' | ')}`);
  process.exit(2);
}
if (!existsSync(join(here, 'node_modules'))) {
  console.error('installing benchmark peers (bench/package.json)...');
  const r = spawnSync('npm', ['install', '--no-audit', '--no-fund'], { cwd: here, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
// benches that load the built package (dist/, build/*.wasm) measure what users run: build it if stale
const b = spawnSync(process.execPath, [join(here, '..', 'scripts', 'build.mjs'), '--if-needed'], { stdio: 'inherit' });
if (b.status !== 0) process.exit(b.status ?? 1);
const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', join(here, `${name}.ts`), ...rest], { stdio: 'inherit' });
process.exit(r.status ?? 1);
