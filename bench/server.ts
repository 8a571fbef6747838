// npm run bench -- server [--duration 30] [--connections 100] [--docs 10000] [--no-append]
//
// autocannon on loopback against child processes (one at a time, so they never share the cores):
//   1. a bare hono hello-world on @hono/node-server (the ceiling for this machine)
//   2. `largetable serve` (REST): GET one document by _id; POST one document (durable: strict)
//   3. the same server through the official mongodb driver: findOne by _id; insertOne
// Prints req/s, p50/p99 latency, errors, the ratio to hello-world and the server's RSS before and
// after each phase; appends a table to bench/RESULTS.md.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
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
const duration = flag('duration', 30);
const connections = flag('connections', 100);
const docs = flag('docs', 10_000);
const append = !argv.includes('--no-append');

interface Row {
  what: string;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  requests: number;
  rssMB?: string;
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

async function cannon(opts: autocannon.Options): Promise<autocannon.Result> {
  return new Promise((ok, fail) => {
    autocannon({ connections, duration, ...opts }, (err, res) => (err ? fail(err) : ok(res)));
  });
}

function row(what: string, r: autocannon.Result): Row {
  return { what, rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors + r.timeouts + r.non2xx, requests: r.requests.total };
}

async function rssMB(http: string): Promise<number> {
  const text = await (await fetch(`${http}/metrics`)).text();
  const m = /^largetable_process_resident_bytes (\d+(?:\.\d+)?)/m.exec(text);
  return m ? Number(m[1]) / 1024 / 1024 : NaN;
}

/** 100 concurrent loops of `op` for `duration` seconds; latency percentiles from every call. */
async function driverLoad(op: (i: number) => Promise<unknown>): Promise<Omit<Row, 'what'>> {
  const lat: number[] = [];
  let errors = 0;
  let seq = 0;
  const end = performance.now() + duration * 1000;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        try {
          await op(seq++);
          lat.push(performance.now() - t0);
        } catch {
          errors++;
        }
      }
    }),
  );
  lat.sort((a, b) => a - b);
  const pct = (p: number): number => lat[Math.min(lat.length - 1, Math.floor((p / 100) * lat.length))] ?? NaN;
  return { rps: lat.length / duration, p50: pct(50), p99: pct(99), errors, requests: lat.length };
}

const rows: Row[] = [];

// 1. bare hono hello-world
{
  const script = `import { Hono } from 'hono'; import { serve } from '@hono/node-server';
const app = new Hono(); app.get('/', (c) => c.text('Hello Hono!'));
const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (i) => console.log('PORT ' + i.port));`;
  const { proc, line } = await startChild(['--input-type=module', '-e', script], /^PORT \d+/);
  const port = Number(line.split(' ')[1]);
  rows.push(row('hono hello-world (GET /)', await cannon({ url: `http://127.0.0.1:${port}/` })));
  await stopChild(proc);
}

