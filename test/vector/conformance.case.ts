/**
 * The VectorIndex conformance suite, run for every kind (and by kernels build) from
 * conformance.test.ts. Approximate kinds are configured close to exhaustive here so that the
 * structural properties (removal, update, filters, persistence) can be checked exactly; recall
 * floors with realistic parameters live in recall.test.ts.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Kernels, Metric } from '../../src/kernel/types.ts';
import { createVectorIndex, deserializeVectorIndex, serializeVectorIndex, type VectorIndexOptions } from '../../src/vector/create.ts';
import { FlatIndex } from '../../src/vector/flat.ts';
import { LabelSet, type VectorIndex } from '../../src/vector/types.ts';
import { mixture, row } from './data.ts';

export interface Case {
  name: string;
  options: Omit<VectorIndexOptions, 'dimensions' | 'metric'>;
  /** true when the configuration returns exactly the flat answer on the suite's data. */
  exact: boolean;
}

const d = 16, n = 600;

function sortedBest(scores: Float32Array, metric: Metric): boolean {
  for (let i = 1; i < scores.length; i++) {
    if (metric === 'l2' || metric === 'l1' ? scores[i]! < scores[i - 1]! - 1e-5 : scores[i]! > scores[i - 1]! + 1e-5) return false;
  }
  return true;
}

