// Profiling helper (not part of the bench): batched load of N documents into largetable.
import { open } from './adapters/largetable.ts';
import { makeIds, makeDoc, now } from './workload.mjs';
import fs from 'node:fs';
const N = +(process.argv[2] ?? 20000);
const dir = '/tmp/lt-prof'; fs.rmSync(dir, { recursive: true, force: true });
const db = await open(dir, { durable: false });
const ids = makeIds(N, 1);
const t = now();
for (let b = 0; b < N; b += 1000) { const docs = []; for (let i = b; i < Math.min(N, b + 1000); i++) docs.push(makeDoc(ids[i], i)); await db.insertBatch(docs); }
console.log('load docs/s', Math.round(N / ((now() - t) / 1000)));
const t2 = now();
for (let i = 0; i < 5; i++) await db.findEq('city0' + i);
console.log('eq ms', ((now() - t2) / 5).toFixed(2));
await db.close();
