// Graceful shutdown: SIGTERM while the driver is writing; after a restart on the same data
// directory every acknowledged insert is there.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MongoClient } from 'mongodb';
import { startServerProcess, tempDir } from './spawn.ts';

const isDeno = typeof (globalThis as { Deno?: unknown }).Deno !== 'undefined';

describe('graceful shutdown', { skip: isDeno ? 'child-process suite runs on Node' : false }, () => {
  it('SIGTERM during writes loses no acknowledged write', async () => {
    const data = tempDir('lt-shutdown-');
    const srv = await startServerProcess(['--log-level', 'info'], data);
    const client = new MongoClient(`mongodb://127.0.0.1:${srv.mongoPort}/?directConnection=true`, { serverSelectionTimeoutMS: 5000, retryWrites: false, maxPoolSize: 8 });
    await client.connect();
    const col = client.db('d').collection('c');
    const acked: number[] = [];
    let stop = false;
    const writers = Array.from({ length: 8 }, async (_, w) => {
      for (let i = 0; !stop; i++) {
        const n = w * 1_000_000 + i;
        try {
          await col.insertOne({ n });
          acked.push(n);
        } catch {
          return;
        }
      }
    });
    while (acked.length < 200) await new Promise((r) => setTimeout(r, 10));
    const code = await srv.stop('SIGTERM');
    stop = true;
    await Promise.all(writers);
    await client.close().catch(() => {});
    assert.equal(code, 0, srv.stderr());
    assert.match(srv.stderr(), /"msg":"stopped"/);

    const again = await startServerProcess([], data);
    const c2 = new MongoClient(`mongodb://127.0.0.1:${again.mongoPort}/?directConnection=true`, { serverSelectionTimeoutMS: 5000 });
    await c2.connect();
    const stored = new Set((await c2.db('d').collection('c').find({}, { projection: { _id: 0, n: 1 } }).toArray()).map((d) => d['n'] as number));
    await c2.close();
    assert.equal(await again.stop(), 0);
    const lost = acked.filter((n) => !stored.has(n));
    assert.deepEqual(lost, [], `${lost.length} of ${acked.length} acknowledged writes lost`);
  });
});
