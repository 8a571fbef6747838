// mongosh 2.x against `largetable serve`. mongosh is not a dependency (it is large): the test runs
// when MONGOSH names its binary (e.g. after `npm i mongosh@2` somewhere), and is skipped otherwise.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { startServerProcess } from './spawn.ts';

const isDeno = typeof (globalThis as { Deno?: unknown }).Deno !== 'undefined';
const mongosh = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env['MONGOSH'];

describe('mongosh', { skip: isDeno ? 'runs on Node' : !mongosh || !existsSync(mongosh) ? 'set MONGOSH=/path/to/mongosh to run' : false }, () => {
  it('connects and runs CRUD, indexes, aggregate, explain, stats', async () => {
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
      const out = spawnSync(mongosh!, [`mongodb://127.0.0.1:${srv.mongoPort}/?directConnection=true`, '--quiet', '--norc', '--eval', script], { encoding: 'utf8', timeout: 60_000 });
      assert.equal(out.status, 0, out.stderr + out.stdout);
      const line = out.stdout.trim().split('\n').pop()!;
      assert.deepEqual(JSON.parse(line), { found: ['C', 'Ada'], sum: 91, plan: 'IXSCAN', count: 3, indexes: 2 });
    } finally {
      assert.equal(await srv.stop(), 0);
    }
  });
});
