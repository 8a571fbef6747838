// Profiling helper (not part of the bench): the bench's indexed equality (`find({ city }).toArray()`)
// against a given build, for alternated A/B runs of two builds (each a dist/ WITH its build/ beside it,
// e.g. a copy in /tmp/NAME-old). Opens DIR (the bench's store of N documents, loaded by the first run and
// kept), warms it with point gets of every id in the bench's order, then runs an equality query on each
// of the 50 cities once (in the bench's order: each city's documents read for the first time, as in the
// bench, where no query repeats a city; a repeated query is served by the document cache); prints the medians of wall ms per query, of CPU ms (process) and of µs per
// returned document; then the bench's 20 range queries (median wall ms).
//   node bench/_documents/profile-eq-ab.mjs --dist=/tmp/NAME-old/dist [--docs=N] [--dir=DIR] [--prof=FILE.cpuprofile (the equality queries)]
import fs from 'node:fs';
import path from 'node:path';
import { makeIds, makeDoc, shuffled, eqParams, rangeParams, now } from './workload.mjs';

const arg = (name, d) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? d;
const N = +arg('docs', 100000);
const dir = arg('dir', `/tmp/lt-profile-eq-${N}`);
const { open } = await import(path.join(path.resolve(arg('dist', 'dist')), 'platform/node/index.js'));
const ids = makeIds(N, 1);
const openStore = async () => {
  const client = await open(dir, { durability: 'strict', ttlMonitor: false });
  const c = client.db('bench').collection('docs');
  await c.createIndex({ city: 1 });
  await c.createIndex({ age: 1 });
  return { client, c };
};
if (!fs.existsSync(dir)) {
  const { client, c } = await openStore();
  for (let b = 0; b < N; b += 1000) { const docs = []; for (let i = b; i < Math.min(N, b + 1000); i++) docs.push(makeDoc(ids[i], i)); await c.insertMany(docs); }
  await client.close();
}
const { client, c } = await openStore();
for (const id of shuffled(ids, 3)) await c.findOne({ _id: id });
// process CPU time (ms; counts the GC helper threads too)
const mainMs = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
const prof = arg('prof');
let session;
if (prof) {
  const { Session } = await import('node:inspector/promises');
  session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: +(process.env.PROF_INTERVAL_US ?? 100) });
  await session.post('Profiler.start');
}
const wall = [], cpu = [], perDoc = [];
{
  for (const city of eqParams(50)) {
    const c0 = mainMs();
    const t = now();
    const n = (await c.find({ city }).toArray()).length;
    const w = now() - t;
    wall.push(w); cpu.push(mainMs() - c0); perDoc.push((w * 1000) / n);
  }
}
if (session) fs.writeFileSync(prof, JSON.stringify((await session.post('Profiler.stop')).profile));
// then the bench's 20 range queries (indexed age range, sort by score, limit 20)
const rwall = [];
for (const [lo, hi] of rangeParams(20)) {
  const t = now();
  await c.find({ age: { $gte: lo, $lt: hi } }).sort({ score: -1 }).limit(20).toArray();
  rwall.push(now() - t);
}
const med = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
console.log(`${client.kernelBuild} eq wall ms ${med(wall).toFixed(2)} cpu ms ${med(cpu).toFixed(2)} wall µs/doc ${med(perDoc).toFixed(2)} | range wall ms ${med(rwall).toFixed(2)}`);
await client.close();
