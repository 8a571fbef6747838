// @seald-io/nedb: pure-JS, all documents in memory, append-only JSON-lines file (compacted on load).
import Datastore from '@seald-io/nedb';
import { pkgVersion } from '../workload.mjs';

export const meta = {
  engine: '@seald-io/nedb', version: pkgVersion('@seald-io/nedb'), persistent: true,
  durability: { bulk: 'each op appended to the datafile (no fsync); fsync only on compaction', single: 'same: insertAsync resolves after append (no fsync)' },
};

export async function open(dir) {
  const db = new Datastore({ filename: `${dir}/docs.db` });
  await db.loadDatabaseAsync(); // reads the whole file, rebuilds indexes, rewrites (compacts) the file
  await db.ensureIndexAsync({ fieldName: 'city' });
  await db.ensureIndexAsync({ fieldName: 'age' });
  return {
    insertBatch: (docs) => db.insertAsync(docs),
    insertOne: (d) => db.insertAsync(d),
    get: (_id) => db.findOneAsync({ _id }),
    findEq: (city) => db.findAsync({ city }),
    findRange: (lo, hi, limit) => db.findAsync({ age: { $gte: lo, $lt: hi } }).sort({ score: -1 }).limit(limit),
    scan: (x, tag) => db.findAsync({ score: { $gt: x }, tags: tag }), // array field matches if any element equals
    inc: (_id, field, by) => db.updateAsync({ _id }, { $inc: { [field]: by } }),
    remove: (_id) => db.removeAsync({ _id }),
    flush: () => {},
    close: () => {}, // no explicit close; appends are already written
  };
}
