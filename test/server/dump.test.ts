// dump/restore in-process (Node and Deno): a dump is one snapshot even while writes continue.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { open } from '../../src/index.ts';
import { openMemoryAdapter } from '../../platform/memory.ts';
import { dumpAll, restoreAll } from '../../src/cli/dump.ts';
import type { ClientLike } from '../../src/server/engine.ts';
import { isLargetableError } from '../../src/errors.ts';

async function mem(name: string): Promise<ClientLike> {
  return (await open(`memory://${name}`, { adapter: openMemoryAdapter(name), kernels: 'typescript', ttlMonitor: false })) as unknown as ClientLike;
}

async function* chunksOf(parts: Uint8Array[], size = 777): AsyncGenerator<Uint8Array> {
  const all = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    all.set(p, o);
    o += p.length;
  }
  for (let i = 0; i < all.length; i += size) yield all.subarray(i, i + size);
}

describe('dump/restore', () => {
  it('dumps one snapshot while writes continue, and restores it with indexes', async () => {
    const src = await mem('dump-src');
    const a = src.db('x').collection('a');
    const b = src.db('y').collection('b');
    await a.insertMany(Array.from({ length: 300 }, (_, i) => ({ _id: i, v: i })));
    await b.insertMany(Array.from({ length: 100 }, (_, i) => ({ _id: i, w: 'b' + i })));
    await a.createIndex({ v: 1 }, { name: 'v_1' });
    const parts: Uint8Array[] = [];
    let wrote = false;
    const sink = {
      async write(chunk: Uint8Array | string) {
        parts.push(typeof chunk === 'string' ? new TextEncoder().encode(chunk) : chunk.slice());
      },
      async close() {},
    };
    // Writes that land after the dump took its snapshot (when it lists the databases, before it
    // reads any collection): none may appear in the dump.
    const racing = new Proxy(src, {
      get(target, prop, receiver) {
        if (prop === 'listDatabases') {
          return async () => {
            wrote = true;
            await a.insertMany(Array.from({ length: 50 }, (_, i) => ({ _id: 1000 + i, v: -1 })));
            await b.deleteMany({});
            return (target as unknown as { listDatabases(): Promise<unknown> }).listDatabases();
          };
        }
        const v = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const r = await dumpAll(racing, sink);
    assert.ok(wrote);
    assert.deepEqual(r, { collections: 2, documents: 400 });

    const dst = await mem('dump-dst');
    const back = await restoreAll(dst, chunksOf(parts));
    assert.deepEqual(back, { collections: 2, documents: 400 });
    assert.equal(await dst.db('x').collection('a').countDocuments({}), 300);
    assert.equal(await dst.db('y').collection('b').countDocuments({}), 100);
    assert.deepEqual((await dst.db('x').collection('a').listIndexes().toArray()).map((i) => i['name']).sort(), ['_id_', 'v_1']);

    const truncated = parts.slice(0, Math.max(1, parts.length - 1));
    const third = await mem('dump-bad');
    await assert.rejects(restoreAll(third, chunksOf(truncated)), (e: unknown) => isLargetableError(e, 'CORRUPTION'));
    await assert.rejects(restoreAll(third, chunksOf([new TextEncoder().encode('not gzip at all')])), (e: unknown) => isLargetableError(e, 'CORRUPTION'));
    await Promise.all([src.close(), dst.close(), third.close()]);
  });
});
