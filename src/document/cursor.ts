/**
 * Cursors with the MongoDB driver's shape. A cursor is lazy: nothing runs until the first
 * `next`/`hasNext`/`toArray`/iteration. Results stream from a source generator; `batchSize` only
 * bounds how many documents are buffered ahead. `map` transforms are applied in order.
 */
import { LargetableError } from '../errors.ts';
import type { Document } from '../query/values.ts';

export abstract class AbstractCursor<T = Document> implements AsyncIterable<T> {
  private source: AsyncGenerator<Document> | undefined;
  private buffer: Document[] = [];
  private exhausted = false;
  private _closed = false;
  protected transforms: ((d: any) => any)[] = [];
  protected _batchSize = 0;

  /** Build the result generator (called once, on first read). */
  protected abstract open(): AsyncGenerator<Document>;

  protected assertNotStarted(): void {
    if (this.source) throw new LargetableError('INVALID_ARGUMENT', 'Cursor is already initialized');
  }

  get closed(): boolean {
    return this._closed;
  }

  get killed(): boolean {
    return this._closed;
  }

  /** Documents currently buffered on the client side. */
  bufferedCount(): number {
    return this.buffer.length;
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
    if (this.exhausted || this.buffer.length > 0) return;
    if (this._closed) return;
    if (!this.source) this.source = this.open();
    const want = this._batchSize > 0 ? this._batchSize : 1;
    while (this.buffer.length < want) {
      const r = await this.source.next();
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
    return this.buffer.length > 0;
  }

  async next(): Promise<T | null> {
    if (this._closed) return null;
    await this.fill();
    const d = this.buffer.shift();
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
    const out: T[] = [];
    for (;;) {
      const d = await this.next();
      if (d === null) break;
      out.push(d);
    }
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
    if (this.source) await this.source.return(undefined);
  }

  /** Reset to the unstarted state (the query runs again). */
  rewind(): void {
    if (this.source) void this.source.return(undefined);
    this.source = undefined;
    this.buffer = [];
    this.exhausted = false;
    this._closed = false;
  }
}

/** Top-k buffer: keeps the k smallest items under `cmp`, in order. */
export class TopK<T> {
  readonly items: T[] = [];
  private readonly k: number;
  private readonly cmp: (a: T, b: T) => number;
  constructor(k: number, cmp: (a: T, b: T) => number) {
    this.k = k;
    this.cmp = cmp;
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
