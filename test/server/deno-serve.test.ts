// `largetable serve` on Deno (Deno.serve + hono/deno; wire listener through node:net compat),
// started as a child process and driven by the mongodb driver, fetch and ws from Node.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import WebSocket from 'ws';
import { EJSON } from 'bson';
import { repoRoot, startServerProcess } from './spawn.ts';

const isDeno = typeof (globalThis as { Deno?: unknown }).Deno !== 'undefined';
const denoBin = join(repoRoot, 'node_modules/.bin/deno');

describe('server on Deno', { skip: isDeno ? 'driven from Node' : !existsSync(denoBin) ? 'deno not installed' : false }, () => {
  it('serves /health, the console, REST, WebSocket changes and the wire protocol', async () => {
    const srv = await startServerProcess([], undefined, 'deno');
    try {
      const health = (await (await fetch(`${srv.http}/health`)).json()) as { runtime: string; status: string };
      assert.match(health.runtime, /^deno /);
      assert.equal(health.status, 'ok');
      assert.match(await (await fetch(`${srv.http}/`)).text(), /Largetable console/);
      const client = new MongoClient(`mongodb://127.0.0.1:${srv.mongoPort}/?directConnection=true`, { serverSelectionTimeoutMS: 30_000 });
      await client.connect();
      const col = client.db('d').collection('c');
      const ws = new WebSocket(`${srv.http.replace('http', 'ws')}/api/v1/databases/d/collections/c/changes/ws`);
      await new Promise((ok, fail) => {
        ws.once('open', ok);
        ws.once('error', fail);
      });
      const got = new Promise<Record<string, unknown>>((ok) => ws.once('message', (m) => ok(EJSON.parse(String(m)) as Record<string, unknown>)));
      await new Promise((r) => setTimeout(r, 100));
      await col.insertMany(Array.from({ length: 120 }, (_, i) => ({ i })));
      assert.equal((await got)['operationType'], 'insert');
      ws.close();
      const all = await col.find({}).batchSize(25).sort({ i: 1 }).toArray();
      assert.deepEqual(all.map((d) => d['i']), Array.from({ length: 120 }, (_, i) => i));
      const r = await fetch(`${srv.http}/api/v1/databases/d/collections/c/count`, { method: 'POST', body: '{"filter": {"i": {"$lt": 10}}}' });
      assert.equal(((await r.json()) as { count: number }).count, 10);
      await client.close();
    } finally {
      assert.equal(await srv.stop(), 0, srv.stderr());
    }
  });
});
