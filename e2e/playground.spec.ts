// The playground in a real browser: the built-in model pruned by magnitude at 2:4, then the dense
// model and the pruned run continue one prompt side by side with sampling and a seed. Each column
// must read exactly what the headless CLI's `generate` writes for the same model and seed: the dense
// model as shipped, and the CLI's own magnitude 2:4 prune of it (masks are exact, so both prunes
// give the same weights). Then the first screen's one-click start: FISTAPruner at 2:4, and the
// playground runs the new run beside the dense model.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, type Page, test } from '@playwright/test';
import { runCli } from './cli';
import { collectErrors, LOAD_MS, loadModel } from './studioPage';

const PRUNE_MS = 150_000;
const GENERATE_MS = 180_000;
const CLI_MS = 4 * 60_000;

const PROMPT = 'Once upon a time';
const SAMPLING = { tokens: 12, temperature: '0.8', topK: '8', seed: '7' };

function cli(args: string[]): string {
  return runCli(args, CLI_MS);
}

/** The CLI's continuation of the prompt by the model in `folder`, with the page's settings. */
function cliGenerate(folder: string): string {
  const out = cli([
    'generate',
    '--model',
    folder,
    '--prompt',
    PROMPT,
    '--max-tokens',
    String(SAMPLING.tokens),
    '--temperature',
    SAMPLING.temperature,
    '--top-k',
    SAMPLING.topK,
    '--seed',
    SAMPLING.seed,
    '--json',
  ]);
  return (JSON.parse(out) as { text: string }).text;
}

async function pruneMagnitude24(page: Page) {
  await page.getByTestId('prune-method').selectOption('magnitude');
  await page.getByTestId('prune-pattern').selectOption('nm');
  await page.getByTestId('prune-preset-2-4').click();
  await page.getByTestId('prune-windows').fill('4');
  await page.getByTestId('prune-seq-len').fill('32');
  await page.getByTestId('prune-eval-text').selectOption('tinystories');
  await page.getByTestId('prune-eval-seq-len').fill('64');
  await page.getByTestId('prune-eval-windows').fill('2');
  await expect(page.getByTestId('prune-run')).toBeEnabled();
  await page.getByTestId('prune-run').click();
  await expect(page.getByTestId('prune-status')).toHaveText(/^Done: 50\.00% sparse/, { timeout: PRUNE_MS });
}

test('dense and 2:4-pruned models generate side by side, as the CLI does for the same seed', async ({
  page,
}, testInfo) => {
  test.setTimeout(LOAD_MS + 2 * (PRUNE_MS + GENERATE_MS) + 3 * CLI_MS);
  const errors = collectErrors(page);
  await page.goto('/');
  await loadModel(page);
  await pruneMagnitude24(page);

  const playground = page.locator('#playground');
  await playground.scrollIntoViewIfNeeded();
  await page.getByTestId('playground-prompt').fill(PROMPT);
  await page.getByTestId('playground-maxNewTokens').fill(String(SAMPLING.tokens));
  await page.getByTestId('playground-temperature').fill(SAMPLING.temperature);
  await page.getByTestId('playground-topK').fill(SAMPLING.topK);
  await page.getByTestId('playground-seed').fill(SAMPLING.seed);
  await expect(page.getByTestId('playground-model-dense')).toBeChecked();
  // The CLI's generate multiplies densely; the sparse kernels sum in another order.
  await page.getByTestId('playground-sparse').uncheck();
  await page.getByTestId('playground-model-1').check();
  await page.getByTestId('playground-run').click();
  await expect(page.getByTestId('playground-status')).toHaveText('Done: 2 models.', { timeout: GENERATE_MS });

  const columns = playground.locator('[data-testid^="playground-column-"]');
  await expect(columns).toHaveCount(2);
  const dense = await columns.nth(0).getByTestId('playground-text').textContent();
  const pruned = await columns.nth(1).getByTestId('playground-text').textContent();
  await expect(columns.nth(1).getByTestId('playground-decode')).toHaveText(/^[\d.]+ tokens\/s$/);
  await expect(page.getByTestId('playground-speed-chart')).toBeVisible();
  await page.screenshot({ path: testInfo.outputPath('playground.png'), fullPage: true });

  const dir = mkdtempSync(join(tmpdir(), 'playground-e2e-'));
  try {
    const folder = join(dir, 'pruned');
    cli([
      'prune',
      '--method',
      'magnitude',
      '--pattern',
      '2:4',
      '--calibration-windows',
      '4',
      '--calibration-length',
      '32',
      '--eval',
      'none',
      '--out',
      folder,
      '--json',
    ]);
    expect(dense).toBe(cliGenerate('public/models/stories260K'));
    expect(pruned).toBe(cliGenerate(folder));
    expect(pruned).not.toBe(dense);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  // The first screen's quick start does the same with FISTAPruner, in one click; with the sparse
  // kernels on, the pruned run's blocks are kept 2:4-compressed.
  await page.getByTestId('playground-sparse').check();
  await page.getByTestId('start-prune-generate').click();
  await expect(page.getByTestId('prune-status')).toHaveText(/^Done: 50\.00% sparse/, { timeout: PRUNE_MS });
  await expect(page.getByTestId('playground-status')).toHaveText('Done: 2 models.', { timeout: GENERATE_MS });
  await expect(columns.nth(1).locator('h3')).toHaveText(/^#2 FISTAPruner \(SparseGPT start\), 2:4$/);
  await expect(columns.nth(1).getByTestId('playground-weights')).toContainText('N:M-compressed');
  const bytes = async (i: number) =>
    Number(await columns.nth(i).getByTestId('playground-weights').getAttribute('data-bytes'));
  expect(await bytes(1)).toBeLessThan(await bytes(0));
  expect(errors).toEqual([]);
});
