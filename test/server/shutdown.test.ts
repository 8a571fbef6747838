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

  it('an SSE resume token survives a server restart', async () => {
    const data = tempDir('lt-resume-');
    const readEvent = async (res: Response): Promise<{ id: string; data: string }> => {
      const reader = res.body!.getReader();
      const dec = new TextDecoder();
      let text = '';
      for (;;) {
        const m = /event: change\ndata: (.*)\nid: (.*)\n\n/.exec(text);
        if (m) {
          await reader.cancel();
          return { data: m[1]!, id: m[2]! };
        }
        const { value, done } = await reader.read();
        if (done) throw new Error('stream ended');
        text += dec.decode(value, { stream: true });
      }
    };
    const url = (s: { http: string }): string => `${s.http}/api/v1/databases/d/collections/feed`;
    const a = await startServerProcess([], data);
    const first = fetch(`${url(a)}/changes`);
    await new Promise((r) => setTimeout(r, 200));
    await fetch(`${url(a)}/documents`, { method: 'POST', body: '{"n": 1}' });
    const ev1 = await readEvent(await first);
    assert.match(ev1.data, /"n":1/);
    assert.equal(await a.stop(), 0, a.stderr());

    const b = await startServerProcess([], data);
    await fetch(`${url(b)}/documents`, { method: 'POST', body: '{"n": 2}' });
    const ev2 = await readEvent(await fetch(`${url(b)}/changes`, { headers: { 'last-event-id': ev1.id } }));
    assert.match(ev2.data, /"n":2/);
    assert.equal(await b.stop(), 0, b.stderr());
  });
});
