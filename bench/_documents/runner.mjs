// Copied from ../shared/peers/docs/lib/runner.mjs (+ 64-concurrent-caller inserts, largetable adapter).
// Child process: runs one phase of the workload against one engine and prints
// "@@RESULT <json>" as its last stdout line. Invoked by bench.mjs, one process per
// phase, so that cold-open and peak-RSS figures belong to one engine only.
//   node lib/runner.mjs <engine> <load|work|all> <jsonConfig>
import fs from 'node:fs';
import path from 'node:path';
import { makeIds, makeIdList, makeDoc, shuffledIds, eqParams, rangeParams, scanParams, rangeFingerprint, now, pct, median, round } from './workload.mjs';

const [engine, phase, cfgJson] = process.argv.slice(2);
const cfg = JSON.parse(cfgJson); // { docs, batch, single, lookups, updates, deletes, eqReps, rangeReps, scanReps, dir }
const log = (...a) => console.error(`[${engine}:${phase}]`, ...a);
const out = {};
const call = async (r) => (r && typeof r.then === 'function' ? await r : r); // don't add an await tick to sync engines

export function dirBytes(p) { // allocated bytes (like du), so sparse files (LMDB) are not over-counted
  if (!fs.existsSync(p)) return 0;
  const st = fs.statSync(p);
  if (!st.isDirectory()) return st.blocks * 512;
  return fs.readdirSync(p).reduce((s, f) => s + dirBytes(path.join(p, f)), 0);
}

function latencySummary(prefix, lat, totalMs) {
  lat.sort((a, b) => a - b);
  out[`${prefix}OpsPerSec`] = round(lat.length / (totalMs / 1000), 0);
  out[`${prefix}P50us`] = round(pct(lat, 50) * 1000, 1);
  out[`${prefix}P99us`] = round(pct(lat, 99) * 1000, 1);
}

async function timedReps(name, params, fn, fingerprint) {
  let t = now(); const first = await call(fn(params[0])); out[`${name}WarmMs`] = round(now() - t, 2); // first run: caches, lazy index builds
  const ms = [], fp = [];
  let rows = 0;
  for (const p of params) { t = now(); const res = await call(fn(p)); ms.push(now() - t); fp.push(fingerprint(res)); rows += res.length; }
  out[`${name}MedianMs`] = round(median(ms), 3);
  out[`${name}Rows`] = Math.round(rows / params.length);
  out.check[name] = fp;
  return first;
}

const ids = makeIdList(cfg.docs, 1); // kept compactly: ids.at(i) makes the string
const mainDir = path.join(cfg.dir, engine, 'main'), singleDir = path.join(cfg.dir, engine, 'single');

async function loadPhase(mod) {
  fs.rmSync(path.join(cfg.dir, engine), { recursive: true, force: true });
  // (a2) single-document durable inserts, each its own commit, into a fresh database
  fs.mkdirSync(singleDir, { recursive: true });
  let db = await mod.open(singleDir, { durable: true });
  const sIds = makeIds(cfg.single, 99), lat = [];
  let t0 = now();
  for (let i = 0; i < cfg.single; i++) { const t = now(); await call(db.insertOne(makeDoc(sIds[i], 1e7 + i))); lat.push(now() - t); }
  latencySummary('singleInsert', lat, now() - t0);
  // (a3) the same number of single durable inserts from 64 concurrent callers
  const cIds = makeIds(cfg.single, 98);
  let next = 0;
  t0 = now();
  await Promise.all(Array.from({ length: 64 }, async () => {
    while (next < cfg.single) { const i = next++; await call(db.insertOne(makeDoc(cIds[i], 2e7 + i))); }
  }));
  out.concurrentInsertOpsPerSec = round(cfg.single / ((now() - t0) / 1000), 0);
  await call(db.close());
  log('single inserts', out.singleInsertOpsPerSec, 'ops/s; 64 concurrent callers', out.concurrentInsertOpsPerSec, 'ops/s');

  // (a1) bulk load in batches, then (h) size after load
  fs.mkdirSync(mainDir, { recursive: true });
  db = await mod.open(mainDir, { durable: false });
  out.sizeEmptyBytes = dirBytes(mainDir);
  t0 = now();
  for (let b = 0; b < cfg.docs; b += cfg.batch) {
    const docs = [];
    for (let i = b; i < Math.min(cfg.docs, b + cfg.batch); i++) docs.push(makeDoc(ids.at(i), i));
    await call(db.insertBatch(docs));
  }
  const tf = now();
  await call(db.flush());
  out.flushMs = round(now() - tf, 1);
  out.loadDocsPerSec = round(cfg.docs / ((now() - t0) / 1000), 0);
  log('load', out.loadDocsPerSec, 'docs/s');
  return db;
}