// 2 + 3. largetable
const data = mkdtempSync(join(tmpdir(), 'lt-bench-server-'));
{
  const { proc, line } = await startChild(['--import', 'tsx', join(root, 'platform/node/cli.ts'), 'serve', '--data', data, '--port', '0', '--mongo-port', '0', '--log-level', 'error', '--slow-query-ms', '100000'], /^\{"ready":true/);
  const ready = JSON.parse(line) as { http: string; mongoPort: number };
  const mongo = new MongoClient(`mongodb://127.0.0.1:${ready.mongoPort}/?directConnection=true`, { maxPoolSize: connections });
  await mongo.connect();
  const col = mongo.db('bench').collection<{ _id: number; name: string; n: number; tags: string[] }>('items');
  for (let i = 0; i < docs; i += 1000) {
    await col.insertMany(Array.from({ length: Math.min(1000, docs - i) }, (_, k) => ({ _id: i + k, name: `item ${i + k}`, n: i + k, tags: ['a', 'b'] })));
  }
  const base = `${ready.http}/api/v1/databases/bench/collections/items/documents`;
  let rnd = 1;
  const nextId = (): number => ((rnd = (rnd * 1103515245 + 12345) & 0x7fffffff) % docs);

  const mem0 = await rssMB(ready.http);
  const reads = await cannon({ url: base, requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: `/api/v1/databases/bench/collections/items/documents/${nextId()}` }) }] });
  rows.push({ ...row('largetable REST GET by _id', reads), rssMB: `${mem0.toFixed(0)} -> ${(await rssMB(ready.http)).toFixed(0)}` });

  const mem1 = await rssMB(ready.http);
  let k = 0;
  const inserts = await cannon({
    url: base,
    requests: [{ method: 'POST', headers: { 'content-type': 'application/json' }, setupRequest: (req) => ({ ...req, body: JSON.stringify({ name: 'rest insert', k: k++, tags: ['x'] }) }) }],
  });
  rows.push({ ...row('largetable REST POST insert (durable)', inserts), rssMB: `${mem1.toFixed(0)} -> ${(await rssMB(ready.http)).toFixed(0)}` });

  const mem2 = await rssMB(ready.http);
  const dreads = await driverLoad(() => col.findOne({ _id: nextId() }));
  rows.push({ what: 'mongodb driver findOne by _id', ...dreads, rssMB: `${mem2.toFixed(0)} -> ${(await rssMB(ready.http)).toFixed(0)}` });

  const mem3 = await rssMB(ready.http);
  const dins = await driverLoad((i) => col.insertOne({ _id: docs * 100 + i, name: 'driver insert', n: i, tags: ['y'] }));
  rows.push({ what: 'mongodb driver insertOne (durable)', ...dins, rssMB: `${mem3.toFixed(0)} -> ${(await rssMB(ready.http)).toFixed(0)}` });

  await mongo.close();
  await stopChild(proc);
}
rmSync(data, { recursive: true, force: true });

const hello = rows[0]!.rps;
const fmt = (n: number, d = 0): string => (Number.isFinite(n) ? n.toFixed(d) : '-');
const header = '| what | req/s | vs hello-world | p50 ms | p99 ms | errors | requests | server RSS MB |\n|---|---|---|---|---|---|---|---|';
const lines = rows.map((r) => `| ${r.what} | ${fmt(r.rps)} | ${fmt(r.rps / hello, 2)}x | ${fmt(r.p50, 1)} | ${fmt(r.p99, 1)} | ${r.errors} | ${r.requests} | ${r.rssMB ?? ''} |`);
const goals = [
  `reads >= 5000 req/s, p99 < 25 ms: REST ${rows[1]!.rps >= 5000 && rows[1]!.p99 < 25 ? 'met' : 'NOT met'}, driver ${rows[3]!.rps >= 5000 && rows[3]!.p99 < 25 ? 'met' : 'NOT met'}`,
  `durable inserts >= 1000 req/s, p99 < 50 ms: REST ${rows[2]!.rps >= 1000 && rows[2]!.p99 < 50 ? 'met' : 'NOT met'}, driver ${rows[4]!.rps >= 1000 && rows[4]!.p99 < 50 ? 'met' : 'NOT met'}`,
  `errors: ${rows.reduce((s, r) => s + r.errors, 0)}`,
];
const table = [header, ...lines].join('\n');
console.log(table);
console.log(goals.join('\n'));
if (append) {
  const stamp = new Date().toISOString().slice(0, 10);
  appendFileSync(
    join(root, 'bench/RESULTS.md'),
    `\n## server (\`npm run bench -- server --duration ${duration}\`)\n\n${stamp}, Node ${process.versions.node}, ${cpus().length} cores, ${connections} connections, ${duration} s per phase, ${docs} documents preloaded; ` +
      `autocannon and the server are separate processes on the same 2 cores; phases run one after another.\n\n${table}\n\n${goals.map((g) => `- ${g}`).join('\n')}\n`,
  );
}
