/**
 * SIGKILL during vector writes (Node only: spawns a child): after reopening, the index holds
 * exactly the documents that have a vector, and searches find each of them.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { openNodeFsAdapter } from '../../platform/node/fs-adapter.ts';
import { openCollection, vectorPlugin } from './harness.ts';
import { waitExit } from '../adapters/child.ts';

const isDeno = typeof (globalThis as { Deno?: unknown }).Deno !== 'undefined';
const root = await fs.mkdtemp(path.join(os.tmpdir(), 'lt-vector-crash-'));
after(() => fs.rm(root, { recursive: true, force: true }));

describe('vector index crash consistency', { skip: isDeno ? 'spawns a Node child' : false }, () => {
  for (const [kind, killAfter] of [['hnsw', 450], ['hnsw', 1200], ['ivf', 800]] as const) {
    it(`${kind}: SIGKILL after ~${killAfter} writes: reopened index agrees with the documents`, async () => {
      const dir = path.join(root, `${kind}-k${killAfter}`);
      await fs.mkdir(dir);
      const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./crash-child.ts', import.meta.url)), dir, kind], { stdio: ['ignore', 'pipe', 'pipe'] });
      let err = '';
      child.stderr!.on('data', (b: Uint8Array) => (err += new TextDecoder().decode(b)));
      await new Promise<void>((resolve, reject) => {
        let out = '';
        child.stdout!.on('data', (b: Uint8Array) => {
          out += new TextDecoder().decode(b);
          const last = out.trim().split('\n').pop();
          if (last !== undefined && Number(last) >= killAfter) resolve();
        });
        child.on('exit', () => reject(new Error(`child exited early: ${err}`)));
      });
      child.kill('SIGKILL');
      await waitExit(child);
      const o = await openCollection(await openNodeFsAdapter(dir), 'crash');
      try {
        const plugin = vectorPlugin(o.coll, 'vec');
        const docs = await o.coll.find({ embedding: { $exists: true } }).toArray();
        const want = new Set(docs.map((x) => JSON.stringify(x._id)));
        const got = new Set(plugin.indexedIds().map((x) => JSON.stringify(x)));
        assert.ok(want.size > 100);
        assert.deepEqual([...got].sort(), [...want].sort());
        for (const doc of docs.slice(0, 40)) {
          const hits = await o.coll.vectorSearch(doc.embedding as number[], { k: 1, exact: true });
          assert.equal(JSON.stringify(hits[0]!._id), JSON.stringify(doc._id));
        }
        // the replayed structure itself (HNSW graph / IVF lists) answers: each document finds itself
        assert.equal((plugin.stats() as { kind: string }).kind, kind);
        if (kind === 'ivf') assert.equal((plugin.stats() as { trained: boolean }).trained, true, 'the IVF lists were trained before the kill');
        for (const doc of docs.filter((_, i) => i % 7 === 0).slice(0, 60)) {
          const hits = await o.coll.vectorSearch(doc.embedding as number[], kind === 'hnsw' ? { k: 1, efSearch: 200 } : { k: 1, nprobe: 8 });
          assert.equal(plugin.lastPlan!.strategy, 'ann');
          assert.equal(JSON.stringify(hits[0]!._id), JSON.stringify(doc._id));
        }
        const stats = plugin.stats() as { checkpoints: number; replayedOnOpen: number; snapshotGeneration: number };
        assert.ok(stats.snapshotGeneration >= 1, 'checkpoints were written before the kill');
      } finally {
        await o.close();
      }
    });
  }
});
