/**
 * npm run bench -- kernels [--mib 256] [--quick]
 *
 * Side by side, in one run: SIMD wasm, scalar wasm and a plain TypeScript loop scoring a vector
 * block far larger than the caches (default 256 MiB) at d = 128 and 768, against this machine's
 * memory bandwidth (the fastest read of the same bytes: a SIMD sum). Also the batched-query
 * kernel against Q single calls, crc32c against table-driven TypeScript, and bit-unpacking
 * against the TypeScript twin. Prints a markdown table and the acceptance ratios.
 */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { loadKernels } from '../src/kernel/index.ts';
import { crc32cReference, decodeU32Reference } from '../src/kernel/reference.ts';
import type { Metric } from '../src/kernel/index.ts';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const mibArg = args.indexOf('--mib');
const blockMiB = mibArg >= 0 ? Number(args[mibArg + 1]) : quick ? 32 : 256;
const blockBytes = blockMiB * 1024 * 1024;

const simdBytes = readFileSync(new URL('../build/simd.wasm', import.meta.url));
const scalarBytes = readFileSync(new URL('../build/scalar.wasm', import.meta.url));
const simd = await loadKernels({ simd: simdBytes });
const scalar = await loadKernels({ scalar: scalarBytes }, { forceScalar: true });

function seconds(fn: () => void, repeats: number): number {
  let best = Infinity;
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    fn();
    best = Math.min(best, (performance.now() - t0) / 1000);
  }
  return best;
}

/** Interleaved rounds (A, B, C, A, B, C, ...): best time of each; fairer ratios under load. */
function race(fns: Record<string, () => void>, rounds: number): Record<string, number> {
  const best: Record<string, number> = {};
  for (let r = 0; r < rounds; r++) {
    for (const [name, fn] of Object.entries(fns)) {
      const t0 = performance.now();
      fn();
      best[name] = Math.min(best[name] ?? Infinity, (performance.now() - t0) / 1000);
    }
  }
  return best;
}

function fillRandom(view: Float32Array, seed: number): void {
  let s = seed >>> 0 || 1;
  for (let i = 0; i < view.length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    view[i] = ((s >>> 0) / 4294967296) - 0.5;
  }
}

/** Plain TypeScript scan: what the engine would do without wasm. */
function tsScan(metric: Metric, q: Float32Array, v: Float32Array, n: number, d: number, out: Float32Array): void {
  for (let i = 0; i < n; i++) {
    let s = 0;
    const o = i * d;
    if (metric === 'l2') {
      for (let j = 0; j < d; j++) {
        const t = q[j]! - v[o + j]!;
        s += t * t;
      }
    } else {
      for (let j = 0; j < d; j++) s += q[j]! * v[o + j]!;
    }
    out[i] = s;
  }
}

const rows: string[] = [];
const ratios: string[] = [];
const gb = (bytes: number, s: number) => bytes / s / 1e9;
const fmt = (x: number, digits = 2) => x.toFixed(digits);
function row(what: string, impl: string, s: number, bytes: number, items: number, unit: string) {
  rows.push(`| ${what} | ${impl} | ${fmt(gb(bytes, s))} | ${(items / s / 1e6).toFixed(2)} M ${unit}/s | ${fmt(s * 1000, 1)} |`);
}

const accept: { name: string; ok: boolean; detail: string }[] = [];

