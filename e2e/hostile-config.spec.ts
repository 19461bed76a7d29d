// Hostile model folders in the studio, built from the built-in checkpoint. A config.json that claims
// a billion layers: before sizes were checked against the tensors (src/model/configCheck.ts) the
// worker listed a billion layers' tensors and died of V8's out-of-memory abort; now the page shows a
// clear error naming the field, the claim and the tensors, and keeps working. Then a config whose MLP
// width disagrees with its tensors, and a tokenizer whose merges use a token its vocabulary lacks,
// each refused with what is wrong named.

import { readFileSync } from 'node:fs';
import { expect, test } from '@playwright/test';
import { collectErrors } from './studioPage';

const builtinFile = (name: string) =>
  readFileSync(new URL(`../public/models/stories260K/${name}`, import.meta.url));

/** The built-in checkpoint's files with its config edited, and `tokenizer` in place of tok512.bin when given. */
function folder(edit: Record<string, unknown>, tokenizer?: { name: string; json: unknown }) {
  const config = { ...JSON.parse(builtinFile('config.json').toString('utf8')), ...edit };
  return [
    { name: 'config.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(config)) },
    {
      name: 'model.safetensors',
      mimeType: 'application/octet-stream',
      buffer: builtinFile('model.safetensors'),
    },
    tokenizer
      ? {
          name: tokenizer.name,
          mimeType: 'application/json',
          buffer: Buffer.from(JSON.stringify(tokenizer.json)),
        }
      : { name: 'tok512.bin', mimeType: 'application/octet-stream', buffer: builtinFile('tok512.bin') },
  ];
}

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

test('a config whose MLP width disagrees with its tensors, and merges over unknown tokens, are refused by name', async ({
  page,
}) => {
  const errors = collectErrors(page);
  await page.goto('/');
  await expect(page.getByTestId('model-summary')).toContainText('stories260K (built-in)', {
    timeout: 60_000,
  });
  const error = page.getByTestId('model-error');

  await page.getByTestId('model-files-input').setInputFiles(folder({ intermediate_size: 100 }));
  await expect(error).toContainText(
    "intermediate_size = 100 does not match the checkpoint (model.safetensors): the MLP's first projection has 172 outputs",
    { timeout: 60_000 },
  );
  await expect(page.getByTestId('model-load')).toBeDisabled();

  // The tokenizer is read when the model loads.
  const badMerges = { model: { type: 'BPE', vocab: { a: 0, b: 1, ab: 2 }, merges: ['a b', ['ab', 'zz']] } };
  await page
    .getByTestId('model-files-input')
    .setInputFiles(folder({}, { name: 'tokenizer.json', json: badMerges }));
  await expect(page.getByTestId('model-fit')).toHaveAttribute('data-verdict', 'fits', { timeout: 60_000 });
  await page.getByTestId('model-load').click();
  await expect(page.getByTestId('model-load-error')).toContainText(
    'tokenizer.json: model.merges[1] uses "zz", which model.vocab does not have',
    {
      timeout: 60_000,
    },
  );
  expect(errors).toEqual([]);
});
