// Chromium without --enable-unsafe-webgpu on a GPU-less machine has navigator.gpu but no adapter:
// the state most people without WebGPU will be in. The page must explain itself, not go blank.

import { expect, test } from '@playwright/test';

test('without an adapter the page explains how to enable WebGPU', async ({ page }, testInfo) => {
  const pageErrors: string[] = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));

  await page.goto('/');
  await expect(page.getByRole('heading', { name: 'Compression Studio' })).toBeVisible();
  const notice = page.getByTestId('no-webgpu');
  await expect(notice).toBeVisible({ timeout: 60_000 });
  await expect(notice).toContainText('WebGPU is not available');
  await expect(notice).toContainText('no GPU adapter');
  await expect(notice).toContainText('How to turn WebGPU on');
  await expect(page.getByTestId('capability-card')).toHaveCount(0);
  await expect(page.getByTestId('kernel-check-run')).toHaveCount(0);

  await page.screenshot({ path: testInfo.outputPath('no-webgpu.png'), fullPage: true });
  expect(pageErrors).toEqual([]);
});

test('a browser without navigator.gpu gets the same explanation', async ({ page }) => {
  // Firefox on Linux and older Safari have no navigator.gpu at all; the main thread must catch that
  // before it starts a worker that would only find out the same thing.
  await page.addInitScript(() => {
    Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined, configurable: true });
  });
  await page.goto('/');
  const notice = page.getByTestId('no-webgpu');
  await expect(notice).toBeVisible({ timeout: 60_000 });
  await expect(notice).toContainText('navigator.gpu is missing');
});
