/**
 * Crash loop: SIGKILLs of a child writing strict and relaxed batches, at random moments and at
 * named points (WAL append, segment write, manifest swap, compaction install, ...), the child
 * running in the runtime under test with its own fs adapter: >= 200 kills under Node, 40 under
 * Deno (its children start slower). 0 acknowledged strict batches lost, batches atomic, the
 * acknowledged batches present a prefix of the acknowledged sequence (relaxed ones may be lost
 * from its end), every reopen clean; each named point really reached.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

const isDeno = 'Deno' in globalThis;
const kills = isDeno ? 40 : 200;

describe('crash loop', () => {
  it(`${kills} SIGKILLs lose no acknowledged write and tear no batch`, async () => {
    const { crashLoop, killPoints } = await import('./loop.ts');
    const { existsSync } = await import('node:fs');
    // tmpfs when available: SIGKILL keeps the page cache, so the outcome is the same as on disk, only faster
    const root = existsSync('/dev/shm') ? '/dev/shm' : undefined;
    const r = await crashLoop({ kills, seed: 20261128, verifyEvery: 1, lanes: isDeno ? 2 : 4, root });
    assert.equal(r.kills, kills);
    assert.ok(r.acked > kills, `acknowledged batches: ${r.acked}`);
    assert.ok(r.ackedRelaxed > 0, 'some runs wrote relaxed batches');
    // every named point was actually reached (the child reports `kill <point>` before dying)
    for (const p of killPoints) assert.ok((r.namedKills[p] ?? 0) > 0, `no kill at ${p}: ${JSON.stringify(r.namedKills)}`);
    let named = 0;
    for (const v of Object.values(r.namedKills)) named += v;
    assert.equal(named + r.randomKills, r.kills);
    assert.ok(r.batchesSeen >= r.acked);
  });
});
