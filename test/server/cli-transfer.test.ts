// `largetable import` / `export` as child processes: round trips in JSON Lines, JSON array, CSV.
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

describe('largetable import/export', { skip: isDeno ? 'child-process suite runs on Node' : false }, () => {
  it('import/export round trip in JSON Lines, JSON array and CSV', () => {
    const dir = tempDir('lt-cli-');
    const data = join(dir, 'db');
    const src = join(dir, 'in.jsonl');
    const docs = Array.from({ length: 300 }, (_, i) => ({ _id: i, name: `n${i}`, tags: ['a', `t${i % 3}`], nested: { x: i / 2, q: 'say "hi", ok' }, when: { $date: '2020-01-01T00:00:00Z' } }));
    writeFileSync(src, docs.map((d) => JSON.stringify(d)).join('\n') + '\n');
    const imp = lt('import', 'app.people', '--file', src, '--data', data, '--quiet');
    assert.equal(imp.code, 0, imp.err);
    assert.match(imp.err, /imported 300/);
    const norm = (list: unknown[]): string => JSON.stringify(list.map((d) => EJSON.serialize(d as object, { relaxed: true })));
    const expected = norm(docs.map((d) => EJSON.deserialize(d as object, { relaxed: true })));
    for (const fmt of ['jsonl', 'json', 'csv'] as const) {
      const out = join(dir, `out.${fmt}`);
      const ex = lt('export', 'app.people', '--out', out, '--data', data);
      assert.equal(ex.code, 0, ex.err);
      const back = `app.back_${fmt}`;
      const im2 = lt('import', back, '--file', out, '--data', data, '--quiet');
      assert.equal(im2.code, 0, im2.err);
      const ex2 = lt('export', back, '--data', data);
      const got = ex2.out.trim().split('\n').map((l) => EJSON.parse(l, { relaxed: true }));
      got.sort((a, b) => (a as { _id: number })._id - (b as { _id: number })._id);
      if (fmt === 'csv') {
        assert.equal(got.length, 300);
        assert.deepEqual((got[7] as { nested: unknown }).nested, { x: 3.5, q: 'say "hi", ok' });
        assert.deepEqual((got[7] as { tags: unknown }).tags, ['a', 't1']);
        assert.ok((got[7] as { when: unknown }).when instanceof Date);
      } else {
        assert.equal(norm(got), expected, fmt);
      }
    }
    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, '{"a":1}\n{"a":\n');
    const r = lt('import', 'app.bad', '--file', bad, '--data', data, '--quiet');
    assert.equal(r.code, 2);
    assert.match(r.err, /line 2/);
  });

});
