// The Pruning panel's "keep pruned matrices on disk (OPFS)" setting in a real browser (Chromium's
// SwiftShader adapter, its real private file system and sync access handles): the built-in model
// pruned with the setting off and then on gives the same perplexity after, bit for bit, and the same
// exported weights; while the on-disk run is held, its matrices are one file of exactly their bytes
// in the private file system, the memory plan line says so, and the microscope reads its masks;
// forgetting the run removes its folder.

import { readFileSync } from 'node:fs';
import { expect, type Page, test } from '@playwright/test';
import { collectErrors, LOAD_MS, loadModel, tarFile } from './studioPage';

const PRUNE_MS = 150_000;

/** stories260K's block matrices as float32: 5 blocks × (q, o 64×64; k, v 32×64 (4 key/value heads); gate, up, down 64×172). */
const MATRIX_BYTES = 5 * (2 * 64 * 64 + 2 * 32 * 64 + 3 * 64 * 172) * 4;

/** Every file under pruned-matrices/ in this origin's private file system, with its size. */
async function prunedFiles(page: Page): Promise<Record<string, number>> {
  return page.evaluate(async () => {
    type Dir = FileSystemDirectoryHandle & { entries(): AsyncIterable<[string, FileSystemHandle]> };
    const out: Record<string, number> = {};
    const walk = async (dir: Dir, path: string) => {
      for await (const [name, handle] of dir.entries()) {
        if (handle.kind === 'directory') await walk(handle as Dir, `${path}${name}/`);
        else out[`${path}${name}`] = (await (handle as FileSystemFileHandle).getFile()).size;
      }
    };
    const root = await navigator.storage.getDirectory();
    try {
      await walk((await root.getDirectoryHandle('pruned-matrices')) as Dir, '');
    } catch (error) {
      if ((error as Error).name !== 'NotFoundError') throw error;
    }
    return out;
  });
}

async function runAndWait(page: Page) {
  await expect(page.getByTestId('prune-run')).toBeEnabled();
  await page.getByTestId('prune-run').click();
  await expect(page.getByTestId('prune-status')).toHaveText(
    /^Done: 50\.00% sparse, perplexity [\d.]+ → [\d.]+/,
    {
      timeout: PRUNE_MS,
    },
  );
}

async function exportedWeights(page: Page, row: number): Promise<Buffer> {
  const [tar] = await Promise.all([
    page.waitForEvent('download'),
    page.getByTestId('prune-run-export').nth(row).click(),
  ]);
  return tarFile(readFileSync(await tar.path()), 'model.safetensors');
}

test('pruned matrices kept on disk: the same perplexity and weights, the files gone with the run', async ({
  page,
}, testInfo) => {
  test.setTimeout(LOAD_MS + 2 * PRUNE_MS + 60_000);
  const errors = collectErrors(page);
  await page.goto('/');
  await loadModel(page);

  const onDisk = page.getByTestId('prune-on-disk');
  await expect(onDisk).toBeEnabled();
  await expect(onDisk).not.toBeChecked();
  await expect(page.getByTestId('prune-on-disk-note')).toContainText("Each finished block's matrices go to");

  // Magnitude pruning, perplexity on 2 windows of 64. The store takes each finished block's
  // matrices whatever the method (jobs/prune.ts), and magnitude finishes in a fraction of
  // FISTAPruner's time on SwiftShader; FISTAPruner itself is prune.spec.ts's.
  await page.getByTestId('prune-method').selectOption('magnitude');
  await page.getByTestId('prune-eval-text').selectOption('tinystories');
  await page.getByTestId('prune-eval-seq-len').fill('64');
  await page.getByTestId('prune-eval-windows').fill('2');

  // Off: in the tab's memory, nothing on disk.
  await runAndWait(page);
  const detail = page.getByTestId('prune-detail');
  await expect(detail).toHaveAttribute('data-pruned-on-disk', 'false');
  await expect(detail).not.toContainText('on disk');
  expect(await prunedFiles(page)).toEqual({});

  // On: the plan says where they are, and they are there, one file of exactly their bytes.
  await onDisk.check();
  await runAndWait(page);
  await expect(detail).toHaveAttribute('data-pruned-on-disk', 'true');
  await expect(detail).toContainText('in this tab (pruned matrices on disk, OPFS)');
  const files = await prunedFiles(page);
  expect(Object.values(files)).toEqual([MATRIX_BYTES]);
  const [file] = Object.keys(files);
  expect(file).toMatch(/^[0-9a-f-]{36}\/run-1\/0\.f32$/);

  // Read back through the store: the perplexity after, the weights exported, the masks.
  const after = page.getByTestId('prune-run-after');
  await expect(after).toHaveCount(2);
  const ppl = await after.evaluateAll((cells) => cells.map((c) => c.getAttribute('data-ppl')));
  expect(ppl[0]).toMatch(/^\d+\.\d+$/);
  expect(ppl[1]).toBe(ppl[0]);
  const inMemory = await exportedWeights(page, 0);
  const fromDisk = await exportedWeights(page, 1);
  expect(fromDisk.length).toBeGreaterThan(MATRIX_BYTES);
  expect(fromDisk.equals(inMemory)).toBe(true);
  await expect(page.getByTestId('microscope-canvas')).toHaveAttribute('data-painted', 'true');
  await expect(page.getByTestId('microscope-kept')).toHaveAttribute('data-density', '0.5');
  await page.locator('#prune').screenshot({ path: testInfo.outputPath('prune-on-disk.png') });

  // Forgetting the run removes its folder; the session's own folder stays for the next run.
  await page.getByRole('button', { name: 'Forget run 2' }).click();
  await expect(page.getByTestId('prune-run-row')).toHaveCount(1);
  await expect.poll(() => prunedFiles(page)).toEqual({});
  const folders = await page.evaluate(async () => {
    const base = await (await navigator.storage.getDirectory()).getDirectoryHandle('pruned-matrices');
    const names: string[] = [];
    for await (const [name] of (base as unknown as { entries(): AsyncIterable<[string]> }).entries()) {
      const session = await base.getDirectoryHandle(name);
      for await (const [run] of (session as unknown as { entries(): AsyncIterable<[string]> }).entries())
        names.push(`${name}/${run}`);
    }
    return names;
  });
  expect(folders).toEqual([]);
  expect(errors).toEqual([]);
});
