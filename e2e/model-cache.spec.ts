// A model opened from a Hugging Face repository id is stored in the browser's private file system:
// the hub is a fake one (routed requests answered from public/models/stories260K), so each request
// for the model's files is counted. The second open, after a reload, makes none; a stored file
// damaged from the page is found by its sha256 and fetched again; the stored list shows the model
// with its size, refuses to delete the model in use, and deletes it once another is loaded.

import { readFileSync } from 'node:fs';
import { expect, type Page, test } from '@playwright/test';
import { collectErrors, LOAD_MS } from './studioPage';

// The service worker would answer the worker's fetches itself, out of the routes' sight.
test.use({ serviceWorkers: 'block' });

const REPO = 'test-org/tiny';
const FOLDER = `https://huggingface.co/${REPO}/resolve/main/`;
const FILES: Record<string, Buffer> = Object.fromEntries(
  ['config.json', 'model.safetensors', 'tok512.bin'].map((name) => [
    name,
    readFileSync(new URL(`../public/models/stories260K/${name}`, import.meta.url)),
  ]),
);
const STORED_BYTES = Object.values(FILES).reduce((s, b) => s + b.length, 0);
const CORS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Headers': 'Range',
  'Access-Control-Expose-Headers': 'Content-Range, Content-Length',
};

async function openRepo(page: Page) {
  await page.getByTestId('model-url').fill(REPO);
  await page.getByTestId('model-url-open').click();
  await expect(page.getByTestId('model-summary').getByRole('heading')).toHaveText(REPO, { timeout: 60_000 });
  await expect(page.getByTestId('model-fit')).toHaveAttribute('data-verdict', 'fits', { timeout: 60_000 });
}

async function load(page: Page, name: string) {
  await page.getByTestId('model-load').click();
  await expect(page.getByTestId('model-load-status')).toContainText(`Loaded ${name}: resident`, {
    timeout: LOAD_MS,
  });
}

test('a model opened by repository id is stored, reopened without the network, checked, and deleted', async ({
  page,
  context,
}, testInfo) => {
  test.setTimeout(3 * LOAD_MS);
  const errors = collectErrors(page);
  /** GET requests to the fake hub: the file name, with ' range' for a range request. */
  let requests: string[] = [];
  await context.route(`${FOLDER}**`, async (route) => {
    const request = route.request();
    if (request.method() === 'OPTIONS') return route.fulfill({ status: 204, headers: CORS });
    const name = request.url().slice(FOLDER.length);
    const range = /bytes=(\d+)-(\d+)/.exec((await request.allHeaders()).range ?? '');
    requests.push(range ? `${name} range` : name);
    const body = FILES[name];
    if (!body) return route.fulfill({ status: 404, headers: CORS, body: 'Entry not found' });
    if (!range)
      return route.fulfill({
        status: 200,
        headers: { ...CORS, 'Content-Type': 'application/octet-stream' },
        body,
      });
    const start = Number(range[1]);
    const end = Math.min(Number(range[2]), body.length - 1);
    return route.fulfill({
      status: 206,
      headers: {
        ...CORS,
        'Content-Range': `bytes ${start}-${end}/${body.length}`,
        'Content-Type': 'application/octet-stream',
      },
      body: body.subarray(start, end + 1),
    });
  });
  const weightRequests = () => requests.filter((r) => r.startsWith('model.safetensors'));

  await page.goto('/');
  await expect(page.getByTestId('model-fit')).toHaveAttribute('data-verdict', 'fits', { timeout: 60_000 });

  // First open: downloaded whole, once, and stored.
  await openRepo(page);
  await expect(page.getByTestId('model-cache-note')).toHaveAttribute('data-status', 'stored');
  expect(weightRequests()).toContain('model.safetensors');
  const row = page.getByTestId('model-cache-row');
  await expect(row).toHaveCount(1);
  await expect(row).toHaveAttribute('data-url', FOLDER);
  await expect(row).toHaveAttribute('data-bytes', String(STORED_BYTES));
  await expect(row).toContainText('1.00 MiB');
  await expect(page.getByTestId('model-cache-storage')).toContainText('1 model, 1.00 MiB in all');
  await expect(page.getByTestId('model-cache-storage')).toContainText('this site uses');

  // After a reload (the URL box remembers the id): no request at all, the weights least of all.
  await page.reload();
  await expect(page.getByTestId('model-fit')).toHaveAttribute('data-verdict', 'fits', { timeout: 60_000 });
  requests = [];
  await openRepo(page);
  await expect(page.getByTestId('model-cache-note')).toHaveAttribute('data-status', 'hit');
  await expect(page.getByTestId('model-cache-note')).toContainText('1.00 MiB checked against their sha256');
  expect(weightRequests()).toEqual([]);
  expect(requests).toEqual([]);
  await page.screenshot({ path: testInfo.outputPath('model-cache-hit.png'), fullPage: true });

  // Garbage over part of the stored weights (the size unchanged): only the sha256 can tell.
  const damaged = await page.evaluate(async () => {
    const root = await (await navigator.storage.getDirectory()).getDirectoryHandle('model-cache');
    const folders: FileSystemDirectoryHandle[] = [];
    for await (const handle of (root as unknown as { values(): AsyncIterable<FileSystemHandle> }).values()) {
      if (handle.kind === 'directory') folders.push(handle as FileSystemDirectoryHandle);
    }
    const file = await (folders[0] as FileSystemDirectoryHandle).getFileHandle('model.safetensors');
    const writable = await file.createWritable({ keepExistingData: true });
    await writable.write({ type: 'write', position: 200_000, data: new Uint8Array(4096).fill(0x5a) });
    await writable.close();
    return { folders: folders.length, size: (await file.getFile()).size };
  });
  expect(damaged).toEqual({ folders: 1, size: FILES['model.safetensors']?.length });

  requests = [];
  await openRepo(page);
  await expect(page.getByTestId('model-cache-dropped')).toContainText(
    'The stored copy was dropped: model.safetensors no longer matches its sha256. It was downloaded again.',
  );
  await expect(page.getByTestId('model-cache-note')).toHaveAttribute('data-status', 'stored');
  expect(weightRequests()).toContain('model.safetensors');
  // It works: the weights read back from the new stored copy load onto the GPU.
  await load(page, REPO);

  // The loaded model reads its files from the store, so its copy cannot go while it is loaded.
  await page.getByTestId('model-cache-delete').click();
  await expect(page.getByTestId('model-cache-error')).toContainText(`${FOLDER} is open in the studio`);
  await expect(row).toHaveCount(1);

  await page.getByTestId('model-builtin').click();
  await expect(page.getByTestId('model-fit')).toHaveAttribute('data-verdict', 'fits', { timeout: 60_000 });
  await load(page, 'stories260K (built-in)');
  await page.getByTestId('model-cache-delete').click();
  await expect(row).toHaveCount(0);
  await expect(page.getByTestId('model-cache-error')).toHaveCount(0);
  await expect(page.getByTestId('model-cache-storage')).toContainText('0 models, 0 B in all');
  const left = await page.evaluate(async () => {
    const root = await (await navigator.storage.getDirectory()).getDirectoryHandle('model-cache');
    const names: string[] = [];
    for await (const name of (root as unknown as { keys(): AsyncIterable<string> }).keys()) names.push(name);
    return names;
  });
  expect(left).toEqual([]);
  // The hub's 404s for the tokenizer files it lacks are logged by the browser; nothing else may be.
  expect(
    errors.filter((e) => !/Failed to load resource: the server responded with a status of 404/.test(e)),
  ).toEqual([]);
});
