// Profiling helper (not part of the bench): per-document cost of the parts of an indexed equality
// query (`find({ city })` after the point-get phase), each timed alone over the bench's eq params.
//   node --import tsx bench/_documents/profile-eqparts.ts [N] [DIR]
import { open } from '../../platform/node/index.ts';
import { makeIds, makeDoc, shuffled, eqParams } from './workload.mjs';
import { choosePlan } from '../../src/document/exec.ts';
import { documentKey } from '../../src/document/keyspace.ts';
import { decodeDocument, cloneDoc } from '../../src/document/engine.ts';
import fs from 'node:fs';
const N = +(process.argv[2] ?? 100000);
const dir = process.argv[3] ?? '/tmp/lt-prof-query';
const ids = makeIds(N, 1);
if (!fs.existsSync(dir)) {
  const client = await open(dir, { durability: 'strict', ttlMonitor: false });
  const c = client.db('bench').collection('docs');
  await c.createIndex({ city: 1 });
  await c.createIndex({ age: 1 });
  for (let b = 0; b < N; b += 1000) { const docs = []; for (let i = b; i < Math.min(N, b + 1000); i++) docs.push(makeDoc(ids[i], i)); await c.insertMany(docs); }
  await client.close();
}
const client = await open(dir, { durability: 'strict', ttlMonitor: false });
const c = client.db('bench').collection('docs');
await c.createIndex({ city: 1 });
await c.createIndex({ age: 1 });
for (const id of shuffled(ids, 3)) await c.findOne({ _id: id });
const engine = (client as any).engine;
const store = engine.store;

const cities = eqParams(20) as string[];
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
async function part(name: string, fn: (city: string) => Promise<number> | number) {
  await fn(cities[0]!);
  const per: number[] = [];
  for (const city of cities) { const t = cpu(); const n = await fn(city); per.push(((cpu() - t) * 1000) / n); }
  per.sort((a, b) => a - b);
  console.log(name.padEnd(28), 'µs/doc median', per[per.length >> 1]!.toFixed(2), 'min', per[0]!.toFixed(2));
}
// gather the candidate keys per city via the plan
const collMeta = engine.collection('bench', 'docs');
const plans = new Map<string, any>();
for (const city of cities) plans.set(city, (await choosePlan(engine, collMeta, engine.live, { filter: { city } } as any)).plan);
const keys = new Map<string, Uint8Array[]>();
await part('index scan (rangeBatches)', async (city) => {
  const p = plans.get(city)!; const r = p.ranges[0]; let n = 0; const out: Uint8Array[] = [];
  for await (const b of engine.live.rangeBatches({ gte: r.gte, lt: r.lt }, 8, 256)) for (const e of b) { out.push(documentKey(collMeta.id, e[1])); n++; }
  keys.set(city, out); return n;
});
const { hashKey } = await import('../../src/storage/bloom.ts');
await part('hash+memtables', (city) => { const ks = keys.get(city)!; const v = store.current; let x = 0; for (const k of ks) { const h = hashKey(k); if (v.mem.count) x += v.mem.find(k, h); for (const m of v.imms) x += m.find(k, h); } return ks.length; });
await part('hash+mem+mayContain*L0', (city) => { const ks = keys.get(city)!; const v = store.current; let x = 0; for (const k of ks) { const h = hashKey(k); if (v.mem.count) x += v.mem.find(k, h); for (const m of v.imms) x += m.find(k, h); for (const s of v.l0) if (s.mayContain(k, h)) x++; } return ks.length; });
await part('... + findBlock in hit segs', (city) => { const ks = keys.get(city)!; const v = store.current; let x = 0; for (const k of ks) { const h = hashKey(k); if (v.mem.count) x += v.mem.find(k, h); for (const m of v.imms) x += m.find(k, h); for (const s of v.l0) if (s.mayContain(k, h)) x += s.findBlock(k); } return ks.length; });
await part('getCachedView', (city) => { const ks = keys.get(city)!; for (const k of ks) store.getCachedView(k); return ks.length; });
await part('getCachedView+decode', (city) => { const ks = keys.get(city)!; for (const k of ks) decodeDocument(store.getCachedView(k)); return ks.length; });
const decoded = new Map<string, any[]>();
await part('decode (slice first)', (city) => { const ks = keys.get(city)!; const raws = ks.map((k) => store.getCachedView(k).slice()); const t = cpu(); const ds = raws.map((r: Uint8Array) => decodeDocument(r)); decoded.set(city, ds); return ks.length; });
await part('cloneDoc', (city) => { const ds = decoded.get(city)!; for (const d of ds) cloneDoc(d); return ds.length; });
await part('structuredClone', (city) => { const ds = decoded.get(city)!; for (const d of ds) structuredClone(d); return ds.length; });
await part('find().toArray()', async (city) => (await c.find({ city }).toArray()).length);
await client.close();
