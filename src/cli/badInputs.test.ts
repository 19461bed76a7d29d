// The three hostile inputs of issue 16 through the CLI, as a person would hand them over: a
// config.json claiming a billion layers (which used to abort Node with a V8 out-of-memory error,
// exit 134), a config whose sizes disagree with its tensors, and a tokenizer whose merges name
// tokens its vocabulary lacks. Each is refused before any GPU work, with exit code 1 and a message
// that names the file, the field and what is wrong, on stderr and in --json's error.

import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomTensors, tinyConfig } from '../model/testModels';
import { jsonOf, runCommand, writeModelFolder } from './testing';

let dir: string;
const config = tinyConfig('llama', { vocabSize: 512 });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cli-bad-inputs-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A valid tiny model folder with its config.json edited. */
async function folderWithConfig(name: string, edit: Record<string, unknown>): Promise<string> {
  const folder = join(dir, name);
  await writeModelFolder(folder, config, randomTensors(config, 9));
  const json = JSON.parse(await readFile(join(folder, 'config.json'), 'utf8'));
  await writeFile(join(folder, 'config.json'), JSON.stringify({ ...json, ...edit }));
  return folder;
}

async function expectRefused(folder: string, message: RegExp): Promise<void> {
  const run = await runCommand('eval', '--model', folder, '--text', 'tinystories', '--json');
  expect(run.code, run.stderr).toBe(1);
  expect(run.stderr).toMatch(/^error: /);
  expect(run.stderr).toMatch(message);
  expect(jsonOf(run).error).toMatch(message);
}

describe('hostile model folders through the CLI', () => {
  it('a config.json claiming 1e9 layers exits with 1 and says so, instead of running out of memory', async () => {
    const folder = await folderWithConfig('billion-layers', { num_hidden_layers: 1_000_000_000 });
    await expectRefused(
      folder,
      /config\.json: num_hidden_layers = 1000000000 does not match the checkpoint \(model\.safetensors\): its tensors hold 2 layers/,
    );
  });

  it('a config whose sizes disagree with its tensors names the field and both values', async () => {
    const folder = await folderWithConfig('wrong-width', { intermediate_size: 48 });
    await expectRefused(
      folder,
      /config\.json: intermediate_size = 48 does not match the checkpoint \(model\.safetensors\): the MLP's first projection has 20 outputs/,
    );
  });

  it('a tokenizer whose merges use tokens its vocabulary lacks is refused by name', async () => {
    const folder = await folderWithConfig('bad-merges', {});
    // A GPT-2 style vocab.json + merges.txt beside the model; they win over tok512.bin.
    await rm(join(folder, 'tok512.bin'));
    await writeFile(join(folder, 'vocab.json'), JSON.stringify({ a: 0, b: 1, ab: 2, '<|endoftext|>': 3 }));
    await writeFile(join(folder, 'merges.txt'), '#version: 0.2\na b\nab zz\n');
    await expectRefused(folder, /merges\.txt: line 3 uses "zz", which vocab\.json does not have/);
  });

  it('the same merge in a tokenizer.json is refused too', async () => {
    const folder = await folderWithConfig('bad-json-merges', {});
    await rm(join(folder, 'tok512.bin'));
    const tokenizer = {
      model: { type: 'BPE', vocab: { a: 0, b: 1, ab: 2 }, merges: ['a b', ['ab', 'zz']] },
    };
    await writeFile(join(folder, 'tokenizer.json'), JSON.stringify(tokenizer));
    await expectRefused(
      folder,
      /tokenizer\.json: model\.merges\[1\] uses "zz", which model\.vocab does not have/,
    );
  });
});
