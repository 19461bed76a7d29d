// The model panel and the perplexity panel in a real browser: the built-in model opened, checked,
// loaded onto Chromium's SwiftShader adapter and evaluated, and the number compared with the
// headless CLI's on the same windows. Also: a broken checkpoint is refused with its file named and
// the page keeps working, and an evaluation can be cancelled.

import { readFileSync } from 'node:fs';
import { expect, type Page, test } from '@playwright/test';
import { runCli } from './cli';
import { collectErrors } from './studioPage';

const LOAD_MS = 120_000;
const EVAL_MS = 4 * 60_000;
const CLI_MS = 4 * 60_000;

const builtinFile = (name: string) =>
  readFileSync(new URL(`../public/models/stories260K/${name}`, import.meta.url));

/** Opens the studio; on a first visit the built-in model is chosen and checked without a click. */
async function openStudio(page: Page) {
  await page.goto('/');
  await expect(page.getByRole('heading', { name: 'Compression Studio' })).toBeVisible();
  await expect(page.getByTestId('model-summary')).toContainText('stories260K (built-in)', {
    timeout: 60_000,
  });
  await expect(page.getByTestId('model-builtin')).toHaveAttribute('aria-pressed', 'true');
}

/** Loads the chosen model and waits until it is on the GPU. */
async function loadChosen(page: Page, name = 'stories260K (built-in)') {
  await expect(page.getByTestId('model-fit')).toHaveAttribute('data-verdict', 'fits');
  await page.getByTestId('model-load').click();
  await expect(page.getByTestId('model-load-status')).toContainText(`Loaded ${name}: resident`, {
    timeout: LOAD_MS,
  });
}

async function chooseEvaluation(page: Page, seqLen: number, windows: number | null) {
  await page.getByTestId('eval-text').selectOption('tinystories');
  await page.getByTestId('eval-seq-len').fill(String(seqLen));
  await page.getByTestId('eval-windows').fill(windows === null ? '' : String(windows));
}

/** The CLI on Dawn in Node, with the settings the page used; its stdout is one JSON object. */
function cliEval(seqLen: number, windows: number) {
  const args = ['eval', '--model', 'public/models/stories260K', '--text', 'tinystories'];
  args.push('--seq-len', String(seqLen), '--windows', String(windows), '--json');
  return JSON.parse(runCli(args, CLI_MS)) as {
    ppl: number;
    windows: number;
    seqLen: number;
    tokensScored: number;
  };
}

// The cancel runs on the same page as the comparison, after it: the model is loaded already.
test('perplexity in the page equals the CLI’s on the same windows; cancel during an evaluation leaves a cancelled state', async ({
  page,
}, testInfo) => {
  test.setTimeout(LOAD_MS + 2 * EVAL_MS + CLI_MS);
  const errors = collectErrors(page);
  await openStudio(page);
  const fit = page.getByTestId('model-fit');
  await expect(fit).toContainText('Bytes per block');
  await expect(fit).toContainText('maxBufferSize');
  await expect(page.getByTestId('eval-seq-len')).toHaveValue('512');
  await loadChosen(page);

  await chooseEvaluation(page, 64, 2);
  await page.getByTestId('eval-run').click();
  const ppl = page.getByTestId('eval-ppl');
  await expect(ppl).toBeVisible({ timeout: EVAL_MS });
  await expect(page.getByTestId('eval-windows-done')).toHaveText('2 / 2');
  await expect(page.getByTestId('eval-rate')).toHaveText(/^[\d,]+ tokens\/s$/);
  await expect(page.getByTestId('eval-windows-available')).toHaveText(/^of [\d,]+ \([\d,]+ tokens\)$/);
  await expect(page.getByTestId('eval-chart').locator('.recharts-line').first()).toBeVisible();
  const pagePpl = Number(await ppl.getAttribute('data-ppl'));
  expect(await ppl.textContent()).toBe(pagePpl.toFixed(4));
  expect(pagePpl).toBeGreaterThan(1);
  await page.screenshot({ path: testInfo.outputPath('model-eval.png'), fullPage: true });

  const cli = cliEval(64, 2);
  expect(cli).toMatchObject({ windows: 2, seqLen: 64, tokensScored: 128 });
  // Both are f32 computations of the same WGSL kernels on SwiftShader (Chromium's and Dawn's copy),
  // on the same tokens; what may differ is tiling chosen from slightly different device limits and
  // the order of f32 sums, worth well under 1e-5 relative on a perplexity of 128 tokens.
  const relative = Math.abs(pagePpl - cli.ppl) / cli.ppl;
  testInfo.annotations.push({
    type: 'ppl',
    description: `page ${pagePpl}, CLI ${cli.ppl}, relative ${relative}`,
  });
  expect(relative).toBeLessThan(1e-5);

  await test.step('cancel during an evaluation leaves a cancelled state', async () => {
    // All windows of 512 tokens: hundreds of them, far more than run before the cancel lands.
    await chooseEvaluation(page, 512, null);
    await page.getByTestId('eval-run').click();
    await expect(page.getByTestId('eval-progress')).toHaveText(/^[1-9]\d* \/ \d+$/, { timeout: EVAL_MS });
    await page.getByTestId('eval-cancel').click();

    const status = page.getByTestId('eval-status');
    await expect(status).toHaveText(/^Cancelled after (\d+) of (\d+) windows/, { timeout: 60_000 });
    const [, done, total] = (await status.textContent())?.match(/^Cancelled after (\d+) of (\d+)/) ?? [];
    expect(Number(done)).toBeGreaterThan(0);
    expect(Number(done)).toBeLessThan(Number(total));
    await expect(page.getByTestId('eval-ppl')).toHaveCount(0);
    await expect(page.getByTestId('eval-run')).toBeEnabled();
    await expect(page.getByTestId('eval-cancel')).toBeDisabled();
    await page.screenshot({ path: testInfo.outputPath('eval-cancelled.png'), fullPage: true });
  });
  expect(errors).toEqual([]);
});