for (const d of [128, 768]) {
  const n = Math.floor(blockBytes / (d * 4));
  const bytes = n * d * 4;
  // SIMD module: query, block, out
  const a = simd.arena;
  const qp = a.alloc(d * 4);
  const vp = a.alloc(bytes);
  const op = a.alloc(n * 4);
  fillRandom(a.f32(vp, n * d), 7 + d);
  fillRandom(a.f32(qp, d), 99 + d);
  // scalar module: its own copy
  const b = scalar.arena;
  const sqp = b.alloc(d * 4);
  const svp = b.alloc(bytes);
  const sop = b.alloc(n * 4);
  b.f32(svp, n * d).set(a.f32(vp, n * d));
  b.f32(sqp, d).set(a.f32(qp, d));

  const ex = simd.exports;
  const reps = quick ? 2 : 4;
  // warm up (page in) and measure the bandwidth ceiling: a SIMD sum of the same bytes
  ex.sumF32(vp, n * d);
  let tBw = seconds(() => ex.sumF32(vp, n * d), reps + 2);
  const res: Record<string, number> = {};
  for (const metric of ['l2', 'dot'] as const) {
    const view = a.f32(vp, n * d);
    const q = a.f32(qp, d).slice();
    const out = new Float32Array(n);
    tsScan(metric, q, view, Math.min(n, 1000), d, out); // warm the JIT
    const t = race({
      bw: () => ex.sumF32(vp, n * d),
      simd: () => simd.scoreBlockPtr(metric, qp, vp, n, d, op, 0),
      scalar: () => scalar.scoreBlockPtr(metric, sqp, svp, n, d, sop, 0),
      ts: () => tsScan(metric, q, view, n, d, out),
    }, reps);
    tBw = Math.min(tBw, t.bw!);
    res[`${metric}-simd`] = t.simd!;
    res[`${metric}-scalar`] = t.scalar!;
    res[`${metric}-ts`] = t.ts!;
  }
  row(`read ${blockMiB} MiB (bandwidth)`, 'SIMD sum', tBw, bytes, n, 'vec');
  for (const metric of ['l2', 'dot'] as const) {
    const tSimd = res[`${metric}-simd`]!;
    const tScalar = res[`${metric}-scalar`]!;
    const tTs = res[`${metric}-ts`]!;
    row(`${metric} d=${d}`, 'SIMD wasm', tSimd, bytes, n, 'vec');
    row(`${metric} d=${d}`, 'scalar wasm', tScalar, bytes, n, 'vec');
    row(`${metric} d=${d}`, 'TypeScript loop', tTs, bytes, n, 'vec');
    ratios.push(
      `${metric} d=${d}: SIMD ${fmt(tScalar / tSimd)}x scalar wasm, ${fmt(tTs / tSimd)}x TypeScript, ${fmt((100 * tBw) / tSimd, 0)}% of bandwidth (${fmt(gb(bytes, tSimd))} of ${fmt(gb(bytes, tBw))} GB/s)`,
    );
  }
  if (d === 768) {
    const s = res['l2-simd']!;
    accept.push({ name: 'SIMD L2 d=768 >= 3x scalar wasm', ok: res['l2-scalar']! / s >= 3, detail: `${fmt(res['l2-scalar']! / s)}x` });
    accept.push({ name: 'SIMD L2 d=768 >= 5x TypeScript', ok: res['l2-ts']! / s >= 5, detail: `${fmt(res['l2-ts']! / s)}x` });
    accept.push({ name: 'SIMD L2 d=768 >= 50% bandwidth', ok: tBw / s >= 0.5, detail: `${fmt((100 * tBw) / s, 0)}%` });
  }

  // batched queries against Q single calls over the same block
  const Q = 8;
  const qsp = a.alloc(Q * d * 4);
  fillRandom(a.f32(qsp, Q * d), 5 + d);
  const bop = a.alloc(Q * n * 4);
  for (const metric of ['l2', 'dot'] as const) {
    const tb = race({
      batch: () => {
        const st = ex.scoreBatch(metric === 'l2' ? 1 : 0, qsp, Q, vp, n, d, bop, 0);
        if (st !== 0) throw new Error('scoreBatch failed');
      },
      singles: () => {
        for (let qi = 0; qi < Q; qi++) simd.scoreBlockPtr(metric, qsp + qi * d * 4, vp, n, d, bop + qi * n * 4, 0);
      },
    }, 3);
    const tBatch = tb.batch!;
    const tSingles = tb.singles!;
    row(`${metric} d=${d}, Q=${Q}`, 'SIMD scoreBatch', tBatch, bytes * Q, n * Q, 'scores');
    row(`${metric} d=${d}, Q=${Q}`, `SIMD ${Q} x scoreBlock`, tSingles, bytes * Q, n * Q, 'scores');
    ratios.push(`${metric} d=${d}: scoreBatch(Q=${Q}) ${fmt(tSingles / tBatch)}x faster than ${Q} single calls`);
    if (d === 768 && metric === 'l2') accept.push({ name: 'batched beats Q single calls', ok: tBatch < tSingles, detail: `${fmt(tSingles / tBatch)}x` });
  }
  // neighbour expansion (HNSW): 32 random ids per call, scored in place
  {
    const calls = quick ? 2000 : 20000;
    const per = 32;
    const ip = a.alloc(calls * per * 4);
    const ids = a.u32(ip, calls * per);
    let s = 2463534242;
    for (let i = 0; i < ids.length; i++) {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      ids[i] = (s >>> 0) % n;
    }
    const gp = a.alloc(per * 4);
    const tGather = seconds(() => {
      for (let c = 0; c < calls; c++) simd.scoreGatherPtr('l2', qp, vp, ip + c * per * 4, per, d, gp, 0, n);
    }, 3);
    const idsCopy = a.u32(ip, calls * per).slice();
    const view = a.f32(vp, n * d);
    const q = a.f32(qp, d).slice();
    const out = new Float32Array(per);
    const tTsGather = seconds(() => {
      for (let c = 0; c < calls; c++) {
        for (let j = 0; j < per; j++) {
          const o = idsCopy[c * per + j]! * d;
          let acc = 0;
          for (let k = 0; k < d; k++) {
            const t = q[k]! - view[o + k]!;
            acc += t * t;
          }
          out[j] = acc;
        }
      }
    }, 2);
    row(`l2 gather d=${d}, ${per} random ids/call`, 'SIMD scoreGatherPtr', tGather, calls * per * d * 4, calls * per, 'scores');
    row(`l2 gather d=${d}, ${per} random ids/call`, 'TypeScript loop', tTsGather, calls * per * d * 4, calls * per, 'scores');
    ratios.push(`l2 gather d=${d}: scoreGatherPtr ${fmt(tTsGather / tGather)}x the TypeScript loop (${fmt((calls * per) / tGather / 1e6)} M scores/s, ${fmt((tGather / calls) * 1e6, 2)} us per call of ${per})`);
    a.free(gp);
    a.free(ip);
  }
  for (const p of [bop, qsp, op, vp, qp]) a.free(p);
  for (const p of [sop, svp, sqp]) b.free(p);
}

