import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BSON, ObjectId } from 'bson';
import { decodeFast, decodeFastAt } from '../../src/document/bsonraw.ts';
import { decodeDocument } from '../../src/document/engine.ts';
import { freshClient } from './helpers.ts';

// A runtime that refuses to compile code from strings (a Content-Security-Policy without
// 'unsafe-eval', Node's --disallow-code-generation-from-strings) throws an EvalError from
// `new Function`: simulated here by a global Function that refuses. A file of its own: the decoder
// stops building shapes for the rest of the process (module) once a runtime refused one.
const bsonOptions = { promoteLongs: false } as const;

describe('decodeFast() where the runtime refuses new Function', () => {
  it('decodes every document as bson does, with no shape built, before, during and after the refusal', async () => {
    const real = globalThis.Function;
    let refused = 0;
    const refusing = function (): never {
      refused++;
      throw new EvalError('Code generation from strings disallowed for this context');
    } as unknown as FunctionConstructor;
    const docs = (r: number) => [
      { _id: `k${r}`, name: 'ann', n: r, x: r + 0.5, at: new Date(r), ok: r % 2 === 0, none: null, tags: ['a', r], sub: { p: r } },
      { _id: new ObjectId((r + 1).toString(16).padStart(24, '0')), 'x"y': r, '\u2028': 'z', 'b\\c': [r] },
      { _id: r, a: `s${r}`, '0': r, '10': -r },
    ];
    const check = (what: string) => {
      for (let r = 0; r < 40; r++) {
        for (const d of docs(r)) {
          const bytes = BSON.serialize(d);
          const want = BSON.deserialize(bytes, bsonOptions);
          const got = decodeFast(bytes, typeof d._id === 'string' ? d._id : undefined);
          assert.deepStrictEqual(got, want, `${what} ${r}`);
          assert.deepEqual(Object.keys(got!), Object.keys(want), `${what} ${r}`);
          const block = new Uint8Array(bytes.length + 9);
          block.set(bytes, 5);
          assert.deepStrictEqual(decodeFastAt(block, 5, bytes.length), want, `${what} ${r} in a block`);
          assert.deepStrictEqual(decodeDocument(bytes), want, `${what} ${r} decodeDocument`);
        }
      }
    };
    (globalThis as { Function: FunctionConstructor }).Function = refusing;
    try {
      check('refused');
      // a client's reads and writes through the engine while refused
      const client = await freshClient();
      const c = client.db('app').collection('noeval');
      await c.createIndex({ n: 1 });
      await c.insertMany(Array.from({ length: 100 }, (_, i) => docs(i)[0]!));
      for (let round = 0; round < 3; round++) {
        for (let i = 0; i < 100; i += 7) assert.deepEqual(await c.findOne({ _id: `k${i}` }), docs(i)[0]);
        assert.deepEqual(await c.find({ n: { $gte: 10, $lt: 20 } }).toArray(), Array.from({ length: 10 }, (_, i) => docs(10 + i)[0]));
      }
      await client.close();
    } finally {
      (globalThis as { Function: FunctionConstructor }).Function = real;
    }
    assert.ok(refused >= 1, 'the decoder tried to compile a shape');
    // compiling allowed again: the decoder stays on its field-by-field walk, and answers the same
    const before = refused;
    check('after');
    assert.equal(refused, before);
  });
});
