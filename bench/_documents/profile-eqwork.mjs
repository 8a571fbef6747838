// Profiling helper (not part of the bench): the bench's work phase up to and through its indexed
// equality queries, in a fresh process as the bench runs it (the adapter's dist bundle, the same open,
// first get, first query, 20,000 first-read gets, warm run, then the 20 cities), each query reported:
// wall ms, main-thread CPU ms (Linux schedstat: not the GC's or compiler's threads), process CPU ms,
// µs per returned document, minor page faults, V8's new space (committed/physical KiB) before it,
// bytes allocated per document (the heap's used bytes; meaningless in a query a GC fell in), off-heap
// (external) KiB added, heap spaces whose physical size changed, and the GCs that fell in it (ms).
// The last line: medians over the queries, and the faults of all of them.
// Run from bench/ of a checkout (ROOT with a built dist/ + build/), on a fresh copy of a 100k base
// store for every run (DIR/largetable/main holds the store, as the bench's --dir):
//   cd ROOT/bench && node --expose-gc --import tsx _documents/profile-eqwork.mjs DIR [--reps=20] [--prof=OUTDIR]
// --prof: a CPU profile of the 20 queries, OUTDIR/eq.cpuprofile (PROF_INTERVAL_US sets the interval).
// MARKS=1 prints "@@mark NAME ms" at the gets, the queries and the end (to place --trace-gc lines).
import { PerformanceObserver } from 'node:perf_hooks';
import fs from 'node:fs';
import v8 from 'node:v8';
import { makeIdList, shuffledIds, eqParams, now, median } from './workload.mjs';
import { cpuProfiled } from './cpuprofile.ts';

const dir = process.argv[2];
const arg = (name, d) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? d;
const mark = (name) => process.env.MARKS && console.log(`@@mark ${name} ${now().toFixed(0)}`);
const t0 = now();
const mod = await import('./adapters/largetable.ts');
const importMs = now() - t0;
const ids = makeIdList(100000, 1);
const db = await mod.open(`${dir}/largetable/main`, { durable: false });
await db.get(ids.at(0));
let t = now();
await db.findEq('city00');
const firstMs = now() - t;
mark('gets');
const look = shuffledIds(ids, 3, 20000);
for (let i = 0; i < look.length; i++) await db.get(look[i]);
mark('eq');

/** The main thread's CPU time (ns): the scheduler's count for this thread only. */
const mainNs = () => +fs.readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0];
const spaces = () => v8.getHeapSpaceStatistics();
/** Heap spaces whose physical size changed between two readings (KiB). */
const grown = (a, b) => b.map((s, i) => [s.space_name.replace('_space', ''), s.physical_space_size - a[i].physical_space_size]).filter(([, d]) => d !== 0).map(([n, d]) => `${n}${d > 0 ? '+' : ''}${(d / 1024).toFixed(0)}`).join(' ');
const usedOf = (sp) => sp.reduce((a, s) => a + s.space_used_size, 0);
const gcs = [];
const obs = new PerformanceObserver((l) => { for (const e of l.getEntries()) gcs.push([e.startTime, e.duration]); });
obs.observe({ entryTypes: ['gc'] });
const params = eqParams(+arg('reps', 20));
const rows = [];
await db.findEq(params[0]);
await cpuProfiled(arg('prof'), 'eq', async () => {
  for (const city of params) {
    const sp0 = spaces();
    const ns = sp0.find((s) => s.space_name === 'new_space');
    const ext0 = process.memoryUsage().external;
    const f0 = process.resourceUsage().minorPageFault;
    const c0 = process.cpuUsage();
    const s0 = mainNs();
    t = now();
    const r = await db.findEq(city);
    const ms = now() - t;
    const main = (mainNs() - s0) / 1e6;
    const c1 = process.cpuUsage(c0);
    const faults = process.resourceUsage().minorPageFault - f0;
    const sp1 = spaces();
    rows.push({ city, n: r.length, ms, main, cpu: (c1.user + c1.system) / 1000, t0: t, t1: t + ms, faults, newKiB: `${ns.space_size >> 10}/${ns.physical_space_size >> 10}`, used: usedOf(sp1) - usedOf(sp0), ext: (process.memoryUsage().external - ext0) >> 10, grown: grown(sp0, sp1) });
  }
});
mark('end');
await new Promise((r) => setTimeout(r, 10));
obs.disconnect();
for (const r of rows) {
  const g = gcs.filter(([s]) => s >= r.t0 && s < r.t1);
  console.log(r.city, 'n', r.n, 'ms', r.ms.toFixed(2), 'main', r.main.toFixed(2), 'cpu', r.cpu.toFixed(2), 'us/doc', ((r.ms * 1000) / r.n).toFixed(2), 'faults', r.faults, 'new', r.newKiB, 'B/doc', (r.used / r.n).toFixed(0), 'extKiB', r.ext, r.grown, 'gc', g.length, g.map(([, d]) => d.toFixed(2)).join(' '));
}
console.log('import', importMs.toFixed(0), 'first eq', firstMs.toFixed(2), 'median ms', median(rows.map((r) => r.ms)).toFixed(3), 'main', median(rows.map((r) => r.main)).toFixed(3), 'faults', rows.reduce((a, r) => a + r.faults, 0), 'cpu', median(rows.map((r) => r.cpu)).toFixed(3), 'us/doc', median(rows.map((r) => (r.ms * 1000) / r.n)).toFixed(2));
process.exit(0);
