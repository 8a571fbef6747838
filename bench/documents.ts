/**
 * Document-store benchmark: the workload of ../shared/peers/docs (seeded user documents; batched
 * load, single durable inserts sequential and from 64 concurrent callers, point gets by _id,
 * indexed equality, indexed range + sort + limit, unindexed filtered scan, $inc updates, deletes,
 * bytes on disk, cold open to first result), Largetable side by side with better-sqlite3, LokiJS,
 * NeDB, PGlite and RxDB. Each engine phase runs in its own child process (bench/_documents/runner.mjs)
 * so cold-open and RSS figures belong to one engine. Every answer is checked against a plain-JS
 * reference; a wrong answer is reported, never ranked.
 *
 *   npm run bench -- documents                 # 100,000 documents
 *   npm run bench -- documents --quick         # 20,000 documents
 *   npm run bench -- documents --docs=1000000 --engines=largetable,sqlite
 *   --rounds=3 runs every engine 3 times in rotated order and reports medians;
 *   add --no-append to skip appending to bench/RESULTS.md
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
// @ts-expect-error plain JS module copied from the peers workload
import { SIZES, makeIds, makeDoc, shuffled, eqParams, rangeParams, scanParams, reference, rangeFingerprint, median, round } from './_documents/workload.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = Object.fromEntries(process.argv.slice(2).map((a) => { const [k, v] = a.replace(/^--/, '').split('='); return [k!, v ?? true]; })) as Record<string, string | boolean>;
const ALL = ['largetable', 'sqlite', 'loki', 'nedb', 'pglite', 'rxdb'];
const mode = args.quick ? 'quick' : 'full';
const cfg = { ...SIZES[mode], single: 300, dir: path.resolve(String(args.dir ?? path.join(os.tmpdir(), 'largetable-documents-bench'))) } as Record<string, number | string>;
if (args.docs) {
  cfg.docs = cfg.lookups = Number(args.docs);
  cfg.updates = cfg.deletes = Math.min(Number(cfg.updates), Math.floor(Number(cfg.docs) / 20));
}
if (mode === 'full') cfg.lookups = Math.min(Number(cfg.docs), 20_000);
const engines = args.engines ? String(args.engines).split(',') : ALL;
const timeoutMs = Number(args.timeout || (mode === 'quick' ? 300 : 1800)) * 1000;
const log = (...a: unknown[]) => console.error(...a);

type Res = Record<string, any>;

function runPhase(engine: string, phase: string): Promise<Res> {
  // every phase starts with the machine's dirty pages written back (sync(1)): otherwise the fsyncs of
  // one engine's durable inserts queue behind the writeback of the previous engine's unsynced bulk
  // writes, and the figures depend on the order the engines ran in
  spawnSync('sync', { stdio: 'ignore' });
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', path.join(here, '_documents/runner.mjs'), engine, phase, JSON.stringify(cfg)], {
      stdio: ['ignore', 'pipe', 'inherit'],
      cwd: path.join(here, '..'),
    });
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d));
    const timer = setTimeout(() => {
      log(`[${engine}:${phase}] timeout, killing pid ${child.pid}`);
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      const line = stdout.split('\n').reverse().find((l) => l.startsWith('@@RESULT '));
      resolve(line ? JSON.parse(line.slice(9)) : { error: `exit ${code}, no result` });
    });
  });
}

function expected(): Res {
  const ids = makeIds(cfg.docs, 1);
  const docs = ids.map((id: string, i: number) => makeDoc(id, i));
  const ref = reference(docs);
  const byId = new Map(docs.map((d: Res) => [d._id, d]));
  return {
    eq: eqParams(cfg.eqReps).map(ref.eq),
    range: rangeParams(cfg.rangeReps).map((p: number[]) => rangeFingerprint(ref.range(p))),
    scan: scanParams(cfg.scanReps).map(ref.scan),
    updatedScore: (byId.get(shuffled(ids, 4)[0]) as Res).score + 1,
  };
}

function verify(check: Res | undefined, exp: Res): string[] {
  const bad: string[] = [];
  for (const k of ['eq', 'range', 'scan']) if (JSON.stringify(check?.[k]) !== JSON.stringify(exp[k])) bad.push(k);
  if (Math.abs((check?.updatedScore ?? NaN) - exp.updatedScore) > 1e-9) bad.push('update');
  return bad;
}

const METRICS: [string, string, boolean][] = [
  // key, label, higher is better
  ['loadDocsPerSec', 'load docs/s', true],
  ['singleInsertOpsPerSec', 'single durable inserts/s (sequential)', true],
  ['concurrentInsertOpsPerSec', 'single durable inserts/s (64 callers)', true],
  ['getP50us', 'point get p50 µs', false],
  ['getOpsPerSec', 'point gets/s', true],
  ['eqMedianMs', 'indexed equality ms', false],
  ['rangeMedianMs', 'range+sort+limit ms', false],
  ['scanMedianMs', 'filtered scan ms', false],
  ['updateOpsPerSec', 'updates/s', true],
  ['deleteOpsPerSec', 'deletes/s', true],
  ['sizeAfterLoadBytes', 'bytes on disk after load', false],
  ['coldToFirstResultMs', 'cold open to first result ms', false],
  ['maxRssMB', 'max RSS MB', false],
];

const t0 = Date.now();
log(`documents bench: mode=${mode} docs=${cfg.docs} engines=${engines.join(',')} dir=${cfg.dir} loadavg=${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
const exp = expected();
const rounds = Math.max(1, Number(args.rounds ?? 1));
const runs: Record<string, Res[]> = Object.fromEntries(engines.map((e) => [e, []]));
for (let round = 0; round < rounds; round++) {
  // rotate the order every round so a busy period of the shared machine does not always hit the same engine
  const order = engines.map((_, i) => engines[(i + round) % engines.length]!);
  for (const e of order) {
    const persistent = e !== 'rxdb';
    const phases = persistent ? ['load', 'work'] : ['all'];
    const res: Res = { phaseRssMB: {} };
    for (const p of phases) {
      const o = await runPhase(e, p);
      if (o.error) {
        res.error = `${p}: ${o.error}`;
        break;
      }
      const { maxRssMB, check, ...rest } = o;
      Object.assign(res, rest);
      res.phaseRssMB[p] = maxRssMB;
      if (p !== 'load') res.check = check;
    }
    res.maxRssMB = Math.max(...(Object.values(res.phaseRssMB) as number[]));
    if (!res.error) {
      const bad = verify(res.check, exp);
      res.resultsOk = bad.length === 0;
      if (bad.length) res.mismatch = bad;
    }
    delete res.check;
    runs[e]!.push(res);
    log(`[${e}] round ${round + 1}/${rounds} done${res.error ? ` ERROR ${res.error}` : res.resultsOk ? '' : ` WRONG RESULTS ${res.mismatch}`} (max RSS MB by phase: ${JSON.stringify(res.phaseRssMB)})`);
  }
}
// median of every numeric metric across rounds
const results: Record<string, Res> = {};
for (const e of engines) {
  const ok = runs[e]!.filter((r) => !r.error);
  if (ok.length === 0) {
    results[e] = runs[e]![0]!;
    continue;
  }
  const r: Res = { resultsOk: ok.every((x) => x.resultsOk), mismatch: ok.find((x) => x.mismatch)?.mismatch, meta: ok[0]!.meta };
  for (const k of Object.keys(ok[0]!)) if (typeof ok[0]![k] === 'number') r[k] = median(ok.map((x) => x[k]));
  results[e] = r;
}
fs.rmSync(String(cfg.dir), { recursive: true, force: true });

const fmt = (v: unknown) => (v == null ? '-' : typeof v === 'number' ? (v >= 1e6 ? `${round(v / 2 ** 20, 1)} MiB` : String(round(v, v < 10 ? 3 : 1))) : String(v));
const lt = results.largetable;
const lines: string[] = [];
const shown = engines.filter((e) => !results[e]!.error);
lines.push(`| metric | ${shown.join(' | ')} | largetable vs sqlite | largetable vs loki |`);
lines.push(`|---|${shown.map(() => '---').join('|')}|---|---|`);
const ratio = (m: string, hi: boolean, peer: string) => {
  const a = lt?.[m];
  const b = results[peer]?.[m];
  if (a == null || b == null || !lt?.resultsOk || a === 0 || b === 0) return '-';
  return `${round(hi ? a / b : b / a, 2)}x`;
};
for (const [m, label, hi] of METRICS) {
  lines.push(`| ${label} | ${shown.map((e) => fmt(results[e]![m])).join(' | ')} | ${ratio(m, hi, 'sqlite')} | ${ratio(m, hi, 'loki')} |`);
}
lines.push(`| answers equal to the reference | ${shown.map((e) => (results[e]!.resultsOk ? 'yes' : `NO (${results[e]!.mismatch})`)).join(' | ')} | | |`);
const errors = engines.filter((e) => results[e]!.error).map((e) => `- ${e}: ${String(results[e]!.error).slice(0, 200)}`);
const table = lines.join('\n');
log('\n' + table + (errors.length ? '\n' + errors.join('\n') : ''));
log('\nratios: >1x means largetable is better (higher throughput or lower latency/size).');

if (!args['no-append']) {
  const md = [
    '',
    `## documents (\`npm run bench -- documents${mode === 'quick' ? ' --quick' : ''}${args.docs ? ` --docs=${args.docs}` : ''}${rounds > 1 ? ` --rounds=${rounds}` : ''}\`)`,
    '',
    `${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${os.cpus().length} cores, ${cfg.docs} documents, load average at start ${os.loadavg()[0]!.toFixed(1)} (machine shared with other work: absolute figures are noisy, ratios are side by side in one run). ` +
      `${rounds > 1 ? `Medians of ${rounds} rounds, engine order rotated every round. ` : ''}Durability: largetable 'strict' (fsync before acknowledging) for batches and single inserts, updates/deletes with writeConcern {j:false}; better-sqlite3 WAL synchronous=FULL for single inserts, NORMAL otherwise; LokiJS/NeDB do not fsync; RxDB is in memory. Wall ${round((Date.now() - t0) / 1000, 0)} s.`,
    '',
    table,
    ...(errors.length ? ['', ...errors] : []),
    '',
  ].join('\n');
  fs.appendFileSync(path.join(here, 'RESULTS.md'), md);
  log('appended to bench/RESULTS.md');
}
console.log(JSON.stringify({ bench: 'documents', mode, docs: cfg.docs, results }));
