// The web console in headless Chromium (playwright-core + Debian chromium), loaded from a
// `largetable serve` child process: open, browse to a collection, run a query, explain it, switch
// to the JSON view, create an index; screenshot; no console errors.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startServerProcess, repoRoot } from './spawn.ts';
import type { Child } from './spawn.ts';

const isDeno = typeof (globalThis as { Deno?: unknown }).Deno !== 'undefined';
const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ?? {};
// CHROMIUM names another binary (or a missing one, to check the CI rule below).
const chromiumPath = (env['CHROMIUM'] ? [env['CHROMIUM']] : ['/usr/bin/chromium', '/usr/bin/chromium-browser']).find((p) => existsSync(p));
const inCi = !!env['CI'];

// Outside CI a machine without chromium skips this suite; under CI a missing chromium fails it.
describe('web console', { skip: isDeno ? 'runs on Node' : !chromiumPath && !inCi ? 'chromium not installed (this fails under CI)' : false }, () => {
  let srv: Child;
  before(async () => {
    assert.ok(chromiumPath, 'chromium is required under CI (Debian package chromium at /usr/bin/chromium, or CHROMIUM=path)');
    srv = await startServerProcess();
    const docs = Array.from({ length: 40 }, (_, i) => ({ name: `user${i}`, age: 20 + i, city: i % 2 ? 'Oslo' : 'Lima' }));
    const r = await fetch(`${srv.http}/api/v1/databases/app/collections/users/documents`, { method: 'POST', body: JSON.stringify(docs) });
    assert.equal(r.status, 201);
  });
  after(async () => {
    assert.equal(await srv.stop(), 0, srv.stderr());
  });

  it('browses, queries, explains and manages indexes without console errors', async () => {
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath: chromiumPath!, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
    const errors: string[] = [];
    try {
      const page = await browser.newPage();
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      page.on('pageerror', (e) => errors.push(e.message));
      const t0 = Date.now();
      await page.goto(`${srv.http}/`);
      await page.waitForSelector('#status.ok');
      assert.match((await page.textContent('#status')) ?? '', /ok · v\d/);
      await page.click('a[data-coll="app.users"]');
      await page.waitForSelector('#results-table tbody tr');
      assert.equal(await page.locator('#results-table tbody tr').count(), 20);
      await page.click('#page-next');
      await page.waitForFunction(() => document.querySelector('#result-count')?.textContent === '20 document(s) (from 21)');
      await page.click('#page-next');
      await page.waitForFunction(() => /^0 document\(s\)/.test(document.querySelector('#result-count')?.textContent ?? ''));
      await page.click('#page-prev');
      await page.waitForFunction(() => document.querySelector('#result-count')?.textContent === '20 document(s) (from 21)');

      await page.fill('#query-form input[name=filter]', '{"city": "Oslo", "age": {"$gte": 50}}');
      await page.fill('#query-form input[name=sort]', '{"age": -1}');
      await page.fill('#query-form input[name=projection]', '{"_id": 0, "name": 1, "age": 1}');
      await page.click('#run-query');
      await page.waitForFunction(() => document.querySelector('#result-count')?.textContent === '5 document(s)');
      const firstRow = await page.locator('#results-table tbody tr').first().innerText();
      assert.match(firstRow, /user39/);
      const heads = await page.locator('#results-table thead th').allInnerTexts();
      assert.deepEqual(heads, ['name', 'age']);

      await page.click('#run-explain');
      await page.waitForSelector('#plan-tree .node');
      assert.match((await page.textContent('#plan-tree')) ?? '', /COLLSCAN|IXSCAN|FETCH/);

      await page.check('input[name=view][value=json]');
      const json = JSON.parse((await page.textContent('#results-json')) ?? '[]') as { name: string }[];
      assert.equal(json[0]?.name, 'user39');

      await page.click('.tabs button[data-tab=indexes]');
      await page.fill('#index-form input[name=key]', '{"age": 1}');
      await page.click('#index-form button[type=submit]');
      await page.waitForFunction(() => [...document.querySelectorAll('#indexes tbody td')].some((td) => td.textContent === 'age_1'));

      await page.click('.tabs button[data-tab=aggregate]');
      await page.fill('#aggregate-form textarea[name=pipeline]', '[{"$group": {"_id": "$city", "n": {"$sum": 1}}}, {"$sort": {"_id": 1}}]');
      await page.click('#run-aggregate');
      await page.waitForFunction(() => document.querySelector('#result-count')?.textContent === '2 document(s)');

      await page.fill('#aggregate-form textarea[name=pipeline]', '[{"$bogus": 1}]');
      await page.click('#run-aggregate');
      await page.waitForSelector('#error:not([hidden])');
      errors.splice(0, errors.length, ...errors.filter((e) => !/status of 400/.test(e)));

      mkdirSync(join(repoRoot, '.cache'), { recursive: true });
      await page.screenshot({ path: join(repoRoot, '.cache/console.png'), fullPage: true });
      assert.ok(Date.now() - t0 < 60_000);
    } finally {
      await browser.close();
    }
    assert.deepEqual(errors, []);
  });
});
