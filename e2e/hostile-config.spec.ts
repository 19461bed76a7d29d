// A model folder whose config.json claims a billion layers over the built-in five-layer checkpoint.
// Before sizes were checked against the tensors (src/model/configCheck.ts) the worker listed a
// billion layers' tensors and died of V8's out-of-memory abort; now the page shows a clear error
// naming the field, the claim and the tensors, and keeps working.

import { readFileSync } from 'node:fs';
import { expect, test } from '@playwright/test';
import { collectErrors } from './studioPage';

const builtinFile = (name: string) =>
  readFileSync(new URL(`../public/models/stories260K/${name}`, import.meta.url));

test('a config claiming 1e9 layers is refused with the field named, and the page keeps working', async ({
  page,
}, testInfo) => {
  const errors = collectErrors(page);
  await page.goto('/');
  await expect(page.getByTestId('model-summary')).toContainText('stories260K (built-in)', {
    timeout: 60_000,
  });

  const config = { ...JSON.parse(builtinFile('config.json').toString('utf8')), num_hidden_layers: 1e9 };
  await page.getByTestId('model-files-input').setInputFiles([
    { name: 'config.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(config)) },
    {
      name: 'model.safetensors',
      mimeType: 'application/octet-stream',
      buffer: builtinFile('model.safetensors'),
    },
    { name: 'tok512.bin', mimeType: 'application/octet-stream', buffer: builtinFile('tok512.bin') },
  ]);
  const error = page.getByTestId('model-error');
  await expect(error).toBeVisible({ timeout: 60_000 });
  await expect(error).toContainText(
    'num_hidden_layers = 1000000000 does not match the checkpoint (model.safetensors): its tensors hold 5 layers',
  );
  await expect(page.getByTestId('model-load')).toBeDisabled();
  await page.screenshot({ path: testInfo.outputPath('billion-layers.png'), fullPage: true });

  // The worker survived: the built-in model is chosen and checked again.
  await page.getByTestId('model-builtin').click();
  await expect(error).toHaveCount(0);
  await expect(page.getByTestId('model-fit')).toHaveAttribute('data-verdict', 'fits', { timeout: 60_000 });
  expect(errors).toEqual([]);
});
