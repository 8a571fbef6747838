import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BSON } from 'bson';
import { compileFilter, compareValues } from '../../src/query/index.ts';
import { decodeFields, partialFields } from '../../src/document/partial.ts';
import { arbDocBody, arbFilter, FIELDS } from '../query/arbitraries.ts';

describe('partial decoding', () => {
  it('decodeFields() equals the full decode on the requested fields', () => {
    fc.assert(
      fc.property(arbDocBody(), fc.subarray([...FIELDS, '_id', 'zz']), (body, want) => {
        const doc = { _id: 1, ...body, s: ['x', 'é', 2, 1.5, true, null], n: -7 };
        const bytes = BSON.serialize(doc);
        const full = BSON.deserialize(bytes, { promoteLongs: false });
        const part = decodeFields(bytes, partialFields(Object.fromEntries([...want, 's', 'n'].map((k) => [k, 1])))!);
        for (const k of [...want, 's', 'n']) {
          assert.equal(k in part, k in full, k);
          if (k in full) assert.equal(compareValues(part[k], full[k]), 0, k);
        }
      }),
      { seed: 5, numRuns: 500 },
    );
  });

  it('a filter gives the same answer on the partial document as on the whole document', () => {
    fc.assert(
      fc.property(arbDocBody(), arbFilter({}, 2), (body, filter) => {
        const fields = partialFields(filter);
        if (!fields) return;
        const bytes = BSON.serialize({ _id: 1, ...body });
        const m = compileFilter(filter);
        assert.equal(m.test(decodeFields(bytes, fields)), m.test(BSON.deserialize(bytes, { promoteLongs: false })));
      }),
      { seed: 9, numRuns: 2000 },
    );
  });

  it('filters reading arbitrary fields ($expr, $where...) are not decoded partially', () => {
    assert.equal(partialFields({ $expr: { $gt: ['$a', 1] } }), undefined);
    assert.equal(partialFields({ a: { $elemMatch: { $expr: 1 } } }), undefined);
    assert.equal(partialFields({}), undefined);
    assert.deepEqual([...partialFields({ 'a.b': 1, $or: [{ c: 1 }] }, { d: 1 })!].sort(), ['a', 'c', 'd']);
  });
});
