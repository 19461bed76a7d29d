// Runs kept across visits, and records as files: every run lands in the history (IndexedDB), which
// survives a reload and forgets what is deleted; a record exported as JSON and imported again shows
// the same numbers and charts as the run itself, and so does one written by the CLI (--record:
// evaluation, pruning and training); a bad file is refused with the field that is wrong, and
// nothing else moves. Also the charts' PNG, SVG and CSV downloads.

import { readFileSync } from 'node:fs';
import { expect, type Page, test } from '@playwright/test';
import type { TrainSummary } from '../src/train/job';
import { runCli } from './cli';
import { collectErrors, EVAL_MS, LOAD_MS, loadModel, runSmallEvaluation } from './studioPage';

const PRUNE_MS = 150_000;
const CLI_MS = 4 * 60_000;
/** The tiny training run below took 13 s alone on two CPU cores, when each call still built the bundle. */
const TRAIN_CLI_MS = 2 * 60_000;

/** The headless CLI on Dawn in Node, writing its run record to `record`; resolves with its --json object. */
function cli(args: string[], record: string, timeout = CLI_MS): Record<string, unknown> {
  return JSON.parse(runCli([...args, '--json', '--record', record], timeout));
}

async function openStudio(page: Page) {
  await page.goto('/');
  await expect(page.getByTestId('history-storage')).toContainText('kept', { timeout: 60_000 });
}

// The chart's downloads use the evaluation the history test runs anyway: one page, one model load.
test('the history keeps runs across a reload, and deletes them; a chart downloads as PNG, SVG and CSV', async ({
  page,
}) => {
  test.setTimeout(LOAD_MS + 2 * EVAL_MS);
  const errors = collectErrors(page);
  await openStudio(page);
  await expect(page.getByTestId('history-row')).toHaveCount(0);
  await loadModel(page);
  const ppl = await runSmallEvaluation(page);

  await test.step('a chart downloads as PNG, SVG and CSV', async () => {
    const chart = page.getByTestId('eval-chart');
    await expect(chart.locator('.recharts-line').first()).toBeVisible();
    const box = await chart.locator('.recharts-wrapper > svg').boundingBox();
    const save = async (format: string) => {
      const [download] = await Promise.all([
        page.waitForEvent('download'),
        chart.getByTestId(`chart-export-${format}`).click(),
      ]);
      expect(download.suggestedFilename()).toBe(`perplexity-per-window.${format}`);
      return readFileSync(await download.path());
    };

    const png = await save('png');
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    // IHDR: width and height at twice the chart's size on the page.
    expect(png.readUInt32BE(16)).toBe(2 * Math.ceil(box?.width ?? 0));
    expect(png.readUInt32BE(20)).toBe(2 * Math.ceil(box?.height ?? 0));
    expect(png.length).toBeGreaterThan(5_000);

    const svg = (await save('svg')).toString('utf8');
    expect(svg).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<svg /);
    expect(svg).toContain('xmlns="http://www.w3.org/2000/svg"');
    expect(svg).toContain('<title>Perplexity per window, and over all windows so far</title>');
    expect(svg).toMatch(/<path [^>]*class|<path /);
    // The legend is drawn into the file; nothing refers to the page's CSS any more.
    expect(svg).toMatch(/<text [^>]*>running<\/text>/);
    expect(svg).not.toContain('var(--');
    expect(svg).not.toMatch(/class="/);

    const csv = (await save('csv')).toString('utf8').trim().split('\r\n');
    expect(csv[0]).toBe('window,windowPpl,runningPpl');
    expect(csv).toHaveLength(3);
    for (const line of csv.slice(1)) {
      const [window, windowPpl, runningPpl] = line.split(',').map(Number);
      expect(window).toBeGreaterThan(0);
      expect(windowPpl).toBeGreaterThan(1);
      expect(runningPpl).toBeGreaterThan(1);
    }
  });

  // A cancelled run is kept too.
  await page.getByTestId('eval-windows').fill('');
  await page.getByTestId('eval-run').click();
  await expect(page.getByTestId('eval-progress')).toHaveText(/^[1-9]\d* \/ \d+$/, { timeout: EVAL_MS });
  await page.getByTestId('eval-cancel').click();
  await expect(page.getByTestId('eval-status')).toHaveText(/^Cancelled/, { timeout: 60_000 });

  const rows = page.getByTestId('history-row');
  await expect(rows).toHaveCount(2);
  await expect(page.getByTestId('history-storage')).toContainText(
    /2 runs kept · this site uses [\d.]+ \w+ of/,
  );

  await page.reload();
  await expect(rows).toHaveCount(2, { timeout: 60_000 });
  // Newest first: the cancelled run, then the finished one.
  await expect(rows.nth(0)).toContainText('cancelled');
  await expect(rows.nth(1)).toContainText(`perplexity ${ppl.toFixed(3)}`);
  await rows.nth(1).getByTestId('history-view').click();
  const view = page.getByTestId('record-view');
  await expect(view.getByTestId('record-result-ppl')).toHaveAttribute('data-value', String(ppl));
  await expect(view.getByTestId('record-status')).toHaveText('finished');

  await rows.nth(0).getByTestId('history-delete').click();
  await expect(rows).toHaveCount(1);
  await page.reload();
  await expect(rows).toHaveCount(1, { timeout: 60_000 });
  await page.getByTestId('history-clear').click();
  await page.getByTestId('history-clear-confirm').click();
  await expect(rows).toHaveCount(0);
  await page.reload();
  await expect(page.getByTestId('history-storage')).toContainText('0 runs kept', { timeout: 60_000 });
  expect(errors).toEqual([]);
});

