// The built site works offline after the first visit: the service worker stores the bundle, the
// built-in model and the texts while the first page is open; then, with the network gone (the
// browser offline, and every request that still reaches the network aborted), a reload opens the
// studio from the cache, loads the model and measures perplexity. Nothing is fetched from any
// other origin at any point.

import { expect, test } from '@playwright/test';
import { collectErrors, EVAL_MS, LOAD_MS, loadModel, runSmallEvaluation } from './studioPage';

test('after the first visit the studio runs offline', async ({ page, context, baseURL }) => {
  test.setTimeout(LOAD_MS + EVAL_MS + 60_000);
  const errors = collectErrors(page);
  const origin = new URL(baseURL ?? '').origin;
  const foreign: string[] = [];
  context.on('request', (request) => {
    if (!request.url().startsWith(origin) && !/^(data|blob):/.test(request.url()))
      foreign.push(request.url());
  });

  await page.goto('/');
  await expect(page.getByTestId('model-fit')).toBeVisible({ timeout: 60_000 });
  // ready resolves once the worker is active, which it is only after every file was stored.
  const cached = await page.evaluate(async () => {
    const registration = await navigator.serviceWorker.ready;
    const names = await caches.keys();
    const cache = await caches.open(names.find((n) => n.startsWith('compression-studio-')) ?? '');
    return { scope: registration.scope, files: (await cache.keys()).map((r) => new URL(r.url).pathname) };
  });
  expect(cached.scope).toBe(`${origin}/`);
  expect(cached.files).toContain('/models/stories260K/model.safetensors');
  expect(cached.files).toContain('/data/tinystories/valid-sample.txt');
  expect(cached.files).toContain('/demos/fista-2-4-stories260K.json');
  expect(cached.files).not.toContain('/models/stories260K/stories260K.bin');
  await expect.poll(() => page.evaluate(() => navigator.serviceWorker.controller !== null)).toBe(true);

  await context.setOffline(true);
  // With a service worker in the way, Chromium routes its own requests here: abort every one.
  await context.route('**/*', (route) => route.abort('internetdisconnected'));
  const failed: string[] = [];
  page.on('requestfailed', (request) => failed.push(request.url().slice(origin.length)));
  await page.reload();
  // A file the worker did not store cannot be had: the network is really gone.
  const probe = await page.evaluate(() =>
    fetch('./favicon.svg?not-cached').then(
      () => 'fetched',
      () => 'failed',
    ),
  );
  expect(probe).toBe('failed');
  await loadModel(page);
  const ppl = await runSmallEvaluation(page);
  expect(ppl).toBeGreaterThan(1);
  expect(foreign).toEqual([]);
  // The probe is the only request that failed; its console line is the only error. The worker
  // leaves files it does not store to the browser, whose request fails for being offline.
  expect(failed).toEqual(['/favicon.svg?not-cached']);
  expect(errors).toEqual(['console: Failed to load resource: net::ERR_INTERNET_DISCONNECTED']);
});
