// Property-based fuzzing of the tokenizer files a checkpoint comes with, through loadTokenizer as the
// CLI and the worker call it: tokenizer.json (with or without tokenizer_config.json), GPT-2's
// vocab.json + merges.txt and llama2.c's tok512.bin with the vocab size a model header gives. When
// a hostile file loads, a short text is encoded and decoded with it too. Only TokenizerError may
// come out.

import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { loadTokenizer, type TokenizerFile } from '../tokenizer';
import { byteLevelBpeJson, specialToken } from '../tokenizer/huggingface';
import { TokenizerError } from '../tokenizer/tokenizer';
import { expectOnlyTyped, fuzzParameters, mutatedBytes, mutatedJsonText, randomBytes } from './harness';

const gpt2 = new URL('../../public/tokenizers/gpt2/', import.meta.url);
const fullVocab = JSON.parse(readFileSync(new URL('vocab.json', gpt2), 'utf8')) as Record<string, number>;
// GPT-2's 256 byte tokens and its first merges: a real byte-level BPE, small enough to load per case.
const vocab = Object.fromEntries(Object.entries(fullVocab).filter(([, id]) => id < 400));
const merges = readFileSync(new URL('merges.txt', gpt2), 'utf8')
  .split('\n')
  .filter((line) => {
    const [a, b] = line.split(' ');
    return a !== undefined && b !== undefined && a + b in vocab && a in vocab && b in vocab;
  });
const mergesText = `#version: 0.2\n${merges.join('\n')}\n`;
const tokenizerJson = byteLevelBpeJson(vocab, merges, [specialToken(0, '!')], {
  type: 'TemplateProcessing',
  single: [{ SpecialToken: { id: '!', type_id: 0 } }],
});
const tokenizerConfig = { bos_token: '!', eos_token: { content: '"' }, clean_up_tokenization_spaces: false };
const tok512 = new Uint8Array(
  readFileSync(new URL('../../public/models/stories260K/tok512.bin', import.meta.url)),
);

const file = (name: string, data: string | Uint8Array): TokenizerFile => {
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  return {
    name,
    data: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer,
  };
};

/** Loads, and when that works, encodes and decodes a text with a space, a merge and a non-ASCII character. */
async function loadAndUse(files: TokenizerFile[], vocabSize?: number): Promise<void> {
  const size = files.reduce((sum, f) => sum + f.data.byteLength, 0);
  await expectOnlyTyped([TokenizerError], size, () => {
    const tokenizer = loadTokenizer(files, { vocabSize });
    const ids = tokenizer.encode('the cat é', { addBos: tokenizer.bosId !== undefined });
    tokenizer.decode(ids);
  });
}

describe('fuzz: tokenizer files', () => {
  it('tokenizer.json and tokenizer_config.json, mutated', async () => {
    const input = fc.record({
      json: fc.oneof(mutatedJsonText(tokenizerJson), fc.string({ maxLength: 40 })),
      config: fc.option(mutatedJsonText(tokenizerConfig), { nil: undefined }),
    });
    await fc.assert(
      fc.asyncProperty(input, async ({ json, config }) => {
        const files = [file('tokenizer.json', json)];
        if (config !== undefined) files.push(file('tokenizer_config.json', config));
        await loadAndUse(files);
      }),
      fuzzParameters(300, 0x70c1),
    );
  });

  it('vocab.json + merges.txt, mutated (merges over unknown tokens, bad lines, cut files)', async () => {
    const mergeLines = fc.array(
      fc.oneof(
        fc.constantFrom(...merges.slice(0, 40)),
        fc.string({ maxLength: 8 }),
        fc
          .tuple(fc.constantFrom(...Object.keys(vocab).slice(0, 300)), fc.string({ maxLength: 3 }))
          .map(([a, b]) => `${a} ${b}`),
      ),
      { maxLength: 6 },
    );
    const input = fc.record({
      vocab: fc.oneof(fc.constant(JSON.stringify(vocab)), mutatedJsonText(vocab)),
      merges: fc.oneof(
        fc.constant(mergesText),
        mergeLines.map((lines) => `${mergesText}${lines.join('\n')}\n`),
        fc.nat().map((cut) => mergesText.slice(0, cut % mergesText.length)),
      ),
    });
    await fc.assert(
      fc.asyncProperty(input, async (texts) => {
        await loadAndUse([file('vocab.json', texts.vocab), file('merges.txt', texts.merges)]);
      }),
      fuzzParameters(200, 0x6e26),
    );
  });

  it('llama2.c tok512.bin, mutated, with a vocab size from a (possibly hostile) model header', async () => {
    const input = fc.record({
      bytes: fc.oneof(mutatedBytes(tok512), randomBytes(tok512, 4)),
      vocabSize: fc.oneof(
        fc.constant(512),
        fc.integer({ min: -10, max: 2 ** 31 - 1 }),
        fc.constantFrom(259, 1e9, 0),
      ),
    });
    await fc.assert(
      fc.asyncProperty(input, async ({ bytes, vocabSize }) => {
        await loadAndUse([file('tok512.bin', bytes)], vocabSize);
      }),
      fuzzParameters(400, 0x7b12),
    );
  });
});
