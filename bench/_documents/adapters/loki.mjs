// LokiJS: in-memory document store with binary indexes; persisted with LokiFsAdapter
// (whole database serialized to one JSON file, written to <file>~ and renamed; no fsync).
import Loki from 'lokijs';
import fs from 'node:fs';
import { pkgVersion } from '../workload.mjs';

export const meta = {
  engine: 'lokijs', version: pkgVersion('lokijs'), persistent: true,
  durability: { bulk: 'in-memory; saveDatabase() (whole-DB JSON rewrite) at flush', single: 'saveDatabase() (whole-DB JSON rewrite, no fsync) per insert' },
};

export async function open(dir, { durable }) {
  const file = `${dir}/docs.json`;
  const db = new Loki(file, { adapter: new Loki.LokiFsAdapter() });
  if (fs.existsSync(file)) await new Promise((res, rej) => db.loadDatabase({}, (e) => (e ? rej(e) : res())));
  const c = db.getCollection('docs') ?? db.addCollection('docs', { unique: ['_id'], indices: ['city', 'age'] });
  const save = () => new Promise((res, rej) => db.saveDatabase((e) => (e ? rej(e) : res())));
  // Loki returns its live objects (no clone) and adds $loki/meta fields to them.
  return {
    insertBatch: (docs) => { c.insert(docs); },
    insertOne: async (d) => { c.insert(d); if (durable) await save(); },
    get: (id) => c.by('_id', id) ?? null,
    findEq: (city) => c.find({ city }),
    // Loki applies only the first operator of { $gte, $lt }: use $between (inclusive; age is an int)
    findRange: (lo, hi, limit) => c.chain().find({ age: { $between: [lo, hi - 1] } }).simplesort('score', { desc: true }).limit(limit).data(),
    scan: (x, tag) => c.find({ score: { $gt: x }, tags: { $contains: tag } }),
    inc: (id, field, by) => { const d = c.by('_id', id); d[field] += by; c.update(d); },
    remove: (id) => { const d = c.by('_id', id); if (d) c.remove(d); },
    flush: save,
    close: async () => { await save(); await new Promise((res) => db.close(res)); },
  };
}
