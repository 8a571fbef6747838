/**
 * Crash loop (Node only): >= 200 SIGKILLs of a child writing strict batches, at random moments
 * and at named points (WAL append, segment write, manifest swap, compaction install, ...).
 * 0 acknowledged batches lost, batches atomic, every reopen clean; each named point really reached.
 * Skipped under Deno: it spawns Node children with node:child_process and bundles them with esbuild.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

const isDeno = 'Deno' in globalThis;

describe('crash loop', () => {
  it('200 SIGKILLs lose no acknowledged write and tear no batch', { skip: isDeno ? 'child_process crash loop runs under Node only' : false }, async () => {
    const { crashLoop, killPoints } = await import('./loop.ts');
    const { existsSync } = await import('node:fs');
    // tmpfs when available: SIGKILL keeps the page cache, so the outcome is the same as on disk, only faster
    const root = existsSync('/dev/shm') ? '/dev/shm' : undefined;
    const r = await crashLoop({ kills: 200, seed: 20261128, verifyEvery: 1, lanes: 4, root });
    assert.equal(r.kills, 200);
    assert.ok(r.acked > 200, `acknowledged batches: ${r.acked}`);
    // every named point was actually reached (the child reports `kill <point>` before dying)
    for (const p of killPoints) assert.ok((r.namedKills[p] ?? 0) > 0, `no kill at ${p}: ${JSON.stringify(r.namedKills)}`);
    let named = 0;
    for (const v of Object.values(r.namedKills)) named += v;
    assert.equal(named + r.randomKills, r.kills);
    assert.ok(r.batchesSeen >= r.acked);
  });
});