test('an exported pruning record imports with the same numbers and charts', async ({ page }, testInfo) => {
  test.setTimeout(LOAD_MS + PRUNE_MS + 60_000);
  const errors = collectErrors(page);
  await openStudio(page);
  await loadModel(page);
  await page.getByTestId('prune-pattern').selectOption('nm');
  await page.getByTestId('prune-preset-2-4').click();
  await page.getByTestId('prune-windows').fill('4');
  await page.getByTestId('prune-seq-len').fill('32');
  await page.getByTestId('prune-iterations').fill('4');
  await page.getByTestId('prune-rounds').fill('2');
  await page.getByTestId('prune-eval-text').selectOption('tinystories');
  await page.getByTestId('prune-eval-seq-len').fill('64');
  await page.getByTestId('prune-eval-windows').fill('2');
  await page.getByTestId('prune-run').click();
  await expect(page.getByTestId('prune-status')).toHaveText(/^Done: 50\.00% sparse/, { timeout: PRUNE_MS });
  const live = page.getByTestId('prune-run-row');
  const liveBars = await page
    .locator('#prune')
    .getByTestId('prune-error-charts')
    .locator('.recharts-bar-rectangle')
    .count();
  expect(liveBars).toBeGreaterThan(30);
  const before = await live.getByTestId('prune-run-before').textContent();
  const after = await live.getByTestId('prune-run-after').textContent();

  const row = page.getByTestId('history-row');
  await expect(row).toHaveCount(1);
  await expect(row).toHaveAttribute('data-kind', 'prune');
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    row.getByTestId('history-export').click(),
  ]);
  expect(download.suggestedFilename()).toMatch(/^prune-stories260K-\d{4}-\d\d-\d\dT[\d-]+\.json$/);
  const file = await download.path();
  const exported = JSON.parse(readFileSync(file, 'utf8'));
  expect(exported).toMatchObject({
    format: 'compression-studio/run-record',
    kind: 'prune',
    status: 'finished',
    producer: 'studio',
    model: { name: 'stories260K (built-in)', files: ['model.safetensors'] },
  });
  expect(exported.model.sha256).toMatch(/^[0-9a-f]{64}$/);
  expect(exported.data.map((d: { name: string }) => d.name)).toEqual(['c4', 'tinystories']);
  // The last operator's objective, one series per λ round as the engine sent it (K = 4: 5 points),
  // tagged with its round, which is how the record view finds it again.
  const rounds = exported.metrics.filter((m: { round?: unknown }) => m.round);
  expect(exported.version).toBe(2);
  expect(rounds.map((m: { round: { round: number } }) => m.round.round)).toEqual([0, 1]);
  for (const m of rounds) expect(m).toMatchObject({ xUnit: 'iteration', x: [0, 1, 2, 3, 4] });

  // From an empty history, as in another browser.
  await page.getByTestId('history-clear').click();
  await page.getByTestId('history-clear-confirm').click();
  await expect(row).toHaveCount(0);
  await page.getByTestId('history-import').setInputFiles(file);
  await expect(row).toHaveCount(1);
  const view = page.getByTestId('record-view');
  await expect(view.getByTestId('record-result-sparsity')).toHaveAttribute('data-value', '0.5');
  const shown = async (key: string) =>
    Number(await view.getByTestId(`record-result-${key}`).getAttribute('data-value'));
  expect((await shown('pplBefore.tinystories')).toFixed(3)).toBe(before);
  expect((await shown('pplAfter.tinystories')).toFixed(3)).toBe(after);
  expect(await shown('pplBefore.tinystories')).toBe(exported.results['pplBefore.tinystories']);
  expect(await shown('operators')).toBe(5 * 7);
  // The charts a live run draws, from the record.
  await expect(view.getByTestId('prune-ppl-chart')).toBeVisible();
  await expect(view.getByTestId('prune-objective-chart').locator('.recharts-line').first()).toBeVisible();
  await expect(view.getByTestId('prune-lambda-charts')).toBeVisible();
  await expect(view.getByTestId('prune-error-charts').locator('.recharts-bar-rectangle')).toHaveCount(
    liveBars,
  );
  await view.screenshot({ path: testInfo.outputPath('imported-prune-record.png') });

  // A broken file is refused with the field named; the imported record stays.
  await page.getByTestId('history-import').setInputFiles({
    name: 'broken.json',
    mimeType: 'application/json',
    buffer: Buffer.from(JSON.stringify({ ...exported, model: { ...exported.model, sha256: 'nope' } })),
  });
  await expect(page.getByTestId('history-import-error')).toContainText(
    'broken.json: run record: "sha256" must be a hex sha256',
  );
  await page.getByTestId('history-import').setInputFiles({
    name: 'notes.txt',
    mimeType: 'text/plain',
    buffer: Buffer.from('not json at all'),
  });
  await expect(page.getByTestId('history-import-error')).toContainText('notes.txt: the file is not JSON');
  await expect(row).toHaveCount(1);
  await expect(view).toBeVisible();

  // Run again: the record's settings go back into the form and the run starts.
  await page.getByTestId('prune-method').selectOption('magnitude');
  await page.getByTestId('prune-windows').fill('7');
  await row.getByTestId('history-rerun').click();
  await expect(page.getByTestId('prune-method')).toHaveValue('fista');
  await expect(page.getByTestId('prune-windows')).toHaveValue('4');
  await expect(page.getByTestId('prune-status')).toHaveText(/^Done: 50\.00% sparse/, { timeout: PRUNE_MS });
  await expect(row).toHaveCount(2);
  // The run is seeded: the same windows, the same masks, the same numbers.
  await expect(live.nth(1).getByTestId('prune-run-after')).toHaveText(after ?? '');
  expect(errors).toEqual([]);
});