// crc32c
{
  const len = quick ? 16 << 20 : 64 << 20;
  const data = new Uint8Array(len);
  for (let i = 0; i < len; i++) data[i] = (i * 2654435761) >>> 24;
  const p = simd.arena.alloc(len);
  simd.arena.u8(p, len).set(data);
  const ps = scalar.arena.alloc(len);
  scalar.arena.u8(ps, len).set(data);
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    table[i] = c >>> 0;
  }
  const tableCrc = (bytes: Uint8Array) => {
    let c = 0xffffffff;
    for (let i = 0; i < bytes.length; i++) c = (c >>> 8) ^ table[(c ^ bytes[i]!) & 0xff]!;
    return ~c >>> 0;
  };
  let r1 = 0, r2 = 0, r3 = 0, r4 = 0;
  const tWasm = seconds(() => (r1 = simd.exports.crc32c(p, len, 0) >>> 0), 3);
  const tWasmScalar = seconds(() => (r4 = scalar.exports.crc32c(ps, len, 0) >>> 0), 3);
  const tTable = seconds(() => (r2 = tableCrc(data)), 2);
  const tSlice = seconds(() => (r3 = crc32cReference(data)), 2);
  if (r1 !== r2 || r2 !== r3 || r3 !== r4) throw new Error('crc mismatch');
  row(`crc32c ${len >> 20} MiB`, 'wasm (slicing-by-16, simd build)', tWasm, len, len, 'B');
  row(`crc32c ${len >> 20} MiB`, 'wasm (slicing-by-16, scalar build)', tWasmScalar, len, len, 'B');
  row(`crc32c ${len >> 20} MiB`, 'TypeScript table (byte at a time)', tTable, len, len, 'B');
  row(`crc32c ${len >> 20} MiB`, 'TypeScript slicing-by-8 (twin)', tSlice, len, len, 'B');
  ratios.push(`crc32c: wasm ${fmt(gb(len, tWasm))} GB/s = ${fmt(tTable / tWasm)}x table-driven TypeScript, ${fmt(tSlice / tWasm)}x TS slicing-by-8`);
  simd.arena.free(p);
  scalar.arena.free(ps);
}

