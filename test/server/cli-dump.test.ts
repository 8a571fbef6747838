// `largetable dump` / `restore` / `stats` / `shell --eval` as child processes.
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

describe('largetable dump/restore', { skip: isDeno ? 'child-process suite runs on Node' : false }, () => {
  it('dump and restore a snapshot; stats; shell --eval', () => {
    const dir = tempDir('lt-dump-');
    const data = join(dir, 'db');
    const src = join(dir, 'in.json');
    writeFileSync(src, JSON.stringify(Array.from({ length: 50 }, (_, i) => ({ _id: i, v: i * i }))));
    assert.equal(lt('import', 'x.sq', '--file', src, '--data', data, '--quiet').code, 0);
    const sib = lt('shell', data, '--eval', "db.getSiblingDB('x').getName()");
    assert.equal(sib.code, 0, sib.err);
    assert.equal(sib.out.trim(), 'x');
    const sh = lt('shell', data, '--eval', "use x\ndb.sq.createIndex({ v: 1 })\ndb.sq.countDocuments({ v: { $gt: 100 } })");
    assert.equal(sh.code, 0, sh.err);
    assert.match(sh.out, /v_1/);
    assert.match(sh.out, /^39$/m);
    const file = join(dir, 'snap.ltdump');
    const d = lt('dump', '--out', file, '--data', data);
    assert.equal(d.code, 0, d.err);
    assert.ok(existsSync(file));
    const data2 = join(dir, 'db2');
    const r = lt('restore', file, '--data', data2);
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /restored 50 document/);
    const st = lt('stats', '--data', data2);
    assert.equal(st.code, 0, st.err);
    const s = JSON.parse(st.out) as { databases: { name: string; collections: { name: string; count: number; indexes: number }[] }[] };
    const coll = s.databases.find((x) => x.name === 'x')!.collections.find((c) => c.name === 'sq')!;
    assert.equal(coll.count, 50);
    assert.equal(coll.indexes, 2);
    const v = lt('verify', '--data', data2);
    assert.equal(v.code, 0, v.err);
    assert.equal((JSON.parse(v.out) as { ok: boolean }).ok, true);
    assert.equal(lt('compact', '--data', data2).code, 0);
    assert.equal(JSON.parse(lt('stats', '--data', data2).out).databases[0].collections[0].count, 50);
    const corrupt = join(dir, 'corrupt.ltdump');
    const bytes = readFileSync(file);
    writeFileSync(corrupt, bytes.subarray(0, Math.floor(bytes.length / 2)));
    const rc = lt('restore', corrupt, '--data', join(dir, 'db3'));
    assert.equal(rc.code, 1);
    assert.match(rc.err, /CORRUPTION/);
  });
});
