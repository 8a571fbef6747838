// Profiling helper (not part of the bench): the bench's durable load (strict, batches of 1000, indexes
// on city and age) or its 64-caller single inserts, against a given build, printing wall docs/s, CPU
// µs per document (user + sys), fresh memory faulted in (minor page faults: ~6 ms per MB on the
// bench VM) and RSS. For alternated A/B runs of two builds: compile one with
//   node node_modules/typescript/bin/tsc -p tsconfig.build.json --outDir dist-b
// and run both in turn (the build must lie inside the checkout, so its imports resolve node_modules):
//   node --import tsx bench/_documents/profile-ab.ts 100000 --dist=dist-b [--conc] [--prof=DIR] [--opts='{"documentCacheBytes":0}']
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeIds, makeDoc, now } from './workload.mjs';
import { cpuProfiled } from './cpuprofile.ts';

const N = +(process.argv[2] ?? 100000);
const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const dist = path.resolve(arg('dist') ?? 'dist');
const conc = process.argv.includes('--conc');
const { open } = await import(path.join(dist, 'platform/node/index.js'));
const dir = path.join(os.tmpdir(), `lt-profile-ab-${process.pid}`);
fs.rmSync(dir, { recursive: true, force: true });
fs.mkdirSync(dir, { recursive: true });
const client = await open(dir, { durability: 'strict', ttlMonitor: false, ...JSON.parse(arg('opts') ?? '{}') });
const c = client.db('bench').collection('docs');
await c.createIndex({ city: 1 });
await c.createIndex({ age: 1 });
const ids = makeIds(N, 1);
if (conc) {
  // as the bench: sequential single inserts into the same store first
  const s = makeIds(2000, 99);
  for (let i = 0; i < s.length; i++) await c.insertOne(makeDoc(s[i], 1e7 + i));
}
// the main thread's CPU time (ns, from the scheduler; process.cpuUsage also counts the JIT's, GC's and thread pool's threads)
const mainNs = (): number => +fs.readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]!;
const m0 = mainNs();
const f0 = process.resourceUsage().minorPageFault;
const c0 = process.cpuUsage();
const t = now();
await cpuProfiled(arg('prof'), conc ? 'conc' : 'load', async () => {
  if (conc) {
    let next = 0;
    await Promise.all(Array.from({ length: 64 }, async () => {
      while (next < N) {
        const i = next++;
        await c.insertOne(makeDoc(ids[i], 2e7 + i));
      }
    }));
  } else {
    for (let b = 0; b < N; b += 1000) {
      const docs = [];
      for (let i = b; i < Math.min(N, b + 1000); i++) docs.push(makeDoc(ids[i], i));
      await c.insertMany(docs);
    }
  }
});
const wall = now() - t;
const u = process.cpuUsage(c0);
const mainUs = (mainNs() - m0) / 1000;
const faultsMB = ((process.resourceUsage().minorPageFault - f0) * 4) / 1024;
console.log(
  `${path.basename(dist)} ${conc ? 'single inserts/s (64 callers)' : 'load docs/s'} ${Math.round(N / (wall / 1000))} cpu µs/doc ${((u.user + u.system) / N).toFixed(1)} ` +
    `(user ${(u.user / N).toFixed(1)} sys ${(u.system / N).toFixed(1)}; main thread ${(mainUs / N).toFixed(1)}, ${((100 * mainUs) / 1000 / wall).toFixed(0)}% of wall) faults ${faultsMB.toFixed(0)} MB rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MB loadavg ${os.loadavg()[0]!.toFixed(1)}`,
);
await client.close();
fs.rmSync(dir, { recursive: true, force: true });
