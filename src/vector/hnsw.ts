/**
 * HNSW (Malkov & Yashunin) over arena-resident vectors. Every distance evaluation goes through
 * the gathered-score kernel in batches: when a node is expanded, all its unvisited neighbours are
 * scored in ONE `scoreGatherPtr` call; the neighbour-selection heuristic scores a candidate
 * against all already selected neighbours in one call as well.
 *
 * Layout: level-0 links in one Uint32Array, `M0 + 1` words per slot ([count, ids...]); upper
 * levels per slot in a small Uint32Array (`M + 1` words per level). Deletes are tombstones
 * (navigable, never returned); when tombstones exceed a quarter of the slots, `repair()` relinks
 * every node that pointed at a tombstone (candidates: its live neighbours plus the tombstone's
 * live neighbours, pruned by the heuristic) and recycles the slots.
 *
 * Filters are applied inside the walk: rejected nodes are traversed but never enter the result
 * set, so a broad filter still returns k matches.
 */
import type { Kernels, Metric } from '../kernel/types.ts';
import { LargetableError } from '../errors.ts';
import { ByteReader, ByteWriter } from './bytes.ts';
import { scoreSlots } from './flat.ts';
import { MaxHeap, MinHeap } from './heap.ts';
import { mulberry32 } from './kmeans.ts';
import { LabelTable } from './labels.ts';
import { VectorSlab } from './slab.ts';
import type { LabelFilter, SearchOptions, SearchResult, VectorIndex, VectorIndexStats } from './types.ts';

export interface HnswParams {
  M?: number;
  efConstruction?: number;
  efSearch?: number;
  seed?: number;
}

const LIVE = 0, TOMB = 1, FREE = 2;
const levelMax = 16;

export function checkHnswParams(p: HnswParams): Required<HnswParams> {
  const M = p.M ?? 16, efConstruction = p.efConstruction ?? 200, efSearch = p.efSearch ?? 64;
  const bad = (name: string, v: unknown, lo: number, hi: number) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) {
      throw new LargetableError('INVALID_ARGUMENT', `${name} must be an integer in ${lo}..${hi}`, { details: { [name]: v } });
    }
  };
  bad('M', M, 2, 128);
  bad('efConstruction', efConstruction, 1, 4096);
  bad('efSearch', efSearch, 1, 4096);
  return { M, efConstruction, efSearch, seed: p.seed ?? 1 };
}

export class HnswIndex implements VectorIndex {
  readonly kind = 'hnsw' as const;
  readonly metric: Metric;
  readonly dimensions: number;
  readonly M: number;
  readonly M0: number;
  readonly efConstruction: number;
  efSearch: number;
  readonly slab: VectorSlab;
  readonly table = new LabelTable();
  private readonly mult: number;
  private rng: () => number;
  private seed: number;
  private rngCalls = 0;

  private cap = 0;
  levels = new Uint8Array(0);
  /** Arena-resident (so the wasm walk reads them in place): states, level-0 links, visited stamps. */
  state: Uint8Array<ArrayBufferLike> = new Uint8Array(0);
  links0: Uint32Array<ArrayBufferLike> = new Uint32Array(0);
  private visited: Uint16Array<ArrayBufferLike> = new Uint16Array(0);
  private statePtr = 0;
  private linksPtr = 0;
  private visitedPtr = 0;
  private candPtr = 0;
  private scratchPtr = 0;
  private allowPtr = 0;
  private resPtr = 0;
  private outIdsPtr = 0;
  private outDistPtr = 0;
  private resCap = 0;
  upper: (Uint32Array | undefined)[] = [];
  private epoch = 0;
  entry = -1;
  maxLevel = 0;
  tombstones = 0;
  private free: number[] = [];
  private cand = new MinHeap(256);
  private res = new MaxHeap(256);
  repairs = 0;

  constructor(k: Kernels, dimensions: number, metric: Metric, params: HnswParams = {}) {
    const p = checkHnswParams(params);
    this.metric = metric;
    this.dimensions = dimensions;
    this.M = p.M;
    this.M0 = 2 * p.M;
    this.efConstruction = p.efConstruction;
    this.efSearch = p.efSearch;
    this.mult = 1 / Math.log(p.M);
    this.seed = p.seed;
    this.rng = mulberry32(p.seed);
    this.slab = new VectorSlab(k, dimensions, metric);
    this.slab.reserveScratch(Math.max(1024, (this.M0 + 1) * (this.M0 + 1)));
    this.grow(1024);
  }

