#!/usr/bin/env node
// Runs test/browser/*.browser.ts in headless Chromium (Debian's package via playwright-core).
// Usage: node test/browser/run.mjs [NAME ...]   (NAME = suite file name without .browser.ts)
// Env: CHROMIUM=/path (default: /usr/bin/chromium or `chromium` on PATH).
import { createServer } from 'node:http';
import { readFile, mkdtemp, rm, readdir, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, extname, resolve, dirname, basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execSync } from 'node:child_process';
import * as esbuild from 'esbuild';
import { chromium } from 'playwright-core';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const outDir = join(root, '.cache/browser');
const want = process.argv.slice(2);

function findChromium() {
  if (process.env.CHROMIUM) return process.env.CHROMIUM;
  for (const p of ['/usr/bin/chromium', '/usr/bin/chromium-browser']) if (existsSync(p)) return p;
  try { return execSync('command -v chromium', { encoding: 'utf8' }).trim(); } catch { return undefined; }
}

const suites = (await readdir(join(root, 'test/browser')))
  .filter((f) => f.endsWith('.browser.ts'))
  .map((f) => f.slice(0, -'.browser.ts'.length))
  .filter((n) => want.length === 0 || want.includes(n))
  .sort();
if (suites.length === 0) { console.log('# browser: no suites'); process.exit(want.length ? 1 : 0); }

const workerDirs = ['platform/browser', 'test/browser'];
const workers = [];
for (const d of workerDirs) {
  if (!existsSync(join(root, d))) continue;
  for (const f of await readdir(join(root, d))) if (f.endsWith('.worker.ts')) workers.push(join(root, d, f));
}
await mkdir(outDir, { recursive: true });
await esbuild.build({
  entryPoints: [
    ...suites.map((n) => ({ in: join(root, 'test/browser', `${n}.browser.ts`), out: `${n}.browser` })),
    ...workers.map((w) => ({ in: w, out: basename(w, '.ts') })),
  ],
  outdir: outDir, bundle: true, format: 'esm', platform: 'browser', target: 'es2022',
  sourcemap: 'inline', logLevel: 'warning', define: { 'process.env.NODE_ENV': '"test"' },
});

const types = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json', '.css': 'text/css', '.map': 'application/json' };
const server = createServer(async (req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  const headers = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp', 'Cache-Control': 'no-store' };
  if (url.pathname === '/favicon.ico') { res.writeHead(204, headers); res.end(); return; }
  if (url.pathname.startsWith('/__run/')) {
    const name = url.pathname.slice('/__run/'.length);
    res.writeHead(200, { ...headers, 'Content-Type': 'text/html' });
    res.end(`<!doctype html><meta charset="utf-8"><title>${name}</title><script type="module" src="/.cache/browser/${name}.browser.js"></script>`);
    return;
  }
  const file = resolve(root, '.' + decodeURIComponent(url.pathname));
  if (!file.startsWith(root)) { res.writeHead(403); res.end(); return; }
  try {
    const body = await readFile(file);
    res.writeHead(200, { ...headers, 'Content-Type': types[extname(file)] ?? 'application/octet-stream' });
    res.end(body);
  } catch { res.writeHead(404, headers); res.end('not found'); }
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${server.address().port}`;

const executablePath = findChromium();
if (!executablePath) { console.error('chromium not found (apt-get install -y chromium)'); process.exit(1); }
const args = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'];

let passed = 0, failed = 0, n = 0;
console.log('TAP version 13');
for (const suite of suites) {
  const profile = await mkdtemp(join(tmpdir(), `lt-browser-${suite}-`));
  const ctx = await chromium.launchPersistentContext(profile, { executablePath, headless: true, args });
  try {
    const page = ctx.pages()[0] ?? await ctx.newPage();
    page.on('console', (m) => { const t = m.text(); if (t.startsWith('# ')) console.log(t); else if (m.type() === 'error') console.log(`# [${suite} console.error] ${t}`); });
    page.on('pageerror', (e) => console.log(`# [${suite} pageerror] ${e.message}`));
    let phases = 1;
    for (let phase = 1; phase <= phases; phase++) {
      await page.goto(`${base}/__run/${suite}?phase=${phase}`);
      await page.waitForFunction(() => typeof globalThis.__lt_run === 'function', null, { timeout: 30_000 });
      const out = await page.evaluate((p) => globalThis.__lt_run(p), phase);
      phases = out.phases;
      for (const r of out.results) {
        n++;
        const label = `${suite} › ${r.name}${phases > 1 ? ` (phase ${r.phase})` : ''}`;
        if (r.ok) { passed++; console.log(`ok ${n} - ${label} # ${r.ms.toFixed(0)} ms`); }
        else { failed++; console.log(`not ok ${n} - ${label}\n  ---\n  ${String(r.error).split('\n').join('\n  ')}\n  ...`); }
      }
    }
  } catch (err) {
    n++; failed++;
    console.log(`not ok ${n} - ${suite} (suite failed to run)\n  ---\n  ${String(err?.stack ?? err).split('\n').join('\n  ')}\n  ...`);
  } finally {
    await ctx.close();
    await rm(profile, { recursive: true, force: true });
  }
}
server.close();
console.log(`1..${n}\n# browser: ${passed} passed, ${failed} failed, ${suites.length} suites`);
process.exit(failed > 0 || n === 0 ? 1 : 0);
