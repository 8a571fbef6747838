// Profiling helper (not part of the bench): N sequential strict insertOne calls on a fresh store, as the
// bench's sequential single-insert phase does, with the latency distribution and the calls over 1 ms.
//   node bench/_documents/profile-seq.mjs [N=2000] [DIR=/tmp/lt-profile-seq]
import { open } from '../../dist/platform/node/index.js';
import fs from 'node:fs';
const N = +(process.argv[2] ?? 2000);
const dir = process.argv[3] ?? '/tmp/lt-profile-seq';
fs.rmSync(dir, { recursive: true, force: true });
const client = await open(dir, { durability: 'strict', ttlMonitor: false });
const c = client.db('bench').collection('docs');
await c.createIndex({ city: 1 });
await c.createIndex({ age: 1 });
const lat = [];
for (let i = 0; i < N; i++) {
  const t = performance.now();
  await c.insertOne({ _id: `k${i}`, city: `c${i % 50}`, age: i % 60, bio: 'x'.repeat(200) });
  lat.push(performance.now() - t);
}
const s = lat.slice().sort((a, b) => a - b);
const us = (x) => (x * 1000).toFixed(0);
console.log(`${N} sequential strict insertOne: mean ${us(lat.reduce((a, b) => a + b) / N)} µs, p50 ${us(s[N >> 1])}, p90 ${us(s[Math.floor(N * 0.9)])}, p99 ${us(s[Math.floor(N * 0.99)])}`);
console.log(`over 1 ms: ${lat.filter((x) => x > 1).length}`);
await client.close();
fs.rmSync(dir, { recursive: true, force: true });
