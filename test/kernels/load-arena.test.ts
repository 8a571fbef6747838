import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import fc from 'fast-check';
import { isLargetableError } from '../../src/errors.ts';
import { chooseBuild, installKernels, kernels, loadKernels, referenceKernels, simdSupported, LinearArena } from '../../src/kernel/index.ts';
import { loadPlatformKernels } from '../../platform/node/kernels.ts';
import { loadPlatformKernels as loadDenoKernels } from '../../platform/deno/kernels.ts';
import { loadPlatformKernels as loadEdgeKernels } from '../../platform/edge/kernels.ts';
import { runs } from './setup.ts';

const build = new URL('../../build/', import.meta.url);
const simdBytes = new Uint8Array(await readFile(new URL('simd.wasm', build)));
const scalarBytes = new Uint8Array(await readFile(new URL('scalar.wasm', build)));

describe('loadKernels', () => {
  it('picks SIMD when the probe validates, scalar when forced', async () => {
    assert.equal(simdSupported(), true); // Node 20, Deno and Chromium all have wasm SIMD
    const k = await loadKernels({ simd: simdBytes, scalar: scalarBytes });
    assert.equal(k.build, 'simd');
    const s = await loadKernels({ simd: simdBytes, scalar: scalarBytes }, { forceScalar: true });
    assert.equal(s.build, 'scalar');
    assert.equal(chooseBuild({ scalar: scalarBytes }), 'scalar');
  });

  it('accepts a Module, bytes, an ArrayBuffer and a Response', async () => {
    const module = await WebAssembly.compile(simdBytes);
    const sources = [
      module,
      simdBytes,
      simdBytes.buffer.slice(simdBytes.byteOffset, simdBytes.byteOffset + simdBytes.byteLength),
      new Response(simdBytes, { headers: { 'content-type': 'application/wasm' } }),
      new Response(simdBytes),
    ];
    for (const source of sources) {
      const k = await loadKernels({ simd: source as never });
      assert.equal(k.crc32c(new TextEncoder().encode('123456789')), 0xe3069283);
    }
  });

  it('refuses a scalar module labelled simd, garbage bytes and missing sources with KERNEL_ERROR', async () => {
    const kernelError = (e: unknown) => isLargetableError(e, 'KERNEL_ERROR');
    await assert.rejects(loadKernels({ simd: scalarBytes }), kernelError);
    await assert.rejects(loadKernels({ simd: new Uint8Array([0, 97, 115, 109, 9]) }), kernelError);
    await assert.rejects(loadKernels({ simd: simdBytes }, { forceScalar: true }), kernelError);
    await assert.rejects(loadKernels({ simd: new Response('nope', { status: 404 }) }), kernelError);
  });

  it('kernels() is the TypeScript twin until a build is installed', async () => {
    const before = kernels();
    try {
      installKernels(referenceKernels);
      assert.equal(kernels().build, 'typescript');
      const k = await loadPlatformKernels();
      assert.equal(kernels(), k);
      assert.equal(k.build, 'simd');
      const s = await loadPlatformKernels({ forceScalar: true, install: false });
      assert.equal(s.build, 'scalar');
      assert.equal(kernels(), k);
    } finally {
      installKernels(before);
    }
  });
});

describe('platform loaders', () => {
  it('deno loader reads build/ (works under Node and Deno through node:fs)', async () => {
    const k = await loadDenoKernels({ install: false });
    assert.equal(k.build, 'simd');
    const s = await loadDenoKernels({ install: false, forceScalar: true });
    assert.equal(s.build, 'scalar');
    assert.equal(s.crc32c(new TextEncoder().encode('123456789')), 0xe3069283);
  });

  it('node loader: an explicit dir without the files is KERNEL_ERROR', async () => {
    await assert.rejects(loadPlatformKernels({ dir: '/nonexistent-largetable', install: false }), (e) => isLargetableError(e, 'KERNEL_ERROR'));
  });

  it('edge loader takes precompiled Modules only', async () => {
    const simdModule = await WebAssembly.compile(simdBytes);
    const scalarModule = await WebAssembly.compile(scalarBytes);
    const before = kernels();
    try {
      const k = await loadEdgeKernels({ simd: simdModule, scalar: scalarModule });
      assert.equal(k.build, 'simd');
      assert.equal(kernels(), k);
      const s = await loadEdgeKernels({ simd: simdModule, scalar: scalarModule, forceScalar: true, install: false });
      assert.equal(s.build, 'scalar');
      await assert.rejects(loadEdgeKernels({ simd: simdBytes as never, install: false }), (e) => isLargetableError(e, 'INVALID_ARGUMENT'));
    } finally {
      installKernels(before);
    }
  });
});

