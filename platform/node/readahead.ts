/**
 * Background reads for the Node fs adapter's `FileHandle.readAhead` (src/storage/adapter.ts): one
 * worker thread preads requested ranges into slots of one SharedArrayBuffer while the main thread
 * goes on. Requests and completions pass through an Int32Array on shared memory (Atomics), not
 * messages: the main thread takes a finished read without an event-loop turn (a document fetch
 * runs synchronously from one read to the next, so a thread-pool read's callback would only run
 * after the whole query), and waits (Atomics.wait) for one still running.
 *
 * Slot s: state (free, requested, done, failed), fd, length, bytes read; its offset in a Float64Array.
 * The worker sleeps on a request counter. A failed read reports no error: the caller reads the
 * range again synchronously, which reports it. A file descriptor is closed only after the reads
 * of it in flight are done (`settleFd`), so the worker never reads a descriptor reused by another file.
 */
import { Worker } from 'node:worker_threads';

/**
 * Bytes per slot: the storage engine reads ahead runs of up to 1 MiB (Segment.readAheadAfter). The
 * slots are taken last-given-back first, so the few in use at a time are the only ones touched.
 */
export const readAheadSlotBytes = 1024 * 1024;
const slots = 16;
const free = 0;
const requested = 1;
const done = 2;
const failed = 3;
/** ctl[0]: request counter (the worker waits on it); ctl[1]: 1 once the worker runs; slot s at 4 + 4s. */
const slotBase = 4;

// plain JavaScript, evaluated in the worker (no TypeScript, no imports of this package)
const workerSource = `
const { workerData } = require('node:worker_threads');
const { readSync } = require('node:fs');
const c = new Int32Array(workerData.ctl);
const o = new Float64Array(workerData.offsets);
const views = [];
for (let s = 0; s < ${slots}; s++) views.push(new Uint8Array(workerData.data, s * ${readAheadSlotBytes}, ${readAheadSlotBytes}));
Atomics.store(c, 1, 1);
let seen = 0;
for (;;) {
  Atomics.wait(c, 0, seen);
  seen = Atomics.load(c, 0);
  for (let s = 0; s < ${slots}; s++) {
    const b = ${slotBase} + 4 * s;
    if (Atomics.load(c, b) !== ${requested}) continue;
    const fd = c[b + 1];
    const len = c[b + 2];
    let got = 0;
    let state = ${done};
    try {
      while (got < len) {
        const n = readSync(fd, views[s], got, len - got, o[s] + got);
        if (n === 0) break;
        got += n;
      }
    } catch {
      state = ${failed};
    }
    c[b + 3] = got;
    Atomics.store(c, b, state);
    Atomics.notify(c, b);
  }
}
`;

interface Pool {
  readonly ctl: Int32Array;
  readonly offsets: Float64Array;
  readonly views: Uint8Array[];
  readonly freeSlots: number[];
  worker: Worker | undefined;
}

/**
 * Not under Deno's node: layer: there a file descriptor is a resource of the isolate that opened
 * it, which a worker cannot read.
 */
export const readAheadSupported = !('Deno' in globalThis);

let pool: Pool | undefined;
/** Set when the worker could not start or died: no more background reads in this process. */
let disabled = false;

function startPool(): Pool | undefined {
  if (disabled || !readAheadSupported) return undefined;
  if (pool !== undefined) return pool;
  const ctlBuf = new SharedArrayBuffer((slotBase + 4 * slots) * 4);
  const offBuf = new SharedArrayBuffer(slots * 8);
  const dataBuf = new SharedArrayBuffer(slots * readAheadSlotBytes);
  const views: Uint8Array[] = [];
  for (let s = 0; s < slots; s++) views.push(new Uint8Array(dataBuf, s * readAheadSlotBytes, readAheadSlotBytes));
  const p: Pool = {
    ctl: new Int32Array(ctlBuf),
    offsets: new Float64Array(offBuf),
    views,
    freeSlots: Array.from({ length: slots }, (_, s) => slots - 1 - s),
    worker: undefined,
  };
  try {
    const w = new Worker(workerSource, { eval: true, workerData: { ctl: ctlBuf, offsets: offBuf, data: dataBuf } });
    w.unref();
    const stop = (): void => {
      disabled = true;
      // reads it never finished count as failed: their callers read again on this thread
      for (let s = 0; s < slots; s++) {
        const b = slotBase + 4 * s;
        if (Atomics.compareExchange(p.ctl, b, requested, failed) === requested) Atomics.notify(p.ctl, b);
      }
    };
    w.on('error', stop);
    w.on('exit', stop);
    p.worker = w;
  } catch {
    disabled = true;
    return undefined;
  }
  pool = p;
  return p;
}

/** A background read into a slot; see `FileHandle.readAhead`. */
export class ReadAheadTicket {
  readonly buf: Uint8Array;
  readonly fd: number;
  private slot: number;
  constructor(slot: number, fd: number) {
    this.slot = slot;
    this.fd = fd;
    this.buf = pool!.views[slot]!;
  }

  /** Blocks until the read is over: the bytes read (from buf[0]), or -1 when it failed. */
  wait(): number {
    const s = this.slot;
    if (s < 0) return -1;
    const c = pool!.ctl;
    const b = slotBase + 4 * s;
    let st = Atomics.load(c, b);
    while (st === requested) {
      Atomics.wait(c, b, requested);
      st = Atomics.load(c, b);
    }
    return st === done ? c[b + 3]! : -1;
  }

  /** Gives the slot back (after the read is over): buf may then be overwritten at any time. */
  release(): void {
    const s = this.slot;
    if (s < 0) return;
    this.wait();
    this.slot = -1;
    const p = pool!;
    Atomics.store(p.ctl, slotBase + 4 * s, free);
    p.freeSlots.push(s);
  }
}

/**
 * Starts a read of `length` bytes of `fd` at `offset` on the worker: a ticket, or undefined when
 * there is no worker or no free slot (the caller then reads on its own). Before the worker runs
 * (its start takes tens of milliseconds) nothing is started.
 */
export function readAhead(fd: number, offset: number, length: number): ReadAheadTicket | undefined {
  if (length > readAheadSlotBytes || length <= 0) return undefined;
  const p = startPool();
  if (p === undefined || Atomics.load(p.ctl, 1) !== 1) return undefined;
  const s = p.freeSlots.pop();
  if (s === undefined) return undefined;
  const c = p.ctl;
  const b = slotBase + 4 * s;
  c[b + 1] = fd;
  c[b + 2] = length;
  c[b + 3] = 0;
  p.offsets[s] = offset;
  Atomics.store(c, b, requested);
  Atomics.add(c, 0, 1);
  Atomics.notify(c, 0);
  return new ReadAheadTicket(s, fd);
}

/** Waits for every read of `fd` in flight (call before closing it). */
export function settleFd(fd: number): void {
  const p = pool;
  if (p === undefined) return;
  const c = p.ctl;
  for (let s = 0; s < slots; s++) {
    const b = slotBase + 4 * s;
    while (Atomics.load(c, b) === requested && c[b + 1] === fd) Atomics.wait(c, b, requested);
  }
}
