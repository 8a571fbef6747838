/** openAdapter(location) per runtime: the right backend, or UNSUPPORTED_STORAGE (never memory). */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { openAdapter as openNode } from '../../platform/node/storage.ts';
import { openAdapter as openDeno } from '../../platform/deno/storage.ts';
import { openAdapter as openBrowser } from '../../platform/browser/storage.ts';
import { openAdapter as openEdge } from '../../platform/edge/storage.ts';
import { MemoryAdapter, parseStorageLocation } from '../../platform/memory.ts';
import { NodeFsAdapter } from '../../platform/node/fs-adapter.ts';
import { DenoFsAdapter } from '../../platform/deno/fs-adapter.ts';
import { isLargetableError } from '../../src/errors.ts';

const isDeno = typeof (globalThis as { Deno?: unknown }).Deno !== 'undefined';
const root = await fs.mkdtemp(path.join(os.tmpdir(), 'lt-loc-'));
after(() => fs.rm(root, { recursive: true, force: true }));

const unsupported = (e: unknown) => isLargetableError(e, 'UNSUPPORTED_STORAGE');

describe('parseStorageLocation()', () => {
  it('parses every scheme and plain paths', () => {
    assert.deepEqual(parseStorageLocation('./data'), { kind: 'path', path: './data' });
    assert.deepEqual(parseStorageLocation('/x/y'), { kind: 'path', path: '/x/y' });
    assert.deepEqual(parseStorageLocation('C:\\data'), { kind: 'path', path: 'C:\\data' });
    assert.deepEqual(parseStorageLocation('file:///tmp/a%20b'), { kind: 'path', path: '/tmp/a b' });
    assert.deepEqual(parseStorageLocation('memory://x'), { kind: 'memory', name: 'x' });
    assert.deepEqual(parseStorageLocation('memory://'), { kind: 'memory', name: undefined });
    assert.deepEqual(parseStorageLocation('idb://app'), { kind: 'idb', name: 'app' });
    assert.deepEqual(parseStorageLocation('OPFS://app'), { kind: 'opfs', name: 'app' });
  });

  it('refuses unknown schemes, nameless idb/opfs and empty locations', () => {
    assert.throws(() => parseStorageLocation('s3://bucket'), unsupported);
    assert.throws(() => parseStorageLocation('file://otherhost/x'), unsupported);
    assert.throws(() => parseStorageLocation('idb://'), (e) => isLargetableError(e, 'INVALID_ARGUMENT'));
    assert.throws(() => parseStorageLocation('opfs://a/b'), (e) => isLargetableError(e, 'INVALID_ARGUMENT'));
    assert.throws(() => parseStorageLocation(''), (e) => isLargetableError(e, 'INVALID_ARGUMENT'));
    assert.throws(() => parseStorageLocation(undefined), (e) => isLargetableError(e, 'INVALID_ARGUMENT'));
  });
});

describe('openAdapter() on Node', () => {
  it('paths and file:// URLs open the filesystem; memory:// the memory adapter', async () => {
    const a = await openNode(path.join(root, 'n1'));
    assert.ok(a instanceof NodeFsAdapter);
    await a.replace('x', Uint8Array.of(1));
    await a.close();
    const b = await openNode(pathToFileURL(path.join(root, 'n1')).href);
    assert.ok(b instanceof NodeFsAdapter);
    assert.deepEqual(await b.readAll('x'), Uint8Array.of(1));
    await b.close();
    const m = await openNode('memory://loc-test');
    assert.ok(m instanceof MemoryAdapter);
    await m.close();
  });

  it('opfs://, unknown schemes (and idb:// without an indexedDB global) are UNSUPPORTED_STORAGE', async () => {
    await assert.rejects(openNode('opfs://x'), unsupported);
    await assert.rejects(openNode('s3://x'), unsupported);
    if (typeof (globalThis as { indexedDB?: unknown }).indexedDB === 'undefined') await assert.rejects(openNode('idb://x'), unsupported);
  });
});

describe('openAdapter() on Deno', () => {
  it('paths open the Deno filesystem adapter (under Deno), opfs:// is UNSUPPORTED_STORAGE', async () => {
    if (isDeno) {
      const a = await openDeno(path.join(root, 'd1'));
      assert.ok(a instanceof DenoFsAdapter);
      await a.close();
    } else {
      await assert.rejects(openDeno(path.join(root, 'd1')), unsupported, 'the Deno adapter outside Deno');
    }
    await assert.rejects(openDeno('opfs://x'), unsupported);
    assert.ok((await openDeno('memory://')) instanceof MemoryAdapter);
  });
});

describe('openAdapter() in browsers and on the edge (resolution only; real backends in test/browser)', () => {
  it('the browser refuses paths; the edge has only memory://', async () => {
    await assert.rejects(openBrowser('./data'), unsupported);
    await assert.rejects(openBrowser('file:///tmp/x'), unsupported);
    await assert.rejects(openBrowser('opfs://x'), unsupported, 'no OPFS in this runtime');
    assert.ok((await openBrowser('memory://b')) instanceof MemoryAdapter);
    assert.ok((await openEdge('memory://e')) instanceof MemoryAdapter);
    await assert.rejects(openEdge('./data'), unsupported);
    await assert.rejects(openEdge('idb://x'), unsupported);
    await assert.rejects(openEdge('opfs://x'), unsupported);
  });
});
