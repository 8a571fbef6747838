/**
 * Cursors with the MongoDB driver's shape. A cursor is lazy: nothing runs until the first
 * `next`/`hasNext`/`toArray`/iteration. Results stream from a source generator; `batchSize` only
 * bounds how many documents are buffered ahead. `map` transforms are applied in order.
 */
import { LargetableError } from '../errors.ts';
import type { Document } from '../query/values.ts';

export abstract class AbstractCursor<T = Document> implements AsyncIterable<T> {
  private source: AsyncGenerator<Document> | undefined;
  private batches: AsyncGenerator<Document[]> | undefined;
  private started = false;
  private buffer: Document[] = [];
  /** Index of the next unread document in `buffer`. */
  private head = 0;
  private exhausted = false;
  private _closed = false;
  protected transforms: ((d: any) => any)[] = [];
  protected _batchSize = 0;

  /** Build the result generator (called once, on first read). */
  protected abstract open(): AsyncGenerator<Document>;

  /** Optional batched source (one async step per batch); used instead of `open` when given. */
  protected openBatches(): AsyncGenerator<Document[]> | undefined {
    return undefined;
  }

  protected assertNotStarted(): void {
    if (this.started) throw new LargetableError('INVALID_ARGUMENT', 'Cursor is already initialized');
  }

  get closed(): boolean {
    return this._closed;
  }

  get killed(): boolean {
    return this._closed;
  }

  /** Documents currently buffered on the client side. */
  bufferedCount(): number {
    return this.buffer.length - this.head;
  }

  batchSize(n: number): this {
    this.assertNotStarted();
    if (!Number.isInteger(n) || n < 0) throw new LargetableError('INVALID_ARGUMENT', 'batchSize must be a non-negative integer');
    this._batchSize = n;
    return this;
  }

  map<U>(fn: (doc: T) => U): AbstractCursor<U> {
    this.assertNotStarted();
    this.transforms.push(fn);
    return this as unknown as AbstractCursor<U>;
  }

  private async fill(): Promise<void> {
    if (this.exhausted || this.head < this.buffer.length) return;
    if (this._closed) return;
    this.buffer = [];
    this.head = 0;
    if (!this.started) {
      this.started = true;
      this.batches = this.openBatches();
      if (!this.batches) this.source = this.open();
    }
    const want = this._batchSize > 0 ? this._batchSize : 1;
    if (this.batches) {
      while (this.buffer.length < want) {
        const r = await this.batches.next();
        if (r.done) {
          this.exhausted = true;
          break;
        }
        if (this.buffer.length === 0) this.buffer = r.value;
        else for (const d of r.value) this.buffer.push(d);
      }
      return;
    }
    while (this.buffer.length < want) {
      const r = await this.source!.next();
      if (r.done) {
        this.exhausted = true;
        break;
      }
      this.buffer.push(r.value);
    }
  }

  private transform(d: Document): T {
    let v: any = d;
    for (const f of this.transforms) v = f(v);
    return v as T;
  }

  async hasNext(): Promise<boolean> {
    if (this._closed) return false;
    await this.fill();
    return this.head < this.buffer.length;
  }

  async next(): Promise<T | null> {
    if (this._closed) return null;
    await this.fill();
    const d = this.head < this.buffer.length ? this.buffer[this.head++] : undefined;
    if (d === undefined) {
      await this.close();
      return null;
    }
    return this.transform(d);
  }

  /** Same as next() here (there is no network round trip to avoid). */
  tryNext(): Promise<T | null> {
    return this.next();
  }

  async toArray(): Promise<T[]> {
    // each buffered batch is taken whole (a batch is an array the source hands over and never
    // touches again) and the batches are joined once, at the end: pushing every document into one
    // growing array left about twice the result's array in garbage (at 20,000 results a query's
    // live documents are copied by every scavenge that garbage brings on)
    const parts: T[][] = [];
    let total = 0;
    for (;;) {
      if (this._closed) break;
      await this.fill();
      const buf = this.buffer;
      if (this.head >= buf.length) break;
      let part: T[];
      if (this.head === 0 && this.transforms.length === 0) part = buf as T[];
      else {
        part = new Array(buf.length - this.head);
        for (let k = 0; this.head < buf.length; k++) part[k] = this.transform(buf[this.head++]!);
      }
      this.head = buf.length;
      parts.push(part);
      total += part.length;
    }
    await this.close();
    if (parts.length === 1) return parts[0]!;
    const out: T[] = new Array(total);
    let p = 0;
    for (const part of parts) for (let k = 0; k < part.length; k++) out[p++] = part[k]!;
    return out;
  }

  async forEach(fn: (doc: T) => boolean | void | Promise<boolean | void>): Promise<void> {
    for (;;) {
      const d = await this.next();
      if (d === null) return;
      if ((await fn(d)) === false) {
        await this.close();
        return;
      }
    }
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    try {
      for (;;) {
        const d = await this.next();
        if (d === null) return;
        yield d;
      }
    } finally {
      await this.close();
    }
  }

  stream(): AsyncIterable<T> {
    return this;
  }

  async close(): Promise<void> {
    if (this._closed) return;
    this._closed = true;
    this.buffer = [];
    this.head = 0;
    if (this.source) await this.source.return(undefined);
    if (this.batches) await this.batches.return(undefined);
  }

  /** Reset to the unstarted state (the query runs again). */
  rewind(): void {
    if (this.source) void this.source.return(undefined);
    if (this.batches) void this.batches.return(undefined);
    this.source = undefined;
    this.batches = undefined;
    this.started = false;
    this.buffer = [];
    this.head = 0;
    this.exhausted = false;
    this._closed = false;
  }
}

/** Top-k buffer: keeps the k smallest items under `cmp`, in order. */
export class TopK<T> {
  readonly items: T[] = [];
  readonly k: number;
  private readonly cmp: (a: T, b: T) => number;
  constructor(k: number, cmp: (a: T, b: T) => number) {
    this.k = k;
    this.cmp = cmp;
  }
  /** The k items are held: a new item must sort before `worst()` to get in. */
  get full(): boolean {
    return this.items.length >= this.k;
  }
  worst(): T | undefined {
    return this.items[this.items.length - 1];
  }
  push(x: T): void {
    const a = this.items;
    if (this.k <= 0) return;
    if (a.length >= this.k && this.cmp(x, a[a.length - 1]!) >= 0) return;
    let lo = 0;
    let hi = a.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.cmp(a[mid]!, x) <= 0) lo = mid + 1;
      else hi = mid;
    }
    a.splice(lo, 0, x);
    if (a.length > this.k) a.pop();
  }
}
