// Profiling helper (not part of the bench): a timeline of the bench's single-insert phases in a fresh process
// (a2: 300 sequential durable insertOne calls into a fresh store, a3: 300 from 64 concurrent callers), largetable only.
// Prints a2's time and the way each of its commits was written (s: on the loop thread, O_DSYNC; a: through the
// thread pool), then a3's wall time, the main thread's CPU and its run-queue wait (runnable, not running: CPU
// contention) from /proc, and every storage call a3 made (adapter and file handles: writes with their bytes, syncs,
// closes, opens, manifest replaces), each with when it was issued and how long it took, plus each group commit
// handed to the store (store.write: its ops). Times in ms from a3's start. What lies between a group's acknowledged
// write and the next group's write is the loop thread's work (callers resumed, inserts staged and encoded).
//   node bench/_documents/trace-single.mjs [DIST=dist] [--single=300] [--dir=/tmp/lt-trace-single]
// DIST: a build inside the checkout (as profile-single.mjs's largetable@DIR), e.g. dist-b.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeIds, makeDoc } from './workload.mjs';
import { openFreshDocs } from './freshdocs.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const arg = (name) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const dist = process.argv[2] && !process.argv[2].startsWith('--') ? process.argv[2] : 'dist';
const single = +(arg('single') ?? 300);
const dir = path.resolve(arg('dir') ?? path.join(os.tmpdir(), 'lt-trace-single'));
const { client, c } = await openFreshDocs(path.resolve(here, '../..', dist), 'platform/node/bundle.js', dir);
const store = client.engine.store;

const T = () => performance.now();
let t0 = 0;
let tracing = false;
const log = [];
const at = (t) => (t - t0).toFixed(2).padStart(7);
/** Wraps obj[m] (an async storage call): while tracing, logs when it was issued and how long it took. */
function traced(obj, m, describe) {
  const f = obj[m];
  if (typeof f !== 'function') return;
  obj[m] = function (...args) {
    const t = T();
    const r = f.apply(this, args);
    if (!tracing || !(r instanceof Promise)) return r;
    const what = describe(this, args);
    return r.finally(() => log.push([t, `${at(t)} ${at(T())} ${(T() - t).toFixed(2).padStart(6)}  ${what}`]));
  };
}
const fileArg = (a) => (typeof a[0] === 'string' ? ` ${a[0]}` : '');
for (const m of ['open', 'replace', 'remove', 'rename', 'syncDirectory']) traced(store.adapter, m, (_, a) => `adapter.${m}${fileArg(a)}`);
// every file handle of the adapter shares the WAL handle's class
const handle = Object.getPrototypeOf(store.wal);
for (const m of ['write', 'sync', 'close', 'truncate']) traced(handle, m, (h, a) => `${h.name} ${m}${a[1] instanceof Uint8Array ? ` ${a[1].length} B at ${a[0]}` : ''}`);
// the loop-thread way: no promise, logged when it returns
let ways = '';
const writeSync = handle.writeDurableSync;
if (writeSync) {
  handle.writeDurableSync = function (off, bytes) {
    const t = T();
    const done = writeSync.call(this, off, bytes);
    if (done && off > 0) ways += 's';
    if (done && tracing) log.push([t, `${at(t)} ${at(T())} ${(T() - t).toFixed(2).padStart(6)}  ${this.name} writeDurableSync ${bytes.length} B at ${off}`]);
    return done;
  };
}
const asyncWrite = handle.write;
handle.write = function (off, bytes) {
  if (this.name.endsWith('.wal') && off > 0 && bytes.some((b) => b !== 0)) ways += 'a';
  return asyncWrite.call(this, off, bytes);
};
const storeWrite = store.write;
store.write = function (ops, o) {
  if (tracing) log.push([T(), `${at(T())}                 store.write ${ops.length} ops${o?.more ? ' (more follow)' : ''}`]);
  return storeWrite.call(this, ops, o);
};

const sIds = makeIds(single, 99);
let t = T();
for (let i = 0; i < single; i++) await c.insertOne(makeDoc(sIds[i], 1e7 + i));
console.log(`a2: ${single} sequential inserts ${(T() - t).toFixed(1)} ms; ways (s: loop thread, a: thread pool): ${ways}`);

// the main thread's CPU and run-queue wait (ns, /proc/.../schedstat: on-CPU, waiting to run, timeslices)
const sched = () => (process.platform === 'linux' ? fs.readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ').map(Number) : [NaN, NaN]);
const cIds = makeIds(single, 98);
let next = 0;
const s0 = sched();
tracing = true;
t0 = T();
await Promise.all(Array.from({ length: 64 }, async () => {
  while (next < single) { const i = next++; await c.insertOne(makeDoc(cIds[i], 2e7 + i)); }
}));
const wall = T() - t0;
tracing = false;
const s1 = sched();
console.log(`a3: ${single} inserts from 64 callers ${wall.toFixed(1)} ms; main thread CPU ${((s1[0] - s0[0]) / 1e6).toFixed(1)} ms, run-queue wait ${((s1[1] - s0[1]) / 1e6).toFixed(1)} ms; load ${os.loadavg()[0].toFixed(2)}`);
console.log('  issued    done     ms  call');
for (const [, line] of log.sort((a, b) => a[0] - b[0])) console.log(line);
await client.close();
fs.rmSync(dir, { recursive: true, force: true });
