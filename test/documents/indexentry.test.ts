import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { scalarEntryKey, type RuntimeIndex } from '../../src/document/engine.ts';
import { extractKeys, parseIndexFields } from '../../src/document/indexkeys.ts';
import { encodeId, indexPrefix } from '../../src/document/keyspace.ts';
import { arbValue } from '../query/arbitraries.ts';

const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

/** The entry keys keysOf + entryKey build for one non-partial index (the reference). */
function reference(ix: RuntimeIndex, doc: Record<string, unknown>, encId: Uint8Array): string[] {
  const ex = extractKeys(doc, ix.fields, ix.meta.name);
  if (ix.meta.sparse && !ex.anyPresent) return [];
  return [...new Set(ex.keys.map((k) => hex(ix.prefix) + hex(k) + hex(encId)))];
}

describe('scalarEntryKey: the insert shortcut for single-field indexes', () => {
  it('builds the entry key extractKeys + entryKey build, or leaves the document to them (property)', () => {
    let built = 0;
    fc.assert(
      fc.property(
        fc.constantFrom('a', 'b', 'a.b', 'é'),
        fc.constantFrom(1, -1),
        fc.boolean(),
        fc.boolean(),
        fc.dictionary(fc.constantFrom('a', 'b', 'é', 'c'), arbValue({}, 2), { maxKeys: 3, noNullPrototype: true }),
        arbValue({}, 1),
        (path, dir, sparse, compound, doc, id) => {
          const key = compound ? { [path]: dir, c: 1 } : { [path]: dir };
          const ix: RuntimeIndex = { meta: { id: 7, name: 'ix', key, ...(sparse ? { sparse: true } : {}) }, fields: parseIndexFields(key), prefix: indexPrefix(7) };
          const encId = encodeId(id ?? 1);
          const got = scalarEntryKey(ix, doc, encId);
          if (got === undefined) return;
          built++;
          assert.deepEqual([hex(got)], reference(ix, doc, encId));
        },
      ),
      { numRuns: 4000 },
    );
    assert.ok(built > 500, `built only ${built}`);
  });

  it('leaves arrays, embedded documents, dotted paths, compound, partial and sparse-missing cases to keysOf', () => {
    const mk = (key: Record<string, number>, extra: Partial<RuntimeIndex> = {}, sparse = false): RuntimeIndex => ({ meta: { id: 3, name: 'ix', key, ...(sparse ? { sparse: true } : {}) }, fields: parseIndexFields(key), prefix: indexPrefix(3), ...extra });
    const encId = encodeId('x');
    assert.equal(scalarEntryKey(mk({ a: 1 }), { a: [1, 2] }, encId), undefined);
    assert.equal(scalarEntryKey(mk({ a: 1 }), { a: { b: 1 } }, encId), undefined);
    assert.equal(scalarEntryKey(mk({ 'a.b': 1 }), { a: { b: 1 } }, encId), undefined);
    assert.equal(scalarEntryKey(mk({ a: 1, b: 1 }), { a: 1, b: 2 }, encId), undefined);
    assert.equal(scalarEntryKey(mk({ a: 1 }, { partial: { test: () => true } as unknown as RuntimeIndex['partial'] }), { a: 1 }, encId), undefined);
    assert.equal(scalarEntryKey(mk({ a: 1 }, {}, true), { b: 1 }, encId), undefined);
    // missing field in a non-sparse index: the null entry
    assert.deepEqual(hex(scalarEntryKey(mk({ a: 1 }), { b: 1 }, encId)!), reference(mk({ a: 1 }), { b: 1 }, encId)[0]);
    assert.deepEqual(hex(scalarEntryKey(mk({ a: -1 }), { a: new Date(5) }, encId)!), reference(mk({ a: -1 }), { a: new Date(5) }, encId)[0]);
  });

  it('numbers and strings (written byte by byte when short and ASCII) equal the reference in both directions', () => {
    const mk = (dir: number): RuntimeIndex => ({ meta: { id: 9, name: 'ix', key: { a: dir } }, fields: parseIndexFields({ a: dir }), prefix: indexPrefix(9) });
    const values: unknown[] = [0, -0, 1, -1, 0.5, -2.75, 1e300, -1e-300, 2 ** 53, Number.MIN_VALUE, Infinity, -Infinity, NaN, '', 'a', 'Zürich', 'x'.repeat(47), 'x'.repeat(48), 'x'.repeat(49), 'y'.repeat(200), '\u0000', '\u007f', '\u0080', 'ab\uD800', 5n];
    for (const id of ['k', 'z'.repeat(60), 'é']) {
      const encId = encodeId(id);
      for (const dir of [1, -1]) for (const v of values) assert.deepEqual([hex(scalarEntryKey(mk(dir), { a: v }, encId)!)], reference(mk(dir), { a: v }, encId), `${String(v)} dir ${dir} id ${id}`);
    }
  });
});
