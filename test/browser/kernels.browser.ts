// Kernels in Chromium: fetched from /build/*.wasm in a page and in a module Worker created from
// a Blob, checked against the TypeScript twin. The same bundle is the worker's code: in a
// WorkerGlobalScope it answers requests instead of registering tests.
import { test, assert, note } from './harness.ts';
import { loadPlatformKernels } from '../../platform/browser/kernels.ts';
import { createReferenceKernels, kernels, installKernels, referenceKernels, simdSupported } from '../../src/kernel/index.ts';
import type { Kernels, Metric } from '../../src/kernel/index.ts';

const metrics: Metric[] = ['dot', 'l2', 'cosine', 'l1'];

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

interface Workload {
  d: number;
  n: number;
  query: Float32Array;
  vectors: Float32Array;
  norms: Float32Array;
  bytes: Uint8Array;
  ids: Uint32Array;
}

function workload(seed: number, d: number, n: number): Workload {
  const r = rng(seed);
  const query = Float32Array.from({ length: d }, () => r() * 2 - 1);
  const vectors = Float32Array.from({ length: n * d }, () => r() * 2 - 1);
  vectors[3] = NaN;
  vectors[d + 1] = Infinity;
  vectors[2 * d + 2] = -0;
  const norms = new Float32Array(n);
  referenceKernels.norms(vectors, n, d, norms);
  const bytes = Uint8Array.from({ length: 1000 + d }, () => Math.floor(r() * 256));
  let acc = 0;
  const ids = Uint32Array.from({ length: 777 }, () => (acc = (acc + Math.floor(r() * 300)) >>> 0));
  return { d, n, query, vectors, norms, bytes, ids };
}

interface Outcome {
  build: string;
  scores: Record<string, number[]>;
  top: number[];
  crc: number;
  encoded: number[];
  decoded: number[];
}

function run(k: Kernels, w: Workload): Outcome {
  const scores: Record<string, number[]> = {};
  for (const m of metrics) {
    const out = new Float32Array(w.n);
    k.scoreBlock(m, w.query, w.vectors, w.n, w.d, out, w.norms);
    scores[m] = Array.from(out);
  }
  const top = k.topK(Float32Array.from(scores.l2!), 10, false);
  const encoded = k.encodeU32(w.ids);
  return {
    build: k.build,
    scores,
    top: Array.from(top.indices),
    crc: k.crc32c(w.bytes),
    encoded: Array.from(encoded),
    decoded: Array.from(k.decodeU32(encoded)),
  };
}

function compare(got: Outcome, want: Outcome, exactFloats: boolean): void {
  for (const m of metrics) {
    const a = got.scores[m]!;
    const b = want.scores[m]!;
    assert.equal(a.length, b.length, `${got.build} ${m} length`);
    for (let i = 0; i < a.length; i++) {
      const x = a[i]!;
      const y = b[i]!;
      if (exactFloats || !Number.isFinite(y)) assert.equal(Object.is(x, y) || (Number.isNaN(x) && Number.isNaN(y)), true, `${got.build} ${m}[${i}]: ${x} vs ${y}`);
      else assert.near(x, y, 1e-4 * Math.max(1, Math.abs(y)), `${got.build} ${m}[${i}]`);
    }
  }
  assert.deepEqual(got.top, want.top, `${got.build} topK`);
  assert.equal(got.crc, want.crc, `${got.build} crc32c`);
  assert.deepEqual(got.encoded, want.encoded, `${got.build} encodeU32 bytes`);
  assert.deepEqual(got.decoded, want.decoded, `${got.build} decodeU32`);
}

const inWorker = typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !== 'undefined';

