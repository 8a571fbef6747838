// Profiling helper (not part of the bench): where the memory of the documents bench goes. Runs the
// runner's bulk load or its work phase (gets, equality, range, scan, updates, deletes) against a
// given build, sampling process.memoryUsage() every 50 ms; after each step prints the step's peak
// RSS (with heap and ArrayBuffer bytes at that moment) and, after a full GC, what stays: RSS, JS
// heap, ArrayBuffers, block cache (with pinned segment indexes), memtables, document cache.
//   node --expose-gc --import tsx bench/_documents/profile-memory.ts 1000000 --dir=/tmp/x --phase=load
//   node --expose-gc --import tsx bench/_documents/profile-memory.ts 1000000 --dir=/tmp/x [--dist=dist-b] [--hold] [--snap=STEP] [--alloc=STEP]
// --phase=load makes the store the work phase (the default) opens; the work phase changes it (copy
// the folder to repeat a run). --hold keeps each query step's first result, as the bench does.
// --snap=STEP writes a heap snapshot at the end of that step into the --dir folder (RSS figures
// after it are the snapshot's). --alloc=STEP prints the step's top allocating functions (sampled,
// objects since collected included: where its garbage comes from). Each step also prints its
// garbage collections (scavenges, mark-compacts, pause ms) and, after a full GC, the engine's own
// live heap and ArrayBuffers (above what the harness held at the start: its ids).
import fs from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';
import inspector from 'node:inspector';
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { makeIdList, makeDoc, shuffledIds, eqParams, rangeParams, scanParams } from './workload.mjs';

const N = +(process.argv[2] ?? 1_000_000);
const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const dist = path.resolve(arg('dist') ?? 'dist');
const dir = path.resolve(arg('dir') ?? '/tmp/lt-profile-memory');
const phase = arg('phase') ?? 'work';
const snapAt = arg('snap');
const hold = process.argv.includes('--hold');
let held: unknown = null;
const keep = (r: unknown, first: boolean): void => {
  if (hold && first) held = r;
};
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');
const { open } = await import(path.join(dist, 'platform/node/index.js'));
const MB = (x: number) => Math.round(x / 1048576);

// garbage collections per step (perf_hooks 'gc' entries): scavenges, mark-compacts, pause ms
const gcs = { minor: 0, major: 0, ms: 0 };
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    const kind = (e as unknown as { detail?: { kind?: number } }).detail?.kind;
    if (kind === constants.NODE_PERFORMANCE_GC_MINOR) gcs.minor++;
    else if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) gcs.major++;
    gcs.ms += e.duration;
  }
}).observe({ entryTypes: ['gc'] });

let peak = { rss: 0, heap: 0, ab: 0 };
const sample = () => {
  const m = process.memoryUsage();
  if (m.rss > peak.rss) peak = { rss: m.rss, heap: m.heapUsed, ab: m.arrayBuffers };
};
setInterval(sample, 50).unref();

// kept compactly, as the runner keeps them (ids.at(i) makes the string)
const ids: { length: number; at(i: number): string } = makeIdList(N, 1);
const mainDir = path.join(dir, 'main');
let client: any;
let coll: any;
async function openStore(): Promise<void> {
  client = await open(mainDir, { durability: 'strict', ttlMonitor: false });
  coll = client.db('bench').collection('docs');
  await coll.createIndex({ city: 1 });
  await coll.createIndex({ age: 1 });
}

const allocAt = arg('alloc');
const session = new inspector.Session();
session.connect();
const post = (method: string, params?: object): Promise<any> =>
  new Promise((resolve, reject) => session.post(method, params ?? {}, (err, res) => (err ? reject(err) : resolve(res))));

function printAllocations(profile: any): void {
  const self = new Map<string, number>();
  let total = 0;
  const walk = (n: any, stack: string[]): void => {
    const f = n.callFrame;
    const here = `${f.functionName || '(anon)'} ${f.url.replace(/^.*\/(src|dist|bench|node_modules)\//, '$1/')}:${f.lineNumber + 1}`;
    const s2 = [here, ...stack].slice(0, 3);
    if (n.selfSize > 0) {
      const k = s2.join(' < ');
      self.set(k, (self.get(k) ?? 0) + n.selfSize);
      total += n.selfSize;
    }
    for (const c of n.children) walk(c, s2);
  };
  walk(profile.head, []);
  console.log(`  allocated (sampled, incl. collected): ${MB(total)} MB`);
  for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`    ${String(MB(v)).padStart(6)} MB  ${k.slice(0, 240)}`);
}

