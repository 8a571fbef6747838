// npm run bench -- server [--duration 30] [--warmup 2] [--connections 100] [--docs 10000] [--driver-procs 1] [--phases hello,rest,driver]
//                         [--load-flags "--max-semi-space-size=32 --single-threaded-gc"] [--no-append]
//
// autocannon on loopback against child processes (one at a time, so they never share the cores):
//   1. a bare hono hello-world on @hono/node-server (the ceiling for this machine), and with the
//      driver phases, a wire hello-world (bench/_server/wire-hello.ts: answers hello and find from
//      constants, no database) under the same driver findOne load: the client side's own ceiling
//   2. `largetable serve` (REST): GET one document by _id; POST one document (durable: strict)
//   3. the same server through the official mongodb driver: findOne by _id; insertOne, driven by
//      bench/_server/driver-load.ts in a process of its own (100 concurrent operations over a pool
//      of 100 sockets; latencies of every operation, nearest-rank percentiles). One load process by
//      default: on 2 cores a second one only adds a third busy process that the OS time-slices
//      with the server (measured: lower throughput, more CPU per operation, a longer tail).
// Every phase first runs `--warmup` seconds of the same load unmeasured (autocannon's warmup; the
// driver loops keep running into the measured window), then `--duration` seconds measured.
// Driver rows also show the load process's own GC pauses and event-loop delay, and the server's
// GC pauses during the phase (from /metrics), to tell where latency comes from.
// Prints req/s, p50/p99 latency, errors, the ratio to hello-world and the server's RSS, sampled
// every second from /proc/<pid>/status (no work in the server): first/max/last per phase and the
// growth over the last half of the run. Appends a table to bench/RESULTS.md unless --no-append.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir, cpus, loadavg } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { MongoClient } from 'mongodb';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const flag = (name: string, def: number): number => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : def;
};
const fmt = (n: number, d = 0): string => (Number.isFinite(n) ? n.toFixed(d) : '-');
const duration = flag('duration', 30);
/** Node flags of the driver load process(es), default below; `--load-flags "..."` to A/B them. */
const loadFlags = (argv.indexOf('--load-flags') >= 0 ? argv[argv.indexOf('--load-flags') + 1]! : '--max-semi-space-size=32 --single-threaded-gc').split(' ').filter(Boolean);
const warmup = flag('warmup', 2);
const connections = flag('connections', 100);
const docs = flag('docs', 10_000);
const append = !argv.includes('--no-append');
/** Processes the driver load is spread over (each runs connections / driverProcs concurrent operations). */
const driverProcs = flag('driver-procs', 1);

interface Row {
  what: string;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  requests: number;
  rssMB?: string;
  /** CPU time per request, µs: the server process, the load generator(s). */
  serverCpuUs?: number;
  clientCpuUs?: number;
  /** Where the time went: load process GC and event-loop delay, server GC (driver rows). */
  notes?: string;
}

function startChild(args: string[], readyMatch: RegExp): Promise<{ proc: ChildProcess; line: string }> {
  return new Promise((ok, fail) => {
    const proc = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => readyMatch.test(l));
      if (line) ok({ proc, line });
    });
    proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    proc.once('exit', (code) => fail(new Error(`child exited ${code}: ${err}`)));
  });
}

function stopChild(proc: ChildProcess): Promise<void> {
  return new Promise((r) => {
    if (proc.exitCode !== null) return r();
    proc.once('exit', () => r());
    proc.kill('SIGTERM');
    setTimeout(() => proc.kill('SIGKILL'), 10_000).unref();
  });
}

/** autocannon: `warmup` s of the same requests (results discarded), then `duration` s measured; `onStart` when measuring starts. */
async function cannon(opts: autocannon.Options, onStart: () => void = () => {}): Promise<autocannon.Result> {
  if (warmup > 0) {
    const run = autocannon({ connections, duration, ...opts, warmup: { connections, duration: warmup } } as autocannon.Options);
    run.once('start', onStart); // the returned tracker is the measured run's (the warmup has its own)
    return (await run) as autocannon.Result;
  }
  return new Promise((ok, fail) => {
    const run = autocannon({ connections, duration, ...opts }, (err, res) => (err ? fail(err) : ok(res)));
    run.once('start', onStart);
  });
}

function row(what: string, r: autocannon.Result): Row {
  return { what, rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors + r.timeouts + r.non2xx, requests: r.requests.total };
}

