// Profiling helper (not part of the bench): the bench's single-insert phases only (a2: 300 sequential
// durable insertOne calls into a fresh database in a fresh process, then a3: 300 from 64 concurrent
// callers), for the given engines in alternated rounds, one child process per run as the bench does
// (a `sync` before each). Prints each run and the medians (cpu: the process's CPU per 64-caller insert, all
// threads, much of it the JIT compiling the group path's code during that phase; main: the main thread's).
//   node bench/_documents/profile-single.mjs [ROUNDS=5] [--engines=largetable,sqlite] [--single=300] [--dir=/tmp/lt-profile-single] [--lat]
// An engine `largetable@DIR` is largetable from another build in the checkout (A/B: --engines=largetable,largetable@dist-b,sqlite;
// build it with `node node_modules/typescript/bin/tsc -p tsconfig.build.json --outDir dist-b`).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeIds, makeDoc, now, pct, median, round } from './workload.mjs';
import { openFreshDocs } from './freshdocs.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const arg = (name) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const single = +(arg('single') ?? 300);
const dir = path.resolve(arg('dir') ?? path.join(os.tmpdir(), 'lt-profile-single'));

function distAdapter(dist) {
  return {
    async open(d) {
      const { client, c } = await openFreshDocs(dist, 'platform/node/index.js', d);
      return { insertOne: (doc) => c.insertOne(doc), close: () => client.close() };
    },
  };
}

if (process.argv[2] === '--child') {
  const engine = process.argv[3];
  // largetable@DIR: largetable from another build (inside the checkout), opened as the bench's adapter does
  const dist = engine.startsWith('largetable@') ? engine.slice(11) : undefined;
  const mod = dist ? distAdapter(path.resolve(here, '../..', dist)) : await import(engine === 'largetable' ? './adapters/largetable.ts' : `./adapters/${engine}.mjs`);
  const call = async (r) => (r && typeof r.then === 'function' ? await r : r);
  const d = path.join(dir, engine.replace(/[^a-z0-9-]/gi, '_'));
  fs.rmSync(d, { recursive: true, force: true });
  fs.mkdirSync(d, { recursive: true });
  const db = await mod.open(d, { durable: true });
  const sIds = makeIds(single, 99), lat = [];
  let t0 = now();
  for (let i = 0; i < single; i++) { const t = now(); await call(db.insertOne(makeDoc(sIds[i], 1e7 + i))); lat.push(now() - t); }
  const seqMs = now() - t0;
  const cIds = makeIds(single, 98);
  let next = 0;
  // the main thread's CPU time (ns, from the scheduler; process.cpuUsage also counts the JIT's, GC's and thread pool's threads)
  const mainNs = () => (process.platform === 'linux' ? +fs.readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0] : NaN);
  const m0 = mainNs();
  const c0 = process.cpuUsage();
  t0 = now();
  await Promise.all(Array.from({ length: 64 }, async () => {
    while (next < single) { const i = next++; await call(db.insertOne(makeDoc(cIds[i], 2e7 + i))); }
  }));
  const concMs = now() - t0;
  const cu = process.cpuUsage(c0);
  const concMainUs = (mainNs() - m0) / 1000 / single;
  await call(db.close());
  const s = lat.slice().sort((a, b) => a - b);
  const res = { seq: single / (seqMs / 1000), p50: pct(s, 50) * 1000, p99: pct(s, 99) * 1000, conc: single / (concMs / 1000), concCpuUs: (cu.user + cu.system) / single, concMainUs };
  if (process.argv.includes('--lat')) res.lat = lat.map((x) => Math.round(x * 1000));
  console.log('@@' + JSON.stringify(res));
  fs.rmSync(d, { recursive: true, force: true });
} else {
  const rounds = +(process.argv[2] && !process.argv[2].startsWith('--') ? process.argv[2] : 5);
  const engines = (arg('engines') ?? 'largetable,sqlite').split(',');
  const all = Object.fromEntries(engines.map((e) => [e, []]));
  for (let r = 0; r < rounds; r++) {
    for (const e of r % 2 ? engines.slice().reverse() : engines) {
      spawnSync('sync', { stdio: 'ignore' });
      const args = ['--expose-gc', '--import', 'tsx', fileURLToPath(import.meta.url), '--child', e, ...process.argv.slice(2).filter((a) => a.startsWith('--'))];
      const out = await new Promise((resolve) => {
        const c = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'], cwd: path.join(here, '../..') });
        let s = '';
        c.stdout.on('data', (d) => (s += d));
        c.on('close', () => resolve(s));
      });
      const line = out.split('\n').find((l) => l.startsWith('@@'));
      if (!line) { console.log(e, 'failed', out); continue; }
      const res = JSON.parse(line.slice(2));
      all[e].push(res);
      console.log(`${e.padEnd(10)} seq ${round(res.seq, 0)}/s p50 ${round(res.p50, 0)} µs p99 ${round(res.p99, 0)} µs | 64 callers ${round(res.conc, 0)}/s cpu ${round(res.concCpuUs, 1)} µs/insert (main thread ${round(res.concMainUs, 1)}) | load ${os.loadavg()[0].toFixed(2)}`);
      if (res.lat) console.log('  slow (>1ms) at', res.lat.map((x, i) => (x > 1000 ? `${i}:${x}` : '')).filter(Boolean).join(' '));
    }
  }
  const med = (e, k) => median(all[e].map((x) => x[k]));
  for (const e of engines) console.log(`median ${e}: seq ${round(med(e, 'seq'), 0)}/s p50 ${round(med(e, 'p50'), 0)} p99 ${round(med(e, 'p99'), 0)} | conc ${round(med(e, 'conc'), 0)}/s cpu ${round(med(e, 'concCpuUs'), 1)} main ${round(med(e, 'concMainUs'), 1)}`);
  for (const e of engines.filter((x) => x.startsWith('largetable@'))) {
    const r = (k) => all[e].map((x, i) => (all.largetable?.[i] ? x[k] / all.largetable[i][k] : NaN)).filter((x) => !isNaN(x));
    if (all.largetable) console.log(`${e} / largetable, median per round: seq ${median(r('seq'))?.toFixed(2)}x conc ${median(r('conc'))?.toFixed(2)}x`);
  }
  if (all.largetable && all.sqlite) {
    const ratios = (k) => all.largetable.map((x, i) => (all.sqlite[i] ? x[k] / all.sqlite[i][k] : NaN)).filter((x) => !isNaN(x));
    console.log(`ratio per round: seq ${ratios('seq').map((x) => x.toFixed(2)).join(' ')} | conc ${ratios('conc').map((x) => x.toFixed(2)).join(' ')}`);
    console.log(`median ratio: seq ${median(ratios('seq')).toFixed(2)}x conc ${median(ratios('conc')).toFixed(2)}x`);
  }
}
