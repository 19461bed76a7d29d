// What the sharing specs (links, offline, history, chart files, demos) do to the studio over and
// over: watch for errors, load the built-in model, run a small evaluation. Kept small: SwiftShader
// runs about 1 GFLOP/s, so every run here is 2 windows of 64 tokens.

import { expect, type Page } from '@playwright/test';

export const LOAD_MS = 120_000;
export const EVAL_MS = 120_000;

/** Fails the test on any uncaught page or worker error, which would otherwise pass unseen. */
export function collectErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(`page: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console: ${message.text()}`);
  });
  return errors;
}

/** Loads the chosen model (the built-in one unless a test picked another) and waits until it is on the GPU. */
export async function loadModel(page: Page) {
  await expect(page.getByTestId('model-fit')).toHaveAttribute('data-verdict', 'fits', { timeout: 60_000 });
  await page.getByTestId('model-load').click();
  await expect(page.getByTestId('model-load-status')).toContainText(
    'Loaded stories260K (built-in): resident',
    {
      timeout: LOAD_MS,
    },
  );
}

/** Perplexity on 2 windows of 64 TinyStories tokens; resolves with the exact number the page shows. */
export async function runSmallEvaluation(page: Page): Promise<number> {
  await page.getByTestId('eval-text').selectOption('tinystories');
  await page.getByTestId('eval-seq-len').fill('64');
  await page.getByTestId('eval-windows').fill('2');
  await page.getByTestId('eval-run').click();
  const ppl = page.getByTestId('eval-ppl');
  await expect(ppl).toBeVisible({ timeout: EVAL_MS });
  return Number(await ppl.getAttribute('data-ppl'));
}

/** The base names in a ustar archive ('' for the folder itself), sorted. */
export function tarNames(archive: Buffer): string[] {
  const names: string[] = [];
  for (let offset = 0; offset + 512 <= archive.length; ) {
    const name = archive
      .subarray(offset, offset + 100)
      .toString('latin1')
      .replace(/\0.*$/s, '');
    if (!name) break;
    const size = Number.parseInt(archive.subarray(offset + 124, offset + 136).toString('latin1'), 8);
    names.push(name.split('/').pop() ?? name);
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  return names.sort();
}

/** The bytes of the file with this base name in a ustar archive. */
export function tarFile(archive: Buffer, baseName: string): Buffer {
  for (let offset = 0; offset + 512 <= archive.length; ) {
    const name = archive
      .subarray(offset, offset + 100)
      .toString('latin1')
      .replace(/\0.*$/s, '');
    if (!name) break;
    const size = Number.parseInt(archive.subarray(offset + 124, offset + 136).toString('latin1'), 8);
    if ((name.split('/').pop() ?? name) === baseName)
      return archive.subarray(offset + 512, offset + 512 + size);
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  throw new Error(`${baseName} is not in the archive`);
}
