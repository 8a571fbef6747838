// The mongosh-style shell in-process (Node and Deno) over a real client on a memory store:
// db helpers, implicit awaits, shell variables, mongosh-style and --json output.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { EJSON } from 'bson';
import { open } from '../../src/index.ts';
import { openMemoryAdapter } from '../../platform/memory.ts';
import { runShell } from '../../src/cli/shell.ts';
import type { CliHost } from '../../src/cli/main.ts';
import type { ClientLike } from '../../src/server/engine.ts';

let client: ClientLike;

async function sh(script: string, json = false): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const host = { runtime: 'test', version: '0', env: {}, out: (t: string) => (out += t), err: (t: string) => (err += t) } as unknown as CliHost;
  const code = await runShell(client, host, script, { json });
  return { code, out, err };
}

describe('shell', () => {
  before(async () => {
    client = (await open('memory://shell', { adapter: openMemoryAdapter('shell'), kernels: 'typescript', ttlMonitor: false })) as unknown as ClientLike;
  });
  after(async () => {
    await client.close();
  });

  it('getSiblingDB, getName, getCollectionNames and collection helpers with implicit awaits', async () => {
    const r = await sh([
      "const o = db.getSiblingDB('other')",
      'o.getName()',
      "o.people.insertMany([{ _id: 1, n: 'a', age: 30 }, { _id: 2, n: 'b', age: 40 }, { _id: 3, n: 'c', age: 50 }])",
      'o.people.createIndex({ age: 1 })',
      'o.getCollection("people").getIndexes().length',
      'o.people.countDocuments({ age: { $gte: 40 } })',
      'o.stats().objects',
      'o.people.stats().count',
      'o.people.explain().find({ age: 40 }).queryPlanner.winningPlan.inputStage.stage',
      'o.people.find({ age: 40 }).explain().queryPlanner.winningPlan.inputStage.stage',
      'o.people.aggregate([{ $group: { _id: null, s: { $sum: "$age" } } }]).toArray()[0].s',
      'print("names", o.getCollectionNames().length)',
      'o.people.dropIndex("age_1")',
      'o.people.getIndexes().length',
      'o.people.drop()',
      'o.getCollectionNames().length',
      'db.getName()',
    ].join('\n'));
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(r.out.split('\n').filter((l) => /^[\w ]+$/.test(l)), ['other', 'age_1', '2', '2', '3', '3', 'IXSCAN', 'IXSCAN', '120', 'names 1', '1', 'true', '0', 'test']);
  });

  it('prints mongosh style (ObjectId, ISODate) by default and Extended JSON with --json', async () => {
    const ins = "db.t.insertOne({ _id: ObjectId('65a000000000000000000001'), at: ISODate('2024-01-02T03:04:05Z') })";
    const plain = await sh(`${ins}\ndb.t.find()\nprintjson(db.t.findOne())`);
    assert.equal(plain.code, 0, plain.err);
    assert.match(plain.out, /_id: ObjectId\('65a000000000000000000001'\)/);
    assert.match(plain.out, /at: ISODate\('2024-01-02T03:04:05.000Z'\)/);
    const json = await sh('db.t.find()', true);
    assert.equal(json.code, 0, json.err);
    const doc = EJSON.parse(json.out.trim()) as { _id: { toHexString(): string }; at: Date };
    assert.equal(doc._id.toHexString(), '65a000000000000000000001');
    assert.equal(doc.at.toISOString(), '2024-01-02T03:04:05.000Z');
  });

  it('reports an error with exit code 1', async () => {
    const r = await sh('db.nope.notAFunction()');
    assert.equal(r.code, 1);
    assert.match(r.err, /error/);
  });
});
