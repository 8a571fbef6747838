import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { validateCollectionName, validateDbName } from './names.ts';
import { isLargetableError } from '../errors.ts';

describe('name validation', () => {
  it('accepts ordinary names', () => {
    assert.equal(validateDbName('app_1'), 'app_1');
    assert.equal(validateCollectionName('users.archive'), 'users.archive');
    assert.equal(validateCollectionName('名前'), '名前');
  });
  it('refuses hostile names with INVALID_ARGUMENT', () => {
    const hostile = ['', '..', '../etc', 'a/b', 'a\\b', 'a\0b', '$cmd', 'x'.repeat(65), 'é'.repeat(33), '\n'];
    for (const n of hostile) {
      assert.throws(() => validateDbName(n), (e: unknown) => isLargetableError(e, 'INVALID_ARGUMENT'), JSON.stringify(n));
      assert.throws(() => validateCollectionName(n), (e: unknown) => isLargetableError(e, 'INVALID_ARGUMENT'), JSON.stringify(n));
    }
    assert.throws(() => validateDbName('a.b'), (e: unknown) => isLargetableError(e));
    assert.throws(() => validateCollectionName('.a'), (e: unknown) => isLargetableError(e));
    assert.throws(() => validateCollectionName(42), (e: unknown) => isLargetableError(e));
  });
  it('a name found valid once is valid again, per kind; byte lengths near the bound', () => {
    for (let i = 0; i < 2; i++) {
      assert.equal(validateCollectionName('a.b'), 'a.b');
      assert.throws(() => validateDbName('a.b'), (e: unknown) => isLargetableError(e, 'INVALID_ARGUMENT'));
      assert.equal(validateDbName('\u{1F600}'.repeat(16)), '\u{1F600}'.repeat(16)); // 64 bytes
      assert.throws(() => validateDbName('\u{1F600}'.repeat(17)), (e: unknown) => isLargetableError(e, 'INVALID_ARGUMENT')); // 68 bytes
      assert.equal(validateCollectionName('x'.repeat(64)), 'x'.repeat(64));
    }
    // many distinct names (past the cache bound) stay correct
    for (let i = 0; i < 5000; i++) assert.equal(validateDbName(`db${i}`), `db${i}`);
    assert.throws(() => validateDbName('a/b'), (e: unknown) => isLargetableError(e, 'INVALID_ARGUMENT'));
  });
});
