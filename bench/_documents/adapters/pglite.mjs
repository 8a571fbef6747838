// PGlite: PostgreSQL compiled to WebAssembly (single-user), node filesystem data dir, jsonb documents
// with expression indexes.
import { PGlite } from '@electric-sql/pglite';
import { pkgVersion } from '../workload.mjs';

export const meta = {
  engine: '@electric-sql/pglite', version: pkgVersion('@electric-sql/pglite'), persistent: true,
  durability: { bulk: 'autocommit per statement (server settings in meta.settings; writes go through Emscripten NODEFS)', single: 'same' },
};

export async function open(dir) {
  const pg = await PGlite.create(`${dir}/pgdata`);
  const settings = await pg.query(`SELECT name, setting FROM pg_settings WHERE name IN ('fsync','synchronous_commit','wal_sync_method','full_page_writes')`);
  meta.settings = Object.fromEntries(settings.rows.map((r) => [r.name, r.setting]));
  await pg.exec(`CREATE TABLE IF NOT EXISTS docs (id text PRIMARY KEY, data jsonb NOT NULL);
    CREATE INDEX IF NOT EXISTS docs_city ON docs ((data->>'city'));
    CREATE INDEX IF NOT EXISTS docs_age ON docs (((data->>'age')::int));`);
  const rows = async (sql, params) => (await pg.query(sql, params)).rows.map((r) => r.data);
  return {
    insertBatch: (docs) => pg.query(`INSERT INTO docs (id, data) SELECT x->>'_id', x FROM jsonb_array_elements($1::jsonb) x`, [JSON.stringify(docs)]),
    insertOne: (d) => pg.query('INSERT INTO docs (id, data) VALUES ($1, $2)', [d._id, JSON.stringify(d)]),
    get: async (id) => (await rows('SELECT data FROM docs WHERE id = $1', [id]))[0] ?? null,
    findEq: (city) => rows(`SELECT data FROM docs WHERE data->>'city' = $1`, [city]),
    findRange: (lo, hi, limit) => rows(`SELECT data FROM docs WHERE (data->>'age')::int >= $1 AND (data->>'age')::int < $2
      ORDER BY (data->>'score')::float8 DESC LIMIT $3`, [lo, hi, limit]),
    scan: (x, tag) => rows(`SELECT data FROM docs WHERE (data->>'score')::float8 > $1 AND data->'tags' ? $2`, [x, tag]),
    inc: (id, field, by) => pg.query(`UPDATE docs SET data = jsonb_set(data, ARRAY[$3::text], to_jsonb((data->>$3)::float8 + $2)) WHERE id = $1`, [id, by, field]),
    remove: (id) => pg.query('DELETE FROM docs WHERE id = $1', [id]),
    flush: () => {},
    close: () => pg.close(),
  };
}