  get size(): number {
    return this.table.live;
  }

  has(label: number): boolean {
    return this.table.slot(label) >= 0;
  }

  private grow(n: number): void {
    if (n <= this.cap) return;
    const cap = Math.max(n, this.cap * 2);
    const a = this.slab.arena;
    const levels = new Uint8Array(cap); levels.set(this.levels); this.levels = levels;
    const move = (old: number, oldBytes: number, bytes: number): number => {
      const p = a.alloc(bytes);
      a.u8(p, bytes).fill(0);
      if (old) { a.u8(p, oldBytes).set(a.u8(old, oldBytes)); a.free(old); }
      return p;
    };
    const stride = this.M0 + 1, oldCap = this.cap;
    this.statePtr = move(this.statePtr, oldCap, cap);
    this.linksPtr = move(this.linksPtr, oldCap * stride * 4, cap * stride * 4);
    this.visitedPtr = move(this.visitedPtr, Math.ceil(oldCap / 8) * 16, Math.ceil(cap / 8) * 16);
    if (this.candPtr) a.free(this.candPtr);
    this.candPtr = a.alloc(cap * 8);
    if (!this.scratchPtr) this.scratchPtr = a.alloc(stride * 8);
    this.allowPtr = move(this.allowPtr, 0, Math.ceil(cap / 32) * 4);
    this.cap = cap;
    this.slab.reserve(cap);
    this.ensureRes(this.efConstruction);
    this.views(true);
  }

  private ensureRes(ef: number): void {
    if (ef + 2 <= this.resCap) return;
    const a = this.slab.arena;
    for (const p of [this.resPtr, this.outIdsPtr, this.outDistPtr]) if (p) a.free(p);
    const cap = Math.max(ef + 2, 256);
    this.resPtr = a.alloc(cap * 8);
    this.outIdsPtr = a.alloc(cap * 4);
    this.outDistPtr = a.alloc(cap * 4);
    this.resCap = cap;
    this.views();
  }

  /** Re-takes the arena views (memory.grow detaches them); cheap when nothing moved. */
  private views(force = false): void {
    if (!force && this.links0.byteLength !== 0 && this.links0.buffer === this.slab.arena.u8(0, 0).buffer) return;
    const a = this.slab.arena;
    this.state = a.u8(this.statePtr, this.cap);
    this.links0 = a.u32(this.linksPtr, this.cap * (this.M0 + 1));
    this.visited = new Uint16Array(a.u8(this.visitedPtr, 0).buffer, this.visitedPtr, this.cap);
  }

  /** Layer-0 walk in the vector kernel (wasm when loaded); results (closest first) as copies. */
  private walk0(qPtr: number, ep: number, epDist: number, ef: number, acceptAll: boolean, allow: boolean): { ids: Uint32Array; dist: Float32Array } {
    this.ensureRes(ef);
    const epoch = this.newEpoch();
    const slab = this.slab;
    const n = slab.vk.hnswSearch0(slab.code, qPtr, slab.ptr, this.dimensions, this.linksPtr, this.M0 + 1, this.visitedPtr, epoch,
      allow || this.tombstones > 0 ? this.statePtr : 0, allow ? this.allowPtr : 0, acceptAll ? 1 : 0, ep, epDist, ef, this.candPtr, this.cap, this.resPtr, this.outIdsPtr, this.outDistPtr, this.scratchPtr);
    if (n < 0) throw new Error('assertion failed: hnsw candidate heap overflow');
    const a = slab.arena;
    return { ids: a.u32(this.outIdsPtr, n).slice(), dist: a.f32(this.outDistPtr, n).slice() };
  }

  private randomLevel(): number {
    this.rngCalls++;
    const u = this.rng();
    return Math.min(levelMax, Math.floor(-Math.log(u > 0 ? u : 1e-12) * this.mult));
  }

