// better-sqlite3: native SQLite, WAL mode, JSON text documents, expression indexes.
import Database from 'better-sqlite3';
import { pkgVersion } from '../workload.mjs';
const version = pkgVersion('better-sqlite3');

export const meta = {
  engine: 'better-sqlite3', version, persistent: true,
  durability: { bulk: 'WAL, synchronous=NORMAL (commit survives app crash; fsync at checkpoint)', single: 'WAL, synchronous=FULL (fsync per commit)' },
};

export async function open(dir, { durable }) {
  const db = new Database(`${dir}/docs.db`);
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${durable ? 'FULL' : 'NORMAL'}`);
  db.exec(`CREATE TABLE IF NOT EXISTS docs (id TEXT PRIMARY KEY, data TEXT NOT NULL);
    CREATE INDEX IF NOT EXISTS docs_city ON docs (json_extract(data, '$.city'));
    CREATE INDEX IF NOT EXISTS docs_age ON docs (json_extract(data, '$.age'));`);
  const ins = db.prepare('INSERT INTO docs (id, data) VALUES (?, ?)');
  const get = db.prepare('SELECT data FROM docs WHERE id = ?').pluck();
  const eq = db.prepare(`SELECT data FROM docs WHERE json_extract(data, '$.city') = ?`).pluck();
  const range = db.prepare(`SELECT data FROM docs WHERE json_extract(data, '$.age') >= ? AND json_extract(data, '$.age') < ?
    ORDER BY json_extract(data, '$.score') DESC LIMIT ?`).pluck();
  const scan = db.prepare(`SELECT data FROM docs WHERE json_extract(data, '$.score') > ?
    AND EXISTS (SELECT 1 FROM json_each(data, '$.tags') WHERE value = ?)`).pluck();
  const inc = db.prepare(`UPDATE docs SET data = json_set(data, '$.score', json_extract(data, '$.score') + ?) WHERE id = ?`);
  const del = db.prepare('DELETE FROM docs WHERE id = ?');
  const insertMany = db.transaction((docs) => { for (const d of docs) ins.run(d._id, JSON.stringify(d)); });
  const parse = (rows) => rows.map((r) => JSON.parse(r));
  return {
    insertBatch: (docs) => insertMany(docs),
    insertOne: (d) => ins.run(d._id, JSON.stringify(d)),
    get: (id) => { const r = get.get(id); return r === undefined ? null : JSON.parse(r); },
    findEq: (city) => parse(eq.all(city)),
    findRange: (lo, hi, limit) => parse(range.all(lo, hi, limit)),
    scan: (x, tag) => parse(scan.all(x, tag)),
    inc: (id, field, by) => inc.run(by, id), // field fixed to score in the prepared statement
    remove: (id) => del.run(id),
    flush: () => {},
    close: () => db.close(),
  };
}
