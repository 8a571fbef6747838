// Driver load generator for `npm run bench -- server`, run as its own process so that the load
// loop never shares an event loop with the benchmark's bookkeeping (RSS sampling, autocannon).
//
//   node --import tsx bench/_server/driver-load.ts '{"port":27017,"op":"findOne","duration":20,"connections":100,"docs":10000,"seed":1,"idBase":0,"out":"/tmp/lat.bin"}'
//
// `connections` concurrent loops, each with exactly one operation in flight, over one MongoClient
// with maxPoolSize = connections (so every loop has a socket of its own, as autocannon has).
// After warming the pool it prints "ready" and waits for a line on stdin (so that several load
// processes start together), then runs `warmup` seconds unmeasured (the loops keep going, so the
// measured window starts with 100 operations in flight and JIT-compiled code on both sides), then
// `duration` seconds measured: every operation started in the window is timed. Each latency is
// recorded in a preallocated Float64Array (no per-op allocation in the harness) and written to
// `out` (float64 little-endian) for the parent to merge, and the latencies of the operations that
// overlapped none of this process's GC pauses to `out`.nogc (a pause stalls every operation in
// flight here, whatever the server does); prints one JSON line
// { elapsed, errors, requests, cpuMs, gc: { count, ms, maxMs, kinds }, loopDelayMs: { p50, p99, max }, firstError }
// for the measured window: this process's CPU time, its GC pauses (in all and by kind: minor =
// scavenge, major = mark-compact, incremental = marking steps, weakcb) and its event-loop delay, so
// that the report shows how much of the latency the load generator itself adds.
import { MongoClient } from 'mongodb';
import { constants as perf, monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

interface Args {
  port: number;
  op: 'findOne' | 'insertOne';
  duration: number;
  connections: number;
  docs: number;
  seed: number;
  /** insertOne: _id base, so repeated phases never collide. */
  idBase: number;
  out: string;
  /** Unmeasured seconds before the measured `duration` (default 0). */
  warmup?: number;
}

const a = JSON.parse(process.argv[2] ?? '{}') as Args;
const client = new MongoClient(`mongodb://127.0.0.1:${a.port}/?directConnection=true`, {
  maxPoolSize: a.connections,
  minPoolSize: a.connections,
});
await client.connect();
const col = client.db('bench').collection<{ _id: number; name: string; n: number; tags: string[] }>('items');

// Warm the pool (every loop gets a connected socket before timing starts).
await Promise.all(Array.from({ length: a.connections }, () => col.findOne({ _id: 0 })));

let rnd = a.seed >>> 0 || 1;
const nextId = (): number => ((rnd = (rnd * 1103515245 + 12345) & 0x7fffffff) % a.docs);
let seq = 0;
const op: () => Promise<unknown> =
  a.op === 'findOne'
    ? () => col.findOne({ _id: nextId() })
    : () => {
        const i = seq++;
        return col.insertOne({ _id: a.idBase + i, name: 'driver insert', n: i, tags: ['y'] });
      };

process.stdout.write('ready\n');
await new Promise<void>((go) => createInterface({ input: process.stdin }).once('line', () => go()));

let lat = new Float64Array(1 << 20);
/** When each timed operation started (performance.now()), to match operations against GC pauses. */
let starts = new Float64Array(1 << 20);
let n = 0;
let errors = 0;
let firstError: string | undefined;
const warmupEnd = performance.now() + (a.warmup ?? 0) * 1000;
let t0 = Infinity; // the measured window: [t0, end)
let end = Infinity;
let cpu0 = process.cpuUsage();
const gc = { count: 0, ms: 0, maxMs: 0 };
const kindName: Record<number, string> = {
  [perf.NODE_PERFORMANCE_GC_MINOR]: 'minor', [perf.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [perf.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental', [perf.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};
/** Per kind: [count, ms, max ms]. */
const kinds: Record<string, [number, number, number]> = {};
/** Pauses in the measured window, [start, end) in performance.now() time, in the order they ended. */
const pauses: number[] = [];
const gcObserver = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    if (e.startTime < t0) continue;
    gc.count++;
    gc.ms += e.duration;
    if (e.duration > gc.maxMs) gc.maxMs = e.duration;
    const k = kindName[(e as unknown as { detail?: { kind?: number } }).detail?.kind ?? -1] ?? 'other';
    const agg = (kinds[k] ??= [0, 0, 0]);
    agg[0]++;
    agg[1] += e.duration;
    if (e.duration > agg[2]) agg[2] = e.duration;
    pauses.push(e.startTime, e.startTime + e.duration);
  }
});
gcObserver.observe({ entryTypes: ['gc'] });
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
const startMeasuring = (): void => {
  t0 = performance.now();
  end = t0 + a.duration * 1000;
  cpu0 = process.cpuUsage();
  loopDelay.enable();
  process.stdout.write('measuring\n');
};
if (performance.now() >= warmupEnd) startMeasuring();
else setTimeout(startMeasuring, warmupEnd - performance.now());

async function loop(): Promise<void> {
  for (;;) {
    const s = performance.now();
    if (s >= end) return;
    const timed = s >= t0;
    try {
      await op();
      if (!timed) continue;
      const d = performance.now() - s;
      if (n === lat.length) {
        const bigger = new Float64Array(lat.length * 2);
        bigger.set(lat);
        lat = bigger;
        const biggerStarts = new Float64Array(starts.length * 2);
        biggerStarts.set(starts);
        starts = biggerStarts;
      }
      starts[n] = s;
      lat[n++] = d;
    } catch (err) {
      if (!timed) continue;
      errors++;
      firstError ??= String((err as Error).message ?? err);
    }
  }
}
await Promise.all(Array.from({ length: a.connections }, loop));
const elapsed = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
loopDelay.disable();
gcObserver.disconnect();
writeFileSync(a.out, new Uint8Array(lat.buffer, 0, n * 8));
// The operations whose [start, end] overlapped no GC pause of this process.
const spans: [number, number][] = [];
for (let i = 0; i < pauses.length; i += 2) spans.push([pauses[i]!, pauses[i + 1]!]);
spans.sort((x, y) => x[0] - y[0]);
const pauseStart = Float64Array.from(spans, (p) => p[0]);
const pauseEnd = Float64Array.from(spans, (p) => p[1]);
for (let i = 1; i < pauseEnd.length; i++) if (pauseEnd[i]! < pauseEnd[i - 1]!) pauseEnd[i] = pauseEnd[i - 1]!; // running max: a pause ending later covers
const clean = new Float64Array(n);
let m = 0;
for (let i = 0; i < n; i++) {
  const s = starts[i]!;
  const e = s + lat[i]!;
  // the last pause starting before the operation ended; it (or an earlier one, by the running max) overlaps iff it ends after the start
  let lo = 0;
  let hi = pauseStart.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (pauseStart[mid]! < e) lo = mid + 1;
    else hi = mid;
  }
  if (lo === 0 || pauseEnd[lo - 1]! <= s) clean[m++] = lat[i]!;
}
writeFileSync(`${a.out}.nogc`, new Uint8Array(clean.buffer, 0, m * 8));
await client.close();
const ms = (ns: number): number => Math.round(ns / 1e4) / 100;
process.stdout.write(
  JSON.stringify({
    elapsed, errors, requests: n, cpuMs: (cpu.user + cpu.system) / 1000,
    gc: {
      count: gc.count, ms: Math.round(gc.ms), maxMs: Math.round(gc.maxMs * 10) / 10,
      kinds: Object.fromEntries(Object.entries(kinds).map(([k, [c, ms, max]]) => [k, [c, Math.round(ms), Math.round(max * 10) / 10]])),
    },
    loopDelayMs: { p50: ms(loopDelay.percentile(50)), p99: ms(loopDelay.percentile(99)), max: ms(loopDelay.max) },
    firstError,
  }) + '\n',
);
process.exit(0);
