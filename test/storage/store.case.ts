/**
 * Store cases, run on any StorageAdapter: memory and Node fs under node:test / deno test
 * (test/storage/store.test.ts) and IndexedDB / OPFS in Chromium (pass a describe/it shim).
 * Framework-agnostic: no test runner or node: imports; assertions from the conformance suite.
 */
import fc from 'fast-check';
import type { StorageAdapter } from '../../src/storage/adapter.ts';
import { decodeWalRecord, openStore, type EngineOptions } from '../../src/storage/index.ts';
import { entryKey, entryValue, type Snapshot, type Store, type WriteOp } from '../../src/storage/store.ts';
import { compareBytes } from '../../src/storage/codec.ts';
import { decodeManifest } from '../../src/storage/manifest.ts';
import { Segment } from '../../src/storage/segment.ts';
import { assertBytes, assertDeepStrings, assertEqual, type AdapterFactory, type TestApi } from '../conformance/storage-adapter.case.ts';
import { isLargetableError, type ErrorCode } from '../../src/errors.ts';

export type { AdapterFactory, TestApi };

const te = new TextEncoder();
const td = new TextDecoder();
export const b = (s: string): Uint8Array => te.encode(s);
export const s = (x: Uint8Array | undefined): string | undefined => (x === undefined ? undefined : td.decode(x));

/** Awaits `p` and checks it rejects with a LargetableError of `code`. */
export async function assertRejectsCode(p: Promise<unknown>, code: ErrorCode): Promise<void> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  if (err === undefined) throw new Error(`expected a ${code} rejection, but it resolved`);
  if (!isLargetableError(err, code)) throw new Error(`expected LargetableError ${code}, got ${String(err)}`);
}

/** `locateCached`'s answer as a string: the value found, undefined for none, 'io' when it needs a read. */
function located(st: Store, key: Uint8Array): string | undefined {
  const r = st.locateCached(key);
  if (r < 0) return 'io';
  if (r === 0) return undefined;
  const h = st.hit;
  return td.decode(h.buf.subarray(h.off, h.off + h.len));
}

/**
 * `locateRead`'s answers (as `located`'s) for `keys`, after `prefetch` of all of them (a batched
 * reader's window: the prefetch reads ahead, and changes no answer).
 */
function locatedRead(st: Store, keys: Uint8Array[]): (string | undefined)[] {
  const all = new Uint8Array(keys.reduce((n, k) => n + k.length, 0));
  const starts = new Int32Array(keys.length);
  const ends = new Int32Array(keys.length);
  let p = 0;
  keys.forEach((k, i) => {
    starts[i] = p;
    all.set(k, p);
    ends[i] = p += k.length;
  });
  st.prefetch(all, starts, ends, keys.length);
  return keys.map((k) => {
    const r = st.locateRead(k);
    if (r < 0) return 'io';
    if (r === 0) return undefined;
    const h = st.hit;
    return td.decode(h.buf.subarray(h.off, h.off + h.len));
  });
}

/** A model test's put, del, flush or compact, applied to the store and (writes) to the model; false for any other command. */
async function modelWrite(st: Store, m: Map<string, string>, c: { t: string; k?: string; v?: string }): Promise<boolean> {
  if (c.t === 'put') {
    await st.put(b(c.k!), b(c.v!));
    m.set(c.k!, c.v!);
  } else if (c.t === 'del') {
    await st.del(b(c.k!));
    m.delete(c.k!);
  } else if (c.t === 'flush') await st.flush();
  else if (c.t === 'compact') await st.compact();
  else return false;
  return true;
}

function ok(cond: unknown, msg: string): asserts cond {
  if (!cond) throw new Error(msg);
}

/**
 * Small memtable and blocks so a few hundred keys span memtable, L0, L1 and many blocks. Compaction
 * deflates here (the default writes raw blocks), so the cases cover both block kinds.
 */
export const tinyOptions: EngineOptions = { memtableSizeBytes: 8 * 1024, blockSizeBytes: 512, segmentSizeBytes: 16 * 1024, compressionLevel: 1 };

export async function collect(store: Store, opts: Parameters<Store['iterate']>[0] = {}): Promise<string[]> {
  const out: string[] = [];
  for await (const [k, v] of store.iterate(opts)) out.push(`${s(k)}=${s(v)}`);
  return out;
}

/** `collect` through `nextBatch` (batches of `n`), checking that only the last batch is short. */
export async function collectBatches(store: Store, opts: Parameters<Store['iterate']>[0] = {}, n = 3): Promise<string[]> {
  const out: string[] = [];
  const it = store.iterate(opts);
  let short = false;
  for (;;) {
    const batch = await it.nextBatch(n);
    if (batch.length === 0) break;
    if (short) throw new Error('nextBatch returned a short batch before the end');
    if (batch.length > n) throw new Error(`nextBatch returned ${batch.length} > ${n} entries`);
    short = batch.length < n;
    for (const [k, v] of batch) out.push(`${s(k)}=${s(v)}`);
  }
  await it.close();
  return out;
}

/**
 * A store in layers for scan tests, its model beside: 3,000 keys `key(i)` compacted into L1, every
 * 7th key written again and flushed into an L0 segment over it. `put(i, tag)` writes key i a value
 * of `pad(i)` characters (to store and model).
 */
async function layeredStore(st: Store, pad: (i: number) => number) {
  const m = new Map<string, string>();
  const key = (i: number): string => `k${String(i).padStart(5, '0')}`;
  const put = async (i: number, tag: string): Promise<void> => {
    const v = `${tag}${i}:`.padEnd(pad(i), String(i % 10));
    await st.put(b(key(i)), b(v));
    m.set(key(i), v);
  };
  for (let i = 0; i < 3000; i++) await put(i, 'a');
  await st.compact(); // L1: a run of ~10 segments
  for (let i = 0; i < 3000; i += 7) await put(i, 'b');
  await st.flush(); // an overlapping L0 segment
  return { m, key, put };
}

/** Model range query over a Map of string keys (ASCII keys, so string order = byte order). */
function modelRange(m: Map<string, string>, o: { gt?: string; gte?: string; lt?: string; lte?: string; reverse?: boolean; limit?: number }): string[] {
  let keys = [...m.keys()].sort((x, y) => compareBytes(b(x), b(y)));
  keys = keys.filter((k) => (o.gt === undefined || k > o.gt) && (o.gte === undefined || k >= o.gte) && (o.lt === undefined || k < o.lt) && (o.lte === undefined || k <= o.lte));
  if (o.reverse) keys.reverse();
  if (o.limit !== undefined) keys = keys.slice(0, o.limit);
  return keys.map((k) => `${k}=${m.get(k)}`);
}

