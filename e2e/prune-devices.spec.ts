// The Pruning panel's "GPU devices" setting in a real browser (Chromium's SwiftShader adapter):
// the built-in model pruned by FISTAPruner on 2 devices of the one engine worker (a second
// requestAdapter/requestDevice) finishes at exactly 50 % like a one-device run, and a baseline
// method puts the setting back to 1 device and turns it off with the reason.

import { expect, test } from '@playwright/test';
import { collectErrors } from './studioPage';

const LOAD_MS = 120_000;
const PRUNE_MS = 150_000;

test('FISTAPruner on 2 devices in the studio; the setting off for a baseline', async ({ page }) => {
  test.setTimeout(LOAD_MS + PRUNE_MS + 60_000);
  const errors = collectErrors(page);
  await page.goto('/');
  await expect(page.getByTestId('model-fit')).toHaveAttribute('data-verdict', 'fits', { timeout: 60_000 });
  await page.getByTestId('model-load').click();
  await expect(page.getByTestId('model-load-status')).toContainText('Loaded stories260K (built-in)', {
    timeout: LOAD_MS,
  });

  // Tiny settings: 4 windows of 32 tokens, K = 4, T = 1, no perplexity.
  await page.getByTestId('prune-windows').fill('4');
  await page.getByTestId('prune-seq-len').fill('32');
  await page.getByTestId('prune-iterations').fill('4');
  await page.getByTestId('prune-rounds').fill('1');
  await page.getByTestId('prune-evaluate').uncheck();
  const devices = page.getByTestId('prune-devices');
  await expect(devices).toHaveValue('1');
  await devices.selectOption('2');
  await expect(page.getByTestId('prune-run')).toBeEnabled();
  await page.getByTestId('prune-run').click();
  await expect(page.getByTestId('prune-status')).toHaveText(/^Done: 50\.00% sparse/, { timeout: PRUNE_MS });

  // Wanda feeds each block the pruned one before it: back to one device, the select off, the reason shown.
  await page.getByTestId('prune-method').selectOption('wanda');
  await expect(devices).toHaveValue('1');
  await expect(devices).toBeDisabled();
  await expect(page.locator('#prune')).toContainText('One device only');
  expect(errors).toEqual([]);
});