if (inWorker) {
  const scope = globalThis as unknown as { onmessage: ((e: MessageEvent) => void) | null; postMessage(x: unknown): void };
  scope.onmessage = async (e: MessageEvent) => {
    const { seed, d, n, baseUrl, forceScalar } = e.data as { seed: number; d: number; n: number; baseUrl: string; forceScalar: boolean };
    try {
      // the default baseUrl (/build/) must resolve inside a blob: Worker too
      const k = await loadPlatformKernels(baseUrl === '' ? { forceScalar } : { baseUrl, forceScalar });
      scope.postMessage({ ok: true, outcome: run(k, workload(seed, d, n)), active: kernels().build });
    } catch (err) {
      scope.postMessage({ ok: false, error: String((err as Error)?.stack ?? err) });
    }
  };
} else {
  test('the SIMD probe validates in Chromium and /build/simd.wasm loads as the SIMD build', async () => {
    assert.equal(simdSupported(), true);
    const before = kernels();
    const k = await loadPlatformKernels();
    assert.equal(k.build, 'simd');
    assert.equal(kernels(), k, 'installed');
    installKernels(before);
  });

  test('page: SIMD and scalar builds agree with the TypeScript twin (d = 5, 16, 33, 128)', async () => {
    const simd = await loadPlatformKernels({ install: false });
    const scalar = await loadPlatformKernels({ forceScalar: true, install: false });
    assert.equal(scalar.build, 'scalar');
    const twin = createReferenceKernels();
    for (const [i, d] of [5, 16, 33, 128].entries()) {
      const w = workload(11 + i, d, 57);
      const want = run(twin, w);
      compare(run(scalar, w), want, true);
      compare(run(simd, w), want, false);
    }
  });

  test('module Worker (from a Blob) loads the kernels by fetch and matches the twin', async () => {
    const blob = new Blob([`import ${JSON.stringify(import.meta.url)};`], { type: 'text/javascript' });
    const url = URL.createObjectURL(blob);
    const worker = new Worker(url, { type: 'module' });
    const ask = (msg: unknown) =>
      new Promise<{ ok: boolean; outcome?: Outcome; error?: string; active?: string }>((resolve, reject) => {
        worker.onmessage = (e) => resolve(e.data);
        worker.onerror = (e) => reject(new Error(`worker error: ${e.message}`));
        worker.postMessage(msg);
      });
    try {
      for (const [baseUrl, forceScalar] of [['', false], [new URL('/build/', location.href).href, true]] as const) {
        const w = workload(99, 37, 40);
        const reply = await ask({ seed: 99, d: 37, n: 40, baseUrl, forceScalar });
        assert.equal(reply.ok, true, reply.error);
        assert.equal(reply.outcome!.build, forceScalar ? 'scalar' : 'simd');
        assert.equal(reply.active, reply.outcome!.build, 'installed inside the worker');
        compare(reply.outcome!, run(referenceKernels, w), forceScalar);
      }
    } finally {
      worker.terminate();
      URL.revokeObjectURL(url);
    }
  });

  test('a missing wasm file is KERNEL_ERROR, not a crash', async () => {
    await assert.rejects(
      () => loadPlatformKernels({ baseUrl: '/no-such-dir/', install: false }),
      (e) => (e as { code?: string }).code === 'KERNEL_ERROR',
    );
  });

  test('timing note: l2 over 16 MiB, SIMD vs scalar vs TypeScript twin (not asserted)', async () => {
    const simd = await loadPlatformKernels({ install: false });
    const scalar = await loadPlatformKernels({ forceScalar: true, install: false });
    const d = 128;
    const n = 32768;
    const w = workload(5, d, 4);
    const vectors = new Float32Array(n * d).map((_, i) => (i % 97) / 97);
    const out = new Float32Array(n);
    const time = (k: Kernels) => {
      const t0 = performance.now();
      k.scoreBlock('l2', w.query, vectors, n, d, out);
      return performance.now() - t0;
    };
    const t = [simd, scalar, referenceKernels].map((k) => Math.min(...[0, 1, 2, 3, 4].map(() => time(k))));
    note(`chromium l2 16 MiB (array API, includes copy-in): simd ${t[0]!.toFixed(1)} ms, scalar ${t[1]!.toFixed(1)} ms, typescript ${t[2]!.toFixed(1)} ms`);
    assert.equal(t.every((x) => x >= 0), true);
  });
}
