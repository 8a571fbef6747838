// Profiling helper (not part of the bench): allocation and CPU per durable single insert, as the bench's
// sequential phase does them (strict insertOne of the bench's documents into a fresh store with indexes
// on city and age, in a fresh process). Bytes allocated are the JS heap's growth with a young generation
// large enough that no GC runs during the phase (checked: the run says so if one ran), so they count
// every object the inserts made, garbage or not. CPU is user + sys of the process per insert.
//   node bench/_documents/profile-alloc.mjs [N=2000] [--dist=dist] [--conc] [--sample=FILE] [--first=300] [--lat [--why]] [--dir=DIR] [--v8=FLAG] [--noop]
// --conc: the N inserts from 64 concurrent callers (after 300 sequential ones); --sample=FILE: also the
// sampling heap profiler (every 256 bytes, including collected objects) over the phase, written to FILE
// as a .heapprofile and its top allocating functions printed.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import { PerformanceObserver } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { makeIds, makeDoc, now } from './workload.mjs';
import { openFreshDocs } from './freshdocs.mjs';

const arg = (name) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
if (!process.argv.includes('--child')) {
  // bytes: a young generation of 256 MiB (no scavenge while measuring); CPU: V8's default heap
  for (const mode of ['bytes', 'cpu']) {
    const flags = mode === 'bytes' ? ['--min-semi-space-size=256', '--max-semi-space-size=256'] : [];
    // --v8=--max-opt=0: no optimizing tier (the bytes of unoptimized code, as a fresh process's first inserts run, are repeatable)
    for (const a of process.argv) if (a.startsWith('--v8=')) flags.push(a.slice(5));
    const r = spawnSync(process.execPath, ['--expose-gc', ...flags, fileURLToPath(import.meta.url), ...process.argv.slice(2), '--child', `--mode=${mode}`], { stdio: 'inherit', cwd: path.join(path.dirname(fileURLToPath(import.meta.url)), '../..') });
    if (r.status) process.exit(r.status);
  }
  process.exit(0);
}
const mode = arg('mode');
// the main thread's CPU time (ns, from the scheduler; process.cpuUsage also counts the JIT's, GC's and thread pool's threads)
const mainNs = () => +fs.readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0];
// the main thread's system time (clock ticks of 10 ms: coarse)
const mainSysMs = () => +fs.readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1].split(' ')[12] * 10;
const N = +(process.argv[2] && !process.argv[2].startsWith('--') ? process.argv[2] : 2000);
const dist = path.resolve(arg('dist') ?? 'dist');
const conc = process.argv.includes('--conc');
const sample = arg('sample');
// --why (with --lat): the store's file writes and syncs are timed (node:fs's writeSync and FileHandle's
// write/sync/datasync, patched before the adapter loads), to name what overlapped each slow insert
const why = process.argv.includes('--why');
const ioLog = [];
if (why) {
  const { createRequire, syncBuiltinESMExports } = await import('node:module');
  const fsc = createRequire(import.meta.url)('node:fs');
  const ws = fsc.writeSync;
  fsc.writeSync = function (fd, buf, off, len, pos) {
    const t = performance.now();
    try { return ws.apply(this, arguments); } finally { ioLog.push({ t, d: performance.now() - t, what: `pwrite ${len >= 1024 ? `${(len / 1024).toFixed(0)}K` : len}` }); }
  };
  syncBuiltinESMExports();
  const fh = await fsc.promises.open(fileURLToPath(import.meta.url), 'r');
  const proto = Object.getPrototypeOf(fh);
  await fh.close();
  for (const m of ['write', 'sync', 'datasync']) {
    const orig = proto[m];
    proto[m] = async function (...a) {
      const t = performance.now();
      try { return await orig.apply(this, a); } finally { ioLog.push({ t, d: performance.now() - t, what: m === 'write' ? `async write ${a[2] >= 1024 ? `${(a[2] / 1024).toFixed(0)}K` : a[2]}` : m }); }
    };
  }
}
const dir = path.join(arg('dir') ?? os.tmpdir(), `lt-profile-alloc-${process.pid}`);
const lat = process.argv.includes('--lat') && mode === 'cpu' ? [] : undefined;
const gcLog = [];
const { client, c } = await openFreshDocs(dist, 'platform/node/index.js', dir);
let gcs = 0;
new PerformanceObserver((l) => {
  for (const e of l.getEntries()) { gcs++; gcLog.push(e); }
}).observe({ entryTypes: ['gc'] });
const heap = () => { const h = v8.getHeapStatistics(); return h.used_heap_size + h.external_memory; };
// the young generation's objects (what the inserts' garbage is made of; the rest is code, memtable and pool growth)
const young = () => { let b = 0; for (const s of v8.getHeapSpaceStatistics()) if (s.space_name.startsWith('new_')) b += s.space_used_size; return b; };
let session;
if (sample) {
  const { Session } = await import('node:inspector/promises');
  session = new Session();
  session.connect();
}
async function phase(name, n, body) {
  globalThis.gc();
  await new Promise((r) => setTimeout(r, 20));
  gcs = 0;
  if (session && mode === 'bytes') await session.post('HeapProfiler.startSampling', { samplingInterval: 256, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  const f0 = process.resourceUsage().minorPageFault;
  const h0 = heap(), y0 = young(), c0 = process.cpuUsage(), m0 = mainNs(), s0 = mainSysMs(), t0 = now();
  await body();
  const ms = now() - t0, m1 = mainNs(), s1 = mainSysMs(), cu = process.cpuUsage(c0), h1 = heap(), y1 = young();
  const faults = process.resourceUsage().minorPageFault - f0;
  await new Promise((r) => setTimeout(r, 0));
  if (mode === 'bytes') console.log(`${name.padEnd(11)} ${n} inserts: young generation ${((y1 - y0) / n).toFixed(0)} B/insert, heap + external ${((h1 - h0) / n).toFixed(0)} B/insert${gcs ? `, ${gcs} GCs ran (bytes undercounted)` : ''}`);
  else console.log(`${name.padEnd(11)} ${n} inserts: main thread CPU ${((m1 - m0) / 1000 / n).toFixed(1)} µs/insert (sys ~${((s1 - s0) * 1000 / n).toFixed(0)}), process CPU ${((cu.user + cu.system) / n).toFixed(1)} µs/insert (user ${(cu.user / n).toFixed(1)}), wall ${(ms * 1000 / n).toFixed(0)} µs/insert, ${(faults / n).toFixed(2)} page faults/insert, ${gcs} GCs`);
  if (session && mode === 'bytes') {
    const { profile } = await session.post('HeapProfiler.stopSampling');
    if (name === 'rest' || conc) report(profile, n);
  }
}
function report(profile, n) {
  fs.writeFileSync(sample, JSON.stringify(profile));
  const self = new Map();
  const walk = (node, stack) => {
    const cf = node.callFrame;
    const here = `${cf.functionName || '(anon)'} ${cf.url.split('/').slice(-2).join('/')}:${cf.lineNumber + 1}`;
    const bytes = node.selfSize;
    if (bytes) self.set(here, (self.get(here) ?? 0) + bytes);
    for (const ch of node.children) walk(ch, stack);
  };
  walk(profile.head, []);
  const top = [...self].sort((a, b) => b[1] - a[1]).slice(0, 30);
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  console.log(`sampled ${(total / n).toFixed(0)} B/insert; top allocating functions (self bytes/insert):`);
  for (const [k, v] of top) console.log(`  ${(v / n).toFixed(0).padStart(6)}  ${k}`);
}
const sIds = makeIds(Math.max(N, 300) + 300 + +(arg('first') ?? 0), 99);
const seq = async (from, to) => {
  for (let i = from; i < to; i++) {
    const d = makeDoc(sIds[i], 1e7 + i);
    const t = performance.now();
    await (noop ? Promise.resolve() : c.insertOne(d));
    if (lat) lat.push([i, t, performance.now() - t]);
  }
};
// --first=K: K sequential inserts first (300 by default; 0 with N=0: the open and close alone, a baseline)
const first = +(arg('first') ?? 300);
// --noop: the documents are made but not inserted (what the harness itself allocates and spends)
const noop = process.argv.includes('--noop');
if (first > 0) await phase(`first ${first}`, first, () => seq(0, first));
if (!conc) {
  if (N > 0) await phase('rest', N, () => seq(first, first + N));
  if (lat) {
    await new Promise((r) => setTimeout(r, 50));
    const s = lat.map((x) => x[2]).sort((a, b) => a - b);
    const q = (p) => (s[Math.min(s.length - 1, Math.floor(s.length * p))] * 1000).toFixed(0);
    console.log(`latency µs: p50 ${q(0.5)} p90 ${q(0.9)} p99 ${q(0.99)} max ${q(1)}; mean ${(s.reduce((a, b) => a + b) / s.length * 1000).toFixed(0)}`);
    const slow = lat.filter((x) => x[2] > 1);
    console.log(`${slow.length} inserts over 1 ms:`, slow.map(([i, t, d]) => {
      const g = gcLog.filter((e) => e.startTime < t + d && e.startTime + e.duration > t).map((e) => `gc${e.detail?.kind ?? e.kind}:${e.duration.toFixed(1)}`);
      for (const e of ioLog) if (e.t < t + d && e.t + e.d > t && (e.d > 0.5 || !e.what.startsWith('pwrite'))) g.push(`${e.what}:${e.d.toFixed(1)}`);
      return `${i}:${(d * 1000).toFixed(0)}${g.length ? `(${g.join(',')})` : ''}`;
    }).join(' '));
  }
} else {
  const cIds = makeIds(N, 98);
  let next = 0;
  await phase('64 callers', N, () => Promise.all(Array.from({ length: 64 }, async () => { while (next < N) { const i = next++; await c.insertOne(makeDoc(cIds[i], 2e7 + i)); } })));
}
await client.close();
fs.rmSync(dir, { recursive: true, force: true });
