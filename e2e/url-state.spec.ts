// A link sets the studio up: the pruning, evaluation and training settings in the query, the
// section in the hash. Opened in a fresh browser, the form shows what the link says; a change is
// written back to the address at once, so a reload keeps it; what a link asks for and the studio
// cannot use is reported and ignored.

import { expect, test } from '@playwright/test';
import { collectErrors, LOAD_MS, loadModel } from './studioPage';

test('a shared link reproduces the settings, and a change survives a reload', async ({ page }) => {
  test.setTimeout(3 * LOAD_MS);
  const errors = collectErrors(page);
  const link = new URLSearchParams({
    'prune.method': 'magnitude',
    'prune.pattern': 'nm',
    'prune.n': '2',
    'prune.m': '4',
    'prune.windows': '6',
    'prune.seqLen': '48',
    'prune.evalText': 'tinystories',
    'eval.text': 'tinystories',
    'eval.seqLen': '64',
    'eval.windows': '3',
  });
  await page.goto(`/?${link}#prune`);
  // The evaluation settings apply as soon as the model is open, before it is loaded.
  await expect(page.getByTestId('eval-seq-len')).toHaveValue('64', { timeout: 60_000 });
  await expect(page.getByTestId('eval-text')).toHaveValue('tinystories');
  await expect(page.getByTestId('eval-windows')).toHaveValue('3');
  // The section the link named is in view (before loading the model scrolls up to its Load button).
  await expect(page.locator('#prune')).toBeInViewport();
  await loadModel(page);
  await expect(page.getByTestId('prune-method')).toHaveValue('magnitude');
  await expect(page.getByTestId('prune-pattern')).toHaveValue('nm');
  await expect(page.getByTestId('prune-n')).toHaveValue('2');
  await expect(page.getByTestId('prune-m')).toHaveValue('4');
  await expect(page.getByTestId('prune-windows')).toHaveValue('6');
  await expect(page.getByTestId('prune-seq-len')).toHaveValue('48');
  await expect(page.getByTestId('prune-eval-text')).toHaveValue('tinystories');
  await expect(page.getByTestId('link-problems')).toHaveCount(0);

  // A change goes into the address straight away.
  await page.getByTestId('prune-windows').fill('5');
  await page.getByTestId('eval-windows').fill('2');
  await expect(page).toHaveURL(/[?&]prune\.windows=5(&|#|$)/);
  await expect(page).toHaveURL(/[?&]eval\.windows=2(&|#|$)/);
  await page.reload();
  await expect(page.getByTestId('eval-windows')).toHaveValue('2', { timeout: 60_000 });
  await loadModel(page);
  await expect(page.getByTestId('prune-windows')).toHaveValue('5');
  await expect(page.getByTestId('prune-method')).toHaveValue('magnitude');
  expect(errors).toEqual([]);
});

test('a link’s bad values are reported and ignored, and the rest applies', async ({ page }) => {
  test.setTimeout(2 * LOAD_MS);
  const errors = collectErrors(page);
  await page.goto(
    '/?prune.windows=abc&prune.pattern=nm&prune.m=8&prune.xi=0.2&eval.seqLen=100000&bogus=%3Cb%3Ex&prune.__proto__=1#nowhere',
  );
  const problems = page.getByTestId('link-problems');
  await expect(problems).toContainText('prune.windows = "abc": expected a whole number');
  await expect(problems).toContainText('"bogus" is not a setting');
  await expect(problems).toContainText('"prune.__proto__" is not a setting');
  // Checked against the model once it is open, and once it is loaded.
  await expect(problems).toContainText('eval.seqLen = "100000": longer than stories260K (built-in)', {
    timeout: 60_000,
  });
  await expect(problems).toContainText('#nowhere does not name a section');
  await expect(page.getByTestId('eval-seq-len')).toHaveValue('512');
  await loadModel(page);
  await expect(problems).toContainText('prune.m = "8": M = 8 does not divide the 172 inputs of down');
  await expect(page.getByTestId('prune-m')).toHaveValue('4');
  await expect(page.getByTestId('prune-pattern')).toHaveValue('nm');
  await expect(page.getByTestId('prune-xi')).toHaveValue('0.2');
  await expect(page.getByTestId('prune-windows')).toHaveValue('32');
  // The address now says only what was applied.
  await expect(page).toHaveURL(/\?prune\.pattern=nm&prune\.xi=0\.2#nowhere$/);
  await page.getByTestId('link-problems').getByRole('button', { name: 'Dismiss' }).click();
  await expect(problems).toHaveCount(0);
  expect(errors).toEqual([]);
});

test('a link sets up the optimizer panel, and refuses what does not fit the preset', async ({ page }) => {
  test.setTimeout(2 * 60_000);
  const errors = collectErrors(page);
  const link = new URLSearchParams({
    'train.preset': 'nano',
    'train.family': 'llama',
    'train.text': 'tinystories',
    'train.steps': '7',
    'train.seqLen': '100',
    'train.arms': 'adamw@0.01,adapprox-no-m@0.02',
  });
  await page.goto(`/?${link}#train`);
  await expect(page.getByTestId('train-preset')).toHaveValue('nano', { timeout: 60_000 });
  await expect(page.getByTestId('train-family')).toHaveValue('llama');
  await expect(page.getByTestId('train-text')).toHaveValue('tinystories');
  await expect(page.getByTestId('train-steps')).toHaveValue('7');
  await expect(page.getByTestId('train-arm-adamw')).toBeChecked();
  await expect(page.getByTestId('train-lr-adamw')).toHaveValue('0.01');
  await expect(page.getByTestId('train-arm-adapprox-no-m')).toBeChecked();
  await expect(page.getByTestId('train-lr-adapprox-no-m')).toHaveValue('0.02');
  for (const off of ['adafactor', 'came', 'adapprox'])
    await expect(page.getByTestId(`train-arm-${off}`)).not.toBeChecked();
  // The nano preset's context is 64 tokens: the window is refused and stays at its default.
  await expect(page.getByTestId('link-problems')).toContainText(
    'train.seqLen = "100": A whole number of tokens from 2 to the model’s context (64).',
  );
  await expect(page.getByTestId('train-seq-len')).toHaveValue('64');
  await expect(page.locator('#train')).toBeInViewport();

  // A change goes into the address; a reload keeps it.
  await page.getByTestId('train-batch').fill('3');
  await page.getByTestId('train-arm-came').check();
  await expect(page).toHaveURL(/[?&]train\.batch=3(&|#|$)/);
  await expect(page).toHaveURL(
    /[?&]train\.arms=adamw%400\.01%2Ccame%400\.001%2Cadapprox-no-m%400\.02(&|#|$)/,
  );
  await page.reload();
  await expect(page.getByTestId('train-batch')).toHaveValue('3', { timeout: 60_000 });
  await expect(page.getByTestId('train-arm-came')).toBeChecked();
  await expect(page.getByTestId('train-steps')).toHaveValue('7');
  expect(errors).toEqual([]);
});
