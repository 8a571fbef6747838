// The `largetable` command as a child process: --version, info, bad flags and exit codes.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { EJSON } from 'bson';
import { repoRoot, tempDir } from './spawn.ts';

const isDeno = typeof (globalThis as { Deno?: unknown }).Deno !== 'undefined';

function lt(...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(repoRoot, 'platform/node/cli.ts'), ...args], { cwd: repoRoot, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };

describe('largetable CLI', { skip: isDeno ? 'child-process suite runs on Node' : false }, () => {
  it('--version prints the package version', () => {
    const r = lt('--version');
    assert.equal(r.code, 0);
    assert.equal(r.out.trim(), pkg.version);
  });

  it('info reports runtime and kernel build', () => {
    const r = lt('info');
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out) as { runtime: string; kernel: string; simd: boolean; version: string };
    assert.match(j.runtime, /^node /);
    assert.ok(['simd', 'scalar', 'typescript'].includes(j.kernel));
    assert.equal(typeof j.simd, 'boolean');
    assert.equal(j.version, pkg.version);
  });

  it('bin/largetable.js --version and info under deno run -A', { skip: !existsSync(join(repoRoot, 'node_modules/.bin/deno')) ? 'deno not installed' : false }, () => {
    const deno = (...args: string[]) => spawnSync(join(repoRoot, 'node_modules/.bin/deno'), ['run', '-A', join(repoRoot, 'bin/largetable.js'), ...args], { cwd: repoRoot, encoding: 'utf8', timeout: 120_000 });
    const v = deno('--version');
    assert.equal(v.status, 0, v.stderr);
    assert.equal(v.stdout.trim(), pkg.version);
    const i = deno('info');
    assert.equal(i.status, 0, i.stderr);
    const j = JSON.parse(i.stdout) as { runtime: string; kernel: string };
    assert.match(j.runtime, /^deno /);
    assert.ok(['simd', 'scalar', 'typescript'].includes(j.kernel));
    const bad = deno('stats', '--nope');
    assert.equal(bad.status, 2);
  });

  it('refuses unknown commands, unknown flags and bad config with exit code 2', () => {
    const a = lt('frobnicate');
    assert.equal(a.code, 2);
    assert.match(a.err, /unknown command/);
    const b = lt('stats', '--dta', '/tmp/x');
    assert.equal(b.code, 2);
    assert.match(b.err, /unknown option --dta/);
    const c = lt('serve', '--port', 'eighty');
    assert.equal(c.code, 2);
    assert.match(c.err, /--port/);
    const d = lt('serve', '--host', '0.0.0.0', '--data', tempDir());
    assert.equal(d.code, 2);
    assert.match(d.err, /refusing to listen on 0\.0\.0\.0/);
    const dir = tempDir('lt-cfg-');
    writeFileSync(join(dir, 'bad.toml'), '[server]\nport = 8080\nmongo_prot = 1\n');
    const g = lt('serve', '--config', join(dir, 'bad.toml'), '--data', dir);
    assert.equal(g.code, 2);
    assert.match(g.err, /server\.mongo_prot: unknown key/);
    const h = lt('serve', '--config', join(dir, 'missing.toml'));
    assert.equal(h.code, 2);
    assert.match(h.err, /--config: file not found/);
    const e = lt('import', 'nodot', '--file', 'x.jsonl');
    assert.equal(e.code, 2);
    const f = lt('import', 'a.b', '--file', '/nonexistent/file.jsonl', '--data', tempDir());
    assert.equal(f.code, 1);
    assert.match(f.err, /not found/);
  });

});

describe('largetable serve start-up failures', { skip: isDeno ? 'child-process suite runs on Node' : false }, () => {
  it('a port in use is a clear error with exit code 1 (HTTP or wire)', async () => {
    const { createServer } = await import('node:net');
    const blocker = createServer();
    await new Promise<void>((ok) => blocker.listen(0, '127.0.0.1', () => ok()));
    const port = String((blocker.address() as { port: number }).port);
    try {
      const a = lt('serve', '--data', tempDir(), '--port', port, '--mongo-port', 'off');
      assert.equal(a.code, 1);
      assert.match(a.err, /EADDRINUSE/);
      const b = lt('serve', '--data', tempDir(), '--port', '0', '--mongo-port', port);
      assert.equal(b.code, 1);
      assert.match(b.err, /EADDRINUSE/);
    } finally {
      blocker.close();
    }
  });
});

describe('largetable serve with users', { skip: isDeno ? 'child-process suite runs on Node' : false }, () => {
  it('binds another host once users are configured and requires their credentials over HTTP', async () => {
    const { startServerProcess } = await import('./spawn.ts');
    const dir = tempDir('lt-auth-');
    writeFileSync(join(dir, 'lt.toml'), '[auth]\nusers = [{ user = "admin", password = "correct horse" }]\n');
    const srv = await startServerProcess(['--config', join(dir, 'lt.toml'), '--host', '0.0.0.0'], join(dir, 'db'));
    try {
      const url = `http://127.0.0.1:${srv.port}`;
      assert.equal((await fetch(`${url}/health`)).status, 200);
      assert.equal((await fetch(`${url}/api/v1/databases`)).status, 401);
      const ok = await fetch(`${url}/api/v1/databases`, { headers: { authorization: `Basic ${btoa('admin:correct horse')}` } });
      assert.equal(ok.status, 200);
    } finally {
      assert.equal(await srv.stop(), 0);
    }
  });
});
