/** LRU block cache with a byte budget. Keys are strings "<file>:<block>"; Map order is recency. */

export interface Sized {
  readonly bytes: number;
}

export class BlockCache<V extends Sized> {
  private readonly map = new Map<string, V>();
  bytes = 0;
  hits = 0;
  misses = 0;
  readonly budgetBytes: number;
  constructor(budgetBytes: number) {
    this.budgetBytes = budgetBytes;}

  get(key: string): V | undefined {
    const v = this.map.get(key);
    if (v === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.map.delete(key);
    this.map.set(key, v);
    return v;
  }

  set(key: string, v: V): void {
    if (v.bytes > this.budgetBytes) return;
    const old = this.map.get(key);
    if (old !== undefined) {
      this.bytes -= old.bytes;
      this.map.delete(key);
    }
    this.map.set(key, v);
    this.bytes += v.bytes;
    while (this.bytes > this.budgetBytes) {
      const first = this.map.keys().next();
      if (first.done) break;
      const ev = this.map.get(first.value)!;
      this.map.delete(first.value);
      this.bytes -= ev.bytes;
    }
  }

  /** Drops every block of one file (after the file is deleted). */
  dropPrefix(prefix: string): void {
    for (const [k, v] of this.map) {
      if (k.startsWith(prefix)) {
        this.map.delete(k);
        this.bytes -= v.bytes;
      }
    }
  }
}
