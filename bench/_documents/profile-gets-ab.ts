// Profiling helper (not part of the bench): A/B of the bench's point gets between two builds in ONE
// process, so that both see the same machine load (on the shared 2-core VM separate runs of
// profile-gets differ by +-0.5 us at p50, more than most changes). Each build opens its own copy of
// BASE (a store left by the bench's load phase, DIR/largetable/main), does what the work phase does
// before its gets (open with the bench's indexes, one get, one indexed equality), then the N first
// reads by _id in the bench's order go to the two stores in alternating chunks (each store reads
// every id once). Prints p50/p90/mean per build; with --rounds=R (default 2) it runs 2R processes,
// swapping which build opens first (the first-opened measured ~0.1-0.3 us faster at p50 on the same
// build, so only a difference that holds in both orders counts) and ends with the mean p50
// difference over the rounds, which cancels that bias.
//   node --import tsx bench/_documents/profile-gets-ab.ts BASE DIST_A DIST_B [--rounds=R] [--n=100000] [--gets=G] [--chunk=500]
// --gets=G times only the first G gets of that order (the bench's full mode does 20,000 of 100,000: most
// of its slow gets, the block reads and the first searches of blocks, come in those; --n=20000 instead
// reads only the first 20,000 documents inserted, all in one segment).
// DIST_A/B: built dist/ directories. A build outside the checkout needs a package.json with
// "type": "module" in a directory above it (else tsx loads its files as CommonJS: ~0.5 us slower
// gets), and node_modules and build/ (the wasm) beside it: e.g. mkdir /tmp/x && cp -r dist
// package.json /tmp/x && ln -s $PWD/node_modules $PWD/build /tmp/x/.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeIds, now, shuffled, pct } from './workload.mjs';
import { openWorkCopy } from './workcopy.ts';

const arg = (k: string) => process.argv.find((a) => a.startsWith(`--${k}=`))?.slice(k.length + 3);
const pos = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const [base, distA, distB] = pos.map((p) => path.resolve(p!));
if (!base || !distA || !distB) throw new Error('usage: profile-gets-ab.ts BASE DIST_A DIST_B [--rounds=R]');
const N = +(arg('n') ?? 100000);
const chunk = +(arg('chunk') ?? 500);
const G = +(arg('gets') ?? N);

if (arg('child') === undefined) {
  // parent: R rounds of two processes, A opened first then B opened first
  const rounds = +(arg('rounds') ?? 2);
  const diffs: number[] = [];
  const self = fileURLToPath(import.meta.url);
  for (let r = 0; r < rounds; r++) {
    for (const first of ['a', 'b']) {
      const out = spawnSync(process.execPath, [...process.execArgv, self, base, distA, distB, `--n=${N}`, `--gets=${G}`, `--chunk=${chunk}`, `--child=${first}`], { encoding: 'utf8' });
      if (out.status !== 0) throw new Error(out.stderr);
      const line = out.stdout.trim().split('\n').pop()!;
      const p = JSON.parse(line) as { a: number[]; b: number[] };
      diffs.push(p.b[0]! - p.a[0]!);
      const f = (v: number[]) => `p50 ${v[0]!.toFixed(2)} p90 ${v[1]!.toFixed(2)} mean ${v[2]!.toFixed(2)}`;
      console.log(`round ${r + 1}, ${first.toUpperCase()} opened first: A ${f(p.a)} | B ${f(p.b)} | load ${fs.readFileSync('/proc/loadavg', 'utf8').split(' ')[0]}`);
    }
  }
  const mean = diffs.reduce((x, y) => x + y, 0) / diffs.length;
  console.log(`B - A p50 (us), per process: ${diffs.map((d) => d.toFixed(2)).join(' ')}; mean ${mean.toFixed(3)}`);
} else {
  const ids: string[] = makeIds(N, 1);
  const side = async (dist: string, tag: string) => {
    const dir = `/tmp/lt-gets-ab-${process.pid}-${tag}`;
    const { client, c } = await openWorkCopy(dist, base, dir, ids[0]!);
    return { c, client, dir, lat: [] as number[] };
  };
  const first = arg('child') === 'a';
  const s1 = await side(first ? distA : distB, 'x');
  const s2 = await side(first ? distB : distA, 'y');
  const [A, B] = first ? [s1, s2] : [s2, s1];
  const look = shuffled(ids, 3).slice(0, G);
  for (let p = 0; p < look.length; p += chunk) {
    for (const S of (p / chunk) % 2 === 0 ? [A, B] : [B, A]) {
      const c = S.c;
      for (let i = p; i < Math.min(look.length, p + chunk); i++) {
        const t = now();
        const d = await c.findOne({ _id: look[i] });
        S.lat.push(now() - t);
        if (!d) throw new Error(`missed ${look[i]}`);
      }
    }
  }
  const stats = (lat: number[]) => {
    const s = lat.slice().sort((x, y) => x - y);
    return [pct(s, 50)! * 1000, pct(s, 90)! * 1000, (lat.reduce((x, y) => x + y, 0) * 1000) / lat.length];
  };
  const res = { a: stats(A.lat), b: stats(B.lat) };
  for (const S of [A, B]) {
    await S.client.close();
    fs.rmSync(S.dir, { recursive: true, force: true });
  }
  console.log(JSON.stringify(res));
}
