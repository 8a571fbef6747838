// mongosh 2.x against `largetable serve`. mongosh is not a dependency (it is large): the test runs
// when MONGOSH names its binary (e.g. after `npm i mongosh@2` somewhere), and is skipped otherwise.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import type { SpawnSyncReturns } from 'node:child_process';
import { existsSync } from 'node:fs';
import { startServerProcess } from './spawn.ts';

const isDeno = typeof (globalThis as { Deno?: unknown }).Deno !== 'undefined';
const mongosh = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env['MONGOSH'];

/** mongosh against the server; `stdin` feeds the script as a session (shell commands such as `show dbs`). */
function sh(port: number, script: string, stdin = false): SpawnSyncReturns<string> {
  const url = `mongodb://127.0.0.1:${port}/?directConnection=true`;
  const args = stdin ? [url, '--quiet', '--norc'] : [url, '--quiet', '--norc', '--eval', script];
  return spawnSync(mongosh!, args, { encoding: 'utf8', timeout: 60_000, ...(stdin ? { input: script + '\n' } : {}) });
}

describe('mongosh', { skip: isDeno ? 'runs on Node' : !mongosh || !existsSync(mongosh) ? 'set MONGOSH=/path/to/mongosh to run' : false }, () => {
  it('connects and runs CRUD, indexes, aggregate, countDocuments, explain, stats, show dbs/collections', async () => {
    const srv = await startServerProcess();
    try {
      const script = [
        'db.users.insertMany([{ name: "Ada", age: 36 }, { name: "B", age: 5 }, { name: "C", age: 50 }]);',
        'db.users.createIndex({ age: 1 });',
        'const r = {',
        '  found: db.users.find({ age: { $gt: 10 } }).sort({ age: -1 }).toArray().map((d) => d.name),',
        '  sum: db.users.aggregate([{ $group: { _id: null, s: { $sum: "$age" } } }]).toArray()[0].s,',
        '  plan: db.users.find({ age: 36 }).explain().queryPlanner.winningPlan.inputStage.stage,',
        '  count: db.users.stats().count,',
        '  indexes: db.users.getIndexes().length,',
        '};',
        'print(JSON.stringify(r));',
      ].join('\n');
      const out = sh(srv.mongoPort, script);
      assert.equal(out.status, 0, out.stderr + out.stdout);
      const line = out.stdout.trim().split('\n').pop()!;
      assert.deepEqual(JSON.parse(line), { found: ['C', 'Ada'], sum: 91, plan: 'IXSCAN', count: 3, indexes: 2 });

      const crud = [
        'const app = db.getSiblingDB("shop");',
        'const ins = app.items.insertOne({ sku: "a1", qty: 5, tags: ["x"] });',
        'app.items.insertOne({ sku: "b2", qty: 1 });',
        'const upd = app.items.updateOne({ sku: "a1" }, { $inc: { qty: 2 }, $push: { tags: "y" } });',
        'const del = app.items.deleteOne({ sku: "b2" });',
        'const idx = app.items.createIndex({ sku: 1 }, { unique: true });',
        'let dup = null; try { app.items.insertOne({ sku: "a1" }); } catch (e) { dup = e.code; }',
        'const out = {',
        '  insertedIdType: typeof ins.insertedId.toHexString(),',
        '  modified: upd.modifiedCount, deleted: del.deletedCount, idx, dup,',
        '  doc: (({ _id, ...rest }) => rest)(app.items.findOne({ sku: "a1" })),',
        '  names: app.items.getIndexes().map((i) => i.name),',
        '  n: app.items.countDocuments({ qty: { $gte: 7 } }),',
        '  agg: app.items.aggregate([{ $unwind: "$tags" }, { $group: { _id: "$sku", t: { $push: "$tags" } } }]).toArray(),',
        '  colls: app.getCollectionNames(),',
        '  dbs: db.adminCommand({ listDatabases: 1 }).databases.map((d) => d.name).filter((n) => n === "shop"),',
        '};',
        'print(JSON.stringify(out));',
      ].join('\n');
      const c = sh(srv.mongoPort, crud);
      assert.equal(c.status, 0, c.stderr + c.stdout);
      assert.deepEqual(JSON.parse(c.stdout.trim().split('\n').pop()!), {
        insertedIdType: 'string', modified: 1, deleted: 1, idx: 'sku_1', dup: 11000,
        doc: { sku: 'a1', qty: 7, tags: ['x', 'y'] }, names: ['_id_', 'sku_1'], n: 1,
        agg: [{ _id: 'a1', t: ['x', 'y'] }], colls: ['items'], dbs: ['shop'],
      });

      // Shell commands (read from stdin as a session: prompts precede each answer) and mongosh's printing.
      const shown = sh(srv.mongoPort, 'use shop\nshow dbs\nshow collections\ndb.items.find({}, { _id: 0 })', true);
      assert.equal(shown.status, 0, shown.stderr + shown.stdout);
      assert.match(shown.stdout, /(^|> )shop\s+\d+/m);
      assert.match(shown.stdout, /(^|> )items$/m);
      assert.match(shown.stdout, /sku: 'a1'/);
    } finally {
      assert.equal(await srv.stop(), 0);
    }
  });
});
