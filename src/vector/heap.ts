/**
 * Binary heaps over parallel typed arrays (distance, id), used by the HNSW walk and the top-k
 * merges. `MinHeap` pops the smallest distance; `MaxHeap` keeps the worst on top so a bounded
 * result set can evict it. Capacity grows on demand; no allocation per push. The storage is
 * shared (PairHeap); push/pop are written out per order (no comparator call in the hot loop).
 */

/** The storage both heaps share: parallel (distance, id) arrays, doubled when full. */
export class PairHeap {
  dist: Float32Array;
  ids: Uint32Array;
  size = 0;

  constructor(capacity = 64) {
    this.dist = new Float32Array(capacity);
    this.ids = new Uint32Array(capacity);
  }

  clear(): void {
    this.size = 0;
  }

  /** Distance of the top; undefined behaviour when empty. */
  topDist(): number {
    return this.dist[0]!;
  }

  topId(): number {
    return this.ids[0]!;
  }

  protected grow(): void {
    const d = new Float32Array(this.dist.length * 2);
    d.set(this.dist);
    const ids = new Uint32Array(this.ids.length * 2);
    ids.set(this.ids);
    this.dist = d;
    this.ids = ids;
  }
}

export class MinHeap extends PairHeap {
  push(d: number, id: number): void {
    if (this.size === this.dist.length) this.grow();
    const dist = this.dist, ids = this.ids;
    let i = this.size++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pd = dist[p]!;
      if (pd <= d) break;
      dist[i] = pd;
      ids[i] = ids[p]!;
      i = p;
    }
    dist[i] = d;
    ids[i] = id;
  }

  pop(): void {
    const n = --this.size;
    if (n <= 0) return;
    const dist = this.dist, ids = this.ids;
    const d = dist[n]!, id = ids[n]!;
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && dist[c + 1]! < dist[c]!) c++;
      if (dist[c]! >= d) break;
      dist[i] = dist[c]!;
      ids[i] = ids[c]!;
      i = c;
    }
    dist[i] = d;
    ids[i] = id;
  }
}

export class MaxHeap extends PairHeap {
  push(d: number, id: number): void {
    if (this.size === this.dist.length) this.grow();
    const dist = this.dist, ids = this.ids;
    let i = this.size++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pd = dist[p]!;
      if (pd >= d) break;
      dist[i] = pd;
      ids[i] = ids[p]!;
      i = p;
    }
    dist[i] = d;
    ids[i] = id;
  }

  pop(): void {
    const n = --this.size;
    if (n <= 0) return;
    const dist = this.dist, ids = this.ids;
    const d = dist[n]!, id = ids[n]!;
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && dist[c + 1]! > dist[c]!) c++;
      if (dist[c]! <= d) break;
      dist[i] = dist[c]!;
      ids[i] = ids[c]!;
      i = c;
    }
    dist[i] = d;
    ids[i] = id;
  }

  /** Keep at most `cap` entries: push, then evict the worst if over. */
  pushBounded(d: number, id: number, cap: number): void {
    if (this.size < cap) this.push(d, id);
    else if (d < this.dist[0]!) {
      this.pop();
      this.push(d, id);
    }
  }

  /** Drain into arrays sorted best (smallest distance) first. */
  drainSorted(): { ids: Uint32Array; dist: Float32Array } {
    const n = this.size;
    const ids = new Uint32Array(n), dist = new Float32Array(n);
    for (let i = n - 1; i >= 0; i--) {
      ids[i] = this.ids[0]!;
      dist[i] = this.dist[0]!;
      this.pop();
    }
    return { ids, dist };
  }
}