async function step(name: string, fn: () => Promise<unknown>): Promise<void> {
  peak = { rss: 0, heap: 0, ab: 0 };
  if (allocAt === name) await post('HeapProfiler.startSampling', { samplingInterval: 64 * 1024, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  const t = performance.now();
  gcs.minor = gcs.major = gcs.ms = 0;
  await fn();
  // the observer is told of collections in a later task
  await new Promise((r) => setTimeout(r, 0));
  const g = { ...gcs };
  if (allocAt === name) printAllocations((await post('HeapProfiler.stopSampling')).profile);
  sample();
  const ms = performance.now() - t;
  if (snapAt === name) v8.writeHeapSnapshot(path.join(dir, `${name}.heapsnapshot`));
  held = null;
  gc!();
  const m = process.memoryUsage();
  // what the engine holds: the live heap and ArrayBuffers above the harness's own at the start
  // (its ids; the held result, if any, is dropped before the gc)
  const own = `engine: heap ${MB(m.heapUsed - base.heapUsed)} arrayBuffers ${MB(m.arrayBuffers - base.arrayBuffers)}`;
  const e = client?._engine;
  const st = e?.store.stats();
  const dc = e?.docCache.stats();
  console.log(
    `${name.padEnd(8)} ${(ms / 1000).toFixed(1).padStart(6)} s | peak rss ${MB(peak.rss)} (heap ${MB(peak.heap)}, arrayBuffers ${MB(peak.ab)}) | after gc: rss ${MB(m.rss)} heap ${MB(m.heapUsed)}/${MB(m.heapTotal)} arrayBuffers ${MB(m.arrayBuffers)}` +
      (st ? ` | block cache ${MB(st.blockCacheBytes)} memtables ${MB(st.memtableBytes)} doc cache ${MB(dc.bytes)} (${dc.entries} docs)` : '') +
      ` | ${own} | gc ${g.minor} scavenges, ${g.major} mark-compacts, ${Math.round(g.ms)} ms`,
  );
}

gc();
const base = process.memoryUsage();
console.log(`start (after gc): rss ${MB(base.rss)} heap ${MB(base.heapUsed)} arrayBuffers ${MB(base.arrayBuffers)} (ids of ${N} documents made)`);
if (phase === 'load') {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(mainDir, { recursive: true });
  await step('open', openStore);
  await step('load', async () => {
    for (let b = 0; b < N; b += 1000) {
      const docs = [];
      for (let i = b; i < Math.min(N, b + 1000); i++) docs.push(makeDoc(ids.at(i), i));
      await coll.insertMany(docs);
    }
  });
} else {
  const wc = { writeConcern: { j: false } };
  await step('open', openStore);
  await step('gets', async () => {
    for (const id of shuffledIds(ids, 3, Math.min(N, 20_000))) if (!(await coll.findOne({ _id: id }))) throw new Error('missed');
  });
  await step('eq', async () => {
    let i = 0;
    for (const c of eqParams(21)) keep(await coll.find({ city: c }).toArray(), i++ === 0);
  });
  await step('range', async () => {
    let i = 0;
    for (const [lo, hi] of rangeParams(21)) keep(await coll.find({ age: { $gte: lo, $lt: hi } }).sort({ score: -1 }).limit(20).toArray(), i++ === 0);
  });
  await step('scan', async () => {
    let i = 0;
    for (const [x, tag] of scanParams(6)) keep(await coll.find({ score: { $gt: x }, tags: tag }).toArray(), i++ === 0);
  });
  const n = Math.min(10_000, Math.floor(N / 20));
  await step('updates', async () => {
    for (const id of shuffledIds(ids, 4, n)) await coll.updateOne({ _id: id }, { $inc: { score: 1 } }, wc);
  });
  await step('deletes', async () => {
    for (const id of shuffledIds(ids, 5, n)) await coll.deleteOne({ _id: id }, wc);
  });
}
await step('close', () => client.close());
console.log(`max RSS ${MB(process.resourceUsage().maxRSS * 1024)} MB`);
process.exit(0);
