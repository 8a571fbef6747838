/**
 * Storage engine benchmark: `npm run bench -- storage [N]` (default 1,000,000 keys).
 * Largetable (Node fs adapter) side by side with classic-level (LevelDB), lmdb and better-sqlite3
 * (WAL mode) on the same random 16-byte keys and 100-byte values: batched loads, strict single
 * writes from 64 concurrent writers (group commit) and sequential ones against sqlite
 * synchronous=FULL, random point reads, range scans of 100 keys, bytes on disk. Prints ratios and
 * appends the table to bench/RESULTS.md. Modes: `storage memory [N]` (memory bound at 10M keys),
 * `storage seq [ROUNDS]` (where the time of one sequential strict write goes).
 */
import { execSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import process from 'node:process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { openNodeFsAdapter } from '../platform/node/fs-adapter.ts';
import { loadPlatformKernels } from '../platform/node/kernels.ts';
import { installKernels } from '../src/kernel/index.ts';
import { openStore } from '../src/storage/index.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, 'package.json'));
const { ClassicLevel } = require('classic-level') as { ClassicLevel: new (p: string, o: object) => any };
const lmdb = require('lmdb') as { open(o: object): any };
const Sqlite = require('better-sqlite3') as new (p: string) => any;

// `npm run bench -- storage memory [N]`: the memory-bound check alone (default 10,000,000 keys):
// Largetable loads N keys (generated on the fly into two buffers reused for every batch), then serves random
// reads; the peak resident set must stay under memtable + cache budgets + 150 MB. It runs in a
// child process on the compiled dist/ build (bench/storage-memory.mjs; `npm run build` first),
// as an application runs the package: this process's tsx loader would count in the resident set.
if (process.argv[2] === 'memory') {
  const n = Number(process.argv[3] ?? 10_000_000);
  if (!fs.existsSync(path.join(here, '..', 'dist', 'src', 'storage', 'index.js'))) {
    console.error('storage memory runs the compiled build: run `npm run build` first');
    process.exit(2);
  }
  console.log(`memory: ${n.toLocaleString()} keys on the compiled dist/ build (node bench/storage-memory.mjs ${n}, no tsx in the measured process)`);
  // the child's progress lines stream through; its last line is the JSON result
  const child = spawn(process.execPath, [path.join(here, 'storage-memory.mjs'), String(n)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let last = '';
  let pending = '';
  child.stdout.on('data', (d: Buffer) => {
    pending += d.toString();
    const parts = pending.split('\n');
    pending = parts.pop()!;
    for (const l of parts) {
      if (l.startsWith('{')) last = l;
      else console.log(l);
    }
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (pending.startsWith('{')) last = pending;
  if (code !== 0 || last === '') {
    console.error(`storage-memory.mjs exited with ${code}`);
    process.exit(1);
  }
  const r = JSON.parse(last) as { n: number; loadS: number; readS: number; peak: number; startRss: number; memtable: number; cache: number; diskBytes: number; loadAverage: number };
  const budget = r.memtable * 3 + r.cache;
  const line = `memory: ${r.n.toLocaleString()} keys loaded in ${r.loadS.toFixed(0)} s, 100,000 random reads in ${r.readS.toFixed(1)} s; peak RSS ${(r.peak / 1e6).toFixed(0)} MB (process at start ${(r.startRss / 1e6).toFixed(0)} MB; compiled dist/ build) vs budget (3 x 32 MiB memtables + 64 MiB cache = ${(budget / 1e6).toFixed(0)} MB) + 150 MB = ${((budget + 150e6) / 1e6).toFixed(0)} MB: ${r.peak <= budget + 150e6 ? 'OK' : 'OVER'}; ${(r.diskBytes / 1e9).toFixed(2)} GB on disk; load average ${r.loadAverage.toFixed(1)}`;
  console.log(line);
  if (process.env['NO_RESULTS'] === undefined) fs.appendFileSync(path.join(here, 'RESULTS.md'), `\n- storage ${line} (\`npm run bench -- storage memory ${n}\`, ${new Date().toISOString().slice(0, 10)}, Node ${process.version})\n`);
  process.exit(r.peak <= budget + 150e6 ? 0 : 1);
}

// `npm run bench -- storage seq [ROUNDS]`: where the time of one sequential strict write goes.
// Alternating rounds of 300 writes (the machine is shared: alternation compares like with like):
// Largetable strict puts; the same adapter's append + sync (a growing file: each sync also
// commits the new size) and its in-place write + sync into preallocated zeros (what the WAL does,
// docs/FORMAT.md); raw fs.promises and fs callback write + datasync, growing and in place, and an
// O_DSYNC write in place (the Node adapter's path for the WAL, opened `writeThrough`);
// better-sqlite3 WAL synchronous=FULL. Medians.
if (process.argv[2] === 'seq') {
  const rounds = Number(process.argv[3] ?? 10);
  const per = 300;
  const dir = fs.mkdtempSync(path.join(process.env['BENCH_DIR'] ?? os.tmpdir(), 'lt-bench-seq-'));
  await loadPlatformKernels().then((k) => installKernels(k), () => undefined);
  const keyOf = (i: number): Uint8Array => {
    const k = new Uint8Array(16);
    const d = new DataView(k.buffer);
    d.setUint32(0, Math.imul(i, 2654435761) >>> 0);
    d.setUint32(4, i);
    return k;
  };
  const value = new Uint8Array(100).fill(7);
  const st = await openStore(await openNodeFsAdapter(path.join(dir, 'lt')), {});
  // A/B: the same store with the adapter's synchronous durable write hidden (every commit's WAL
  // write goes through the thread pool, as before the lone-commit path)
  const adAsync = await openNodeFsAdapter(path.join(dir, 'lt-async'));
  const openAsync = adAsync.open.bind(adAsync);
  adAsync.open = async (name, o) => {
    const h = await openAsync(name, o);
    (h as { writeDurableSync?: unknown }).writeDurableSync = undefined;
    return h;
  };
  const stAsync = await openStore(adAsync, {});
  // the same store with its WAL appended (format 1's pattern: every sync also commits a new size)
  const stApp = await openStore(await openNodeFsAdapter(path.join(dir, 'lt-app')), { walPreallocate: false });
  const ad = await openNodeFsAdapter(path.join(dir, 'adapter'));
  const ah = await ad.open('000001.wal', { create: true });
  const rec = new Uint8Array(148); // one WAL record of this put: 8 header + 20 batch + 1+1+1 + 16 + 100, rounded
  const fh = await fs.promises.open(path.join(dir, 'raw'), 'w');
  let rawOff = 0;
  // preallocated files (zeros written and synced once), written in place
  const preBytes = rounds * per * rec.length;
  const prealloc = (name: string): string => {
    const p = path.join(dir, name);
    fs.writeFileSync(p, new Uint8Array(preBytes));
    const fd = fs.openSync(p, 'r+');
    fs.fdatasyncSync(fd);
    fs.closeSync(fd);
    return p;
  };
  prealloc('adapter-pre');
  const ad2 = await openNodeFsAdapter(dir);
  const ph = await ad2.open('adapter-pre');
  await ph.sync(); // the directory fsync after a create is not part of the loop
  let phOff = 0;
  const fhp = await fs.promises.open(prealloc('raw-pre'), 'r+');
  let fhpOff = 0;
  const cfd = fs.openSync(prealloc('raw-pre-cb'), 'r+');
  let cfdOff = 0;
  // O_DSYNC: the write itself is durable (one system call, one threadpool hop): the WAL's path
  const dfh = await fs.promises.open(prealloc('raw-pre-dsync'), fs.constants.O_RDWR | fs.constants.O_DSYNC);
  let dfhOff = 0;
  // the same O_DSYNC write, synchronous on the main thread (what sqlite does): no threadpool hop
  const sfd = fs.openSync(prealloc('raw-pre-dsync-sync'), fs.constants.O_RDWR | fs.constants.O_DSYNC);
  let sfdOff = 0;
  const cbWrite = (off: number): Promise<void> =>
    new Promise((resolve, reject) => fs.write(cfd, rec, 0, rec.length, off, (e) => (e ? reject(e) : fs.fdatasync(cfd, (e2) => (e2 ? reject(e2) : resolve())))));
  fs.mkdirSync(path.join(dir, 'sqlite'));
  const sq = new Sqlite(path.join(dir, 'sqlite', 'db.sqlite'));
  sq.pragma('journal_mode = WAL');
  sq.pragma('synchronous = FULL');
  sq.exec('CREATE TABLE kv (k BLOB PRIMARY KEY, v BLOB) WITHOUT ROWID');
  const ins = sq.prepare('INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)');
  const res: Record<string, number[]> = {
    'largetable strict put': [],
    'largetable strict put, WAL appended': [],
    'largetable strict put, async WAL write (A/B)': [],
    'largetable strict put, 64 concurrent writers': [],
    'adapter append+sync': [],
    'adapter in-place write+sync': [],
    'fs.promises append write+datasync': [],
    'fs.promises in-place write+datasync': [],
    'fs callbacks in-place write+fdatasync': [],
    'fs.promises in-place O_DSYNC write': [],
    'setImmediate + fs.writeSync in-place O_DSYNC': [],
    'sqlite WAL FULL insert': [],
  };
  const timed = async (name: string, fn: () => Promise<void> | void): Promise<void> => {
    const t = performance.now();
    await fn();
    const n = name.includes('64 concurrent') ? per * 4 : per;
    res[name]!.push((n / (performance.now() - t)) * 1000);
  };
  for (let r = 0; r < rounds; r++) {
    const base = r * per;
    const steps: [string, () => Promise<void> | void][] = [
      ['largetable strict put', async () => {
        for (let i = 0; i < per; i++) await st.put(keyOf(base + i), value);
      }],
      ['largetable strict put, async WAL write (A/B)', async () => {
        for (let i = 0; i < per; i++) await stAsync.put(keyOf(base + i), value);
      }],
      ['largetable strict put, 64 concurrent writers', async () => {
        let next = 0;
        const base4 = 10_000_000 + r * per * 4;
        await Promise.all(Array.from({ length: 64 }, async () => {
          while (next < per * 4) await st.put(keyOf(base4 + next++), value);
        }));
      }],
      ['largetable strict put, WAL appended', async () => {
        for (let i = 0; i < per; i++) await stApp.put(keyOf(base + i), value);
      }],
      ['adapter append+sync', async () => {
        for (let i = 0; i < per; i++) {
          await ah.append(rec);
          await ah.sync();
        }
      }],
      ['adapter in-place write+sync', async () => {
        for (let i = 0; i < per; i++) {
          await ph.write(phOff, rec);
          phOff += rec.length;
          await ph.sync();
        }
      }],
      ['fs.promises append write+datasync', async () => {
        for (let i = 0; i < per; i++) {
          await fh.write(rec, 0, rec.length, rawOff);
          rawOff += rec.length;
          await fh.datasync();
        }
      }],
      ['fs.promises in-place write+datasync', async () => {
        for (let i = 0; i < per; i++) {
          await fhp.write(rec, 0, rec.length, fhpOff);
          fhpOff += rec.length;
          await fhp.datasync();
        }
      }],
      ['fs.promises in-place O_DSYNC write', async () => {
        for (let i = 0; i < per; i++) {
          await dfh.write(rec, 0, rec.length, dfhOff);
          dfhOff += rec.length;
        }
      }],
      ['setImmediate + fs.writeSync in-place O_DSYNC', async () => {
        for (let i = 0; i < per; i++) {
          await new Promise<void>((resolve) => setImmediate(resolve));
          fs.writeSync(sfd, rec, 0, rec.length, sfdOff);
          sfdOff += rec.length;
        }
      }],
      ['fs callbacks in-place write+fdatasync', async () => {
        for (let i = 0; i < per; i++) {
          await cbWrite(cfdOff);
          cfdOff += rec.length;
        }
      }],
      ['sqlite WAL FULL insert', () => {
        for (let i = 0; i < per; i++) ins.run(keyOf(base + i), value);
      }],
    ];
    if (r % 2 === 1) steps.reverse();
    for (const [name, fn] of steps) await timed(name, fn);
  }
  await st.close();
  await stAsync.close();
  await stApp.close();
  await ah.close();
  await ad.close();
  await ph.close();
  await ad2.close();
  await fh.close();
  await fhp.close();
  await dfh.close();
  fs.closeSync(cfd);
  fs.closeSync(sfd);
  sq.close();
  fs.rmSync(dir, { recursive: true, force: true });
  const med = (a: number[]): number => [...a].sort((x, y) => x - y)[a.length >> 1]!;
  const sqRate = med(res['sqlite WAL FULL insert']!);
  const parts = Object.entries(res).map(([k, v]) => `${k} ${Math.round(med(v)).toLocaleString()}/s (${(med(v) / sqRate).toFixed(2)}x sqlite)`);
  const line = `sequential strict writes, ${rounds} alternating rounds of ${per}, medians: ${parts.join('; ')}; load average ${os.loadavg()[0]!.toFixed(1)}`;
  console.log(line);
  if (process.env['NO_RESULTS'] === undefined) fs.appendFileSync(path.join(here, 'RESULTS.md'), `\n- storage ${line} (\`npm run bench -- storage seq ${rounds}\`, ${new Date().toISOString().slice(0, 10)}, Node ${process.version})\n`);
  process.exit(0);
}

const N = Number(process.argv[2] ?? 1_000_000);
const batchSize = 1000;
const writers = 64;
const strictWrites = Math.min(20_000, N);
const seqWrites = Math.min(2_000, N);
const reads = Math.min(200_000, N);
const scans = Math.min(5_000, N);
const root = fs.mkdtempSync(path.join(process.env['BENCH_DIR'] ?? os.tmpdir(), 'lt-bench-storage-'));

// ---- data: random keys and values, generated once
let seed = 0x12345678;
function rnd(): number {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return seed >>> 0;
}
const keyBuf = new Uint8Array(N * 16);
for (let i = 0; i < keyBuf.length; i += 4) new DataView(keyBuf.buffer).setUint32(i, rnd());
const valBuf = new Uint8Array(N * 100);
// values: half random, half text-like (so compression has something to do, as in real records)
for (let i = 0; i < N; i++) {
  const o = i * 100;
  for (let j = 0; j < 50; j += 4) new DataView(valBuf.buffer).setUint32(o + j, rnd());
  for (let j = 52; j < 100; j++) valBuf[o + j] = 97 + ((i + j) % 26);
}
const key = (i: number): Uint8Array => keyBuf.subarray(i * 16, i * 16 + 16);
const val = (i: number): Uint8Array => valBuf.subarray(i * 100, i * 100 + 100);
const readOrder = Array.from({ length: reads }, () => rnd() % N);
const scanStarts = Array.from({ length: scans }, () => rnd() % N);

function du(dir: string): number {
  return Number(execSync(`du -sb ${JSON.stringify(dir)}`).toString().split('\t')[0]);
}
async function time(fn: () => Promise<unknown> | unknown): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}
const rows: { test: string; impl: string; ops: number; ms: number; note?: string }[] = [];
/** Records a measurement; a test measured again in round 2 keeps its best round. */
function row(test: string, impl: string, ops: number, ms: number, note?: string): void {
  const prev = rows.find((r) => r.test === test && r.impl === impl);
  if (prev !== undefined) {
    const better = ops / ms > prev.ops / prev.ms;
    if (better) Object.assign(prev, { ops, ms });
    prev.note = `${note ?? prev.note ?? ''}${note ?? prev.note ? '; ' : ''}best of 2 rounds`.replace(/^; /, '');
    console.log(`${test.padEnd(34)} ${impl.padEnd(26)} ${Math.round((ops / ms) * 1000).toLocaleString().padStart(12)} ops/s  (round 2)`);
    return;
  }
  rows.push({ test, impl, ops, ms, note });
  console.log(`${test.padEnd(34)} ${impl.padEnd(26)} ${Math.round((ops / ms) * 1000).toLocaleString().padStart(12)} ops/s  (${ms.toFixed(0)} ms)${note ? '  ' + note : ''}`);
}

const kernelBuild = await loadPlatformKernels().then((k) => installKernels(k).build, () => 'typescript');
console.log(`N=${N.toLocaleString()} keys, 16-byte keys, 100-byte values; kernels: ${kernelBuild}; dir ${root}`);

// ---------------------------------------------------------------- Largetable
const ltDir = path.join(root, 'largetable');
const lt = await openStore(await openNodeFsAdapter(ltDir), { blockCacheSizeBytes: 256 * 1024 * 1024 });
row('batched load (1000/batch)', 'largetable strict', N, await time(async () => {
  for (let i = 0; i < N; i += batchSize) {
    const ops = [];
    for (let j = i; j < Math.min(N, i + batchSize); j++) ops.push({ type: 'put' as const, key: key(j), value: val(j) });
    await lt.write(ops);
  }
}));
// the same load with 4 batches in flight: group commit shares one sync between them
const lt2Dir = path.join(root, 'largetable-2');
const lt2 = await openStore(await openNodeFsAdapter(lt2Dir), {});
row('batched load (1000/batch)', 'largetable strict, 4 in flight', N, await time(async () => {
  let next = 0;
  await Promise.all(Array.from({ length: 4 }, async () => {
    while (next < N) {
      const i = next;
      next += batchSize;
      const ops = [];
      for (let j = i; j < Math.min(N, i + batchSize); j++) ops.push({ type: 'put' as const, key: key(j), value: val(j) });
      await lt2.write(ops);
    }
  }));
}));
await lt2.close();
const lt3 = await openStore(await openNodeFsAdapter(lt2Dir), { durability: 'relaxed' });
row('batched load (1000/batch)', 'largetable relaxed', N, await time(async () => {
  for (let i = 0; i < N; i += batchSize) {
    const ops = [];
    for (let j = i; j < Math.min(N, i + batchSize); j++) ops.push({ type: 'put' as const, key: key(j), value: val((j + 7) % N) });
    await lt3.write(ops);
  }
}), 'overwrites the keys above');
await lt3.close();
fs.rmSync(lt2Dir, { recursive: true, force: true });
row('64 concurrent strict single writes', 'largetable strict', strictWrites, await time(async () => {
  let next = 0;
  await Promise.all(Array.from({ length: writers }, async () => {
    while (next < strictWrites) {
      const i = next++;
      await lt.put(key(i), val((i + 1) % N));
    }
  }));
}), `${lt.stats().walSyncs} WAL syncs so far`);
row('sequential strict single writes', 'largetable strict', seqWrites, await time(async () => {
  for (let i = 0; i < seqWrites; i++) await lt.put(key(i), val(i));
}));
await lt.flush();
await lt.compact();
row('random point reads, cold', 'largetable', reads, await time(async () => {
  for (const i of readOrder) if ((await lt.get(key(i))) === undefined) throw new Error('missing key');
}), `cache ${(lt.stats().blockCacheHits / (lt.stats().blockCacheHits + lt.stats().blockCacheMisses) * 100).toFixed(0)}% hits`);
row('random point reads', 'largetable', reads, await time(async () => {
  for (const i of readOrder) if ((await lt.get(key(i))) === undefined) throw new Error('missing key');
}), 'second pass (warm)');
row('random point reads, 64 in flight', 'largetable', reads, await time(async () => {
  let next = 0;
  await Promise.all(Array.from({ length: 64 }, async () => {
    while (next < reads) {
      const i = readOrder[next++]!;
      if ((await lt.get(key(i))) === undefined) throw new Error('missing key');
    }
  }));
}));
row('range scans of 100', 'largetable', scans, await time(async () => {
  for (const i of scanStarts) {
    let n = 0;
    for await (const _ of lt.iterate({ gte: key(i), limit: 100 })) n++;
    if (n === 0) throw new Error('empty scan');
  }
}));
await lt.close();
const ltBytes = du(ltDir);

// ---------------------------------------------------------------- classic-level
const lvDir = path.join(root, 'level');
const lv = new ClassicLevel(lvDir, { keyEncoding: 'view', valueEncoding: 'view' });
await lv.open();
row('batched load (1000/batch)', 'classic-level (no sync)', N, await time(async () => {
  for (let i = 0; i < N; i += batchSize) {
    const ops = [];
    for (let j = i; j < Math.min(N, i + batchSize); j++) ops.push({ type: 'put', key: key(j), value: val(j) });
    await lv.batch(ops);
  }
}));
row('batched load, sync (first 100k)', 'classic-level sync', Math.min(N, 100_000), await time(async () => {
  for (let i = 0; i < Math.min(N, 100_000); i += batchSize) {
    const ops = [];
    for (let j = i; j < i + batchSize; j++) ops.push({ type: 'put', key: key(j), value: val(j) });
    await lv.batch(ops, { sync: true });
  }
}));
await lv.compactRange?.(new Uint8Array(0), new Uint8Array(17).fill(255)).catch(() => undefined);
row('random point reads, cold', 'classic-level', reads, await time(async () => {
  for (const i of readOrder) await lv.get(key(i));
}));
row('random point reads', 'classic-level', reads, await time(async () => {
  for (const i of readOrder) await lv.get(key(i));
}), 'second pass (warm)');
row('range scans of 100', 'classic-level', scans, await time(async () => {
  for (const i of scanStarts) {
    const it = lv.iterator({ gte: key(i), limit: 100 });
    await it.all();
  }
}));
await lv.close();
const lvBytes = du(lvDir);

// ---------------------------------------------------------------- lmdb
const lmDir = path.join(root, 'lmdb');
const lm = lmdb.open({ path: lmDir, keyEncoding: 'binary', encoding: 'binary', compression: false });
row('batched load (1000/batch)', 'lmdb (sync commit)', N, await time(async () => {
  for (let i = 0; i < N; i += batchSize) {
    lm.transactionSync(() => {
      for (let j = i; j < Math.min(N, i + batchSize); j++) lm.put(Buffer.from(key(j)), val(j));
    });
  }
}));
row('random point reads, cold', 'lmdb', reads, await time(() => {
  for (const i of readOrder) if (lm.get(Buffer.from(key(i))) === undefined) throw new Error('missing');
}));
row('random point reads', 'lmdb', reads, await time(() => {
  for (const i of readOrder) if (lm.get(Buffer.from(key(i))) === undefined) throw new Error('missing');
}), 'second pass (warm)');
row('range scans of 100', 'lmdb', scans, await time(() => {
  for (const i of scanStarts) {
    let n = 0;
    for (const _ of lm.getRange({ start: Buffer.from(key(i)), limit: 100 })) n++;
  }
}));
await lm.close();
const lmBytes = du(lmDir);

// ---------------------------------------------------------------- better-sqlite3
const sqDir = path.join(root, 'sqlite');
fs.mkdirSync(sqDir);
const sq = new Sqlite(path.join(sqDir, 'db.sqlite'));
sq.pragma('journal_mode = WAL');
sq.pragma('synchronous = FULL');
sq.exec('CREATE TABLE kv (k BLOB PRIMARY KEY, v BLOB) WITHOUT ROWID');
const ins = sq.prepare('INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)');
const loadTx = sq.transaction((i: number) => {
  for (let j = i; j < Math.min(N, i + batchSize); j++) ins.run(key(j), val(j));
});
row('batched load (1000/batch)', 'sqlite WAL FULL', N, await time(() => {
  for (let i = 0; i < N; i += batchSize) loadTx(i);
}));
const sqStrict = Math.min(strictWrites, 3000);
row('64 concurrent strict single writes', 'sqlite WAL FULL', sqStrict, await time(() => {
  for (let i = 0; i < sqStrict; i++) ins.run(key(i), val((i + 1) % N)); // one connection: writes serialize
}), 'autocommit per write');
row('sequential strict single writes', 'sqlite WAL FULL', seqWrites, await time(() => {
  for (let i = 0; i < seqWrites; i++) ins.run(key(i), val(i));
}));
const sel = sq.prepare('SELECT v FROM kv WHERE k = ?');
row('random point reads, cold', 'sqlite', reads, await time(() => {
  for (const i of readOrder) if (sel.get(key(i)) === undefined) throw new Error('missing');
}));
row('random point reads', 'sqlite', reads, await time(() => {
  for (const i of readOrder) if (sel.get(key(i)) === undefined) throw new Error('missing');
}), 'second pass (warm)');
const rng100 = sq.prepare('SELECT k, v FROM kv WHERE k >= ? ORDER BY k LIMIT 100');
row('range scans of 100', 'sqlite', scans, await time(() => {
  for (const i of scanStarts) rng100.all(key(i));
}));
sq.pragma('wal_checkpoint(TRUNCATE)');
sq.close();
const sqBytes = du(sqDir);

// ---------------------------------------------------------------- round 2
// The machine is shared: load changes during a run. The cheap tests run again, engines in the
// reverse order, and every row keeps its best round, so ratios compare like with like.
console.log('round 2 (reverse order; best round kept)');
{
  const sq2 = new Sqlite(path.join(sqDir, 'db.sqlite'));
  sq2.pragma('journal_mode = WAL');
  sq2.pragma('synchronous = FULL');
  const ins2 = sq2.prepare('INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)');
  row('64 concurrent strict single writes', 'sqlite WAL FULL', sqStrict, await time(() => {
    for (let i = 0; i < sqStrict; i++) ins2.run(key(i), val((i + 3) % N));
  }), 'autocommit per write');
  row('sequential strict single writes', 'sqlite WAL FULL', seqWrites, await time(() => {
    for (let i = 0; i < seqWrites; i++) ins2.run(key(i), val(i));
  }));
  const sel2 = sq2.prepare('SELECT v FROM kv WHERE k = ?');
  row('random point reads', 'sqlite', reads, await time(() => {
    for (const i of readOrder) if (sel2.get(key(i)) === undefined) throw new Error('missing');
  }), 'second pass (warm)');
  const rng2 = sq2.prepare('SELECT k, v FROM kv WHERE k >= ? ORDER BY k LIMIT 100');
  row('range scans of 100', 'sqlite', scans, await time(() => {
    for (const i of scanStarts) rng2.all(key(i));
  }));
  sq2.close();
  const lm2 = lmdb.open({ path: lmDir, keyEncoding: 'binary', encoding: 'binary', compression: false });
  row('random point reads', 'lmdb', reads, await time(() => {
    for (const i of readOrder) if (lm2.get(Buffer.from(key(i))) === undefined) throw new Error('missing');
  }), 'second pass (warm)');
  row('range scans of 100', 'lmdb', scans, await time(() => {
    for (const i of scanStarts) for (const _ of lm2.getRange({ start: Buffer.from(key(i)), limit: 100 }));
  }));
  await lm2.close();
  const lv2 = new ClassicLevel(lvDir, { keyEncoding: 'view', valueEncoding: 'view' });
  await lv2.open();
  row('random point reads', 'classic-level', reads, await time(async () => {
    for (const i of readOrder) await lv2.get(key(i));
  }), 'second pass (warm)');
  row('range scans of 100', 'classic-level', scans, await time(async () => {
    for (const i of scanStarts) await lv2.iterator({ gte: key(i), limit: 100 }).all();
  }));
  await lv2.close();
  const lt4 = await openStore(await openNodeFsAdapter(ltDir), { blockCacheSizeBytes: 256 * 1024 * 1024 });
  for (const i of readOrder) await lt4.get(key(i)); // warm the block cache again after the reopen
  row('random point reads', 'largetable', reads, await time(async () => {
    for (const i of readOrder) if ((await lt4.get(key(i))) === undefined) throw new Error('missing key');
  }), 'second pass (warm)');
  row('random point reads, 64 in flight', 'largetable', reads, await time(async () => {
    let next = 0;
    await Promise.all(Array.from({ length: 64 }, async () => {
      while (next < reads) if ((await lt4.get(key(readOrder[next++]!))) === undefined) throw new Error('missing key');
    }));
  }));
  row('range scans of 100', 'largetable', scans, await time(async () => {
    for (const i of scanStarts) for await (const _ of lt4.iterate({ gte: key(i), limit: 100 }));
  }));
  row('64 concurrent strict single writes', 'largetable strict', strictWrites, await time(async () => {
    let next = 0;
    await Promise.all(Array.from({ length: writers }, async () => {
      while (next < strictWrites) {
        const i = next++;
        await lt4.put(key(i), val((i + 3) % N));
      }
    }));
  }));
  row('sequential strict single writes', 'largetable strict', seqWrites, await time(async () => {
    for (let i = 0; i < seqWrites; i++) await lt4.put(key(i), val(i));
  }));
  await lt4.close();
}

// ---------------------------------------------------------------- summary
const rate = (test: string, impl: string): number => {
  const r = rows.find((x) => x.test === test && x.impl.startsWith(impl)) ?? rows.find((x) => x.test.startsWith(test) && x.impl.startsWith(impl));
  return r === undefined ? NaN : (r.ops / r.ms) * 1000;
};
const ratio = (a: number, b: number): string => (a / b).toFixed(2) + 'x';
const lines = [
  `batched load: largetable strict / classic-level sync = ${ratio(rate('batched load (1000/batch)', 'largetable strict'), rate('batched load, sync', 'classic-level'))}, strict 4 in flight / classic-level sync = ${ratio(rate('batched load (1000/batch)', 'largetable strict, 4'), rate('batched load, sync', 'classic-level'))}, largetable relaxed / classic-level (no sync) = ${ratio(rate('batched load (1000/batch)', 'largetable relaxed'), rate('batched load (1000/batch)', 'classic-level'))} (goal >= 1x)`,
  `64 concurrent strict writers: largetable / sqlite FULL = ${ratio(rate('64 concurrent strict single writes', 'largetable'), rate('64 concurrent strict single writes', 'sqlite'))} (goal >= 5x)`,
  `sequential strict writes: largetable / sqlite FULL = ${ratio(rate('sequential strict single writes', 'largetable'), rate('sequential strict single writes', 'sqlite'))} (goal >= 1x)`,
  `random reads (warm): largetable / lmdb = ${ratio(rate('random point reads', 'largetable'), rate('random point reads', 'lmdb'))} (goal >= 0.5x); 64 in flight: ${ratio(rate('random point reads, 64 in flight', 'largetable'), rate('random point reads', 'lmdb'))}; cold first pass: ${ratio(rate('random point reads, cold', 'largetable'), rate('random point reads, cold', 'lmdb'))}`,
  `range scans: largetable / classic-level = ${ratio(rate('range scans of 100', 'largetable'), rate('range scans of 100', 'classic-level'))}, / lmdb = ${ratio(rate('range scans of 100', 'largetable'), rate('range scans of 100', 'lmdb'))}`,
  `strict writes in batches: ${Math.round(rate('batched load (1000/batch)', 'largetable strict')).toLocaleString()} writes/s, ${Math.round(rate('batched load (1000/batch)', 'largetable strict, 4')).toLocaleString()} with 4 batches in flight (goal >= 100,000)`,
  `bytes on disk: largetable ${(ltBytes / 1e6).toFixed(1)} MB, classic-level ${(lvBytes / 1e6).toFixed(1)} MB, lmdb ${(lmBytes / 1e6).toFixed(1)} MB, sqlite ${(sqBytes / 1e6).toFixed(1)} MB`,
];
console.log('\n' + lines.join('\n'));

if (process.env['NO_RESULTS'] === undefined) {
  const md = [
    '',
    `## storage (\`npm run bench -- storage${N === 1_000_000 ? '' : ' ' + N}\`)`,
    '',
    `${new Date().toISOString().slice(0, 10)}, Node ${process.version}, 2 cores, load average ${os.loadavg()[0]!.toFixed(1)} at the end; N=${N.toLocaleString()} random 16-byte keys, 100-byte values; Largetable on the Node fs adapter, block cache 256 MiB, kernels ${kernelBuild}.`,
    '',
    '| test | implementation | ops/s | ms | note |',
    '|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.test} | ${r.impl} | ${Math.round((r.ops / r.ms) * 1000).toLocaleString()} | ${r.ms.toFixed(0)} | ${r.note ?? ''} |`),
    '',
    ...lines.map((l) => `- ${l}`),
    '',
  ];
  fs.appendFileSync(path.join(here, 'RESULTS.md'), md.join('\n'));
}
fs.rmSync(root, { recursive: true, force: true });