test('a truncated checkpoint is refused with its file named, and the page keeps working', async ({
  page,
}, testInfo) => {
  const errors = collectErrors(page);
  await openStudio(page);

  const weights = builtinFile('model.safetensors');
  await page.getByTestId('model-files-input').setInputFiles([
    { name: 'config.json', mimeType: 'application/json', buffer: builtinFile('config.json') },
    // The header survives and the data is cut in half, as an interrupted download leaves it.
    {
      name: 'model.safetensors',
      mimeType: 'application/octet-stream',
      buffer: weights.subarray(0, weights.length >> 1),
    },
    { name: 'tok512.bin', mimeType: 'application/octet-stream', buffer: builtinFile('tok512.bin') },
  ]);
  const error = page.getByTestId('model-error');
  await expect(error).toBeVisible({ timeout: 60_000 });
  await expect(error).toContainText(/model\.safetensors.*truncated/);
  await expect(error).toContainText('complete');
  await expect(page.getByTestId('model-load')).toBeDisabled();
  await page.screenshot({ path: testInfo.outputPath('truncated-checkpoint.png'), fullPage: true });

  await page.getByTestId('model-builtin').click();
  await expect(error).toHaveCount(0);
  await loadChosen(page);
  expect(errors).toEqual([]);
});

test('a checkpoint opens from a picked folder, a drop, and a URL', async ({ page, baseURL }) => {
  const errors = collectErrors(page);
  await openStudio(page);
  const summary = page.getByTestId('model-summary');
  const fit = page.getByTestId('model-fit');

  // The folder also holds stories260K.bin and SOURCE.md: the safetensors checkpoint is the one opened.
  await page.getByTestId('model-folder-input').setInputFiles('public/models/stories260K');
  await expect(summary.getByRole('heading')).toHaveText('stories260K');
  await expect(summary).toContainText('tok512.bin');
  await expect(fit).toHaveAttribute('data-verdict', 'fits');

  // A synthetic drop has no file-system entries, so this takes the plain-files path of the handler.
  const names = ['config.json', 'model.safetensors', 'tok512.bin'];
  const transfer = await page.evaluateHandle(
    ({ files }) => {
      const dt = new DataTransfer();
      for (const f of files) dt.items.add(new File([new Uint8Array(f.bytes)], f.name));
      return dt;
    },
    { files: names.map((name) => ({ name, bytes: [...builtinFile(name)] })) },
  );
  await page.getByTestId('model-drop').dispatchEvent('drop', { dataTransfer: transfer });
  await expect(summary.getByRole('heading')).toHaveText(names.join(', '));
  await expect(page.getByTestId('model-drop')).toHaveClass(/selected/);

  // The dev server answers a missing tokenizer.json with its index.html: that must count as missing.
  const url = new URL('models/stories260K/', baseURL).href;
  await page.getByTestId('model-url').fill(url);
  await page.getByTestId('model-url-open').click();
  await expect(summary.getByRole('heading')).toHaveText(url);
  await expect(summary).toContainText('tok512.bin');
  await loadChosen(page, url);
  expect(errors).toEqual([]);
});
