// The built-in stories260K and its TinyStories tokens, as the bench's model-level sections open them.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { bytesSource } from '../src/model/byteSource';
import { openModel } from '../src/model/checkpoint';
import { tokenizeEvalText } from '../src/model/evaluate';
import { loadTokenizer } from '../src/tokenizer';
import { repoRoot } from './environment';

export async function openStories260K() {
  const dir = path.join(repoRoot, 'public', 'models', 'stories260K');
  const names = ['config.json', 'model.safetensors', 'tok512.bin'];
  const opened = await openModel(names.map((n) => bytesSource(n, readFileSync(path.join(dir, n)))));
  const tokenizer = loadTokenizer(
    [{ name: 'tok512.bin', data: readFileSync(path.join(dir, 'tok512.bin')).buffer as ArrayBuffer }],
    { vocabSize: opened.config.vocabSize },
  );
  const raw = readFileSync(path.join(repoRoot, 'public', 'data', 'tinystories', 'valid-sample.txt'), 'utf8');
  return { opened, tokenizer, tokens: tokenizeEvalText('tinystories', raw, tokenizer) };
}
