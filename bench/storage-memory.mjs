// The memory-bound check of `npm run bench -- storage memory [N]` (bench/storage.ts spawns this).
// Plain JavaScript on the compiled dist/ build, as an application runs the package (no tsx
// loader in the process: its compiler and caches would be counted in the resident set).
// Largetable loads N keys (generated on the fly, nothing held here) in batches of 1000, then
// serves 100,000 random reads. Each batch's keys and values are views of two buffers the loader
// reuses for every batch, as a loader reading from a file does: the store copies what it keeps
// (test/storage: "a write keeps copies"), so this process's own garbage is not counted as the store's; the peak resident set (VmHWM on Linux, else sampled) must stay
// under the memtable and block-cache budgets + 150 MB. Prints one line of JSON last.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import process from 'node:process';
import { openNodeFsAdapter } from '../dist/platform/node/fs-adapter.js';
import { loadPlatformKernels } from '../dist/platform/node/kernels.js';
import { installKernels } from '../dist/src/kernel/index.js';
import { openStore } from '../dist/src/storage/index.js';

const n = Number(process.argv[2] ?? 10_000_000);
const memtable = 32 << 20;
const cache = 64 << 20;
const dir = fs.mkdtempSync(path.join(process.env['BENCH_DIR'] ?? os.tmpdir(), 'lt-bench-memory-'));
await loadPlatformKernels().then((k) => installKernels(k), () => undefined);
const startRss = process.memoryUsage.rss();
const st = await openStore(await openNodeFsAdapter(dir), { memtableSizeBytes: memtable, blockCacheSizeBytes: cache, durability: 'relaxed' });
let peak = 0;
/** Where the load was when the sampled peak was last raised (keys written, phase). */
let phase = 'load';
let done = 0;
let peakAt = '';
const sample = setInterval(() => {
  const r = process.memoryUsage.rss();
  if (r > peak) {
    peak = r;
    peakAt = `${phase} at ${done.toLocaleString()} keys`;
  }
}, 100);
/** Peak resident set of this process so far (Linux VmHWM), or 0 where /proc is missing. */
const hwm = () => {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    return m === null ? 0 : Number(m[1]) * 1024;
  } catch {
    return 0;
  }
};
const mb = (x) => (x / 1e6).toFixed(0);
/** Resident bytes of glibc's main heap ([heap] in /proc/self/smaps, where most ArrayBuffers live), or -1. */
const brkHeap = () => {
  try {
    const m = /\[heap\]\n(?:.*\n)*?Rss:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/smaps', 'utf8'));
    return m === null ? -1 : Number(m[1]) * 1024;
  } catch {
    return -1;
  }
};
const keyOf = (i, out) => {
  let x = (i * 2654435761) >>> 0;
  for (let j = 0; j < 16; j += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[j] = x;
    out[j + 1] = x >>> 8;
    out[j + 2] = x >>> 16;
    out[j + 3] = x >>> 24;
  }
  return out;
};
const status = (what) => {
  const mu = process.memoryUsage();
  const s = st.stats();
  console.log(
    `${what}: rss ${mb(mu.rss)} MB, peak ${mb(Math.max(peak, hwm()))} MB (heap ${mb(mu.heapUsed)}/${mb(mu.heapTotal)}, array buffers ${mb(mu.arrayBuffers)}, malloc [heap] ${mb(brkHeap())}), ` +
      `memtables ${mb(s.memtableBytes)} MB, cache ${mb(st.cache.bytes)} + pinned ${mb(st.cache.pinned)} MB, ${JSON.stringify(st.levels())}, load average ${os.loadavg()[0].toFixed(1)}`,
  );
};
const t0 = performance.now();
const keyBuf = new Uint8Array(1000 * 16);
const valBuf = new Uint8Array(1000 * 100);
for (let i = 0; i < n; i += 1000) {
  const ops = [];
  for (let j = i; j < Math.min(n, i + 1000); j++) {
    const o = j - i;
    const v = valBuf.subarray(o * 100, o * 100 + 100);
    v.fill(0, 0, 50);
    v.fill(j & 255, 50);
    ops.push({ type: 'put', key: keyOf(j, keyBuf.subarray(o * 16, o * 16 + 16)), value: v });
  }
  await st.write(ops);
  done = Math.min(n, i + 1000);
  if (i % 500_000 === 0) status(`${i.toLocaleString()} keys`);
}
phase = 'final compaction';
await st.idle();
const loadS = (performance.now() - t0) / 1000;
status('loaded');
phase = 'reads';
const t1 = performance.now();
const k = new Uint8Array(16);
for (let r = 0; r < 100_000; r++) if ((await st.get(keyOf((r * 7919) % n, k))) === undefined) throw new Error('missing key');
const readS = (performance.now() - t1) / 1000;
status('read');
console.log(`sampled peak ${mb(peak)} MB during ${peakAt}`);
clearInterval(sample);
peak = Math.max(peak, process.memoryUsage.rss(), hwm());
const diskBytes = st.stats().diskBytes;
await st.close();
fs.rmSync(dir, { recursive: true, force: true });
console.log(JSON.stringify({ n, loadS, readS, peak, startRss, memtable, cache, diskBytes, loadAverage: os.loadavg()[0] }));