async function workPhase(mod, db, tImported) {
  // (i) cold open: module import + open + first point lookup + first indexed query
  if (!db) {
    db = await mod.open(mainDir, { durable: false });
    out.openMs = round(now() - tImported, 1);
    let t = now(); const d = await call(db.get(ids.at(0)));
    if (!d || d.city === undefined) throw new Error('first get returned nothing');
    out.firstGetMs = round(now() - t, 2);
    t = now(); await call(db.findEq('city00')); out.firstQueryMs = round(now() - t, 2);
    out.coldToFirstResultMs = round(out.importMs + out.openMs + out.firstGetMs, 1);
  }
  // (b) point lookups, each id once, random order
  const look = shuffledIds(ids, 3, cfg.lookups), lat = new Array(look.length);
  let t1 = now(), miss = 0;
  for (let i = 0; i < look.length; i++) { const t = now(); const d = await call(db.get(look[i])); lat[i] = now() - t; if (!d) miss++; }
  latencySummary('get', lat, now() - t1);
  if (miss) throw new Error(`${miss} lookups missed`);
  log('get p50', out.getP50us, 'us');
  // (c) equality on indexed city, (d) indexed age range + sort by score desc limit 20, (e) unindexed scan
  await timedReps('eq', eqParams(cfg.eqReps), (c) => db.findEq(c), (r) => r.length);
  await timedReps('range', rangeParams(cfg.rangeReps), ([lo, hi]) => db.findRange(lo, hi, 20), rangeFingerprint);
  await timedReps('scan', scanParams(cfg.scanReps), ([x, tag]) => db.scan(x, tag), (r) => r.length);
  log('queries eq', out.eqMedianMs, 'range', out.rangeMedianMs, 'scan', out.scanMedianMs, 'ms');
  // (f) $inc-style updates by _id, (g) deletes by _id: one awaited op each, then the engine's flush
  for (const [name, list, fn] of [
    ['update', shuffledIds(ids, 4, cfg.updates), (id) => db.inc(id, 'score', 1)],
    ['delete', shuffledIds(ids, 5, cfg.deletes), (id) => db.remove(id)],
  ]) {
    const l = new Array(list.length); t1 = now();
    for (let i = 0; i < list.length; i++) { const t = now(); await call(fn(list[i])); l[i] = now() - t; }
    await call(db.flush());
    latencySummary(name, l, now() - t1);
    log(name, out[`${name}OpsPerSec`], 'ops/s');
  }
  const gone = await call(db.get(shuffledIds(ids, 5, 1)[0])), kept = await call(db.get(shuffledIds(ids, 4, 1)[0]));
  if (gone) throw new Error('deleted doc still found');
  out.check.updatedScore = kept.score;
  return db;
}

(async () => {
  out.check = {};
  const t0 = now();
  const mod = await import(engine === 'largetable' ? './adapters/largetable.ts' : `./adapters/${engine}.mjs`);
  const tImported = now();
  out.importMs = round(tImported - t0, 1);
  out.meta = mod.meta;
  let db = null;
  if (phase === 'load' || phase === 'all') db = await loadPhase(mod);
  if (phase === 'load') { await call(db.close()); out.sizeAfterLoadBytes = dirBytes(mainDir); }
  if (phase === 'work' || phase === 'all') {
    db = await workPhase(mod, phase === 'all' ? db : null, tImported);
    await call(db.close());
    out.sizeFinalBytes = dirBytes(mainDir);
  }
  out.maxRssMB = round(process.resourceUsage().maxRSS / 1024, 0);
  process.stdout.write(`@@RESULT ${JSON.stringify(out)}\n`);
  process.exit(0); // some engines keep handles/workers alive
})().catch((e) => { console.error(e); process.stdout.write(`@@RESULT ${JSON.stringify({ error: String(e?.stack || e).slice(0, 500) })}\n`); process.exit(1); });
