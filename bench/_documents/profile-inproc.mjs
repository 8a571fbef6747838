// Profiling helper (not part of the bench): sequential strict insertOne calls on fresh stores in ONE process, alternated
// insert by insert, so that both sides see the same machine load (on a shared VM, separate runs differ by up to 2-5x).
//   node bench/_documents/profile-inproc.mjs [N=2000] [--builds=dist,dist-b]  two builds (inside the checkout), a store each
//   node bench/_documents/profile-inproc.mjs [N=2000] --ways [--builds=dist]  one build, one store: every other commit is
//        kept off the loop thread (its writeDurableSync declines), so the thread-pool way is measured beside the other
// Prints per side: insert latency p50/p90/p99/mean (us) and how many commits went through the thread pool.
// Build a second tree with `node node_modules/typescript/bin/tsc -p tsconfig.build.json --outDir dist-b`.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeIds, makeDoc } from './workload.mjs';
import { openFreshDocs } from './freshdocs.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const arg = (name) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const N = +(process.argv[2] && !process.argv[2].startsWith('--') ? process.argv[2] : 2000);
const ways = process.argv.includes('--ways');
const builds = (arg('builds') ?? (ways ? 'dist' : 'dist,dist-b')).split(',');

/** A fresh store of `build` whose WAL handles count the commits written through the thread pool. */
async function side(build, label) {
  const dir = path.join(os.tmpdir(), `lt-profile-inproc-${process.pid}-${label}`);
  const { client, c } = await openFreshDocs(path.join(root, build), 'platform/node/index.js', dir);
  const s = { label, client, c, dir, lat: [], pool: 0, wrote: false, decline: false };
  const h = Object.getPrototypeOf(client.engine.store.wal);
  const write = h.write;
  // a WAL commit's write through the thread pool (not a spare's or a chunk's zeros)
  h.write = function (off, bytes) { if (this.name.endsWith('.wal') && off > 0 && bytes.length < 65536) s.wrote = true; return write.call(this, off, bytes); };
  const sync = h.writeDurableSync;
  if (sync) h.writeDurableSync = function (off, bytes) { return s.decline ? false : sync.call(this, off, bytes); };
  return s;
}

const sides = ways ? [await side(builds[0], 'ways')] : [await side(builds[0], builds[0]), await side(builds[1], builds[1])];
const ids = makeIds(2 * N, 99);
const byWay = { loop: [], pool: [] };
for (let i = 0; i < N; i++) {
  for (const [k, s] of (i % 2 ? sides.slice().reverse() : sides).entries()) {
    s.wrote = false;
    s.decline = ways && i % 2 === 1;
    const t = performance.now();
    await s.c.insertOne(makeDoc(ids[s === sides[0] ? i : N + i], 1e7 + i));
    const ms = performance.now() - t;
    s.lat.push(ms);
    if (s.wrote) s.pool++;
    if (ways) (s.wrote ? byWay.pool : byWay.loop).push(ms);
    void k;
  }
}
const q = (a, x) => (a.length ? Math.round(a.slice().sort((p, r) => p - r)[Math.floor(x * (a.length - 1))] * 1000) : NaN);
const summary = (a) => `p50 ${q(a, 0.5)} p90 ${q(a, 0.9)} p99 ${q(a, 0.99)} mean ${Math.round((a.reduce((p, r) => p + r, 0) / a.length) * 1000)}`;
for (const s of sides) {
  console.log(`${s.label.padEnd(8)} ${summary(s.lat)} | thread pool ${s.pool} of ${N} | load ${os.loadavg()[0].toFixed(2)}`);
  await s.client.close();
  fs.rmSync(s.dir, { recursive: true, force: true });
}
if (ways) for (const [w, a] of Object.entries(byWay)) console.log(`  ${w === 'loop' ? 'loop thread' : 'thread pool'} (${a.length}): ${summary(a)}`);
