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
// `out` (float64 little-endian) for the parent to merge; prints one JSON line
// { elapsed, errors, requests, cpuMs, gc: { count, ms, maxMs }, loopDelayMs: { p50, p99, max }, firstError }
// for the measured window: this process's CPU time, its GC pauses and its event-loop delay, so that
// the report shows how much of the latency the load generator itself adds.
import { MongoClient } from 'mongodb';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
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
let n = 0;
let errors = 0;
let firstError: string | undefined;
const warmupEnd = performance.now() + (a.warmup ?? 0) * 1000;
let t0 = Infinity; // the measured window: [t0, end)
let end = Infinity;
let cpu0 = process.cpuUsage();
const gc = { count: 0, ms: 0, maxMs: 0 };
const gcObserver = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    if (e.startTime < t0) continue;
    gc.count++;
    gc.ms += e.duration;
    if (e.duration > gc.maxMs) gc.maxMs = e.duration;
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
      }
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
await client.close();
const ms = (ns: number): number => Math.round(ns / 1e4) / 100;
process.stdout.write(
  JSON.stringify({
    elapsed, errors, requests: n, cpuMs: (cpu.user + cpu.system) / 1000,
    gc: { count: gc.count, ms: Math.round(gc.ms), maxMs: Math.round(gc.maxMs * 10) / 10 },
    loopDelayMs: { p50: ms(loopDelay.percentile(50)), p99: ms(loopDelay.percentile(99)), max: ms(loopDelay.max) },
    firstError,
  }) + '\n',
);
process.exit(0);