describe('LinearArena', () => {
  it('allocations never overlap, stay 16-byte aligned, survive memory.grow, and coalesce on free', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 200_000 })), { maxLength: 60 }), (ops) => {
        const arena = new LinearArena(new WebAssembly.Memory({ initial: 1 }), 100);
        const live = new Map<number, { size: number; tag: number }>();
        let tag = 1;
        for (const [doFree, size] of ops) {
          if (doFree && live.size > 0) {
            const [ptr] = live.keys();
            const entry = live.get(ptr!)!;
            // contents are intact after other allocations grew the memory
            assert.ok(arena.u8(ptr!, entry.size).every((b) => b === entry.tag), 'block contents');
            arena.free(ptr!);
            live.delete(ptr!);
          } else {
            const ptr = arena.alloc(size);
            assert.equal(ptr % 16, 0);
            assert.ok(ptr >= 112);
            for (const [p, e] of live) assert.ok(ptr + size <= p || p + e.size <= ptr || size === 0 || e.size === 0, 'overlap');
            const t = tag++ & 0xff;
            arena.u8(ptr, size).fill(t);
            live.set(ptr, { size, tag: t });
          }
        }
        for (const p of [...live.keys()]) arena.free(p);
        assert.equal(arena.bytesInUse, 0);
        // everything coalesced back: the next allocation starts at the base again
        assert.equal(arena.alloc(32), arena.base);
      }),
      runs,
    );
  });

  it('free of an unknown pointer is INVALID_ARGUMENT; exhausting wasm32 is LIMIT_EXCEEDED', () => {
    const arena = new LinearArena(new WebAssembly.Memory({ initial: 1, maximum: 2 }), 16);
    assert.throws(() => arena.free(12345), (e) => isLargetableError(e, 'INVALID_ARGUMENT'));
    assert.throws(() => arena.alloc(1 << 20), (e) => isLargetableError(e, 'LIMIT_EXCEEDED'));
    assert.throws(() => arena.alloc(-1), (e) => isLargetableError(e, 'INVALID_ARGUMENT'));
  });
});

describe('TypeScript twin without WebAssembly', () => {
  it('works when the runtime has no WebAssembly global (arena over plain ArrayBuffers)', async () => {
    const saved = globalThis.WebAssembly;
    let k: Awaited<ReturnType<typeof import('../../src/kernel/reference.ts')['createReferenceKernels']>>;
    try {
      (globalThis as { WebAssembly?: unknown }).WebAssembly = undefined;
      const { createReferenceKernels } = await import('../../src/kernel/reference.ts');
      k = createReferenceKernels();
      const p = k.arena.alloc(300_000); // forces a grow of the stand-in memory
      k.arena.f32(p, 4).set([1, 2, 3, 4]);
      const q = k.arena.alloc(16);
      k.arena.f32(q, 4).set([1, 1, 1, 1]);
      const out = k.arena.alloc(4);
      k.scoreBlockPtr('dot', q, p, 1, 4, out, 0);
      assert.equal(k.arena.f32(out, 1)[0], 10);
    } finally {
      (globalThis as { WebAssembly?: unknown }).WebAssembly = saved;
    }
    assert.equal(k.crc32c(new TextEncoder().encode('123456789')), 0xe3069283);
  });
});