  private newEpoch(): number {
    this.views();
    if (++this.epoch === 0x10000) {
      this.visited.fill(0);
      this.epoch = 1;
    }
    return this.epoch;
  }

  /** The link array of a slot at a level and the offset of its count word. */
  private linkArr(slot: number, level: number): Uint32Array {
    return level === 0 ? this.links0 : this.upper[slot]!;
  }

  private linkOff(slot: number, level: number): number {
    return level === 0 ? slot * (this.M0 + 1) : (level - 1) * (this.M + 1);
  }

  private distOne(qPtr: number, slot: number): number {
    this.slab.idsView()[0] = slot;
    return this.slab.dist(qPtr, 1)[0]!;
  }

  private greedy(qPtr: number, ep: number, epDist: number, level: number): [number, number] {
    let cur = ep, curDist = epDist;
    for (let changed = true; changed;) {
      changed = false;
      const arr = this.linkArr(cur, level), off = this.linkOff(cur, level);
      const cnt = arr[off]!;
      if (cnt === 0) break;
      const ids = this.slab.idsView();
      for (let j = 0; j < cnt; j++) ids[j] = arr[off + 1 + j]!;
      const out = this.slab.dist(qPtr, cnt);
      const ids2 = this.slab.idsView();
      for (let j = 0; j < cnt; j++) {
        if (out[j]! < curDist) { curDist = out[j]!; cur = ids2[j]!; changed = true; }
      }
    }
    return [cur, curDist];
  }

  /**
   * Best-first walk of one layer from `ep`; fills `this.res` (max-heap of at most ef accepted
   * nodes). `acceptAll` during construction (tombstones included); otherwise tombstones and
   * filtered-out labels are walked through but not kept.
   */
  private searchLayer(qPtr: number, ep: number, epDist: number, ef: number, level: number, acceptAll: boolean, filter: LabelFilter | undefined): void {
    const epoch = this.newEpoch();
    const visited = this.visited, state = this.state, labelOf = this.table.labelOf;
    const cand = this.cand, res = this.res, slab = this.slab;
    const fn = typeof filter === 'function' ? filter : undefined;
    const set = filter !== undefined && typeof filter !== 'function' ? filter : undefined;
    const accept = (s: number): boolean => {
      if (acceptAll) return true;
      if (state[s] !== LIVE) return false;
      if (filter === undefined) return true;
      return set ? set.has(labelOf[s]!) : fn!(labelOf[s]!);
    };
    cand.clear();
    res.clear();
    visited[ep] = epoch;
    cand.push(epDist, ep);
    let bound = Infinity;
    if (accept(ep)) { res.push(epDist, ep); bound = epDist; }
    const links = level === 0 ? this.links0 : undefined;
    const stride = this.M0 + 1;
    while (cand.size > 0) {
      const cd = cand.topDist();
      if (cd > bound && res.size >= ef) break;
      const c = cand.topId();
      cand.pop();
      const arr = links ?? this.upper[c]!;
      const off = links ? c * stride : (level - 1) * (this.M + 1);
      const cnt = arr[off]!;
      let ids = slab.idsView();
      let m = 0;
      for (let j = 1; j <= cnt; j++) {
        const nb = arr[off + j]!;
        if (visited[nb] !== epoch) { visited[nb] = epoch; ids[m++] = nb; }
      }
      if (m === 0) continue;
      const out = slab.dist(qPtr, m);
      ids = slab.idsView();
      for (let j = 0; j < m; j++) {
        const d = out[j]!;
        if (res.size < ef || d < bound) {
          const nb = ids[j]!;
          cand.push(d, nb);
          if (accept(nb)) {
            res.push(d, nb);
            if (res.size > ef) res.pop();
            bound = res.topDist();
          }
        }
      }
    }
  }

  /** Heuristic neighbour selection over candidates sorted by distance (ascending). */
  private select(candIds: ArrayLike<number>, candDist: ArrayLike<number>, n: number, Mmax: number): number[] {
    const sel: number[] = [];
    const slab = this.slab;
    for (let i = 0; i < n && sel.length < Mmax; i++) {
      const e = candIds[i]!, de = candDist[i]!;
      if (sel.length === 0) { sel.push(e); continue; }
      const ids = slab.idsView();
      for (let j = 0; j < sel.length; j++) ids[j] = sel[j]!;
      const out = slab.dist(slab.slotPtr(e), sel.length);
      let good = true;
      for (let j = 0; j < sel.length; j++) if (out[j]! < de) { good = false; break; }
      if (good) sel.push(e);
    }
    return sel;
  }

