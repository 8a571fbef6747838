import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig, isLoopback } from './config.ts';
import { isLargetableError } from './errors.ts';

function badKey(run: () => unknown, key: RegExp): void {
  assert.throws(run, (e: unknown) => isLargetableError(e, 'BAD_CONFIG') && key.test((e as Error).message), String(key));
}

describe('loadConfig', () => {
  it('gives safe defaults', () => {
    const c = loadConfig();
    assert.equal(c.host, '127.0.0.1');
    assert.equal(c.port, 8080);
    assert.equal(c.mongoPort, 27017);
    assert.equal(c.data, './data');
  });

  it('layers TOML, then env, then flags', () => {
    const toml = '[server]\nport = 9000\nmongo_port = 9001\ndata = "/x"\n[log]\nlevel = "warn"\nslow_query_ms = 5\n';
    const c = loadConfig({ toml, env: { LARGETABLE_PORT: '9100', LARGETABLE_DATA: '/y' }, flags: { port: '9200', mongoPort: undefined } });
    assert.equal(c.port, 9200);
    assert.equal(c.mongoPort, 9001);
    assert.equal(c.data, '/y');
    assert.equal(c.logLevel, 'warn');
    assert.equal(c.slowQueryMs, 5);
    assert.equal(loadConfig({ flags: { 'mongo-port': 'off' } }).mongoPort, -1);
  });

  it('memory budgets: server defaults, [storage] TOML, env and flags', () => {
    const d = loadConfig();
    assert.deepEqual([d.memtableBytes, d.blockCacheBytes, d.documentCacheBytes], [32 * 1024 * 1024, 32 * 1024 * 1024, 32 * 1024 * 1024]);
    const toml = '[storage]\nmemtable_bytes = 8388608\nblock_cache_bytes = 1048576\ndocument_cache_bytes = 0\n';
    const c = loadConfig({ toml, env: { LARGETABLE_BLOCK_CACHE_BYTES: '2097152' }, flags: { 'document-cache-bytes': '4194304' } });
    assert.deepEqual([c.memtableBytes, c.blockCacheBytes, c.documentCacheBytes], [8388608, 2097152, 4194304]);
    badKey(() => loadConfig({ toml: '[storage]\nmemtable_bytes = 10\n' }), /storage\.memtable_bytes/);
    badKey(() => loadConfig({ env: { LARGETABLE_DOCUMENT_CACHE_BYTES: '-1' } }), /LARGETABLE_DOCUMENT_CACHE_BYTES/);
    badKey(() => loadConfig({ toml: '[storage]\ncache = 1\n' }), /storage\.cache: unknown key/);
  });

  it('names the bad key', () => {
    badKey(() => loadConfig({ toml: '[server]\nport = "abc"\n' }), /server\.port/);
    badKey(() => loadConfig({ toml: '[server]\nport = 70000\n' }), /server\.port/);
    badKey(() => loadConfig({ toml: '[server]\nprot = 1\n' }), /server\.prot: unknown key/);
    badKey(() => loadConfig({ toml: '[serve]\nport = 1\n' }), /serve: unknown section/);
    badKey(() => loadConfig({ toml: '[log]\nlevel = "loud"\n' }), /log\.level/);
    badKey(() => loadConfig({ toml: 'this is not toml' }), /largetable\.toml/);
    badKey(() => loadConfig({ env: { LARGETABLE_MONGO_PORT: 'x' } }), /LARGETABLE_MONGO_PORT/);
    badKey(() => loadConfig({ flags: { 'slow-query-ms': '-5' } }), /--slow-query-ms/);
    badKey(() => loadConfig({ toml: '[auth]\nusers = [{ user = "a", password = "short" }]\n' }), /auth\.users\[0\]\.password/);
  });

  it('refuses a non-loopback host until users are configured', () => {
    badKey(() => loadConfig({ flags: { host: '0.0.0.0' } }), /host: refusing to listen on 0\.0\.0\.0 without users/);
    const c = loadConfig({ toml: '[auth]\nusers = [{ user = "admin", password = "correct horse" }]\n', flags: { host: '0.0.0.0' } });
    assert.equal(c.host, '0.0.0.0');
    assert.equal(c.users.length, 1);
    assert.ok(isLoopback('127.0.0.2') && isLoopback('::1') && !isLoopback('10.0.0.1'));
  });
});
