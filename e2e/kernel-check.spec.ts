// The kernel check in a real browser: the worker, comlink, the GPU runtime and every kernel family
// on Chromium's SwiftShader adapter. SwiftShader computes correctly but slowly, hence the long waits.

import { expect, type Page, test } from '@playwright/test';

const FULL_RUN_MS = 5 * 60_000;

/** Fails the test on any uncaught page or worker error, which would otherwise pass unseen. */
function collectErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(`page: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console: ${message.text()}`);
  });
  return errors;
}

async function openStudio(page: Page) {
  await page.goto('/');
  await expect(page.getByRole('heading', { name: 'Compression Studio' })).toBeVisible();
  const card = page.getByTestId('capability-card');
  await expect(card).toBeVisible({ timeout: 60_000 });
  return card;
}

// One page for both checks: a second page would only open the studio and request the adapter again.
test('cancel stops the check before every case has run; then the check passes every case on the SwiftShader adapter', async ({
  page,
}, testInfo) => {
  test.setTimeout(FULL_RUN_MS + 2 * 60_000);
  const errors = collectErrors(page);
  const card = await openStudio(page);

  await test.step('cancel stops the check before every case has run', async () => {
    await page.getByTestId('kernel-check-run').click();
    const cancel = page.getByTestId('kernel-check-cancel');
    await expect(cancel).toBeEnabled();
    // Wait for the first result so the cancel lands in the middle of a run, not before it started.
    await expect(page.getByTestId('kernel-row').first()).toBeVisible({ timeout: 60_000 });
    await cancel.click();

    const summary = page.getByTestId('kernel-check-summary');
    await expect(summary).toHaveText(/^Cancelled after (\d+) of (\d+) cases/, { timeout: 60_000 });
    const [, done, total] = (await summary.textContent())?.match(/^Cancelled after (\d+) of (\d+)/) ?? [];
    expect(Number(done)).toBeLessThan(Number(total));
    await expect(page.getByTestId('kernel-row')).toHaveCount(Number(done));
    await expect(page.getByTestId('kernel-check-run')).toBeEnabled();
    await expect(cancel).toBeDisabled();
  });

  await test.step('the kernel check passes every case on the SwiftShader adapter', async () => {
    await expect(page.getByTestId('adapter-vendor')).toHaveText(/google/i);
    await expect(page.getByTestId('adapter-architecture')).toHaveText(/swiftshader/i);
    await expect(card).toContainText('maxStorageBufferBindingSize');

    await page.getByTestId('kernel-check-run').click();
    const summary = page.getByTestId('kernel-check-summary');
    await expect(summary).toHaveText(/^(\d+) \/ \1 passed/, { timeout: FULL_RUN_MS });

    // Only this run's rows: the cancelled run's are gone.
    const rows = page.getByTestId('kernel-row');
    const total = Number((await summary.textContent())?.match(/^(\d+)/)?.[1]);
    expect(total).toBeGreaterThan(0);
    await expect(rows).toHaveCount(total);
    await expect(page.locator('[data-testid="kernel-row"][data-status="fail"]')).toHaveCount(0);
    await expect(page.getByTestId('kernel-check-progress')).toHaveText(`${total} / ${total}`);
    await expect(
      page.getByTestId('kernel-check-chart').locator('.recharts-bar-rectangle').first(),
    ).toBeVisible();

    await page.screenshot({ path: testInfo.outputPath('kernel-check.png'), fullPage: true });
  });
  expect(errors).toEqual([]);
});