  private setLinks(slot: number, level: number, sel: number[]): void {
    const arr = this.linkArr(slot, level), off = this.linkOff(slot, level);
    arr[off] = sel.length;
    for (let j = 0; j < sel.length; j++) arr[off + 1 + j] = sel[j]!;
  }

  /** Sorts (ids, dist) pairs by distance and returns them as parallel arrays. */
  private static sortPairs(ids: number[], dist: number[]): [number[], number[]] {
    const order = ids.map((_, i) => i).sort((a, b) => dist[a]! - dist[b]!);
    return [order.map((i) => ids[i]!), order.map((i) => dist[i]!)];
  }

  private connect(nb: number, slot: number, level: number): void {
    const arr = this.linkArr(nb, level), off = this.linkOff(nb, level);
    const cnt = arr[off]!;
    const Mmax = level === 0 ? this.M0 : this.M;
    if (cnt < Mmax) {
      arr[off + 1 + cnt] = slot;
      arr[off] = cnt + 1;
      return;
    }
    const ids = this.slab.idsView();
    for (let j = 0; j < cnt; j++) ids[j] = arr[off + 1 + j]!;
    ids[cnt] = slot;
    const cidsRaw = Array.from(ids.subarray(0, cnt + 1));
    const out = this.slab.dist(this.slab.slotPtr(nb), cnt + 1);
    const [cids, cd] = HnswIndex.sortPairs(cidsRaw, Array.from(out.subarray(0, cnt + 1)));
    this.setLinks(nb, level, this.select(cids, cd, cids.length, Mmax));
  }

  private insertSlot(slot: number): void {
    const level = this.randomLevel();
    this.levels[slot] = level;
    this.state[slot] = LIVE;
    this.links0[slot * (this.M0 + 1)] = 0;
    this.upper[slot] = level > 0 ? new Uint32Array(level * (this.M + 1)) : undefined;
    if (this.entry < 0) {
      this.entry = slot;
      this.maxLevel = level;
      return;
    }
    const q = this.slab.slotPtr(slot);
    let ep = this.entry;
    let epDist = this.distOne(q, ep);
    for (let l = this.maxLevel; l > level; l--) [ep, epDist] = this.greedy(q, ep, epDist, l);
    for (let l = Math.min(level, this.maxLevel); l >= 0; l--) {
      let found: { ids: Uint32Array; dist: Float32Array };
      if (l === 0) found = this.walk0(q, ep, epDist, this.efConstruction, true, false);
      else {
        this.searchLayer(q, ep, epDist, this.efConstruction, l, true, undefined);
        found = this.res.drainSorted();
      }
      this.views();
      const { ids, dist } = found;
      ep = ids[0]!;
      epDist = dist[0]!;
      const sel = this.select(ids, dist, ids.length, this.M);
      this.setLinks(slot, l, sel);
      for (const nb of sel) this.connect(nb, slot, l);
    }
    if (level > this.maxLevel) {
      this.entry = slot;
      this.maxLevel = level;
    }
  }

  private takeSlot(): number {
    const s = this.free.pop();
    if (s !== undefined) return s;
    const slot = this.slab.count;
    this.grow(slot + 1);
    this.slab.count = slot + 1;
    return slot;
  }

  add(label: number, vector: Float32Array): void {
    this.views();
    if (this.table.slot(label) >= 0) this.remove(label);
    const slot = this.takeSlot();
    this.slab.write(slot, vector);
    this.table.bind(label, slot);
    this.insertSlot(slot);
  }

  addBatch(labels: Uint32Array, vectors: Float32Array): void {
    this.views();
    this.grow(this.slab.count + labels.length);
    const d = this.dimensions;
    for (let i = 0; i < labels.length; i++) {
      const label = labels[i]!;
      if (this.table.slot(label) >= 0) this.remove(label);
      const slot = this.takeSlot();
      this.slab.write(slot, vectors, i * d);
      this.table.bind(label, slot);
      this.insertSlot(slot);
    }
  }

