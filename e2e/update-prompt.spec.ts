// A new build reaches a tab that is already open: the tab keeps running the version it has until
// its user clicks Reload on the offer, and a tab whose user did not click is never reloaded. Build
// A is the site Playwright's web server built into dist/; build B is a copy with a changed page,
// whose sw.js carries that page's new Workbox revision (an MD5 of its bytes), byte for byte what
// a rebuild with the changed page would write. Both are served by a host whose folder is swapped
// under the open tabs, as a deploy does. Without a GPU adapter the studio stays idle: the offer
// does not depend on WebGPU, and nothing competes with the test for the CPU.

import { createHash } from 'node:crypto';
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { expect, type Page, test } from '@playwright/test';
import { type StaticSite, startStaticSite } from './staticSite';
import { collectErrors } from './studioPage';

const BUILD_A = resolve('dist');
const TITLE_A = 'Compression Studio';
const TITLE_B = 'Compression Studio (build B)';
const md5 = (data: string) => createHash('md5').update(data).digest('hex');

/** A copy of build A whose page has another title, with sw.js updated to match. */
function makeBuildB(folder: string) {
  cpSync(BUILD_A, folder, { recursive: true });
  const html = readFileSync(resolve(BUILD_A, 'index.html'), 'utf8');
  const changed = html.replace(`<title>${TITLE_A}</title>`, `<title>${TITLE_B}</title>`);
  expect(changed).not.toBe(html);
  const sw = readFileSync(resolve(BUILD_A, 'sw.js'), 'utf8');
  // The page's revision appears once, in its precache entry.
  expect(sw.split(md5(html)).length - 1).toBe(1);
  writeFileSync(resolve(folder, 'index.html'), changed);
  writeFileSync(resolve(folder, 'sw.js'), sw.replace(md5(html), md5(changed)));
}

/** Opens the site and waits until the service worker has stored it and controls the page. */
async function openControlled(page: Page, site: StaticSite) {
  await page.goto(site.url);
  await page.evaluate(() => navigator.serviceWorker.ready);
  await expect.poll(() => page.evaluate(() => navigator.serviceWorker.controller !== null)).toBe(true);
  // Marks this document: the mark is gone after any reload.
  await page.evaluate(() => {
    (window as unknown as { loadedOnce: boolean }).loadedOnce = true;
  });
}

const notReloaded = (page: Page) =>
  page.evaluate(() => (window as unknown as { loadedOnce?: boolean }).loadedOnce === true);

let site: StaticSite | undefined;
test.afterEach(async () => {
  await site?.close();
  site = undefined;
});

test('a new build is offered in the open tabs, and only the tab whose user clicks Reload reloads', async ({
  context,
}, testInfo) => {
  test.setTimeout(2 * 60_000);
  expect(existsSync(resolve(BUILD_A, 'sw.js')), 'dist/ holds no built site: run `npx vite build`').toBe(true);
  const buildB = testInfo.outputPath('build-b');
  makeBuildB(buildB);
  site = await startStaticSite(BUILD_A);

  const page = await context.newPage();
  const other = await context.newPage();
  const errors = collectErrors(page);
  const otherErrors = collectErrors(other);
  const banner = page.getByTestId('update-banner');
  await openControlled(page, site);
  await openControlled(other, site);
  await expect(page).toHaveTitle(TITLE_A);
  await expect(banner).toHaveCount(0);

  site.serve(buildB);
  // What the browser does by itself on a later navigation or after a day; asked for here.
  await page.evaluate(async () => (await navigator.serviceWorker.getRegistration())?.update());
  await expect(banner).toContainText('A new version of the studio is available', { timeout: 60_000 });
  await expect(banner.getByTestId('update-reload')).toHaveText('Reload');
  await page.screenshot({ path: testInfo.outputPath('update-offered.png') });
  await expect(other.getByTestId('update-banner')).toBeVisible();
  // The offer waits for the user: the tab stays on build A, still served by the old worker.
  await page.waitForTimeout(1_000);
  expect(await notReloaded(page)).toBe(true);
  await expect(page).toHaveTitle(TITLE_A);

  // Dismissed, the offer leaves this tab alone; the other tab still has it.
  await other.getByTestId('update-dismiss').click();
  await expect(other.getByTestId('update-banner')).toHaveCount(0);

  await banner.getByTestId('update-reload').click();
  await expect(page).toHaveTitle(TITLE_B, { timeout: 30_000 });
  expect(await notReloaded(page)).toBe(false);
  await expect(page.getByRole('heading', { name: 'Compression Studio' })).toBeVisible();
  await expect(banner).toHaveCount(0);

  // The other tab was not reloaded: the new worker took it over, and it offers a reload again.
  await expect(other.getByTestId('update-banner')).toBeVisible();
  expect(await notReloaded(other)).toBe(true);
  await expect(other).toHaveTitle(TITLE_A);
  await other.getByTestId('update-reload').click();
  await expect(other).toHaveTitle(TITLE_B, { timeout: 30_000 });
  expect(errors).toEqual([]);
  expect(otherErrors).toEqual([]);
});
