// Profiling helper (not part of the bench): load N documents, then the read/update workload.
import { open } from './adapters/largetable.ts';
import { makeIds, makeDoc, now, shuffled, rangeParams, scanParams, eqParams } from './workload.mjs';
import fs from 'node:fs';
const N = +(process.argv[2] ?? 20000);
const dir = '/tmp/lt-prof'; fs.rmSync(dir, { recursive: true, force: true });
const db = await open(dir, { durable: false });
const ids = makeIds(N, 1);
let t = now();
for (let b = 0; b < N; b += 1000) { const docs = []; for (let i = b; i < Math.min(N, b + 1000); i++) docs.push(makeDoc(ids[i], i)); await db.insertBatch(docs); }
console.log('load docs/s', Math.round(N / ((now() - t) / 1000)));
t = now(); for (const id of shuffled(ids, 3).slice(0, 10000)) await db.get(id); console.log('get us', ((now() - t) * 1000 / 10000).toFixed(1));
t = now(); for (const c of eqParams(5)) await db.findEq(c); console.log('eq ms', ((now() - t) / 5).toFixed(2));
t = now(); for (const [lo, hi] of rangeParams(5)) await db.findRange(lo, hi, 20); console.log('range ms', ((now() - t) / 5).toFixed(2));
t = now(); for (const [x, tag] of scanParams(2)) await db.scan(x, tag); console.log('scan ms', ((now() - t) / 2).toFixed(2));
t = now(); for (const id of shuffled(ids, 4).slice(0, 2000)) await db.inc(id, 'score', 1); console.log('update ops/s', Math.round(2000 / ((now() - t) / 1000)));
await db.close();
