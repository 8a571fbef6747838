/** The Deno filesystem adapter; runs only under Deno (skipped under Node). */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { adapterCases } from '../conformance/storage-adapter.case.ts';
import { openDenoFsAdapter } from '../../platform/deno/fs-adapter.ts';
import { openNodeFsAdapter } from '../../platform/node/fs-adapter.ts';
import { isLargetableError } from '../../src/errors.ts';
import { appendsSurviveSigkill, spawnLockHolder, waitExit } from './child.ts';

const isDeno = typeof (globalThis as { Deno?: unknown }).Deno !== 'undefined';

if (!isDeno) {
  describe('StorageAdapter conformance: deno fs', () => {
    it.skip('runs only under Deno (npx deno test -A test/adapters/deno-fs.test.ts)', () => {});
  });
  it('openDenoFsAdapter() outside Deno is UNSUPPORTED_STORAGE', async () => {
    await assert.rejects(openDenoFsAdapter('/tmp/x'), (e) => isLargetableError(e, 'UNSUPPORTED_STORAGE'));
  });
} else {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'lt-denofs-'));
  after(() => fs.rm(root, { recursive: true, force: true }));
  let counter = 0;

  adapterCases('deno fs', {
    newLocation: () => path.join(root, `c${++counter}`),
    open: (dir) => openDenoFsAdapter(dir),
    cleanup: (dir) => fs.rm(dir, { recursive: true, force: true }),
  }, { describe, it }, { modelRuns: 15 });

  describe('DenoFsAdapter specifics', () => {
    it('a failing OS call is IO_ERROR with file and operation', async () => {
      const dir = path.join(root, 'io');
      const a = await openDenoFsAdapter(dir);
      await fs.mkdir(path.join(dir, 'sub'));
      await assert.rejects(a.open('sub'), (e) => isLargetableError(e, 'IO_ERROR') && e.details['file'] === 'sub' && e.details['operation'] === 'open');
      await assert.rejects(a.readAll('sub'), (e) => isLargetableError(e, 'IO_ERROR') && e.details['operation'] === 'readAll');
      await a.close();
      await assert.rejects(openDenoFsAdapter(path.join(root, 'nope'), { create: false }), (e) => isLargetableError(e, 'NOT_FOUND'));
    });

    it('files written by the Deno adapter read back through the Node adapter and back', async () => {
      const dir = path.join(root, 'cross');
      const d = await openDenoFsAdapter(dir);
      const f = await d.open('wal', { create: true });
      await f.append(Uint8Array.of(1, 2, 3));
      await f.sync();
      await f.close();
      await d.replace('MANIFEST', Uint8Array.of(4));
      await d.close();
      const n = await openNodeFsAdapter(dir);
      assert.deepEqual(await n.list(), ['MANIFEST', 'wal']);
      assert.deepEqual(await n.readAll('wal'), Uint8Array.of(1, 2, 3));
      await n.close();
    });

    it('a Deno writer and a Node writer exclude each other (LOCK), in process and across processes', async () => {
      const dir = path.join(root, 'lock');
      const d = await openDenoFsAdapter(dir);
      await d.lock();
      const n = await openNodeFsAdapter(dir);
      await assert.rejects(n.lock(), (e) => isLargetableError(e, 'LOCKED'));
      await n.close();
      const nodeChild = spawnLockHolder('node', dir, 'try', 'node');
      assert.equal(await nodeChild.firstLine, 'LOCKED', 'a Node process is refused');
      await waitExit(nodeChild.child);
      await d.close();
      const holder = spawnLockHolder('deno', dir, 'hold', 'deno');
      assert.equal(await holder.firstLine, 'HELD');
      const d2 = await openDenoFsAdapter(dir);
      await assert.rejects(d2.lock(), (e) => isLargetableError(e, 'LOCKED'));
      holder.child.kill('SIGKILL');
      await waitExit(holder.child);
      await d2.lock(); // the killed holder's lock is stale
      await d2.close();
    });
    it('acknowledged (synced) appends survive SIGKILL of the writing process, 3 kills in a row', async () => {
      await appendsSurviveSigkill('deno', path.join(root, 'sigkill'), (dir) => openDenoFsAdapter(dir));
    });
  });
}
