/**
 * The conformance suite of the StorageAdapter contract (src/storage/adapter.ts), run on every
 * adapter: memory, Node fs, Deno fs, IndexedDB (fake-indexeddb under Node/Deno, real in
 * Chromium) and OPFS (Chromium).
 *
 * Framework-agnostic: it imports no test runner and no node: module, so the same cases run under
 * node:test / deno test (pass `{ describe, it }` from node:test) and in the browser harness (pass
 * a shim). Assertions are the small helpers below, which throw plain Errors.
 */
import fc from 'fast-check';
import { isLargetableError } from '../../src/errors.ts';
import type { ErrorCode } from '../../src/errors.ts';
import type { FileHandle, StorageAdapter } from '../../src/storage/adapter.ts';

export interface TestApi {
  describe(name: string, fn: () => void): unknown;
  it(name: string, fn: () => Promise<void>): unknown;
}

export interface AdapterFactory {
  /** A fresh, empty location for one test (a directory path, `memory://x`, `idb://x`...). */
  newLocation(): string | Promise<string>;
  /** Opens an adapter on `location`; called again on the same location to test persistence. */
  open(location: string): Promise<StorageAdapter>;
  /** Removes what the location holds (optional). */
  cleanup?(location: string): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Assertions (no node:assert: this file is bundled for the browser too).
// ---------------------------------------------------------------------------------------------

function fail(message: string): never {
  throw new Error(message);
}

export function assertEqual<T>(actual: T, expected: T, what = 'value'): void {
  if (!Object.is(actual, expected)) fail(`${what}: expected ${String(expected)}, got ${String(actual)}`);
}

export function assertBytes(actual: Uint8Array, expected: Uint8Array | number[], what = 'bytes'): void {
  const exp = expected instanceof Uint8Array ? expected : Uint8Array.from(expected);
  if (!(actual instanceof Uint8Array)) fail(`${what}: expected a Uint8Array, got ${Object.prototype.toString.call(actual)}`);
  if (actual.length !== exp.length) fail(`${what}: expected ${exp.length} bytes, got ${actual.length}`);
  for (let i = 0; i < exp.length; i++) {
    if (actual[i] !== exp[i]) fail(`${what}: byte ${i} is ${actual[i]}, expected ${exp[i]}`);
  }
}

export function assertDeepStrings(actual: string[], expected: string[], what = 'list'): void {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) fail(`${what}: expected ${e}, got ${a}`);
}

/** Awaits `p` and checks it rejects with a LargetableError of `code` (and details.file if given). */
export async function assertRejectsCode(p: Promise<unknown> | (() => Promise<unknown>), code: ErrorCode, file?: string): Promise<void> {
  let err: unknown;
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    err = e;
  }
  if (err === undefined) fail(`expected a ${code} rejection, but it resolved`);
  if (!isLargetableError(err, code)) {
    fail(`expected LargetableError ${code}, got ${err instanceof Error ? `${err.name} ${(err as { code?: string }).code ?? ''}: ${err.message}` : String(err)}`);
  }
  if (file !== undefined && err.details['file'] !== file) fail(`expected details.file ${file}, got ${String(err.details['file'])}`);
  if (typeof err.details['operation'] !== 'string' && code !== 'INVALID_ARGUMENT') fail(`${code} error has no details.operation`);
}

function bytesOf(...xs: number[]): Uint8Array {
  return Uint8Array.from(xs);
}

/** Deterministic pseudo-random bytes. */
export function patternBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The cases.
// ---------------------------------------------------------------------------------------------

export interface AdapterCaseOptions {
  /** Number of fast-check runs for the model test (default 25). */
  modelRuns?: number;
}