  remove(label: number): boolean {
    this.views();
    const slot = this.table.slot(label);
    if (slot < 0) return false;
    this.table.unbind(label);
    this.state[slot] = TOMB;
    this.tombstones++;
    if (this.table.live === 0) this.reset();
    else if (this.tombstones > 64 && this.tombstones * 4 > this.slab.count) this.repair();
    return true;
  }

  private reset(): void {
    this.entry = -1;
    this.maxLevel = 0;
    this.tombstones = 0;
    this.free = [];
    this.slab.count = 0;
    this.upper = [];
    this.state.fill(0);
  }

  /** Relinks every node that points at a tombstone and recycles tombstoned slots. */
  repair(): void {
    this.views();
    const n = this.slab.count, state = this.state;
    if (this.tombstones === 0) return;
    this.slab.reserveScratch((this.M0 + 1) * (this.M0 + 1));
    for (let s = 0; s < n; s++) {
      if (state[s] !== LIVE) continue;
      for (let l = 0; l <= this.levels[s]!; l++) {
        const arr = this.linkArr(s, l), off = this.linkOff(s, l);
        const cnt = arr[off]!;
        let dirty = false;
        for (let j = 1; j <= cnt; j++) if (state[arr[off + j]!] !== LIVE) { dirty = true; break; }
        if (!dirty) continue;
        const epoch = this.newEpoch();
        this.visited[s] = epoch;
        const cands: number[] = [];
        const addCand = (x: number) => {
          if (state[x] === LIVE && this.visited[x] !== epoch) { this.visited[x] = epoch; cands.push(x); }
        };
        for (let j = 1; j <= cnt; j++) {
          const nb = arr[off + j]!;
          if (state[nb] === LIVE) addCand(nb);
          else if (l <= this.levels[nb]! && state[nb] === TOMB) {
            const a2 = this.linkArr(nb, l), o2 = this.linkOff(nb, l);
            for (let i = 1; i <= a2[o2]!; i++) addCand(a2[o2 + i]!);
          }
        }
        const Mmax = l === 0 ? this.M0 : this.M;
        if (cands.length === 0) { arr[off] = 0; continue; }
        const ids = this.slab.idsView();
        for (let j = 0; j < cands.length; j++) ids[j] = cands[j]!;
        const out = this.slab.dist(this.slab.slotPtr(s), cands.length);
        const [cids, cd] = HnswIndex.sortPairs(cands, Array.from(out.subarray(0, cands.length)));
        this.setLinks(s, l, this.select(cids, cd, cids.length, Mmax));
      }
    }
    let entry = -1, maxLevel = 0;
    for (let s = 0; s < n; s++) {
      if (state[s] === TOMB) {
        state[s] = FREE;
        this.links0[s * (this.M0 + 1)] = 0;
        this.upper[s] = undefined;
        this.levels[s] = 0;
        this.free.push(s);
      } else if (state[s] === LIVE && (entry < 0 || this.levels[s]! > maxLevel)) {
        entry = s;
        maxLevel = this.levels[s]!;
      }
    }
    this.entry = entry;
    this.maxLevel = maxLevel;
    this.tombstones = 0;
    this.repairs++;
  }

  search(query: Float32Array, k: number, options: SearchOptions = {}): SearchResult {
    if (k <= 0 || this.table.live === 0 || this.entry < 0) return { labels: new Uint32Array(0), scores: new Float32Array(0) };
    this.views();
    const ef = Math.max(options.efSearch ?? this.efSearch, k);
    const q = this.slab.setQuery(query);
    let ep = this.entry;
    let epDist = this.distOne(q, ep);
    for (let l = this.maxLevel; l > 0; l--) [ep, epDist] = this.greedy(q, ep, epDist, l);
    const filter = options.filter;
    let found: { ids: Uint32Array; dist: Float32Array };
    if (typeof filter === 'function') {
      this.searchLayer(q, ep, epDist, ef, 0, false, filter);
      found = this.res.drainSorted();
    } else if (filter !== undefined) {
      const words = Math.ceil(this.cap / 32);
      const allow = this.slab.arena.u32(this.allowPtr, words);
      allow.fill(0);
      for (const label of filter.labels()) {
        const s = this.table.slot(label);
        if (s >= 0) allow[s >>> 5]! |= 1 << (s & 31);
      }
      found = this.walk0(q, ep, epDist, ef, false, true);
    } else found = this.walk0(q, ep, epDist, ef, false, false);
    const { ids, dist } = found;
    const m = Math.min(k, ids.length);
    const labels = new Uint32Array(m), scores = new Float32Array(m);
    for (let i = 0; i < m; i++) {
      labels[i] = this.table.labelOf[ids[i]!]!;
      scores[i] = this.slab.scoreOf(dist[i]!);
    }
    return { labels, scores };
  }

