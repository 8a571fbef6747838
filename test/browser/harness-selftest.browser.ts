// Checks the browser harness itself: phases, persistence across reload, assertions that fail.
import { test, assert } from './harness.ts';

test('assert.deepEqual distinguishes typed arrays and -0', () => {
  assert.deepEqual(new Float32Array([1, 2]), new Float32Array([1, 2]));
  assert.throws(() => assert.deepEqual(new Float32Array([1, 2]), new Float32Array([1, 3])));
  assert.throws(() => assert.equal(0, -0));
  assert.throws(() => assert.ok(false));
});

test('phase 1 writes localStorage', () => {
  localStorage.setItem('lt-harness', 'kept');
  assert.equal(localStorage.getItem('lt-harness'), 'kept');
}, { phase: 1 });

test('phase 2 sees it after a reload in the same profile', () => {
  assert.equal(localStorage.getItem('lt-harness'), 'kept');
  assert.equal(crossOriginIsolated, true);
}, { phase: 2 });