export function storeCases(name: string, factory: AdapterFactory, api: TestApi, options: { modelRuns?: number } = {}): void {
  const { describe, it } = api;
  const withStore = async (fn: (open: (o?: EngineOptions) => Promise<Store>, loc: string) => Promise<void>): Promise<void> => {
    const loc = await factory.newLocation();
    let current: Store | null = null;
    const open = async (o: EngineOptions = {}): Promise<Store> => {
      current = await openStore(await factory.open(loc), o);
      return current;
    };
    try {
      await fn(open, loc);
    } finally {
      if (current !== null) await (current as Store).close().catch(() => undefined);
      await factory.cleanup?.(loc);
    }
  };

  describe(`store on ${name}`, () => {
    it('put/get/del, overwrite, empty and large values, sequence numbers increase', async () => {
      await withStore(async (open) => {
        const st = await open();
        const c1 = await st.put(b('a'), b('1'));
        const c2 = await st.put(b('a'), b('2'));
        ok(c2.seq > c1.seq, 'seq increases');
        assertEqual(s(await st.get(b('a'))), '2');
        await st.put(b('empty'), new Uint8Array(0));
        assertEqual((await st.get(b('empty')))?.length, 0, 'empty value is stored, not missing');
        await st.del(b('a'));
        assertEqual(await st.get(b('a')), undefined);
        const big = new Uint8Array(1 << 20).map((_, i) => (i * 7) & 255);
        await st.put(b('big'), big);
        await st.flush();
        assertBytes((await st.get(b('big')))!, big, 'big value after flush');
        assertEqual((await st.get(b('empty')))?.length, 0, 'empty value after flush');
        assertEqual(await st.get(b('a')), undefined, 'tombstone after flush');
      });
    });

    it('close() during a compaction waits for it and removes its obsolete inputs: no segment file outside the manifest stays behind', async () => {
      await withStore(async (open, loc) => {
        let st: Store | null = null;
        let closing: Promise<void> | null = null;
        const st1 = await open({
          ...tinyOptions,
          autoCompact: false,
          onEvent: (e) => {
            if (e === 'compaction-write' && closing === null && st !== null) closing = st.close();
          },
        });
        st = st1;
        for (let r = 0; r < 4; r++) {
          await st1.write(Array.from({ length: 60 }, (_, i) => ({ type: 'put' as const, key: b(`k${String(i * 4 + r).padStart(4, '0')}`), value: b(`v${r}`.padEnd(40, 'x')) })));
          await st1.flush();
        }
        const before = st1.stats().segments;
        ok(before >= 4, `four L0 segments (${before})`);
        await st1.compact();
        ok(closing !== null, 'close() started while the compaction wrote');
        await closing;
        const a = await factory.open(loc);
        const m = decodeManifest(await a.readAll('MANIFEST'));
        const live = new Set([...m.l0, ...m.l1].map((x) => `${String(x.file).padStart(6, '0')}.seg`));
        const segs = (await a.list()).filter((n) => n.endsWith('.seg'));
        await a.close();
        assertEqual(m.l0.length, 0, 'the compaction finished: L0 empty');
        assertDeepStrings(segs, [...live].sort(), 'segment files = the manifest\'s');
        const st2 = await open();
        assertEqual((await collect(st2)).length, 240);
      });
    });

    it('approximateCount: memtable entries counted, segment ranges estimated from their block indexes', async () => {
      await withStore(async (open) => {
        const st = await open({ blockSizeBytes: 512 });
        const key = (i: number): Uint8Array => b(`k${String(i).padStart(6, '0')}`);
        const ops = (from: number, to: number) => Array.from({ length: to - from }, (_, j) => ({ type: 'put' as const, key: key(from + j), value: b('v'.repeat(40)) }));
        await st.write(ops(0, 1000));
        assertEqual(st.approximateCount(key(100), key(300)), 200, 'memtable: exact');
        await st.flush();
        await st.write(ops(1000, 1100));
        const within = (gte: number, lt: number | undefined, want: number): void => {
          const got = st.approximateCount(key(gte), lt === undefined ? undefined : key(lt));
          // off by at most a block at each end (~10 entries of this size per 512-byte block)
          ok(Math.abs(got - want) <= 24, `[${gte}, ${lt}): ${got}, want ~${want}`);
        };
        within(100, 300, 200);
        within(0, 1000, 1000);
        within(500, undefined, 600);
        within(950, 1050, 100);
        within(2000, 3000, 0);
        assertEqual(st.approximateCount(b('a'), b('b')), 0, 'a range before every key');
      });
    });

    it('refuses bad arguments with typed errors', async () => {
      await withStore(async (open) => {
        const st = await open();
        await assertRejectsCode(st.put('x' as unknown as Uint8Array, b('1')), 'INVALID_ARGUMENT');
        await assertRejectsCode(st.put(new Uint8Array(64 * 1024 + 1), b('1')), 'LIMIT_EXCEEDED');
        await assertRejectsCode(st.put(b('k'), new Uint8Array(16 * 1024 * 1024 + 1)), 'LIMIT_EXCEEDED');
        await assertRejectsCode(st.write([{ type: 'nope', key: b('k') } as unknown as WriteOp]), 'INVALID_ARGUMENT');
        await st.close();
        await assertRejectsCode(st.put(b('k'), b('v')), 'CLOSED');
      });
    });

    it('a 16 MiB value round-trips through WAL, segment and reopen', async () => {
      await withStore(async (open) => {
        let st = await open();
        const v = new Uint8Array(16 * 1024 * 1024);
        for (let i = 0; i < v.length; i += 4096) v[i] = i & 255;
        await st.put(b('max'), v);
        await st.close();
        st = await open();
        assertEqual((await st.get(b('max')))?.length, v.length);
        await st.flush();
        await st.close();
        st = await open();
        const got = (await st.get(b('max')))!;
        assertEqual(got.length, v.length);
        assertEqual(got[4096 * 3], v[4096 * 3]);
        assertEqual((await st.verify()).ok, true);
      });
    });

    it('a batch is atomic and gets one sequence number; state survives reopen, flush and compaction', async () => {
      await withStore(async (open) => {
        let st = await open(tinyOptions);
        const ops: WriteOp[] = [];
        for (let i = 0; i < 300; i++) ops.push({ type: 'put', key: b(`k${String(i).padStart(3, '0')}`), value: b(`v${i}`) });
        ops.push({ type: 'del', key: b('k010') });
        ops.push({ type: 'put', key: b('k020'), value: b('last-wins') });
        const c = await st.write(ops);
        assertEqual(c.seq, st.stats().seq);
        const expect = (await collect(st)).join(',');
        assertEqual((await collect(st)).length, 299);
        assertEqual(s(await st.get(b('k020'))), 'last-wins');
        await st.close();
        st = await open(tinyOptions);
        assertEqual(st.recovery.walRecordsReplayed, 1);
        assertEqual((await collect(st)).join(','), expect, 'after WAL replay');
        await st.flush();
        assertEqual((await collect(st)).join(','), expect, 'after flush');
        await st.compact();
        assertEqual((await collect(st)).join(','), expect, 'after compaction');
        await st.close();
        st = await open(tinyOptions);
        assertEqual(st.recovery.walRecordsReplayed, 0);
        assertEqual((await collect(st)).join(','), expect, 'after reopen');
        assertEqual((await st.verify()).ok, true);
      });
    });

    it('iterators: bounds, reverse, limit and seek across memtable, L0 and L1', async () => {
      await withStore(async (open) => {
        const st = await open({ ...tinyOptions, autoCompact: false });
        const m = new Map<string, string>();
        const put = async (k: string, v: string): Promise<void> => {
          await st.put(b(k), b(v));
          m.set(k, v);
        };
        for (let i = 0; i < 200; i += 2) await put(`k${String(i).padStart(3, '0')}`, `a${i}`);
        await st.flush();
        await st.compact(); // L1
        for (let i = 1; i < 200; i += 4) await put(`k${String(i).padStart(3, '0')}`, `b${i}`);
        await st.flush(); // L0
        for (let i = 0; i < 200; i += 6) {
          await st.del(b(`k${String(i).padStart(3, '0')}`));
          m.delete(`k${String(i).padStart(3, '0')}`);
        }
        for (let i = 3; i < 200; i += 10) await put(`k${String(i).padStart(3, '0')}`, `c${i}`); // memtable
        const cases = [
          {},
          { reverse: true },
          { gte: 'k050', lt: 'k100' },
          { gt: 'k050', lte: 'k100' },
          { gt: 'k050', lte: 'k100', reverse: true },
          { gte: 'k051', lt: 'k051' },
          { lt: 'k010' },
          { gt: 'k190', reverse: true },
          { limit: 7 },
          { reverse: true, limit: 5, lt: 'k150' },
          { gte: 'k0501', lte: 'k0999' },
          { gte: 'zzz' },
          { limit: 0 },
        ];
        for (const c of cases) {
          const o = {
            ...c,
            gt: 'gt' in c ? b(c.gt!) : undefined,
            gte: 'gte' in c ? b(c.gte!) : undefined,
            lt: 'lt' in c ? b(c.lt!) : undefined,
            lte: 'lte' in c ? b(c.lte!) : undefined,
          };
          assertDeepStrings(await collect(st, o), modelRange(m, c), JSON.stringify(c));
          for (const n of [1, 4, 1000]) assertDeepStrings(await collectBatches(st, o, n), modelRange(m, c), `nextBatch(${n}) ${JSON.stringify(c)}`);
        }
        // getCached answers from memory or not at all; after a get, the blocks it needs are cached
        for (let i = 0; i < 205; i++) {
          const k = `k${String(i).padStart(3, '0')}`;
          const want = m.get(k);
          const before = st.getCached(b(k));
          if (before !== undefined) assertEqual(before === null ? undefined : s(before), want, `getCached ${k}`);
          assertEqual(s(await st.get(b(k))), want, `get ${k}`);
          const after = st.getCached(b(k));
          assertEqual(after === undefined ? 'io' : after === null ? undefined : s(after), want, `getCached after get ${k}`);
          assertEqual(located(st, b(k)), s(after ?? undefined) ?? (after === undefined ? 'io' : undefined), `locateCached ${k}`);
          const view = st.getCachedView(b(k));
          assertEqual(view === undefined ? 'io' : view === null ? undefined : s(view), want, `getCachedView ${k}`);
        }
        // seek
        const it = st.iterate({ gte: b('k020'), lt: b('k180') });
        const first = await it.next();
        assertEqual(s(first.value?.[0]), modelRange(m, { gte: 'k020' })[0]!.split('=')[0]);
        it.seek(b('k101'));
        assertEqual(s((await it.next()).value?.[0]), modelRange(m, { gte: 'k101' })[0]!.split('=')[0]);
        it.seek(b('k000')); // clamped to the lower bound
        assertEqual(s((await it.next()).value?.[0]), modelRange(m, { gte: 'k020' })[0]!.split('=')[0]);
        await it.close();
        const rit = st.iterate({ reverse: true });
        rit.seek(b('k100'));
        assertEqual(s((await rit.next()).value?.[0]), modelRange(m, { lte: 'k100', reverse: true })[0]!.split('=')[0]);
        await rit.close();
      });
    });

    it('a forward scan of a run larger than the block cache streams it (runs read past the cache): same answers, views stay valid', async () => {
      await withStore(async (open) => {
        const st = await open({ memtableSizeBytes: 64 * 1024, blockSizeBytes: 512, segmentSizeBytes: 64 * 1024, blockCacheSizeBytes: 48 * 1024, autoCompact: false });
        const { m, key, put } = await layeredStore(st, (i) => 40 + ((i * 37) % 160)); // L1 ~6x the cache
        for (let i = 0; i < 3000; i += 11) {
          await st.del(b(key(i)));
          m.delete(key(i));
        }
        for (let i = 5; i < 3000; i += 13) await put(i, 'c'); // memtable
        // some blocks cached: a streaming scan takes a cached block as it is
        for (let i = 0; i < 3000; i += 97) assertEqual(s(await st.get(b(key(i)))), m.get(key(i)));
        const runs = { n: 0, reused: false };
        const readRun = Segment.prototype.readRun;
        Segment.prototype.readRun = function (this: Segment, first: number, last: number, into?: Uint8Array) {
          runs.n++;
          // a transient scan's own buffer, read into in place on adapters with readInto
          if (into !== undefined && (this as unknown as { handle: { readInto?: unknown } }).handle.readInto !== undefined) runs.reused = true;
          return readRun.call(this, first, last, into);
        };
        try {
          for (const c of [{}, { gte: 'k00500', lt: 'k02500' }, { gt: 'k01000' }, { limit: 1500 }]) {
            const o = { ...c, gt: 'gt' in c ? b(c.gt!) : undefined, gte: 'gte' in c ? b(c.gte!) : undefined, lt: 'lt' in c ? b(c.lt!) : undefined };
            assertDeepStrings(await collect(st, o), modelRange(m, c), JSON.stringify(c));
            // nextBatch hands out views: every one stays valid after the scan moved on (a run's blocks own their bytes: its pooled read buffer is reused)
            const it = st.iterate(o);
            const held: [Uint8Array, Uint8Array][] = [];
            for (;;) {
              const batch = await it.nextBatch(64);
              if (batch.length === 0) break;
              held.push(...batch);
            }
            assertDeepStrings(held.map(([k, v]) => `${s(k)}=${s(v)}`), modelRange(m, c), `views ${JSON.stringify(c)}`);
            // transient: a step's views are valid until the next step only (the run buffers are
            // reused): copies made during the step are right, views held longer are overwritten
            const tit = st.iterate({ ...o, transient: true });
            const copies: string[] = [];
            const views: [Uint8Array, Uint8Array, string][] = [];
            for (;;) {
              const e = await tit.nextEntries(64);
              if (e.n === 0) break;
              for (let i = 0; i < e.n; i++) {
                const k = entryKey(e, i);
                const v = entryValue(e, i);
                const copy = `${s(k.slice())}=${s(v.slice())}`;
                copies.push(copy);
                views.push([k, v, copy]);
              }
            }
            await tit.close();
            assertDeepStrings(copies, modelRange(m, c), `transient copies ${JSON.stringify(c)}`);
            const stale = views.filter(([k, v, copy]) => `${s(k)}=${s(v)}` !== copy).length;
            if (runs.reused && copies.length > 1000) ok(stale > 0, `transient ${JSON.stringify(c)}: views held past their step were overwritten (the buffers were reused)`);
          }
          ok(runs.n > 20, `the scans streamed (${runs.n} runs read)`);
          // seek to and fro on one iterator
          const it = st.iterate();
          for (const at of [2900, 100, 1500, 1501, 0]) {
            it.seek(b(key(at)));
            const got = await it.next();
            assertEqual(s(got.value?.[0]), modelRange(m, { gte: key(at) })[0]!.split('=')[0], `seek ${at}`);
            for (let j = 0; j < 50; j++) await it.next();
          }
          await it.close();
          // and on a transient one: a seek leaves the runs read or being read for others
          const tit = st.iterate({ transient: true });
          for (const at of [0, 2900, 100, 1500, 1501, 40]) {
            tit.seek(b(key(at)));
            const want = modelRange(m, { gte: key(at) }).slice(0, 300);
            const got: string[] = [];
            while (got.length < want.length) {
              const e = await tit.nextEntries(Math.min(100, want.length - got.length));
              if (e.n === 0) break;
              for (let i = 0; i < e.n; i++) got.push(`${s(entryKey(e, i))}=${s(entryValue(e, i))}`);
            }
            assertDeepStrings(got, want, `transient seek ${at}`);
          }
          await tit.close();
          // a bounded scan's runs stop at the block holding its upper bound: the blocks streamed
          // are at most those the range spans in each segment (an index range of one value)
          // (a run the scan waits for that reaches its bound is read on this thread where the adapter can: readRunSync)
          const counted = Segment.prototype.readRun;
          const countedSync = Segment.prototype.readRunSync;
          let blocksRead = 0;
          const sync = { can: false, runs: 0 };
          Segment.prototype.readRun = function (this: Segment, first: number, last: number, into?: Uint8Array, slots?: never) {
            blocksRead += last - first + 1;
            return counted.call(this, first, last, into, slots);
          };
          Segment.prototype.readRunSync = function (this: Segment, first: number, last: number, into?: Uint8Array, slots?: never) {
            const got = countedSync.call(this, first, last, into, slots);
            if ((this as unknown as { handle: { readIntoSync?: unknown } }).handle.readIntoSync !== undefined) sync.can = true;
            if (got !== undefined) {
              blocksRead += last - first + 1;
              sync.runs++;
            }
            return got;
          };
          try {
            for (const [lo, hi, incl] of [['k01000', 'k01150', false], ['k02000', 'k02031', true], ['k00007', 'k00900', false]] as const) {
              const c = incl ? { gte: lo, lte: hi } : { gte: lo, lt: hi };
              const o = { gte: b(lo), ...(incl ? { lte: b(hi) } : { lt: b(hi) }) };
              blocksRead = 0;
              assertDeepStrings(await collect(st, o), modelRange(m, c), JSON.stringify(c));
              const v = (st as unknown as { current: { l0: Segment[]; l1: Segment[] } }).current;
              let spanned = 0;
              for (const sg of [...v.l0, ...v.l1]) {
                if (compareBytes(sg.meta.smallest, b(hi)) > 0 || compareBytes(sg.meta.largest, b(lo)) < 0) continue;
                spanned += Math.min(sg.findBlock(b(hi)), sg.blocks - 1) - sg.findBlock(b(lo)) + 1;
              }
              ok(blocksRead <= spanned, `${JSON.stringify(c)}: ${blocksRead} blocks streamed, the range spans ${spanned}`);
            }
            if (sync.can) ok(sync.runs > 0, 'a run that reaches the bound is read synchronously where the adapter can');
          } finally {
            Segment.prototype.readRun = counted;
            Segment.prototype.readRunSync = countedSync;
          }
          // a reverse scan does not stream
          const before = runs.n;
          assertDeepStrings(await collect(st, { reverse: true }), modelRange(m, { reverse: true }), 'reverse');
          assertEqual(runs.n, before);
        } finally {
          Segment.prototype.readRun = readRun;
        }
      });
    });

    it('a bounded scan spanning little of the block cache (an index range) over segments larger than the cache: its blocks enter the cache, a later scan of the range reads none; a wide one keeps streaming past the cache', async () => {
      await withStore(async (open) => {
        const st = await open({ memtableSizeBytes: 64 * 1024, blockSizeBytes: 512, segmentSizeBytes: 64 * 1024, blockCacheSizeBytes: 64 * 1024, autoCompact: false });
        const { m, put } = await layeredStore(st, (i) => 60 + ((i * 37) % 100)); // L1 ~6x the cache
        for (let i = 3; i < 3000; i += 13) await put(i, 'c'); // memtable
        let blocksRead = 0;
        const readRun = Segment.prototype.readRun;
        const readRunSync = Segment.prototype.readRunSync;
        Segment.prototype.readRun = function (this: Segment, first: number, last: number, into?: Uint8Array, slots?: never) {
          blocksRead += last - first + 1;
          return readRun.call(this, first, last, into, slots);
        };
        Segment.prototype.readRunSync = function (this: Segment, first: number, last: number, into?: Uint8Array, slots?: never) {
          const got = readRunSync.call(this, first, last, into, slots);
          if (got !== undefined) blocksRead += last - first + 1;
          return got;
        };
        try {
          // ~10 keys: a few blocks per segment, under 1/16 of the cache
          for (const [lo, hi] of [['k01000', 'k01010'], ['k02500', 'k02508']] as const) {
            const reads: number[] = [];
            for (let k = 0; k < 3; k++) {
              const misses = st.stats().blockCacheMisses;
              blocksRead = 0;
              assertDeepStrings(await collect(st, { gte: b(lo), lt: b(hi) }), modelRange(m, { gte: lo, lt: hi }), `${lo}..${hi} #${k}`);
              reads.push(blocksRead + st.stats().blockCacheMisses - misses);
            }
            ok(reads[0]! > 0, `${lo}..${hi}: the first scan read its blocks (${reads})`);
            // cached at the first read while the cache has room, else at the second (a block missed recently)
            assertEqual(reads[2], 0, `${lo}..${hi}: the third scan read nothing from storage (${reads})`);
          }
          // ~1,000 keys: past 1/16 of the cache, streamed each time (its blocks are not cached)
          for (let k = 0; k < 2; k++) {
            blocksRead = 0;
            assertDeepStrings(await collect(st, { gte: b('k00500'), lt: b('k01500') }), modelRange(m, { gte: 'k00500', lt: 'k01500' }), `wide #${k}`);
            ok(blocksRead > 50, `wide #${k}: streamed (${blocksRead} blocks read)`);
          }
        } finally {
          Segment.prototype.readRun = readRun;
          Segment.prototype.readRunSync = readRunSync;
        }
      });
    });

    it('segments of different block sizes (16 KiB, the default before 2026-12-05, and 8 KiB) read and compact together', async () => {
      await withStore(async (open) => {
        const key = (i: number): Uint8Array => b(`k${String(i).padStart(5, '0')}`);
        const val = (i: number, tag: string): string => `${tag}${i}:`.padEnd(100 + (i % 200), 'v');
        let st = await open({ blockSizeBytes: 16 * 1024, autoCompact: false });
        for (let i = 0; i < 4000; i += 100) await st.write(Array.from({ length: 100 }, (_, j) => ({ type: 'put' as const, key: key(i + j), value: b(val(i + j, 'a')) })));
        await st.compact(); // L1 in 16 KiB blocks
        await st.close();
        st = await open({ autoCompact: false });
        assertEqual(st.blockSizeBytes, 8 * 1024);
        for (let i = 0; i < 4000; i += 3) await st.put(key(i), b(val(i, 'b')));
        await st.flush(); // L0 in 8 KiB blocks
        const want = (i: number): string => val(i, i % 3 === 0 ? 'b' : 'a');
        const check = async (what: string): Promise<void> => {
          for (const i of [0, 1, 2, 1999, 3998, 3999]) assertEqual(s(await st.get(key(i))), want(i), `${what}: get ${i}`);
          const all = await collect(st);
          assertEqual(all.length, 4000, what);
          for (let i = 0; i < 4000; i += 7) assertEqual(all[i], `${s(key(i))}=${want(i)}`, `${what}: scan ${i}`);
        };
        await check('mixed block sizes');
        await st.compact();
        await check('compacted');
        assertEqual((await st.verify()).ok, true);
      });
    });

    it('snapshots see a fixed state through later writes, flush and compaction', async () => {
      await withStore(async (open) => {
        const st = await open({ ...tinyOptions, autoCompact: false });
        for (let i = 0; i < 100; i++) await st.put(b(`k${String(i).padStart(2, '0')}`), b(`old${i}`));
        const snap = st.snapshot();
        const before = await collect(st);
        for (let i = 0; i < 100; i += 2) await st.put(b(`k${String(i).padStart(2, '0')}`), b(`new${i}`));
        for (let i = 1; i < 100; i += 3) await st.del(b(`k${String(i).padStart(2, '0')}`));
        await st.put(b('zz'), b('late'));
        assertEqual(s(await st.get(b('k00'), snap)), 'old0');
        assertEqual(await st.get(b('zz'), snap), undefined);
        await st.flush();
        await st.compact();
        assertEqual(s(await st.get(b('k00'), snap)), 'old0');
        assertEqual(s(await st.get(b('k01'), snap)), 'old1');
        assertEqual(await st.get(b('k01')), undefined);
        assertDeepStrings(await collect(st, { snapshot: snap }), before, 'iterate at snapshot');
        assertDeepStrings(await collect(st, { snapshot: snap, reverse: true }), [...before].reverse(), 'reverse at snapshot');
        const it = st.iterate(); // implicit snapshot: later writes are invisible
        await st.put(b('k000'), b('after-iterator'));
        const keys: string[] = [];
        for await (const [k] of it) keys.push(s(k)!);
        ok(!keys.includes('k000'), 'iterator does not see writes after its creation');
        snap.release();
        const live = (x: Store): number => (x as unknown as { levels(): { snapshots: number } }).levels().snapshots;
        assertEqual(live(st), 0, 'exhausted iterators and released snapshots hold nothing');
        const lim = st.iterate({ limit: 2 });
        await lim.next();
        await lim.next();
        assertEqual(live(st), 0, 'an iterator at its limit releases its snapshot');
        const open1 = st.iterate();
        await open1.next();
        assertEqual(live(st), 1, 'an open iterator holds its snapshot');
        await open1.close();
        assertEqual(live(st), 0);
        await st.compact();
        assertEqual(s(await st.get(b('k00'))), 'new0');
        assertEqual((await st.verify()).ok, true);
      });
    });

    it("a write keeps copies: the caller's key and value buffers may be reused at once (strict and relaxed)", async () => {
      await withStore(async (open) => {
        const st = await open({ memtableSizeBytes: 64 * 1024 });
        const key = b('reused-key');
        const val = new Uint8Array(100).fill(1);
        for (const durability of ['strict', 'relaxed'] as const) {
          const p = st.write([{ type: 'put', key, value: val }], { durability });
          // the caller fills the same buffers for its next write before this one is acknowledged
          key.fill(0x41);
          val.fill(2);
          await p;
          assertEqual(await st.get(key), undefined, `${durability}: the mutated key was never written`);
          const got = await st.get(b('reused-key'));
          ok(got !== undefined && got.length === 100 && got.every((x) => x === 1), `${durability}: the value as it was at write time`);
          key.set(b('reused-key'));
          val.fill(1);
        }
        // one buffer per batch, values as views of it (what a loader generating batches does)
        const batch = new Uint8Array(50 * 100);
        for (let round = 0; round < 3; round++) {
          const ops: WriteOp[] = [];
          for (let i = 0; i < 50; i++) {
            batch.fill(round * 50 + i, i * 100, i * 100 + 100);
            ops.push({ type: 'put', key: b(`batch${i}`), value: batch.subarray(i * 100, i * 100 + 100) });
          }
          await st.write(ops, { durability: round === 1 ? 'strict' : 'relaxed' });
          batch.fill(255);
          for (let i = 0; i < 50; i++) {
            const v = await st.get(b(`batch${i}`));
            ok(v !== undefined && v.every((x) => x === round * 50 + i), `round ${round} value ${i}`);
          }
        }
        await st.flush();
        const v = await st.get(b('batch7'));
        ok(v !== undefined && v.every((x) => x === 107), 'after flush');
      });
    });

    it('recycled memtables: snapshots, open iterators and nextBatch views keep their bytes through later flushes', async () => {
      await withStore(async (open) => {
        // 16 KiB memtables: 1 KiB chunks (records up to 256 bytes copied into them) handed on to
        // later memtables once a memtable is flushed and nothing holds it
        const st = await open({ memtableSizeBytes: 16 * 1024, blockSizeBytes: 512, segmentSizeBytes: 16 * 1024, durability: 'relaxed' });
        const k = (i: number): Uint8Array => b(`k${String(i).padStart(3, '0')}`);
        const put = async (round: number): Promise<void> => {
          for (let i = 0; i < 300; i += 3) {
            const ops: WriteOp[] = [];
            for (let j = i; j < i + 3; j++) ops.push({ type: 'put', key: k(j), value: b(`r${round}-${j}-`.padEnd(40 + (j % 7) * 9, 'x')) });
            await st.write(ops);
          }
        };
        const expect = (round: number, from = 0, to = 300): string[] => {
          const out: string[] = [];
          for (let j = from; j < to; j++) out.push(`k${String(j).padStart(3, '0')}=${`r${round}-${j}-`.padEnd(40 + (j % 7) * 9, 'x')}`);
          return out;
        };
        await put(0);
        // a batch of views, exhausted (its iterator lets go of the version at once): views of
        // memtable bytes that must stay intact however many memtables are recycled after it
        const views = await st.iterate({ gte: k(250) }).nextBatch(100);
        assertEqual(views.length, 50);
        for (let round = 1; round <= 3; round++) await put(round);
        await st.flush();
        assertDeepStrings(views.map(([kk, vv]) => `${s(kk)}=${s(vv)}`), expect(0, 250), 'views from a batch after many flushes');
        // a snapshot and a half-read iterator hold their memtables (with data: written again after
        // the flush) through later flushes
        await put(3);
        const snap = st.snapshot();
        const it = st.iterate();
        const head: string[] = [];
        for (let i = 0; i < 10; i++) {
          const r = await it.next();
          head.push(`${s(r.value![0])}=${s(r.value![1])}`);
        }
        for (let round = 4; round <= 6; round++) await put(round);
        await st.flush();
        const rest: string[] = [...head];
        for await (const [kk, vv] of it) rest.push(`${s(kk)}=${s(vv)}`);
        assertDeepStrings(rest, expect(3), 'an iterator opened before the flushes');
        assertDeepStrings(await collect(st, { snapshot: snap }), expect(3), 'a snapshot taken before the flushes');
        assertEqual(s(await st.get(k(123), snap)), expect(3, 123, 124)[0]!.split('=')[1]);
        snap.release();
        await put(7);
        await st.flush();
        await put(8); // in memtables built from recycled chunks
        assertDeepStrings(await collect(st), expect(8), 'latest state');
        assertDeepStrings(await collectBatches(st, {}, 7), expect(8), 'latest state in batches');
        assertEqual((await st.verify()).ok, true);
      });
    });

    it('the memtable pool stays within the memtables budget while writing and gives back all but one memtable once writes stop', async () => {
      await withStore(async (open) => {
        const budget = 16 * 1024;
        const st = await open({ memtableSizeBytes: budget, blockSizeBytes: 512, segmentSizeBytes: 16 * 1024, durability: 'relaxed' });
        const k = (i: number): Uint8Array => b(`k${String(i).padStart(4, '0')}`);
        let most = 0;
        for (let round = 0; round < 6; round++) {
          for (let i = 0; i < 600; i += 3) {
            const ops: WriteOp[] = [];
            for (let j = i; j < i + 3; j++) ops.push({ type: 'put', key: k(j), value: b(`r${round}-${j}-`.padEnd(60, 'x')) });
            await st.write(ops);
            most = Math.max(most, st.stats().memtableBytes);
          }
        }
        await st.flush();
        // three memtables (one writable, two immutable) and the pool: each memtable may pass its
        // budget by the batch, the 1 KiB chunk that crossed it and a doubling of its columns
        ok(most <= 3 * (budget + 4096), `memtables + pool held ${most} bytes while writing`);
        // a second after the last write the pool is trimmed (polled: timers run late under load)
        let idle = st.stats().memtableBytes;
        for (let i = 0; i < 50 && idle > budget; i++) {
          await new Promise((r) => setTimeout(r, 100));
          idle = st.stats().memtableBytes;
        }
        ok(idle <= budget, `an idle store's memtable + pool hold ${idle} bytes`);
        assertEqual(s(await st.get(k(599))), 'r5-599-'.padEnd(60, 'x'));
        assertEqual((await collect(st)).length, 600);
      });
    });

    it('a reopen that flushes the replayed memtable flushes it once (one flush runner)', async () => {
      await withStore(async (open) => {
        let st = await open({ memtableSizeBytes: 4 << 20 });
        for (let i = 0; i < 4000; i += 20) {
          const ops: WriteOp[] = [];
          for (let j = i; j < i + 20; j++) ops.push({ type: 'put', key: b(`k${String(j).padStart(5, '0')}`), value: b(`v${j}`.padEnd(60, '-')) });
          await st.write(ops);
        }
        await st.close();
        // the replayed memtable is over this budget: the open rotates it and flushes it in the background
        st = await open({ memtableSizeBytes: 8 * 1024, blockSizeBytes: 512 });
        for (const i of [0, 1234, 3999]) assertEqual(s(await st.get(b(`k${String(i).padStart(5, '0')}`))), `v${i}`.padEnd(60, '-'), 'read during the flush');
        await (st as unknown as { idle(): Promise<void> }).idle();
        assertEqual((st as unknown as { levels(): { l0: number; imms: number } }).levels().imms, 0);
        assertEqual((st as unknown as { levels(): { l0: number } }).levels().l0, 1, 'one segment from the replayed memtable');
        for (const i of [0, 1234, 3999]) assertEqual(s(await st.get(b(`k${String(i).padStart(5, '0')}`))), `v${i}`.padEnd(60, '-'));
        assertEqual((await collect(st)).length, 4000);
        assertEqual((await st.verify()).ok, true);
      });
    });

    it('close flushes a memtable of 1 MiB or more (the next open replays no WAL) and starts no compaction', async () => {
      await withStore(async (open) => {
        const levels = (x: Store): { l0: number; l1: number; imms: number } => (x as unknown as { levels(): { l0: number; l1: number; imms: number } }).levels();
        const key = (i: number): Uint8Array => b(`k${String(i).padStart(6, '0')}`);
        const val = (i: number, round: number): Uint8Array => b(`v${round}-${i}-`.padEnd(200, String(i % 10)));
        // L0 one below the compaction trigger: the close's flush reaches it
        let st = await open({ memtableSizeBytes: 4 << 20 });
        for (let f = 0; f < 3; f++) {
          await st.put(key(f), val(f, -1));
          await st.flush();
        }
        assertEqual(levels(st).l0, 3);
        for (let round = 0; round < 2; round++) {
          for (let i = 0; i < 6000; i += 100) {
            const ops: WriteOp[] = [];
            for (let j = i; j < i + 100; j++) ops.push({ type: 'put', key: key(j), value: val(j, round) });
            await st.write(ops);
          }
          // a relaxed write acknowledged from memory, not yet in the WAL: the flush keeps it
          await st.write([{ type: 'put', key: key(99999), value: val(99999, round) }], { durability: 'relaxed' });
          await st.close();
          st = await open({ memtableSizeBytes: 4 << 20 });
          assertEqual(st.recovery.walRecordsReplayed, 0, 'nothing to replay');
          assertEqual(levels(st).l0, 4 + round, 'one more L0 segment, no compaction');
          assertEqual(levels(st).l1, 0);
          for (const i of [0, 1, 2, 2999, 5999, 99999]) assertEqual(s(await st.get(key(i))), s(val(i, round)));
          assertEqual((await collect(st)).length, 6001);
        }
        // a small memtable is left to the WAL
        await st.put(key(7), val(7, 9));
        await st.close();
        st = await open({ memtableSizeBytes: 4 << 20 });
        assertEqual(st.recovery.walRecordsReplayed, 1);
        assertEqual(s(await st.get(key(7))), s(val(7, 9)));
        assertEqual((await st.verify()).ok, true);
      });
    });

    it('compaction keeps a key whose versions span many blocks, and the keys around it (blocks read into reused buffers)', async () => {
      await withStore(async (open) => {
        // no block cache: compaction reads every block from disk into its two reused buffers
        const st = await open({ memtableSizeBytes: 1 << 20, blockSizeBytes: 512, segmentSizeBytes: 1024, blockCacheSizeBytes: 0, autoCompact: false });
        // lengths vary so blocks hold 1-4 entries at different offsets (a stale view would show other bytes)
        const val = (tag: string, i: number): Uint8Array => b(`${tag}${i}:`.padEnd(60 + ((i * 137) % 350), String(i % 10)));
        for (let i = 0; i < 40; i++) await st.put(b(`a${String(i).padStart(2, '0')}`), val('a', i));
        const snaps: ReturnType<Store["snapshot"]>[] = [];
        for (let v = 0; v < 30; v++) {
          await st.put(b('m'), val('m', v));
          snaps.push(st.snapshot());
          if (v % 8 === 7) await st.flush();
        }
        for (let i = 0; i < 40; i++) await st.put(b(`z${String(i).padStart(2, '0')}`), val('z', i));
        await st.flush();
        const check = async (live: number[]): Promise<void> => {
          for (const v of live) {
            assertEqual(s(await st.get(b('m'), snaps[v])), s(val('m', v)), `m at snapshot ${v}`);
            const keys = await collect(st, { snapshot: snaps[v] });
            assertEqual(keys.length, 41, `keys at snapshot ${v}`);
            assertEqual(keys[40], `m=${s(val('m', v))}`, `m in the scan at snapshot ${v}`);
          }
          const all = await collect(st);
          assertEqual(all.filter((e) => e.startsWith('z')).length, 40, 'z keys after m');
          assertEqual(all.filter((e) => e.startsWith('a')).length, 40, 'a keys before m');
          assertEqual(s(await st.get(b('m'))), s(val('m', 29)));
          for (let i = 0; i < 40; i += 7) {
            assertEqual(s(await st.get(b(`a${String(i).padStart(2, '0')}`))), s(val('a', i)));
            assertEqual(s(await st.get(b(`z${String(i).padStart(2, '0')}`))), s(val('z', i)));
          }
          assertEqual((await st.verify()).ok, true);
        };
        await st.compact(); // L0 -> L1: m's 12 versions, ~1 per block, in one run of blocks
        await check([0, 3, 7, 11, 20, 29]);
        await st.put(b('m0'), val('n', 0));
        await st.flush();
        await st.compact(); // reads that run back through the two reused block buffers
        await check([0, 5, 11, 29]);
        for (let v = 0; v < 29; v++) if (v !== 16) snaps[v]!.release();
        await st.compact(); // drops the versions no snapshot needs: the reader skips whole blocks
        await check([16, 29]);
        assertEqual(s(await st.get(b('m0'))), s(val('n', 0)));
        for (const x of snaps) x.release();
        await st.compact();
        await check([]);
      });
    });

    it('group commit: 64 concurrent strict writers share syncs, all acknowledged writes are durable', async () => {
      await withStore(async (open) => {
        let st = await open();
        const syncs0 = st.stats().walSyncs;
        const ps: Promise<unknown>[] = [];
        for (let i = 0; i < 64; i++) ps.push(st.put(b(`c${i}`), b(`v${i}`)));
        const seqs = (await Promise.all(ps)) as { seq: bigint }[];
        assertEqual(new Set(seqs.map((x) => x.seq)).size, 64, 'distinct sequence numbers');
        const syncs = st.stats().walSyncs - syncs0;
        // the first put's group is in flight while the other 63 queue: they form the next group
        ok(syncs >= 1 && syncs <= 8, `grouped: ${syncs} syncs for 64 concurrent strict writes`);
        await st.close();
        st = await open();
        for (let i = 0; i < 64; i++) assertEqual(s(await st.get(b(`c${i}`))), `v${i}`);
      });
    });

    it("relaxed durability acknowledges from memory and is synced by close", async () => {
      await withStore(async (open) => {
        let st = await open({ durability: 'relaxed' });
        for (let i = 0; i < 50; i++) await st.put(b(`r${i}`), b(`${i}`));
        await st.write([{ type: 'put', key: b('strict'), value: b('1') }], { durability: 'strict' });
        await st.close();
        st = await open();
        assertEqual(s(await st.get(b('r49'))), '49');
        assertEqual(s(await st.get(b('strict'))), '1');
      });
    });

    it('background compaction merges small L0 segments without rewriting L1, keeping tombstones', async () => {
      await withStore(async (open) => {
        const st = await open({ memtableSizeBytes: 2048, blockSizeBytes: 512, segmentSizeBytes: 64 * 1024 });
        const m = new Map<string, string>();
        const ops: WriteOp[] = [];
        for (let i = 0; i < 2000; i++) {
          const k = `k${String(i).padStart(4, '0')}`;
          ops.push({ type: 'put', key: b(k), value: b(`v${i}`.repeat(5)) });
          m.set(k, `v${i}`.repeat(5));
        }
        await st.write(ops);
        await st.flush();
        await st.compact(); // one big L1
        const levels = (x: Store): { l0: number; l1: number } => (x as unknown as { levels(): { l0: number; l1: number } }).levels();
        const l1Before = levels(st).l1;
        for (let round = 0; round < 6; round++) {
          for (let j = 0; j < 8; j++) {
            const i = (round * 97 + j * 13) % 2000;
            const k = `k${String(i).padStart(4, '0')}`;
            if (j % 3 === 0) {
              await st.del(b(k));
              m.delete(k);
            } else {
              await st.put(b(k), b(`r${round}`));
              m.set(k, `r${round}`);
            }
          }
          await st.flush();
        }
        await (st as unknown as { idle(): Promise<void> }).idle();
        const after = levels(st);
        ok(after.l1 === l1Before && after.l0 < 6, `L0 merged without rewriting L1: ${JSON.stringify(after)}, L1 before ${l1Before}`);
        assertDeepStrings(await collect(st), modelRange(m, {}), 'state after L0-only merges (tombstones kept)');
        for (const k of ['k0000', 'k0013', 'k0097']) assertEqual(s(await st.get(b(k))), m.get(k), k);
        await st.compact();
        assertDeepStrings(await collect(st), modelRange(m, {}), 'state after the final full merge');
        ok(l1Before >= 1, 'an L1 existed');
        for (const k of ['k0000', 'k0013', 'k0097']) assertEqual(s(await st.get(b(k))), m.get(k), k);
        assertEqual((await st.verify()).ok, true);
      });
    });

    it('compaction never blocks readers: gets issued during compact() complete before it does', async () => {
      await withStore(async (open) => {
        const st = await open({ memtableSizeBytes: 1 << 20, blockSizeBytes: 512, segmentSizeBytes: 16 * 1024, autoCompact: false });
        const m = new Map<string, string>();
        for (let r = 0; r < 3; r++) {
          const ops: WriteOp[] = [];
          for (let i = r; i < 1500; i += 2) {
            const k = `k${String(i).padStart(4, '0')}`;
            ops.push({ type: 'put', key: b(k), value: b(`v${r}-${i}`.repeat(4)) });
            m.set(k, `v${r}-${i}`.repeat(4));
          }
          await st.write(ops);
          await st.flush(); // three overlapping L0 segments
        }
        let compacted = false;
        const compaction = st.compact().then(() => {
          compacted = true;
        });
        const keys = ['k0000', 'k0001', 'k0750', 'k1499', 'k1498', 'k0333', 'k9999'];
        // concurrent gets, issued after compaction started: all resolve while it still runs
        const values = await Promise.all(keys.map((k) => st.get(b(k))));
        ok(!compacted, 'reads waited for the compaction');
        keys.forEach((k, i) => assertEqual(s(values[i]), m.get(k), k));
        // and sequential reads keep completing while it runs
        let during = 0;
        for (let i = 0; !compacted && i < 2000; i++) {
          const k = `k${String((i * 37) % 1500).padStart(4, '0')}`;
          assertEqual(s(await st.get(b(k))), m.get(k), k);
          if (!compacted) during++;
        }
        await compaction;
        ok(during >= 3, `only ${during} reads completed during the compaction`);
        assertDeepStrings(await collect(st, { gte: b('k0100'), limit: 5 }), modelRange(m, { gte: 'k0100', limit: 5 }), 'state after compaction');
      });
    });

    it('a value inside the previous long value is written once (WAL version 3+) and survives replay, flush and walSince; a version 2 WAL still replays', async () => {
      await withStore(async (open, loc) => {
        let st = await open();
        const base = st.stats().seq;
        // a record holding a document, then the document's own put: a view of the record's tail
        const rec = new Uint8Array(400);
        for (let i = 0; i < rec.length; i++) rec[i] = (i * 7) & 0xff;
        const ops: WriteOp[] = [
          { type: 'put', key: b('log1'), value: rec },
          { type: 'put', key: b('doc1'), value: rec.subarray(30) },
          { type: 'put', key: b('idx1'), value: b('short') },
          { type: 'put', key: b('doc2'), value: rec.subarray(100, 300) },
        ];
        await st.write(ops);
        const want = ['doc1', 'doc2', 'idx1', 'log1'].map((k) => `${k}=${td.decode((ops.find((o) => s(o.key) === k) as { value: Uint8Array }).value)}`);
        rec.fill(0); // the caller's memory is its own again
        const shipped: Uint8Array[] = [];
        for await (const r of (st as unknown as { walSince(after: bigint): AsyncIterable<{ seq: bigint; record: Uint8Array }> }).walSince(base)) shipped.push(r.record);
        assertEqual(shipped.length, 1);
        ok(shipped[0]!.length < 400 + 370 + 200, 'shared bytes are written once');
        assertDeepStrings(decodeWalRecord(shipped[0]!).ops.map((o) => `${s(o.key)}=${o.type === 'put' ? td.decode(o.value) : ''}`).sort(), want, 'decoded');
        assertDeepStrings(await collect(st), want, 'memtable');
        await st.close();
        st = await open();
        assertEqual(st.recovery.walRecordsReplayed, 1);
        assertDeepStrings(await collect(st), want, 'after WAL replay');
        await st.flush();
        assertDeepStrings(await collect(st), want, 'after flush');
        // a store written before shared values: its WAL says version 2 (same records otherwise; a
        // version 2 reader does not look past a record's ops, where version 5 keeps its synced mark)
        await st.put(b('old'), b('v2'));
        await st.close();
        const a = await factory.open(loc);
        const wals = (await a.list()).filter((f) => f.endsWith('.wal'));
        let patched = 0;
        for (const w of wals) {
          const h = await a.open(w);
          if ((await h.size()) > 8 && (await h.read(4, 1))[0] === 5) {
            await h.write(4, Uint8Array.of(2));
            await h.sync();
            patched++;
          }
          await h.close();
        }
        await a.close();
        assertEqual(patched, 1);
        st = await open();
        assertEqual(st.recovery.walRecordsReplayed, 1);
        assertEqual(s(await st.get(b('old'))), 'v2');
        assertDeepStrings((await collect(st)).filter((e) => !e.startsWith('old')), want, 'after a version 2 WAL');
        assertEqual((await st.verify()).ok, true);
      });
    });

    it('walSince ships self-describing WAL records that rebuild the same state in order', async () => {
      await withStore(async (open) => {
        const st = await open();
        const base = st.stats().seq;
        await st.write([{ type: 'put', key: b('r1'), value: b('a') }, { type: 'put', key: b('r2'), value: b('b') }]);
        await st.write([{ type: 'del', key: b('r1') }]);
        await st.put(b('r3'), new Uint8Array(0));
        const shipped: { seq: bigint; record: Uint8Array }[] = [];
        for await (const r of (st as unknown as { walSince(after: bigint): AsyncIterable<{ seq: bigint; record: Uint8Array }> }).walSince(base)) shipped.push(r);
        assertEqual(shipped.map((r) => r.seq).join(','), [base + 1n, base + 2n, base + 3n].join(','));
        const loc2 = await factory.newLocation();
        const replica = await openStore(await factory.open(loc2));
        try {
          for (const r of shipped) {
            const d = decodeWalRecord(r.record);
            assertEqual(d.seq, r.seq);
            await replica.write(d.ops);
          }
          assertDeepStrings(await collect(replica), await collect(st), 'replica state');
        } finally {
          await replica.close();
          await factory.cleanup?.(loc2);
        }
        await st.flush();
        await assertRejectsCode((async () => {
          for await (const _ of (st as unknown as { walSince(after: bigint): AsyncIterable<unknown> }).walSince(base)) void _;
        })(), 'NOT_FOUND');
      });
    });

    it('a second open of the same location is LOCKED', async () => {
      await withStore(async (open, loc) => {
        const st = await open();
        await st.put(b('x'), b('1'));
        await assertRejectsCode(openStore(await factory.open(loc)), 'LOCKED');
      });
    });

    it("point index: a key whose versions span two blocks is found at its newest version, whichever block was indexed last", async () => {
      await withStore(async (open) => {
        // 100-byte values in 128-byte blocks: one entry per block, so the versions of a key kept
        // for a snapshot at the flush lie in blocks of their own
        const opts: EngineOptions = { memtableSizeBytes: 1 << 20, blockSizeBytes: 128, blockCacheSizeBytes: 64 * 1024, autoCompact: false };
        let st = await open(opts);
        const v = (tag: string): string => tag.padEnd(100, '.');
        await st.put(b('a'), b(v('a')));
        await st.put(b('k'), b(v('old')));
        const snap = st.snapshot();
        await st.put(b('k'), b(v('new')));
        await st.put(b('z'), b(v('z')));
        await st.flush();
        snap.release();
        await st.close();
        st = await open(opts);
        for (let r = 0; r < 3; r++) {
          // reads of every key in both orders: blocks read, cached and indexed in runs and one by one
          for (const k of r === 1 ? ['z', 'k', 'a'] : ['a', 'k', 'z']) {
            assertEqual(s(await st.get(b(k))), v(k === 'k' ? 'new' : k), `get ${k}`);
            const at = located(st, b(k));
            if (at !== 'io') assertEqual(at, v(k === 'k' ? 'new' : k), `locateCached ${k}`);
          }
        }
        assertEqual(located(st, b('k')), v('new'));
      });
    });

    it('model-based point reads: the point index over cached blocks (hints, evictions, versions spanning blocks, snapshots) answers as a Map', async () => {
      const key = fc.integer({ min: 0, max: 20 }).map((i) => `k${String(i).padStart(2, '0')}`);
      const cmd = fc.oneof(
        { weight: 6, arbitrary: fc.record({ t: fc.constant('put' as const), k: key, v: fc.string({ maxLength: 60 }) }) },
        { weight: 2, arbitrary: fc.record({ t: fc.constant('del' as const), k: key }) },
        { weight: 1, arbitrary: fc.record({ t: fc.constant('flush' as const) }) },
        { weight: 1, arbitrary: fc.record({ t: fc.constant('compact' as const) }) },
        { weight: 1, arbitrary: fc.record({ t: fc.constant('reopen' as const) }) },
        { weight: 1, arbitrary: fc.record({ t: fc.constant('snap' as const) }) },
        { weight: 6, arbitrary: fc.record({ t: fc.constant('read' as const), k: key }) },
        { weight: 2, arbitrary: fc.record({ t: fc.constant('readAll' as const) }) },
      );
      const keys = Array.from({ length: 21 }, (_, i) => `k${String(i).padStart(2, '0')}`);
      await fc.assert(
        fc.asyncProperty(fc.array(cmd, { minLength: 20, maxLength: 100, size: 'max' }), async (cmds) => {
          await withStore(async (open) => {
            try {
              // 128-byte blocks (a key's versions span blocks), a cache of ~100 of them (evictions) and a
              // point index of 64 slots (keys of several segments share buckets)
              const opts: EngineOptions = { memtableSizeBytes: 1024, blockSizeBytes: 128, segmentSizeBytes: 1024, blockCacheSizeBytes: 16 * 1024 };
              let st = await open(opts);
              const m = new Map<string, string>();
              let snaps: { snap: Snapshot; m: Map<string, string> }[] = [];
              const read = async (k: string): Promise<void> => {
                // twice: the first probe of a cached block indexes it, the second takes the hint
                for (let r = 0; r < 2; r++) {
                  const at = located(st, b(k));
                  if (at !== 'io') assertEqual(at, m.get(k), `locateCached ${k}`);
                  const [ra] = locatedRead(st, [b(k)]);
                  if (ra !== 'io') assertEqual(ra, m.get(k), `locateRead ${k}`);
                  const cached = st.getCached(b(k));
                  if (cached !== undefined) assertEqual(cached === null ? undefined : s(cached), m.get(k), `getCached ${k}`);
                  for (const h of snaps) {
                    const c = st.getCached(b(k), h.snap);
                    if (c !== undefined) assertEqual(c === null ? undefined : s(c), h.m.get(k), `getCached ${k} at a snapshot`);
                    assertEqual(s(await st.get(b(k), h.snap)), h.m.get(k), `get ${k} at a snapshot`);
                  }
                  assertEqual(s(await st.get(b(k))), m.get(k), `get ${k}`);
                }
              };
              for (const c of cmds) {
                if (await modelWrite(st, m, c)) continue;
                if (c.t === 'reopen') {
                  for (const h of snaps) h.snap.release();
                  snaps = [];
                  await st.close();
                  st = await open(opts);
                } else if (c.t === 'snap') {
                  snaps.push({ snap: st.snapshot(), m: new Map(m) });
                  if (snaps.length > 2) snaps.shift()!.snap.release();
                } else if (c.t === 'read') await read(c.k);
                else {
                  for (const k of keys) await read(k);
                  // a window of all keys prefetched, then located in turn (in both orders)
                  const ks = c.t === 'readAll' && m.size % 2 === 1 ? [...keys].reverse() : keys;
                  locatedRead(st, ks.map(b)).forEach((at, i) => at !== 'io' && assertEqual(at, m.get(ks[i]!), `locateRead in a window ${ks[i]}`));
                }
              }
              for (const k of keys) await read(k);
              for (const h of snaps) h.snap.release();
            } catch (err) { console.error('MODEL FAILURE', JSON.stringify(cmds)); throw err; }
          });
        }),
        { seed: 43, numRuns: options.modelRuns ?? 40, endOnFailure: true },
      );
    });

    it('model-based: random put/del/batch/flush/compact/reopen sequences match a Map', async () => {
      const key = fc.integer({ min: 0, max: 20 }).map((i) => `k${String(i).padStart(2, '0')}`);
      const bound = fc.oneof(key, fc.constantFrom('k', 'k0', 'k1', 'k2', 'k05~', 'k1~', 'j', 'l'));
      const cmd = fc.oneof(
        { weight: 6, arbitrary: fc.record({ t: fc.constant('put' as const), k: key, v: fc.string({ maxLength: 40 }) }) },
        { weight: 2, arbitrary: fc.record({ t: fc.constant('del' as const), k: key }) },
        { weight: 2, arbitrary: fc.record({ t: fc.constant('batch' as const), ops: fc.array(fc.tuple(key, fc.option(fc.string({ maxLength: 10 }))), { maxLength: 12 }) }) },
        { weight: 1, arbitrary: fc.record({ t: fc.constant('flush' as const) }) },
        { weight: 1, arbitrary: fc.record({ t: fc.constant('compact' as const) }) },
        { weight: 1, arbitrary: fc.record({ t: fc.constant('reopen' as const) }) },
        { weight: 1, arbitrary: fc.record({ t: fc.constant('check' as const), lo: key, reverse: fc.boolean() }) },
        // both bounds, inclusive or exclusive, often sharing a prefix with each other and the keys
        { weight: 1, arbitrary: fc.record({ t: fc.constant('bounds' as const), lo: bound, hi: bound, loEx: fc.boolean(), hiEx: fc.boolean(), reverse: fc.boolean() }) },
      );
      await fc.assert(
        fc.asyncProperty(fc.array(cmd, { minLength: 20, maxLength: 80, size: 'max' }), async (cmds) => {
          await withStore(async (open) => {
            try {
            const opts: EngineOptions = { memtableSizeBytes: 1024, blockSizeBytes: 128, segmentSizeBytes: 1024 };
            let st = await open(opts);
            const m = new Map<string, string>();
            for (const c of cmds) {
              if (await modelWrite(st, m, c)) continue;
              if (c.t === 'batch') {
                await st.write(c.ops.map(([k, v]) => (v === null ? { type: 'del', key: b(k) } : { type: 'put', key: b(k), value: b(v) })));
                for (const [k, v] of c.ops) v === null ? m.delete(k) : m.set(k, v);
              } else if (c.t === 'reopen') {
                await st.close();
                st = await open(opts);
              } else if (c.t === 'bounds') {
                const o = { [c.loEx ? 'gt' : 'gte']: c.lo, [c.hiEx ? 'lt' : 'lte']: c.hi, reverse: c.reverse };
                const ob = { [c.loEx ? 'gt' : 'gte']: b(c.lo), [c.hiEx ? 'lt' : 'lte']: b(c.hi), reverse: c.reverse };
                assertDeepStrings(await collect(st, ob), modelRange(m, o), 'bounded range');
                assertDeepStrings(await collectBatches(st, ob, 2), modelRange(m, o), 'bounded range in batches');
              } else if (c.t === 'check') {
                assertDeepStrings(await collect(st, { gte: b(c.lo), reverse: c.reverse }), modelRange(m, { gte: c.lo, reverse: c.reverse }), 'range');
                assertDeepStrings(await collectBatches(st, { gte: b(c.lo), reverse: c.reverse }, 2), modelRange(m, { gte: c.lo, reverse: c.reverse }), 'range in batches');
              }
            }
            assertDeepStrings(await collect(st), modelRange(m, {}), 'final scan');
            for (let i = 0; i <= 20; i++) {
              const k = `k${String(i).padStart(2, '0')}`;
              assertEqual(s(await st.get(b(k))), m.get(k), `get ${k}`);
              const cached = st.getCached(b(k));
              if (cached !== undefined) assertEqual(cached === null ? undefined : s(cached), m.get(k), `getCached ${k}`);
              const at = located(st, b(k));
              if (at !== 'io') assertEqual(at, m.get(k), `locateCached ${k}`);
            }
            assertEqual((await st.verify()).ok, true, 'verify');
            } catch (err) { console.error('MODEL FAILURE', JSON.stringify(cmds)); throw err; }
          });
        }),
        { seed: 42, numRuns: options.modelRuns ?? 40, endOnFailure: true },
      );
    });
  });
}