  scoreLabels(query: Float32Array, labels: Uint32Array): SearchResult {
    return scoreSlots(this.slab, this.table, query, labels);
  }

  serialize(): Uint8Array[] {
    this.views();
    const w = new ByteWriter();
    const n = this.slab.count;
    w.u32(this.M);
    w.u32(this.efConstruction);
    w.u32(this.efSearch);
    w.u32(this.seed);
    w.u32(this.rngCalls);
    w.u32(n);
    w.i32(this.entry);
    w.u32(this.maxLevel);
    w.u32(this.tombstones);
    w.array(this.table.labelOf.subarray(0, n));
    w.array(this.levels.subarray(0, n));
    w.array(this.state.subarray(0, n));
    w.array(this.slab.vectors().subarray(0, n * this.dimensions));
    w.array(this.links0.subarray(0, n * (this.M0 + 1)));
    for (let s = 0; s < n; s++) { const u = this.upper[s]; if (this.levels[s]! > 0 && u) w.array(u); }
    return w.finish();
  }

  static deserialize(k: Kernels, dimensions: number, metric: Metric, r: ByteReader): HnswIndex {
    const M = r.u32(), efConstruction = r.u32(), efSearch = r.u32(), seed = r.u32(), rngCalls = r.u32();
    const ix = new HnswIndex(k, dimensions, metric, { M, efConstruction, efSearch, seed });
    for (let i = 0; i < rngCalls; i++) ix.randomLevel();
    const n = r.u32();
    ix.grow(n);
    ix.slab.count = n;
    ix.entry = r.i32();
    ix.maxLevel = r.u32();
    ix.tombstones = r.u32();
    const labels = r.u32s();
    ix.levels.set(r.bytes());
    ix.state.set(r.bytes());
    ix.slab.vectors().set(r.f32s());
    ix.links0.set(r.u32s());
    for (let s = 0; s < n; s++) {
      if (ix.levels[s]! > 0) ix.upper[s] = r.u32s().slice();
      if (ix.state[s] === LIVE) ix.table.bind(labels[s]!, s);
      else if (ix.state[s] === FREE) ix.free.push(s);
      else ix.table.setLabelOnly(s, labels[s]!);
    }
    return ix;
  }

  stats(): VectorIndexStats {
    let upperBytes = 0;
    for (const u of this.upper) if (u) upperBytes += u.byteLength;
    return {
      kind: 'hnsw', metric: this.metric, dimensions: this.dimensions, count: this.size, deleted: this.tombstones,
      memoryBytes: this.slab.memoryBytes() + this.table.memoryBytes() + this.links0.byteLength + upperBytes + this.levels.byteLength * 2 + this.visited.byteLength,
      M: this.M, efConstruction: this.efConstruction, efSearch: this.efSearch, maxLevel: this.maxLevel, repairs: this.repairs,
    };
  }

  dispose(): void {
    const a = this.slab.arena;
    for (const p of [this.statePtr, this.linksPtr, this.visitedPtr, this.candPtr, this.scratchPtr, this.allowPtr, this.resPtr, this.outIdsPtr, this.outDistPtr]) if (p) a.free(p);
    this.statePtr = this.linksPtr = this.visitedPtr = this.candPtr = this.scratchPtr = this.allowPtr = this.resPtr = this.outIdsPtr = this.outDistPtr = 0;
    this.slab.dispose();
  }
}