test('CLI records import with their numbers and charts, and run again in the studio', async ({
  page,
}, testInfo) => {
  test.setTimeout(2 * CLI_MS + LOAD_MS + EVAL_MS);
  const errors = collectErrors(page);
  const evalFile = testInfo.outputPath('cli-eval.json');
  const pruneFile = testInfo.outputPath('cli-prune.json');
  const model = ['--model', 'public/models/stories260K'];
  const evaluation = cli(
    ['eval', ...model, '--text', 'tinystories', '--seq-len', '64', '--windows', '2'],
    evalFile,
  );
  cli(
    [
      'prune',
      ...model,
      '--method',
      'magnitude',
      '--pattern',
      '2:4',
      '--calibration-windows',
      '4',
      '--calibration-length',
      '32',
      '--eval',
      'tinystories',
      '--eval-windows',
      '2',
      '--seq-len',
      '64',
    ],
    pruneFile,
  );
  const pruneRecord = JSON.parse(readFileSync(pruneFile, 'utf8'));

  await openStudio(page);
  const rows = page.getByTestId('history-row');
  const view = page.getByTestId('record-view');
  await page.getByTestId('history-import').setInputFiles(pruneFile);
  await expect(view.getByTestId('record-producer')).toContainText('the CLI');
  await expect(view.getByTestId('record-result-sparsity')).toHaveAttribute('data-value', '0.5');
  for (const key of ['pplBefore.tinystories', 'pplAfter.tinystories']) {
    await expect(view.getByTestId(`record-result-${key}`)).toHaveAttribute(
      'data-value',
      String(pruneRecord.results[key]),
    );
  }
  await expect(view.getByTestId('prune-ppl-chart')).toBeVisible();
  await expect(
    view.getByTestId('prune-error-charts').locator('.recharts-bar-rectangle').first(),
  ).toBeVisible();
  // A series the studio has no chart of its own for is drawn as a line.
  await expect(view.locator('[data-metric="operator/sparsity"]')).toBeVisible();
  await expect(rows.first()).toContainText('CLI');

  await page.getByTestId('history-import').setInputFiles(evalFile);
  await expect(rows).toHaveCount(2);
  await expect(view.getByTestId('record-result-ppl')).toHaveAttribute('data-value', String(evaluation.ppl));
  await expect(view.getByTestId('eval-chart').locator('.recharts-line').first()).toBeVisible();

  // Run again: the CLI's settings in the perplexity panel, run on the same model (same sha256, so
  // no note), to the same number within f32 summation order.
  await page.locator('[data-testid="history-row"][data-kind="eval"]').getByTestId('history-rerun').click();
  const ppl = page.getByTestId('eval-ppl');
  await expect(ppl).toBeVisible({ timeout: LOAD_MS + EVAL_MS });
  await expect(page.getByTestId('eval-seq-len')).toHaveValue('64');
  await expect(page.getByTestId('eval-windows')).toHaveValue('2');
  await expect(page.getByTestId('history-rerun-notes')).toHaveCount(0);
  const studioPpl = Number(await ppl.getAttribute('data-ppl'));
  expect(Math.abs(studioPpl - (evaluation.ppl as number)) / (evaluation.ppl as number)).toBeLessThan(1e-5);
  await expect(rows).toHaveCount(3);
  expect(errors).toEqual([]);
});