/** Server RSS in MB from /proc (Linux); falls back to the server's /metrics elsewhere. */
async function rssMB(pid: number, http: string): Promise<number> {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    if (m) return Number(m[1]) / 1024;
  } catch {
    /* not Linux */
  }
  const text = await (await fetch(`${http}/metrics`)).text();
  const m = /^largetable_process_resident_bytes (\d+(?:\.\d+)?)/m.exec(text);
  return m ? Number(m[1]) / 1024 / 1024 : NaN;
}

/** CPU time (user + system) of a process in ms, from /proc (Linux); NaN elsewhere. */
function procCpuMs(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return ((Number(rest[11]) + Number(rest[12])) * 1000) / 100; // utime, stime in clock ticks (USER_HZ 100)
  } catch {
    return NaN;
  }
}

/** RSS samples, one a second, tagged with the phase running. */
const samples: { phase: string; t: number; mb: number }[] = [];
let phase = 'load';
function sampleRss(pid: number, http: string): () => void {
  const t0 = performance.now();
  let stopped = false;
  const tick = async (): Promise<void> => {
    if (stopped) return;
    samples.push({ phase, t: (performance.now() - t0) / 1000, mb: await rssMB(pid, http) });
    if (!stopped) timer = setTimeout(tick, 1000);
  };
  let timer = setTimeout(tick, 0);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

function rssSummary(of: { mb: number }[]): string {
  if (of.length === 0) return '';
  const mbs = of.map((s) => s.mb);
  const half = mbs.slice(Math.floor(mbs.length / 2));
  const grow = half[half.length - 1]! - half[0]!;
  return `${mbs[0]!.toFixed(0)} / ${Math.max(...mbs).toFixed(0)} / ${mbs[mbs.length - 1]!.toFixed(0)} (2nd half ${grow >= 0 ? '+' : ''}${grow.toFixed(0)})`;
}

/**
 * The driver load in processes of its own (bench/_server/driver-load.ts): `driverProcs` processes
 * share the `connections` concurrent operations (100 in flight in total), start together and run
 * for `duration` s; their latencies are merged and percentiles taken over every operation.
 */
async function driverLoad(port: number, op: 'findOne' | 'insertOne', idBase = 0, onStart: () => void = () => {}): Promise<Omit<Row, 'what'>> {
  const dir = mkdtempSync(join(tmpdir(), 'lt-bench-lat-'));
  let started = false;
  const procs = Array.from({ length: driverProcs }, (_, p) => {
    const share = Math.floor(connections / driverProcs) + (p < connections % driverProcs ? 1 : 0);
    const args = JSON.stringify({ port, op, duration, warmup, connections: share, docs, seed: p + 1, idBase: idBase + p * 10_000_000, out: join(dir, `lat-${p}.bin`) });
    // a larger young generation: the driver allocates a lot per operation; fewer scavenges keep the
    // load generator from being what limits the rate. Single-threaded GC: with the server and the
    // load busy on every core, parallel scavenger threads only wait for a core while all 100
    // operations of the load stand still (measured at load 8-9: less total GC pause, 3 of 3 runs).
    const proc = spawn(process.execPath, [...loadFlags, '--import', 'tsx', join(root, 'bench/_server/driver-load.ts'), args], { cwd: root, stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    let onReady: () => void;
    const ready = new Promise<void>((r) => (onReady = r));
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready\n')) onReady();
      if (p === 0 && out.includes('measuring\n') && !started) {
        started = true;
        onStart();
      }
    });
    const exited = new Promise<number | null>((r) => proc.once('exit', r));
    return { proc, ready, exited, out: () => out };
  });
  await Promise.all(procs.map((p) => Promise.race([p.ready, p.exited])));
  for (const p of procs) p.proc.stdin!.write('go\n');
  let errors = 0;
  let elapsed = 0;
  let clientCpuMs = 0;
  const gc = { count: 0, ms: 0, maxMs: 0 };
  const kinds: Record<string, [number, number, number]> = {};
  let loopP99 = 0;
  let loopMax = 0;
  const parts: Float64Array[] = [];
  const cleanParts: Float64Array[] = [];
  const readF64 = (file: string): Float64Array => {
    const buf = readFileSync(file);
    return new Float64Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
  };
  for (const [i, p] of procs.entries()) {
    const code = await p.exited;
    if (code !== 0) throw new Error(`driver load exited ${code}: ${p.out()}`);
    const r = JSON.parse(p.out().trim().split('\n').pop()!) as {
      elapsed: number; errors: number; requests: number; cpuMs: number; firstError?: string;
      gc: { count: number; ms: number; maxMs: number; kinds: Record<string, [number, number, number]> }; loopDelayMs: { p50: number; p99: number; max: number };
    };
    clientCpuMs += r.cpuMs;
    gc.count += r.gc.count;
    gc.ms += r.gc.ms;
    gc.maxMs = Math.max(gc.maxMs, r.gc.maxMs);
    for (const [k, [c, ms, max]] of Object.entries(r.gc.kinds)) {
      const agg = (kinds[k] ??= [0, 0, 0]);
      agg[0] += c;
      agg[1] += ms;
      agg[2] = Math.max(agg[2], max);
    }
    loopP99 = Math.max(loopP99, r.loopDelayMs.p99);
    loopMax = Math.max(loopMax, r.loopDelayMs.max);
    if (r.firstError) console.error(`driver ${op}: first error: ${r.firstError}`);
    errors += r.errors;
    elapsed = Math.max(elapsed, r.elapsed);
    parts.push(readF64(join(dir, `lat-${i}.bin`)));
    cleanParts.push(readF64(join(dir, `lat-${i}.bin.nogc`)));
  }
  rmSync(dir, { recursive: true, force: true });
  const merge = (of: Float64Array[]): Float64Array => {
    const all = new Float64Array(of.reduce((s, p) => s + p.length, 0));
    let o = 0;
    for (const p of of) {
      all.set(p, o);
      o += p.length;
    }
    return all.sort();
  };
  const lat = merge(parts);
  const clean = merge(cleanParts);
  const n = lat.length;
  // nearest rank: the smallest latency with at least p% of all operations at or below it
  const pctOf = (of: Float64Array, p: number): number => (of.length === 0 ? NaN : of[Math.max(0, Math.ceil((p / 100) * of.length) - 1)]!);
  const pct = (p: number): number => pctOf(lat, p);
  const byKind = Object.entries(kinds).map(([k, [c, ms, max]]) => `${k} ${c}/${ms} ms/max ${max}`).join(', ');
  const notes = `load: ${driverProcs} proc, GC ${gc.count} pauses ${gc.ms} ms (max ${gc.maxMs}; by kind count/total/max: ${byKind}), loop delay p99 ${loopP99} max ${loopMax} ms; ` +
    `operations that overlapped no load-process GC pause: ${fmt((100 * clean.length) / Math.max(1, n), 1)}%, their p50 ${fmt(pctOf(clean, 50), 1)} p99 ${fmt(pctOf(clean, 99), 1)} ms`;
  return { rps: n / elapsed, p50: pct(50), p99: pct(99), errors, requests: n, clientCpuUs: (clientCpuMs * 1000) / n, notes };
}

const rows: Row[] = [];
/** --phases hello,rest,driver (default: all) to rerun a part while working on it. */
const phasesArg = argv.indexOf('--phases') >= 0 ? argv[argv.indexOf('--phases') + 1]!.split(',') : ['hello', 'rest', 'driver'];
const load0 = loadavg();
const started = new Date().toISOString().slice(0, 16).replace('T', ' ');

// 1. bare hono hello-world
if (phasesArg.includes('hello')) {
  const script = `import { Hono } from 'hono'; import { serve } from '@hono/node-server';
const app = new Hono(); app.get('/', (c) => c.text('Hello Hono!'));
const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (i) => console.log('PORT ' + i.port));`;
  const { proc, line } = await startChild(['--input-type=module', '-e', script], /^PORT \d+/);
  const port = Number(line.split(' ')[1]);
  rows.push(row('hono hello-world (GET /)', await cannon({ url: `http://127.0.0.1:${port}/` })));
  await stopChild(proc);
  // the same for the driver phases: the official driver and this load process against a wire
  // listener that answers from constants (bench/_server/wire-hello.ts): what the client side costs
  if (phasesArg.includes('driver')) {
    const wire = await startChild(['--import', 'tsx', join(root, 'bench/_server/wire-hello.ts')], /^\{"ready":true/);
    const pid = wire.proc.pid!;
    let cpu0 = procCpuMs(pid);
    const r = await driverLoad((JSON.parse(wire.line) as { mongoPort: number }).mongoPort, 'findOne', 0, () => (cpu0 = procCpuMs(pid)));
    rows.push({ ...r, what: 'wire hello-world: driver findOne, canned replies', serverCpuUs: ((procCpuMs(pid) - cpu0) * 1000) / r.requests });
    await stopChild(wire.proc);
  }
}

// 2 + 3. largetable
const data = mkdtempSync(join(tmpdir(), 'lt-bench-server-'));
let runRss = '';
{
  const { proc, line } = await startChild(['--import', 'tsx', join(root, 'platform/node/cli.ts'), 'serve', '--data', data, '--port', '0', '--mongo-port', '0', '--log-level', 'error', '--slow-query-ms', '100000'], /^\{"ready":true/);
  const ready = JSON.parse(line) as { http: string; mongoPort: number };
  const stopSampling = sampleRss(proc.pid!, ready.http);
  {
    const mongo = new MongoClient(`mongodb://127.0.0.1:${ready.mongoPort}/?directConnection=true`);
    await mongo.connect();
    const col = mongo.db('bench').collection<{ _id: number; name: string; n: number; tags: string[] }>('items');
    for (let i = 0; i < docs; i += 1000) {
      await col.insertMany(Array.from({ length: Math.min(1000, docs - i) }, (_, k) => ({ _id: i + k, name: `item ${i + k}`, n: i + k, tags: ['a', 'b'] })));
    }
    await mongo.close();
  }
  const base = `${ready.http}/api/v1/databases/bench/collections/items/documents`;
  let rnd = 1;
  const nextId = (): number => ((rnd = (rnd * 1103515245 + 12345) & 0x7fffffff) % docs);
  /** The server's GC pauses so far (count, ms), from /metrics. */
  const serverGc = async (): Promise<{ count: number; ms: number }> => {
    const text = await (await fetch(`${ready.http}/metrics`)).text();
    const v = (key: string): number => Number(new RegExp(`^largetable_gc_pauses\\{key="${key}"\\} (\\S+)`, 'm').exec(text)?.[1] ?? NaN);
    return { count: v('count'), ms: v('seconds') * 1000 };
  };
  /**
   * Where the server's memory is at the end of a phase, from /metrics (one scrape): RSS = V8 heap
   * (by space) + external (ArrayBuffers: memtables, cached blocks, socket buffers) + the rest
   * (code, runtime, allocator); and what the store's budgets hold.
   */
  const serverMemory = async (): Promise<string> => {
    const text = await (await fetch(`${ready.http}/metrics`)).text();
    const v = (metric: string, key: string): number => Number(new RegExp(`^${metric}\\{key="${key}"\\} (\\S+)`, 'm').exec(text)?.[1] ?? NaN);
    const m = (key: string): string => fmt(v('largetable_process_memory_bytes', key) / 1048576);
    const st = (key: string): number => v('largetable_store', key);
    return `server memory at the end: RSS ${m('rss')} MB = V8 heap ${m('heapTotal')} (new ${m('newSpace')}, old ${m('oldSpace')}, code ${m('codeSpace')}, large objects ${m('largeObjectSpace')}; used ${m('heapUsed')}) + external ${m('external')} (ArrayBuffers ${m('arrayBuffers')}) + rest ${m('other')}; ` +
      `memtables ${fmt(st('memtableBytes') / 1048576)} MB (${fmt(st('immutableMemtables'))} immutable), block cache ${fmt(st('blockCacheBytes') / 1048576)} MB, ` +
      `document cache ${fmt(v('largetable_document_cache', 'bytes') / 1048576)} of ${fmt(v('largetable_document_cache', 'budgetBytes') / 1048576)} MB`;
  };
  /** Runs one phase; `fn` calls `start` when its measured window begins (after the warmup). */
  const measure = async (name: string, fn: (start: () => void) => Promise<Omit<Row, 'what'>>): Promise<void> => {
    phase = name;
    let cpu0 = procCpuMs(proc.pid!);
    let own0 = process.cpuUsage();
    let gc0: Promise<{ count: number; ms: number }> | undefined;
    const r = await fn(() => {
      cpu0 = procCpuMs(proc.pid!);
      own0 = process.cpuUsage();
      gc0 = serverGc();
    });
    const serverCpuUs = ((procCpuMs(proc.pid!) - cpu0) * 1000) / r.requests;
    const own = process.cpuUsage(own0);
    const [g0, g1] = await Promise.all([gc0 ?? Promise.resolve({ count: NaN, ms: NaN }), serverGc()]);
    phase = 'between';
    const serverNote = `server GC ${g1.count - g0.count} pauses ${(g1.ms - g0.ms).toFixed(0)} ms; ${await serverMemory()}`;
    rows.push({
      clientCpuUs: (own.user + own.system) / r.requests, ...r, what: name, serverCpuUs, rssMB: rssSummary(samples.filter((s) => s.phase === name)),
      notes: r.notes ? `${r.notes}; ${serverNote}` : serverNote,
    });
  };

  if (phasesArg.includes('rest')) {
    await measure('largetable REST GET by _id', async (start) =>
      row('', await cannon({ url: base, requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: `/api/v1/databases/bench/collections/items/documents/${nextId()}` }) }] }, start)),
    );
    let k = 0;
    await measure('largetable REST POST insert (durable)', async (start) =>
      row('', await cannon({
        url: base,
        requests: [{ method: 'POST', headers: { 'content-type': 'application/json' }, setupRequest: (req) => ({ ...req, body: JSON.stringify({ name: 'rest insert', k: k++, tags: ['x'] }) }) }],
      }, start)),
    );
  }
  if (phasesArg.includes('driver')) {
    await measure('mongodb driver findOne by _id', (start) => driverLoad(ready.mongoPort, 'findOne', 0, start));
    await measure('mongodb driver insertOne (durable)', (start) => driverLoad(ready.mongoPort, 'insertOne', docs * 100, start));
  }
  stopSampling();
  runRss = rssSummary(samples.filter((s) => s.phase !== 'load'));
  await stopChild(proc);
}
rmSync(data, { recursive: true, force: true });
const load1 = loadavg();

