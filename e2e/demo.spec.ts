// Paper demos: ?demo=<name> opens public/demos/<name>.json in the demo layout and runs it by
// itself; a demo file opened from the studio waits for its Run button; a demo that cannot be had
// or read says why. The shipped demos run here with their settings made tiny on the way in (the
// files as shipped take a minute or more on SwiftShader), so their text and format are the real ones.

import { expect, test } from '@playwright/test';
import { collectErrors, EVAL_MS, LOAD_MS, loadModel } from './studioPage';

const PRUNE_MS = 150_000;

test('the shipped demo opens in the demo layout, runs by itself, and opens in the studio', async ({
  page,
  context,
}, testInfo) => {
  test.setTimeout(LOAD_MS + PRUNE_MS + LOAD_MS);
  const errors = collectErrors(page);
  await context.route('**/demos/fista-2-4-stories260K.json', async (route) => {
    const demo = await (await route.fetch()).json();
    const tiny = { windows: 4, seqLen: 32, iterations: 4, rounds: 2, evalSeqLen: 64, evalWindows: 2 };
    await route.fulfill({ json: { ...demo, settings: { ...demo.settings, ...tiny } } });
  });
  await page.goto('/?demo=fista-2-4-stories260K');
  await expect(page.getByTestId('demo-title')).toHaveText(
    'FISTAPruner: 2:4 sparsity on a small Llama, in your browser',
  );
  await expect(page.getByTestId('demo-text').locator('strong').first()).toHaveText('FISTAPruner');
  await expect(page.getByTestId('demo-what')).toContainText('FISTAPruner at 2:4 on the built-in stories260K');
  // The clean layout: no section links, no settings form.
  await expect(page.getByRole('navigation', { name: 'Sections' })).toHaveCount(0);
  await expect(page.getByTestId('prune-method')).toHaveCount(0);

  await expect(page.getByTestId('demo-status')).toHaveText(
    /^Done: 50\.00% sparse, perplexity [\d.]+ → [\d.]+/,
    {
      timeout: LOAD_MS + PRUNE_MS,
    },
  );
  await expect(page.getByTestId('prune-ppl-chart')).toBeVisible();
  await expect(page.getByTestId('prune-objective-chart').locator('.recharts-line').first()).toBeVisible();
  await expect(page.getByTestId('prune-error-charts')).toBeVisible();
  await expect(page.getByTestId('demo-run')).toHaveText('Run it again');
  await page.screenshot({ path: testInfo.outputPath('demo.png'), fullPage: true });

  await page.getByTestId('demo-studio-link').click();
  await expect(page).toHaveURL(/\?prune\.method=fista&prune\.pattern=nm&.*prune\.windows=4.*#prune$/);
  await loadModel(page);
  await expect(page.getByTestId('prune-pattern')).toHaveValue('nm');
  await expect(page.getByTestId('prune-windows')).toHaveValue('4');
  await expect(page.getByTestId('prune-iterations')).toHaveValue('4');
  await expect(page.getByTestId('prune-eval-windows')).toHaveValue('2');
  // The demo's run is in the history like any other.
  await expect(page.getByTestId('history-row')).toHaveCount(1);
  expect(errors).toEqual([]);
});

test('the shipped training demo trains its arms by itself and opens in the optimizer panel', async ({
  page,
  context,
}, testInfo) => {
  test.setTimeout(4 * 60_000);
  const errors = collectErrors(page);
  await context.route('**/demos/adapprox-nano-gpt.json', async (route) => {
    const demo = await (await route.fetch()).json();
    const tiny = { steps: 3, batch: 1, seqLen: 32, warmup: 1, validationEvery: 3, validationWindows: 2 };
    await route.fulfill({ json: { ...demo, settings: { ...demo.settings, ...tiny } } });
  });
  await page.goto('/?demo=adapprox-nano-gpt');
  await expect(page.getByTestId('demo-title')).toContainText('Adapprox');
  await expect(page.getByTestId('demo-what')).toContainText(
    'Trains a nano (2 × 32) GPT-2 from scratch: 3 steps of 1 × 32 tokens of',
  );
  await expect(page.getByTestId('demo-what')).toContainText('Adapprox, no first moment (β1 = 0)');
  await expect(page.getByTestId('train-steps')).toHaveCount(0);
  await expect(page.getByTestId('demo-status')).toHaveText(/^Done: 4 arms × 3 steps/, {
    timeout: 3 * 60_000,
  });
  await expect(page.getByTestId('train-loss-chart').locator('.recharts-line')).toHaveCount(8);
  await expect(page.getByTestId('train-memory-chart')).toBeVisible();
  await page.screenshot({ path: testInfo.outputPath('train-demo.png'), fullPage: true });

  await page.getByTestId('demo-studio-link').click();
  await expect(page).toHaveURL(/[?&]train\.steps=3&.*#train$/);
  await expect(page.getByTestId('train-steps')).toHaveValue('3', { timeout: 60_000 });
  await expect(page.getByTestId('train-preset')).toHaveValue('nano');
  await expect(page.getByTestId('train-arm-adafactor-no-m')).toBeChecked();
  await expect(page.getByTestId('train-lr-adapprox')).toHaveValue('0.03');
  await expect(page.getByTestId('train-arm-came')).not.toBeChecked();
  // The demo's run is in the history like any other.
  await expect(page.getByTestId('history-row')).toHaveCount(1);
  expect(errors).toEqual([]);
});

test('a demo file opened from the studio runs on a click', async ({ page }) => {
  test.setTimeout(LOAD_MS + EVAL_MS);
  const errors = collectErrors(page);
  await page.goto('/');
  await expect(page.getByTestId('history-storage')).toContainText('kept', { timeout: 60_000 });
  const demo = {
    format: 'compression-studio/demo',
    version: 1,
    title: 'Perplexity of stories260K',
    text: 'Two windows of `64` tokens. See [the data](https://huggingface.co/datasets/roneneldan/TinyStories).\n\nA [bad link](javascript:alert(1)) stays text.',
    model: 'builtin',
    job: 'eval',
    settings: { text: 'tinystories', seqLen: 64, windows: 2 },
    autoRun: false,
  };
  await page.getByTestId('history-open-demo').setInputFiles({
    name: 'eval-demo.json',
    mimeType: 'application/json',
    buffer: Buffer.from(JSON.stringify(demo)),
  });
  await expect(page.getByTestId('demo-title')).toHaveText('Perplexity of stories260K');
  const text = page.getByTestId('demo-text');
  await expect(text.locator('code')).toHaveText('64');
  await expect(text.getByRole('link', { name: 'the data' })).toHaveAttribute(
    'href',
    'https://huggingface.co/datasets/roneneldan/TinyStories',
  );
  await expect(text.getByRole('link')).toHaveCount(1);
  await expect(text).toContainText('[bad link](javascript:alert(1))');
  await expect(page.getByTestId('demo-run')).toHaveText('Run the demo');
  await page.getByTestId('demo-run').click();
  await expect(page.getByTestId('demo-status')).toHaveText(
    /^Done: perplexity [\d.]+ over 2 windows of 64 tokens\.$/,
    {
      timeout: LOAD_MS + EVAL_MS,
    },
  );
  await expect(page.getByTestId('eval-chart').locator('.recharts-line').first()).toBeVisible();
  expect(errors).toEqual([]);
});

test('a demo that cannot be had or read says why', async ({ page }) => {
  const errors = collectErrors(page);
  await page.goto('/?demo=no-such-demo');
  await expect(page.getByTestId('demo-error')).toContainText('There is no demo named "no-such-demo"');
  await page.getByRole('link', { name: 'Open the studio' }).click();
  await expect(page.getByTestId('history-storage')).toContainText('kept', { timeout: 60_000 });
  await page.getByTestId('history-open-demo').setInputFiles({
    name: 'bad-demo.json',
    mimeType: 'application/json',
    buffer: Buffer.from(
      JSON.stringify({
        format: 'compression-studio/demo',
        version: 1,
        title: 'Bad',
        job: 'prune',
        settings: { windows: 'many', pattern: 'nm', m: 3 },
      }),
    ),
  });
  await expect(page.getByTestId('demo-error')).toContainText(
    'bad-demo.json: demo: settings.windows = "many": expected a whole number from 1 to 100000',
  );
  expect(errors).toEqual([]);
});
