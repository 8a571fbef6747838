// RxDB (open-core) with its free in-memory storage: nothing is persisted, so no durability,
// size or cold-open figures. (Its persistent Node storages are premium or a 500-doc SQLite trial.)
import { createRxDatabase, addRxPlugin } from 'rxdb';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import { RxDBUpdatePlugin } from 'rxdb/plugins/update';
import { pkgVersion } from '../workload.mjs';
addRxPlugin(RxDBUpdatePlugin);

export const meta = {
  engine: 'rxdb', version: pkgVersion('rxdb'), storage: 'memory (getRxStorageMemory)', persistent: false,
  durability: { bulk: 'none (memory storage)', single: 'none (memory storage)' },
};

const schema = {
  version: 0, primaryKey: 'id', type: 'object',
  properties: {
    id: { type: 'string', maxLength: 32 }, name: { type: 'string' },
    age: { type: 'integer', minimum: 0, maximum: 200, multipleOf: 1 },
    city: { type: 'string', maxLength: 16 }, score: { type: 'number' },
    tags: { type: 'array', items: { type: 'string' } }, createdAt: { type: 'string', format: 'date-time' }, bio: { type: 'string' },
  },
  required: ['id', 'age', 'city', 'score'], indexes: ['city', 'age'],
};
const toRx = ({ _id, createdAt, ...rest }) => ({ id: _id, ...rest, createdAt: createdAt.toISOString() });
let n = 0;

export async function open() {
  const db = await createRxDatabase({ name: `bench${n++}`, storage: getRxStorageMemory() });
  const { docs: c } = await db.addCollections({ docs: { schema } });
  return {
    insertBatch: async (docs) => { const r = await c.bulkInsert(docs.map(toRx)); if (r.error.length) throw new Error(JSON.stringify(r.error[0])); },
    insertOne: (d) => c.insert(toRx(d)),
    get: (id) => c.findOne(id).exec(),
    findEq: (city) => c.find({ selector: { city } }).exec(),
    findRange: (lo, hi, limit) => c.find({ selector: { age: { $gte: lo, $lt: hi } }, sort: [{ score: 'desc' }], limit }).exec(),
    scan: (x, tag) => c.find({ selector: { score: { $gt: x }, tags: { $elemMatch: { $eq: tag } } } }).exec(),
    inc: (id, field, by) => c.findOne(id).update({ $inc: { [field]: by } }),
    remove: (id) => c.findOne(id).remove(),
    flush: () => {},
    close: () => db.close(),
  };
}
