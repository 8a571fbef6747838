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