// bit unpacking (decodeU32 of sorted ids: zigzag-delta + 4-lane bit-pack)
{
  const count = quick ? 1 << 20 : 1 << 24;
  const values = new Uint32Array(count);
  let acc = 0;
  let s = 12345;
  for (let i = 0; i < count; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    acc = (acc + ((s >>> 0) % 1000)) >>> 0;
    values[i] = acc;
  }
  const encoded = simd.encodeU32(values);
  const measure = (k: typeof simd) => {
    const ip = k.arena.alloc(encoded.length + 16);
    const op = k.arena.alloc(count * 4 + 16);
    k.arena.u8(ip, encoded.length).set(encoded);
    const t = seconds(() => {
      if (k.exports.decodeU32(ip, encoded.length, op, count) !== 0) throw new Error('decode failed');
    }, 3);
    if (k.arena.u32(op, count).some((x, i) => x !== values[i])) throw new Error('decode mismatch');
    k.arena.free(op);
    k.arena.free(ip);
    return t;
  };
  const tSimd = measure(simd);
  const tScalar = measure(scalar);
  const tTs = seconds(() => decodeU32Reference(encoded), 1);
  // a plain TS loop over the simplest layout (LSB-first words, fixed width) as a floor for JS
  const w = 11;
  const words = new Uint32Array(Math.ceil((count * w) / 32) + 1);
  const plain = new Uint32Array(count);
  const tPlain = seconds(() => {
    const mask = (1 << w) - 1;
    let prev = 0;
    for (let i = 0, bit = 0; i < count; i++, bit += w) {
      const wi = bit >>> 5;
      const off = bit & 31;
      let x = words[wi]! >>> off;
      if (off + w > 32) x |= words[wi + 1]! << (32 - off);
      x &= mask;
      prev = (prev + ((x >>> 1) ^ -(x & 1))) >>> 0;
      plain[i] = prev;
    }
  }, 3);
  row(`decodeU32 ${count >> 20}M values (${fmt((encoded.length * 8) / count, 1)} bits/value)`, 'SIMD wasm', tSimd, encoded.length, count, 'values');
  row(`decodeU32 ${count >> 20}M values`, 'scalar wasm', tScalar, encoded.length, count, 'values');
  row(`decodeU32 ${count >> 20}M values`, 'TypeScript twin', tTs, encoded.length, count, 'values');
  row(`unpack ${count >> 20}M values, w=11`, 'plain TypeScript loop', tPlain, words.byteLength, count, 'values');
  ratios.push(`bit-unpacking: SIMD ${fmt(count / tSimd / 1e9)} G values/s = ${fmt(tScalar / tSimd)}x scalar wasm, ${fmt(tPlain / tSimd)}x plain TS loop, ${fmt(tTs / tSimd)}x TS twin`);
}

const cpu = cpus()[0]?.model ?? 'unknown cpu';
console.log(`\n## kernels\n\n${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${cpus().length} cores (${cpu}), block ${blockMiB} MiB\n`);
console.log('| what | implementation | GB/s | rate | best ms |');
console.log('|---|---|---|---|---|');
for (const r of rows) console.log(r);
console.log('\nRatios:');
for (const r of ratios) console.log(`- ${r}`);
console.log('\nAcceptance:');
for (const a of accept) console.log(`- ${a.ok ? 'PASS' : 'FAIL'} ${a.name}: ${a.detail}`);
