// Profiling helper (not part of the bench, whose reads touch each document once): repeated reads that
// the document cache serves. On a copy of a store the bench's load phase left (BASE =
// DIR/largetable/main), through a built dist/ (so an old build can be A/B'd against a new one): a hot
// set of 5,000 ids read by findOne 6 times (admitted, then kept decoded), then timed over 10 rounds
// (µs per get); then one city's `find({ city })` (~2,000 documents) repeated 6 times, then timed over
// 10 rounds (ms per query, every round printed: retained results make some rounds pay a major GC).
//   node --import tsx bench/_documents/profile-hotreads.ts BASE [--dist=DIR]
import { makeIds, now, shuffled, CITIES } from './workload.mjs';
import fs from 'node:fs';
import path from 'node:path';
const base = process.argv[2]!;
const distDir = path.resolve(process.argv.find((a) => a.startsWith('--dist='))?.slice(7) ?? path.join(import.meta.dirname, '../../dist'));
const { open: openLt } = await import(path.join(distDir, 'platform/node/index.js'));
const dir = `/tmp/hot-hr-${process.pid}`;
fs.rmSync(dir, { recursive: true, force: true });
fs.cpSync(base, dir, { recursive: true });
const ids: string[] = makeIds(100000, 1);
const client = await openLt(dir, { durability: 'strict', ttlMonitor: false });
const c = client.db('bench').collection('docs');
await c.createIndex({ city: 1 });
await c.createIndex({ age: 1 });
const hot = shuffled(ids, 3).slice(0, 5000);
for (let r = 0; r < 6; r++) for (const id of hot) await c.findOne({ _id: id });
const per: number[] = [];
for (let r = 0; r < 10; r++) { const t = now(); for (const id of hot) await c.findOne({ _id: id }); per.push(((now() - t) * 1000) / hot.length); }
per.sort((a, b) => a - b);
console.log('hot findOne µs median', per[5]!.toFixed(2), 'min', per[0]!.toFixed(2), JSON.stringify((client as any).engine.docCache.stats()));
// repeated eq on the same city (its documents admitted after repeats)
const city = CITIES[3]!;
for (let r = 0; r < 6; r++) await c.find({ city }).toArray();
const q: number[] = [];
for (let r = 0; r < 10; r++) { const t = now(); await c.find({ city }).toArray(); q.push(now() - t); }
q.sort((a, b) => a - b);
console.log('repeated eq ms median', q[5]!.toFixed(2), 'min', q[0]!.toFixed(2), q.map((x) => x.toFixed(1)).join(' '), JSON.stringify((client as any).engine.docCache.stats()));
await client.close();
fs.rmSync(dir, { recursive: true, force: true });