test('a CLI training record imports with its final losses, state bytes and every arm’s curves, and runs again in the studio', async ({
  page,
}, testInfo) => {
  // execFileSync holds the test's timer until the CLI is done, so the CLI has its own limit.
  test.setTimeout(TRAIN_CLI_MS + 2 * 60_000);
  const errors = collectErrors(page);
  const file = testInfo.outputPath('cli-train.json');
  const arms = ['adamw@3e-3', 'adapprox@3e-3'];
  const output = cli(
    [
      'train',
      ...['--size', 'nano', '--steps', '4', '--batch', '1', '--seq-len', '32'],
      ...['--val-every', '2', '--val-windows', '2'],
      ...arms.flatMap((arm) => ['--arm', arm]),
    ],
    file,
    TRAIN_CLI_MS,
  ) as unknown as { summary: TrainSummary };
  expect(output.summary.arms.map((a) => a.id)).toEqual(arms);

  await openStudio(page);
  await page.getByTestId('history-import').setInputFiles(file);
  const view = page.getByTestId('record-view');
  await expect(view.getByTestId('record-producer')).toContainText('the CLI');
  await expect(page.getByTestId('history-row')).toHaveAttribute('data-kind', 'train');
  // The numbers the CLI printed, to the last digit.
  for (const arm of output.summary.arms) {
    const results: [string, number | null][] = [
      [`train/${arm.id}`, arm.finalTrainLoss],
      [`validation/${arm.id}`, arm.finalValidationLoss],
      [`stateBytes/${arm.id}`, arm.state.persistent],
    ];
    for (const [key, value] of results) {
      expect(value).not.toBeNull();
      await expect(view.getByTestId(`record-result-${key}`)).toHaveAttribute('data-value', String(value));
    }
  }

  // One loss chart, as a live run draws it: per arm a training line with a point per step and a
  // validation line with a dot per validation (before the first step, after step 2 and step 4).
  const curves = view.getByTestId('record-train-loss');
  for (const arm of arms) {
    const counts = curves.locator(`[data-testid="record-train-arm"][data-arm="${arm}"]`);
    await expect(counts).toHaveAttribute('data-train-points', '4');
    await expect(counts).toHaveAttribute('data-validation-points', '3');
  }
  const chart = curves.getByTestId('train-loss-chart');
  await expect(chart.locator('.recharts-line')).toHaveCount(2 * arms.length);
  for (const arm of arms)
    for (const kind of ['train', 'validation'])
      await expect(chart.locator('.recharts-legend-item', { hasText: `${arm} (${kind})` })).toHaveCount(1);
  await expect(chart.locator('.recharts-line-dots circle')).toHaveCount(2 * 3);
  // Every point is a vertex of its line's path (M, then L per further point), in the arms' order.
  const vertices = await chart
    .locator('path.recharts-line-curve')
    .evaluateAll((paths) => paths.map((p) => (p.getAttribute('d') ?? '').match(/[ML]/g)?.length ?? 0));
  expect(vertices).toEqual([4, 3, 4, 3]);
  // The curves are not drawn a second time as plain series; the state bytes get their chart.
  await expect(view.getByTestId('record-metric-chart')).toHaveCount(0);
  await expect(view.getByTestId('train-memory-chart').locator('.recharts-bar-rectangle')).toHaveCount(
    arms.length + 1,
  );
  await view.screenshot({ path: testInfo.outputPath('imported-train-record.png') });

  // Run again in the studio: the same preset weights (the record's sha256), the same batches, the
  // same arms, in Chromium's WebGPU rather than Node's Dawn. The losses came out bit-identical when
  // this was written (both on SwiftShader); the bound leaves room for the two Dawn builds to drift.
  const cliModel = await view.getByTestId('record-model-sha256').getAttribute('data-value');
  await page.getByTestId('history-row').getByTestId('history-rerun').click();
  await expect(page.getByTestId('train-status')).toHaveText(/^Done: 2 arms × 4 steps/, {
    timeout: 2 * 60_000,
  });
  await expect(page.getByTestId('train-steps')).toHaveValue('4');
  await expect(page.getByTestId('train-val-every')).toHaveValue('2');
  const rows = page.getByTestId('history-row');
  await expect(rows).toHaveCount(2);
  await rows.nth(0).getByTestId('history-view').click();
  const rerun = page.getByTestId('record-view');
  await expect(rerun.getByTestId('record-producer')).toContainText('the studio');
  await expect(rerun.getByTestId('record-model-sha256')).toHaveAttribute('data-value', cliModel ?? '');
  for (const arm of output.summary.arms) {
    const variant = arm.id.replace(/@.*$/, '');
    const value = async (key: string) =>
      Number(await rerun.getByTestId(`record-result-${key}/${variant}`).getAttribute('data-value'));
    expect(Math.abs((await value('train')) - (arm.finalTrainLoss ?? Number.NaN))).toBeLessThan(1e-3);
    expect(Math.abs((await value('validation')) - (arm.finalValidationLoss ?? Number.NaN))).toBeLessThan(
      1e-3,
    );
    expect(await value('stateBytes')).toBe(arm.state.persistent);
  }
  expect(errors).toEqual([]);
});