const byName = (prefix: string): Row | undefined => rows.find((r) => r.what.startsWith(prefix));
const hello = byName('hono')?.rps ?? NaN;
const header = '| what | req/s | vs hello-world | p50 ms | p99 ms | errors | requests | CPU µs/req server, load | server RSS MB: first / max / last (growth over the 2nd half) |\n|---|---|---|---|---|---|---|---|---|';
const lines = rows.map((r) => `| ${r.what} | ${fmt(r.rps)} | ${fmt(r.rps / hello, 2)}x | ${fmt(r.p50, 1)} | ${fmt(r.p99, 1)} | ${r.errors} | ${r.requests} | ${r.serverCpuUs === undefined ? '' : `${fmt(r.serverCpuUs)}, ${fmt(r.clientCpuUs ?? NaN)}`} | ${r.rssMB ?? ''} |`);
const met = (r: Row | undefined, rps: number, p99: number): string => (r ? (r.rps >= rps && r.p99 < p99 ? 'met' : 'NOT met') : 'not run');
const goals = [
  `reads >= 5000 req/s, p99 < 25 ms: REST ${met(byName('largetable REST GET'), 5000, 25)}, driver ${met(byName('mongodb driver findOne'), 5000, 25)}`,
  `durable inserts >= 1000 req/s, p99 < 50 ms: REST ${met(byName('largetable REST POST'), 1000, 50)}, driver ${met(byName('mongodb driver insertOne'), 1000, 50)}`,
  `errors: ${rows.reduce((s, r) => s + r.errors, 0)}`,
  `server RSS over all measured phases, first / max / last (growth over the 2nd half): ${runRss} MB; one sample a second`,
  `driver load: ${driverProcs} process${driverProcs > 1 ? 'es' : ''}, node ${loadFlags.join(' ')}, MongoClient maxPoolSize = minPoolSize = ${connections}, ${connections} operations in flight`,
  `load average at start ${load0.map((x) => x.toFixed(2)).join(' ')}, at end ${load1.map((x) => x.toFixed(2)).join(' ')}`,
];
const table = [header, ...lines].join('\n');
const notes = rows.filter((r) => r.notes).map((r) => `- ${r.what}: ${r.notes}`);
console.log(table);
console.log(notes.join('\n'));
console.log(goals.join('\n'));
if (append) {
  appendFileSync(
    join(root, 'bench/RESULTS.md'),
    `\n## server (\`npm run bench -- server --duration ${duration}\`)\n\n${started} UTC, Node ${process.versions.node}, ${cpus().length} cores, ${connections} connections, ${duration} s per phase, ${docs} documents preloaded; ` +
      `${warmup} s warmup per phase (unmeasured); autocannon, the driver load (${driverProcs} process${driverProcs > 1 ? 'es' : ''}, node ${loadFlags.join(' ')}) and the server are separate processes on the same cores; phases run one after another.\n\n${table}\n\n${notes.join('\n')}\n\n${goals.map((g) => `- ${g}`).join('\n')}\n`,
  );
}
