// Profiling helper (not part of the bench): like profile-phases, but the read/update phases run in a
// second process on the reopened store, as the bench's work phase does (WAL replay, L0 left by the load).
//   node --import tsx bench/_documents/profile-reopen.ts N load [--dir=DIR]           (loads N documents, closes)
//   node --import tsx bench/_documents/profile-reopen.ts N get,eq,range,scan,update,delete [--prof=DIR] [--dir=DIR]
// Env: LT_OPTS (JSON client options, e.g. '{"compressionLevel":1}'), GETS, UPDATES, EQ, RANGE, SCAN (reps),
// SAMPLE=1 (peak RSS sample) or 2 (also print RSS and store stats every 5 s).
import { open as openLt } from '../../dist/platform/node/index.js';
const ltOpts = JSON.parse(process.env.LT_OPTS ?? '{}');
async function open(dir: string, opts: { durable: boolean }) {
  const wc = opts.durable ? {} : { writeConcern: { j: false } };
  const client = await openLt(dir, { durability: 'strict', ttlMonitor: false, ...ltOpts });
  const c = client.db('bench').collection('docs');
  await c.createIndex({ city: 1 });
  await c.createIndex({ age: 1 });
  return {
    insertBatch: (docs: Record<string, unknown>[]) => c.insertMany(docs),
    get: (_id: string) => c.findOne({ _id }),
    findEq: (city: string) => c.find({ city }).toArray(),
    findRange: (lo: number, hi: number, limit: number) => c.find({ age: { $gte: lo, $lt: hi } }).sort({ score: -1 }).limit(limit).toArray(),
    scan: (x: number, tag: string) => c.find({ score: { $gt: x }, tags: tag }).toArray(),
    inc: (_id: string, field: string, by: number) => c.updateOne({ _id }, { $inc: { [field]: by } }, wc),
    remove: (_id: string) => c.deleteOne({ _id }, wc),
    close: () => client.close(),
    stats: () => (client as any).engine.store.stats(),
    idle: () => (client as any).engine.store.idle(),
  };
}
import { makeIds, makeDoc, now, shuffled, rangeParams, scanParams, eqParams } from './workload.mjs';
import fs from 'node:fs';
import { cpuProfiled } from './cpuprofile.ts';
const N = +(process.argv[2] ?? 20000);
const only = (process.argv[3] ?? 'all').split(',');
const profDir = process.argv.find((a) => a.startsWith('--prof='))?.slice(7);
const dir = process.argv.find((a) => a.startsWith('--dir='))?.slice(6) ?? '/tmp/scale/store';
const has = (n: string) => only.includes('all') || only.includes(n);
const rss = () => `rss ${Math.round(process.memoryUsage().rss / 2 ** 20)} heap ${Math.round(process.memoryUsage().heapUsed / 2 ** 20)} ab ${Math.round(process.memoryUsage().arrayBuffers / 2 ** 20)}`;
async function phase(name: string, fn: () => Promise<string>) {
  if (!has(name)) return;
  const c0 = process.cpuUsage();
  const line = await cpuProfiled(profDir, name, fn);
  const c = process.cpuUsage(c0);
  // CPU time of this process (user + system): steadier than wall time on a shared machine
  console.log(name.padEnd(8), line, `cpu ms ${Math.round((c.user + c.system) / 1000)}`, '|', rss());
}
const ids = makeIds(N, 1);
let peak = '';
let tick = 0;
let cur: any;
let peakRss = 0;
const sampler = process.env.SAMPLE ? setInterval(() => { const m = process.memoryUsage(); if (m.rss > peakRss) { peakRss = m.rss; peak = rss() + ` ext ${Math.round(m.external / 2 ** 20)}`; } if (process.env.SAMPLE === '2' && (tick++ % 5 === 0)) { const st = cur?.stats(); console.log('  sample', rss(), st ? `mem ${Math.round(st.memtableBytes / 2 ** 20)} imm ${st.immutableMemtables} cache ${Math.round(st.blockCacheBytes / 2 ** 20)} segs ${st.segments} compactions ${st.compactions}` : ''); } }, 1000) : undefined;
if (has('load')) {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const db = await open(dir, { durable: false });
  cur = db;
  await phase('load', async () => {
    const t = now();
    for (let b = 0; b < N; b += 1000) { const docs = []; for (let i = b; i < Math.min(N, b + 1000); i++) docs.push(makeDoc(ids[i], i)); await db.insertBatch(docs); }
    return `docs/s ${Math.round(N / ((now() - t) / 1000))}`;
  });
  cur = undefined;
  await db.close();
} else {
  const t0 = now();
  const db = await open(dir, { durable: false });
  cur = db;
  console.log('open ms', (now() - t0).toFixed(1), rss());
  if (process.env.IDLE) {
    // IDLE=1: let a background flush/compaction the open started finish before the phases
    const t = now();
    await db.idle();
    console.log('idle ms', (now() - t).toFixed(1), rss());
  }
  const G = +(process.env.GETS ?? 20000), U = +(process.env.UPDATES ?? Math.min(10000, N / 20));
  await phase('get', async () => {
    const xs = shuffled(ids, 3).slice(0, G); const t = now(); const lat: number[] = [];
    for (const id of xs) { const t1 = now(); await db.get(id); lat.push(now() - t1); }
    lat.sort((a, b) => a - b);
    const q = (f: number) => (lat[Math.floor(lat.length * f)]! * 1000).toFixed(1);
    return `mean us ${((now() - t) * 1000 / xs.length).toFixed(2)} p50 ${q(0.5)} p90 ${q(0.9)} p99 ${q(0.99)} max ${q(0.99999)}`;
  });
  await phase('eq', async () => { const ps = eqParams(+(process.env.EQ ?? 5)); const t = now(); for (const c of ps) await db.findEq(c); return `ms ${((now() - t) / ps.length).toFixed(2)}`; });
  await phase('range', async () => { const ps = rangeParams(+(process.env.RANGE ?? 5)); const t = now(); for (const [lo, hi] of ps) await db.findRange(lo, hi, 20); return `ms ${((now() - t) / ps.length).toFixed(2)}`; });
  await phase('scan', async () => { const ps = scanParams(+(process.env.SCAN ?? 2)); const t = now(); for (const [x, tag] of ps) await db.scan(x, tag); return `ms ${((now() - t) / ps.length).toFixed(2)}`; });
  await phase('update', async () => { const xs = shuffled(ids, 4).slice(0, U); const t = now(); for (const id of xs) await db.inc(id, 'score', 1); return `ops/s ${Math.round(xs.length / ((now() - t) / 1000))}`; });
  await phase('delete', async () => { const xs = shuffled(ids, 5).slice(0, U); const t = now(); for (const id of xs) await db.remove(id); return `ops/s ${Math.round(xs.length / ((now() - t) / 1000))}`; });
  const t1 = now();
  cur = undefined;
  await db.close();
  console.log('close ms', (now() - t1).toFixed(1));
}
if (sampler) { clearInterval(sampler); console.log('peak sample', peak); }
console.log('maxRSS MB', Math.round(process.resourceUsage().maxRSS / 1024));