export function conformance(kernels: () => Kernels, c: Case, metrics: Metric[] = ['l2', 'cosine', 'dot']): void {
  for (const metric of metrics) {
    describe(`${c.name} ${metric}`, () => {
      const data = mixture(n, d, 3);
      const queries = mixture(20, d, 4);
      const labels = Uint32Array.from({ length: n }, (_, i) => i * 3 + 1); // sparse labels
      const build = (): { ix: VectorIndex; flat: FlatIndex } => {
        const k = kernels();
        const ix = createVectorIndex(k, { dimensions: d, metric, ...c.options });
        ix.addBatch(labels, data);
        const flat = new FlatIndex(k, d, metric);
        flat.addBatch(labels, data);
        return { ix, flat };
      };

      it('search() on an empty index returns nothing', () => {
        const ix = createVectorIndex(kernels(), { dimensions: d, metric, ...c.options });
        assert.equal(ix.search(row(queries, 0, d), 5).labels.length, 0);
        assert.equal(ix.size, 0);
        ix.dispose();
      });

      it('search() returns k labels best first, matching flat when exact', () => {
        const { ix, flat } = build();
        assert.equal(ix.size, n);
        for (let q = 0; q < 10; q++) {
          const a = ix.search(row(queries, q, d), 10);
          const e = flat.search(row(queries, q, d), 10);
          assert.ok(sortedBest(a.scores, metric), 'scores best first');
          assert.ok(a.labels.length <= 10);
          if (c.exact) {
            assert.deepEqual([...a.labels], [...e.labels]);
            for (let i = 0; i < a.scores.length; i++) assert.ok(Math.abs(a.scores[i]! - e.scores[i]!) < 1e-3 * Math.max(1, Math.abs(e.scores[i]!)));
          }
          for (const l of a.labels) assert.ok(labels.includes(l));
        }
        ix.dispose();
        flat.dispose();
      });

      it('a stored vector finds itself first (l2)', { skip: metric !== 'l2' }, () => {
        const { ix, flat } = build();
        let found = 0;
        for (let i = 0; i < 50; i++) if (ix.search(row(data, i * 7, d), 1).labels[0] === labels[i * 7]) found++;
        assert.ok(found >= (c.exact ? 50 : 45), `found ${found}/50`);
        ix.dispose();
        flat.dispose();
      });

      it('remove() hides labels and update replaces the vector', () => {
        const { ix, flat } = build();
        const removed = new Set<number>();
        for (let i = 0; i < n; i += 3) { assert.equal(ix.remove(labels[i]!), true); removed.add(labels[i]!); flat.remove(labels[i]!); }
        assert.equal(ix.remove(labels[0]!), false);
        assert.equal(ix.has(labels[0]!), false);
        assert.equal(ix.size, n - removed.size);
        for (let q = 0; q < 10; q++) {
          const a = ix.search(row(queries, q, d), 10);
          for (const l of a.labels) assert.ok(!removed.has(l));
          if (c.exact) assert.deepEqual([...a.labels], [...flat.search(row(queries, q, d), 10).labels]);
        }
        // update: move label 4 onto query 0
        const target = labels[1]!;
        ix.add(target, row(queries, 0, d));
        assert.equal(ix.size, n - removed.size);
        const top = ix.search(row(queries, 0, d), 1);
        if (metric !== 'dot') assert.equal(top.labels[0], target);
        // re-add removed labels
        for (let i = 0; i < n; i += 3) ix.add(labels[i]!, row(data, i, d));
        assert.equal(ix.size, n);
        ix.dispose();
        flat.dispose();
      });

      it('search() with a filter returns only passing labels', () => {
        const { ix, flat } = build();
        const set = new LabelSet();
        for (let i = 0; i < n; i += 2) set.add(labels[i]!);
        const pred = (l: number) => l % 2 === 0;
        for (let q = 0; q < 10; q++) {
          const a = ix.search(row(queries, q, d), 10, { filter: set });
          for (const l of a.labels) assert.ok(set.has(l));
          const b = ix.search(row(queries, q, d), 10, { filter: pred });
          for (const l of b.labels) assert.equal(l % 2, 0);
          if (c.exact) assert.deepEqual([...a.labels], [...flat.search(row(queries, q, d), 10, { filter: set }).labels]);
        }
        ix.dispose();
        flat.dispose();
      });

      it('serialize() then deserialize answers the same', () => {
        const { ix, flat } = build();
        for (let i = 0; i < 40; i++) ix.remove(labels[i * 5]!);
        const copy = deserializeVectorIndex(kernels(), serializeVectorIndex(ix));
        assert.equal(copy.kind, ix.kind);
        assert.equal(copy.size, ix.size);
        for (let q = 0; q < 10; q++) {
          const a = ix.search(row(queries, q, d), 10), b = copy.search(row(queries, q, d), 10);
          assert.deepEqual([...b.labels], [...a.labels]);
        }
        // still writable after reopening
        copy.add(99999, row(queries, 1, d));
        if (metric !== 'dot') assert.equal(copy.search(row(queries, 1, d), 1).labels[0], 99999);
        ix.dispose();
        copy.dispose();
        flat.dispose();
      });

      it('scoreLabels() gives exact scores of present labels', () => {
        const { ix, flat } = build();
        const want = Uint32Array.from([labels[0]!, labels[5]!, 424242]);
        const a = ix.scoreLabels(row(queries, 0, d), want);
        const e = flat.scoreLabels(row(queries, 0, d), want);
        assert.deepEqual([...a.labels], [...e.labels]);
        if (c.options.kind !== 'ivf' || c.exact) for (let i = 0; i < a.scores.length; i++) assert.ok(Math.abs(a.scores[i]! - e.scores[i]!) < 1e-3 * Math.max(1, Math.abs(e.scores[i]!)));
        ix.dispose();
        flat.dispose();
      });

      it('keeps answering while other indexes on the same arena allocate, grow and free', () => {
        const k = kernels();
        const other = createVectorIndex(k, { dimensions: d, metric, ...c.options });
        const ix = createVectorIndex(k, { dimensions: d, metric, ...c.options });
        const flat = new FlatIndex(k, d, metric);
        for (let i = 0; i < n; i++) {
          ix.add(labels[i]!, row(data, i, d));
          flat.add(labels[i]!, row(data, i, d));
          if (i % 50 === 0) other.addBatch(labels.subarray(i, i + 50), data.subarray(i * d, (i + 50) * d));
        }
        other.dispose();
        for (let q = 0; q < 5; q++) {
          const a = ix.search(row(queries, q, d), 10), e = flat.search(row(queries, q, d), 10);
          if (c.exact) assert.deepEqual([...a.labels], [...e.labels]);
          else assert.ok(a.labels.length > 0 && a.labels.every((l) => labels.includes(l)));
        }
        ix.dispose();
        flat.dispose();
      });

      it('k larger than the index returns every label (exact kinds)', { skip: !c.exact }, () => {
        const k = kernels();
        const ix = createVectorIndex(k, { dimensions: d, metric, ...c.options });
        ix.addBatch(labels.subarray(0, 7), data.subarray(0, 7 * d));
        assert.equal(ix.search(row(queries, 0, d), 20).labels.length, 7);
        ix.dispose();
      });
    });
  }
}