/** Registers the conformance cases for one adapter under `describe(name)`. */
export function adapterCases(name: string, factory: AdapterFactory, api: TestApi, options: AdapterCaseOptions = {}): void {
  const { describe, it } = api;

  /** Runs `fn` on a fresh adapter, closing and cleaning up afterwards. */
  async function withAdapter(fn: (a: StorageAdapter, location: string) => Promise<void>): Promise<void> {
    const location = await factory.newLocation();
    const a = await factory.open(location);
    try {
      await fn(a, location);
    } finally {
      await a.close().catch(() => {});
      await factory.cleanup?.(location);
    }
  }

  describe(`StorageAdapter conformance: ${name}`, () => {
    it('open() of a missing file without create throws NOT_FOUND; with create makes an empty file', async () => {
      await withAdapter(async (a) => {
        await assertRejectsCode(a.open('missing.bin'), 'NOT_FOUND', 'missing.bin');
        await assertRejectsCode(a.open('missing.bin', { create: false }), 'NOT_FOUND', 'missing.bin');
        assertEqual(await a.exists('missing.bin'), false, 'exists before create');
        const f = await a.open('new.bin', { create: true });
        assertEqual(f.name, 'new.bin', 'handle name');
        assertEqual(await f.size(), 0, 'size of a new file');
        assertBytes(await f.read(0, 10), [], 'read of an empty file');
        assertEqual(await a.exists('new.bin'), true, 'exists after create');
        assertDeepStrings(await a.list(), ['new.bin']);
        await f.close();
        const g = await a.open('new.bin');
        assertEqual(await g.size(), 0, 'size on reopen');
        await g.close();
      });
    });

    it('read() returns written bytes and, past the end, only the bytes that exist', async () => {
      await withAdapter(async (a) => {
        const f = await a.open('r.bin', { create: true });
        await f.write(0, bytesOf(1, 2, 3, 4, 5));
        assertBytes(await f.read(0, 5), [1, 2, 3, 4, 5]);
        assertBytes(await f.read(1, 3), [2, 3, 4]);
        assertBytes(await f.read(3, 100), [4, 5], 'read crossing the end');
        assertBytes(await f.read(5, 10), [], 'read at the end');
        assertBytes(await f.read(1000, 10), [], 'read far past the end');
        assertBytes(await f.read(2, 0), [], 'zero-length read');
        // optional readInto: the same bytes into the caller's buffer, the count it read
        if (f.readInto !== undefined) {
          const into = async (offset: number, n: number): Promise<number[]> => {
            const t = new Uint8Array(n).fill(0xee);
            const got = await f.readInto!(offset, t);
            return [...t.subarray(0, got), ...(t.subarray(got).every((x) => x === 0xee) ? [] : [-1])];
          };
          assertBytes(new Uint8Array(await into(0, 5)), [1, 2, 3, 4, 5], 'readInto');
          assertBytes(new Uint8Array(await into(1, 3)), [2, 3, 4], 'readInto in the middle');
          assertBytes(new Uint8Array(await into(3, 100)), [4, 5], 'readInto crossing the end');
          assertEqual((await into(1000, 10)).length, 0, 'readInto far past the end');
        }
        // optional readIntoSync: the same bytes on the calling thread, or -1 (nothing read) for a
        // range it cannot serve synchronously
        if (f.readIntoSync !== undefined) {
          const t = new Uint8Array(3).fill(0xee);
          assertEqual(f.readIntoSync(1, t), 3, 'readIntoSync count');
          assertBytes(t, [2, 3, 4], 'readIntoSync');
          const u = new Uint8Array(100).fill(0xee);
          const got = f.readIntoSync(3, u);
          if (got === -1) assertEqual(u.every((x) => x === 0xee), true, 'readIntoSync -1 reads nothing');
          else {
            assertEqual(got, 2, 'readIntoSync crossing the end');
            assertBytes(u.subarray(0, 2), [4, 5], 'readIntoSync crossing the end');
          }
        }
        await f.close();
      });
    });

    it('write() beyond the end zero-fills the gap; overwrite in the middle keeps the rest', async () => {
      await withAdapter(async (a) => {
        const f = await a.open('gap.bin', { create: true });
        await f.write(0, bytesOf(7, 7));
        await f.write(6, bytesOf(9, 9));
        assertEqual(await f.size(), 8, 'size after gap write');
        assertBytes(await f.read(0, 8), [7, 7, 0, 0, 0, 0, 9, 9]);
        await f.write(1, bytesOf(5, 5, 5));
        assertBytes(await f.read(0, 8), [7, 5, 5, 5, 0, 0, 9, 9]);
        assertEqual(await f.size(), 8, 'overwrite keeps size');
        await f.write(12, new Uint8Array(0));
        assertEqual(await f.size(), 12, 'empty write beyond the end extends the file');
        assertBytes(await f.read(8, 10), [0, 0, 0, 0]);
        await f.close();
      });
    });

    it('append() returns the offset it wrote at; concurrent appends get distinct offsets', async () => {
      await withAdapter(async (a) => {
        const f = await a.open('log.bin', { create: true });
        assertEqual(await f.append(bytesOf(1, 2, 3)), 0);
        assertEqual(await f.append(bytesOf(4)), 3);
        assertEqual(await f.append(new Uint8Array(0)), 4, 'empty append returns the end');
        const records = Array.from({ length: 40 }, (_, i) => patternBytes(1 + ((i * 37) % 300), i + 1));
        const offsets = await Promise.all(records.map((r) => f.append(r)));
        const seen = new Set(offsets);
        assertEqual(seen.size, records.length, 'distinct offsets');
        const total = 4 + records.reduce((n, r) => n + r.length, 0);
        assertEqual(await f.size(), total, 'size after appends');
        for (let i = 0; i < records.length; i++) {
          const r = records[i]!;
          assertBytes(await f.read(offsets[i]!, r.length), r, `record ${i}`);
        }
        await f.close();
      });
    });

    it('truncate() shrinks, and extends with zeros', async () => {
      await withAdapter(async (a) => {
        const f = await a.open('t.bin', { create: true });
        await f.write(0, bytesOf(1, 2, 3, 4, 5, 6));
        await f.truncate(2);
        assertEqual(await f.size(), 2);
        assertBytes(await f.read(0, 10), [1, 2]);
        await f.truncate(5);
        assertEqual(await f.size(), 5);
        assertBytes(await f.read(0, 10), [1, 2, 0, 0, 0], 'extension is zeros, not the old bytes');
        assertEqual(await f.append(bytesOf(8)), 5, 'append after truncate');
        await f.truncate(0);
        assertEqual(await f.size(), 0);
        assertEqual(await f.append(bytesOf(3)), 0);
        await f.sync();
        await f.close();
        const g = await a.open('t.bin');
        assertBytes(await g.read(0, 10), [3]);
        await g.close();
      });
    });

    it('bytes are copied: mutating the caller buffer after write, or a read result, changes nothing', async () => {
      await withAdapter(async (a) => {
        const f = await a.open('c.bin', { create: true });
        const buf = bytesOf(1, 2, 3);
        await f.write(0, buf);
        buf[0] = 99;
        const r = await f.read(0, 3);
        assertBytes(r, [1, 2, 3]);
        r[1] = 99;
        assertBytes(await f.read(0, 3), [1, 2, 3]);
        const m = bytesOf(4, 5);
        await a.replace('m.bin', m);
        m[0] = 99;
        const all = await a.readAll('m.bin');
        assertBytes(all, [4, 5]);
        all[1] = 99;
        assertBytes(await a.readAll('m.bin'), [4, 5]);
        // A view into a larger buffer writes only its own bytes.
        const big = bytesOf(0, 1, 2, 3, 4, 5, 6, 7);
        await f.write(3, big.subarray(2, 5));
        assertBytes(await f.read(0, 10), [1, 2, 3, 2, 3, 4]);
        await f.close();
      });
    });

    it('two handles on one file see each other’s writes at once', async () => {
      await withAdapter(async (a) => {
        const f = await a.open('shared.bin', { create: true });
        const g = await a.open('shared.bin');
        await f.append(bytesOf(1, 2));
        assertEqual(await g.size(), 2);
        assertBytes(await g.read(0, 2), [1, 2]);
        assertEqual(await g.append(bytesOf(3)), 2);
        assertBytes(await f.read(0, 3), [1, 2, 3]);
        await f.close();
        assertBytes(await g.read(0, 3), [1, 2, 3], 'the other handle still works after one closes');
        await g.close();
        assertBytes(await a.readAll('shared.bin'), [1, 2, 3], 'readAll sees handle writes');
      });
    });

    it('open() racing with the last close() of the same file gets a working handle', async () => {
      await withAdapter(async (a) => {
        for (let round = 0; round < 5; round++) {
          const f = await a.open('race', { create: true });
          await f.append(bytesOf(round));
          const [g] = await Promise.all([a.open('race'), f.close()]);
          assertEqual(await g.size(), round + 1, 'size seen by the racing handle');
          assertBytes(await g.read(round, 1), [round]);
          await g.close();
        }
      });
    });

    it('large files: reads and writes that cross 64 KiB chunk boundaries', async () => {
      await withAdapter(async (a) => {
        const f = await a.open('big.bin', { create: true });
        const data = patternBytes(200_000, 42);
        await f.write(1_000, data);
        assertEqual(await f.size(), 201_000);
        assertBytes(await f.read(0, 1_000), new Uint8Array(1_000), 'leading gap');
        assertBytes(await f.read(1_000, 200_000), data, 'whole');
        assertBytes(await f.read(65_530, 20), data.subarray(64_530, 64_550), 'across a boundary');
        const patch = patternBytes(70_000, 7);
        await f.write(60_000, patch);
        const expected = new Uint8Array(201_000);
        expected.set(data, 1_000);
        expected.set(patch, 60_000);
        assertBytes(await f.read(0, 300_000), expected, 'after a patch across boundaries');
        await f.truncate(131_073);
        await f.sync();
        await f.close();
        assertBytes(await a.readAll('big.bin'), expected.subarray(0, 131_073), 'readAll after truncate');
      });
    });

    it('list() is sorted and has only files; remove() deletes; remove of a missing file is NOT_FOUND', async () => {
      await withAdapter(async (a) => {
        for (const n of ['b', 'a.2', 'a.10', 'Z', '_x', '0-9']) await (await a.open(n, { create: true })).close();
        await a.replace('MANIFEST', bytesOf(1));
        const expected = ['0-9', 'MANIFEST', 'Z', '_x', 'a.10', 'a.2', 'b'];
        assertDeepStrings(await a.list(), expected, 'sorted by byte order');
        await a.remove('a.10');
        assertEqual(await a.exists('a.10'), false);
        assertDeepStrings(await a.list(), expected.filter((n) => n !== 'a.10'));
        await assertRejectsCode(a.remove('a.10'), 'NOT_FOUND', 'a.10');
        await assertRejectsCode(a.open('a.10'), 'NOT_FOUND', 'a.10');
        const f = await a.open('a.10', { create: true });
        assertEqual(await f.size(), 0, 'a removed file comes back empty');
        await f.close();
      });
    });

    it('replace() atomically sets the whole content; readAll() reads it; NOT_FOUND when missing', async () => {
      await withAdapter(async (a) => {
        await assertRejectsCode(a.readAll('MANIFEST'), 'NOT_FOUND', 'MANIFEST');
        await a.replace('MANIFEST', patternBytes(100_000, 1));
        assertBytes(await a.readAll('MANIFEST'), patternBytes(100_000, 1));
        await a.replace('MANIFEST', bytesOf(1, 2, 3));
        assertBytes(await a.readAll('MANIFEST'), [1, 2, 3], 'shorter replace leaves no old tail');
        await a.replace('MANIFEST', new Uint8Array(0));
        assertBytes(await a.readAll('MANIFEST'), [], 'empty replace');
        assertEqual(await a.exists('MANIFEST'), true);
        const f = await a.open('MANIFEST');
        assertEqual(await f.size(), 0);
        await f.close();
        // Concurrent replaces: the result is one of them, whole.
        const versions = [patternBytes(70_000, 2), patternBytes(30, 3), patternBytes(140_000, 4)];
        await Promise.all(versions.map((v) => a.replace('MANIFEST', v)));
        const got = await a.readAll('MANIFEST');
        const match = versions.some((v) => v.length === got.length && v.every((x, i) => got[i] === x));
        assertEqual(match, true, 'concurrent replaces leave one whole version');
        assertDeepStrings(await a.list(), ['MANIFEST'], 'no temp files listed');
      });
    });

    it('synced data, replaced files and removals persist across close and reopen', async () => {
      const location = await factory.newLocation();
      try {
        const a = await factory.open(location);
        const f = await a.open('wal.000001', { create: true });
        await f.append(patternBytes(1_000, 5));
        await f.append(bytesOf(1, 2, 3));
        await f.sync();
        await f.close();
        const g = await a.open('gone', { create: true });
        await g.close();
        await a.remove('gone');
        await a.replace('MANIFEST', bytesOf(9, 8, 7));
        await a.close();
        const b = await factory.open(location);
        assertDeepStrings(await b.list(), ['MANIFEST', 'wal.000001']);
        assertBytes(await b.readAll('MANIFEST'), [9, 8, 7]);
        const h = await b.open('wal.000001');
        assertEqual(await h.size(), 1_003);
        assertBytes(await h.read(0, 1_000), patternBytes(1_000, 5));
        assertBytes(await h.read(1_000, 10), [1, 2, 3]);
        assertEqual(await h.append(bytesOf(4)), 1_003, 'append continues at the persisted end');
        await h.close();
        await b.close();
      } finally {
        await factory.cleanup?.(location);
      }
    });

    it('bad names are INVALID_ARGUMENT on every method', async () => {
      await withAdapter(async (a) => {
        const bad: unknown[] = ['', '.', '..', 'a/b', 'a\\b', '../x', 'x~', 'sp ace', 'é', 'a'.repeat(256), 'nul\0', 42, undefined];
        for (const n of bad) {
          const name = n as string;
          await assertRejectsCode(() => a.open(name, { create: true }), 'INVALID_ARGUMENT');
          await assertRejectsCode(() => a.exists(name), 'INVALID_ARGUMENT');
          await assertRejectsCode(() => a.remove(name), 'INVALID_ARGUMENT');
          await assertRejectsCode(() => a.replace(name, bytesOf(1)), 'INVALID_ARGUMENT');
          await assertRejectsCode(() => a.readAll(name), 'INVALID_ARGUMENT');
        }
        const longest = 'a'.repeat(255);
        const f = await a.open(longest, { create: true });
        await f.close();
        assertDeepStrings(await a.list(), [longest], 'a 255-character name works');
        const g = await a.open('ok', { create: true });
        await assertRejectsCode(() => g.read(-1, 1), 'INVALID_ARGUMENT');
        await assertRejectsCode(() => g.read(0, 1.5), 'INVALID_ARGUMENT');
        await assertRejectsCode(() => g.write(-1, bytesOf(1)), 'INVALID_ARGUMENT');
        await assertRejectsCode(() => g.write(0, [1] as unknown as Uint8Array), 'INVALID_ARGUMENT');
        await assertRejectsCode(() => g.truncate(-3), 'INVALID_ARGUMENT');
        await g.close();
      });
    });

    it('lock(): a second adapter on the same location gets LOCKED until the first closes', async () => {
      const location = await factory.newLocation();
      try {
        const a = await factory.open(location);
        await a.lock();
        await a.lock(); // idempotent for the holder
        const b = await factory.open(location);
        await assertRejectsCode(b.lock(), 'LOCKED');
        await b.close();
        await a.close();
        const c = await factory.open(location);
        await c.lock();
        await c.close();
      } finally {
        await factory.cleanup?.(location);
      }
    });

    it('a closed adapter and closed handles throw CLOSED', async () => {
      const location = await factory.newLocation();
      try {
        const a = await factory.open(location);
        const f = await a.open('f', { create: true });
        const g = await a.open('g', { create: true });
        await f.append(bytesOf(1));
        await f.close();
        await f.close(); // idempotent
        await assertRejectsCode(f.read(0, 1), 'CLOSED', 'f');
        await assertRejectsCode(f.append(bytesOf(1)), 'CLOSED', 'f');
        await assertRejectsCode(f.sync(), 'CLOSED', 'f');
        await a.close();
        await a.close(); // idempotent
        await assertRejectsCode(g.read(0, 1), 'CLOSED', 'g');
        await assertRejectsCode(g.write(0, bytesOf(1)), 'CLOSED', 'g');
        await assertRejectsCode(g.size(), 'CLOSED', 'g');
        await assertRejectsCode(a.open('f'), 'CLOSED', 'f');
        await assertRejectsCode(a.list(), 'CLOSED');
        await assertRejectsCode(a.exists('f'), 'CLOSED', 'f');
        await assertRejectsCode(a.remove('f'), 'CLOSED', 'f');
        await assertRejectsCode(a.replace('f', bytesOf(1)), 'CLOSED', 'f');
        await assertRejectsCode(a.readAll('f'), 'CLOSED', 'f');
        await assertRejectsCode(a.lock(), 'CLOSED');
      } finally {
        await factory.cleanup?.(location);
      }
    });

    it('random sequences of write/append/truncate/read/sync/reopen match a byte-array model', async () => {
      type Op =
        | { t: 'write'; off: number; len: number; seed: number }
        | { t: 'append'; len: number; seed: number }
        | { t: 'truncate'; len: number }
        | { t: 'read'; off: number; len: number }
        | { t: 'sync' }
        | { t: 'reopen' };
      const opArb: fc.Arbitrary<Op> = fc.oneof(
        fc.record({ t: fc.constant('write' as const), off: fc.integer({ min: 0, max: 200_000 }), len: fc.integer({ min: 0, max: 70_000 }), seed: fc.nat() }),
        fc.record({ t: fc.constant('append' as const), len: fc.integer({ min: 0, max: 70_000 }), seed: fc.nat() }),
        fc.record({ t: fc.constant('truncate' as const), len: fc.integer({ min: 0, max: 250_000 }) }),
        fc.record({ t: fc.constant('read' as const), off: fc.integer({ min: 0, max: 260_000 }), len: fc.integer({ min: 0, max: 140_000 }) }),
        fc.constant({ t: 'sync' as const }),
        fc.constant({ t: 'reopen' as const }),
      );
      const location = await factory.newLocation();
      let a = await factory.open(location);
      let run = 0;
      try {
        await fc.assert(
          fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 12 }), async (ops) => {
            const name = `model.${run++}`;
            let model = new Uint8Array(0);
            let f: FileHandle = await a.open(name, { create: true });
            const resize = (n: number) => {
              const next = new Uint8Array(n);
              next.set(model.subarray(0, Math.min(n, model.length)));
              model = next;
            };
            for (const op of ops) {
              if (op.t === 'write') {
                const b = patternBytes(op.len, op.seed);
                await f.write(op.off, b);
                if (op.off + op.len > model.length) resize(op.off + op.len);
                model.set(b, op.off);
              } else if (op.t === 'append') {
                const b = patternBytes(op.len, op.seed);
                const at = await f.append(b);
                assertEqual(at, model.length, 'append offset');
                resize(model.length + op.len);
                model.set(b, at);
              } else if (op.t === 'truncate') {
                await f.truncate(op.len);
                resize(op.len);
              } else if (op.t === 'read') {
                const got = await f.read(op.off, op.len);
                assertBytes(got, model.subarray(Math.min(op.off, model.length), Math.min(op.off + op.len, model.length)), 'read');
              } else if (op.t === 'sync') {
                await f.sync();
              } else {
                await f.sync();
                await f.close();
                await a.close();
                a = await factory.open(location);
                f = await a.open(name);
              }
              assertEqual(await f.size(), model.length, `size after ${op.t}`);
            }
            assertBytes(await f.read(0, model.length + 10), model, 'final content');
            await f.close();
            assertBytes(await a.readAll(name), model, 'readAll final content');
            await a.remove(name);
          }),
          { seed: 20261128, numRuns: options.modelRuns ?? 25, endOnFailure: true },
        );
      } finally {
        await a.close().catch(() => {});
        await factory.cleanup?.(location);
      }
    });
  });
}
