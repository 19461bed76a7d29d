import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadTokenizer, type TokenizerFile } from './index';
import { tokenizerErrorOf } from './testing';

const publicDir = new URL('../../public/', import.meta.url);

function file(name: string, path: string): TokenizerFile {
  const bytes = readFileSync(new URL(path, publicDir));
  return { name, data: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) };
}

function textFile(name: string, text: string): TokenizerFile {
  return { name, data: new TextEncoder().encode(text).buffer as ArrayBuffer };
}

describe('loadTokenizer', () => {
  const tok512 = file('stories260K/tok512.bin', 'models/stories260K/tok512.bin');
  const vocab = file('gpt2/vocab.json', 'tokenizers/gpt2/vocab.json');
  const merges = file('gpt2/merges.txt', 'tokenizers/gpt2/merges.txt');

  it('loads a llama2.c tok*.bin with the vocab size from the model header', () => {
    const tok = loadTokenizer([tok512, textFile('README.md', 'hi')], { vocabSize: 512 });
    expect(tok.kind).toBe('llama2c');
    expect(tok.decode(tok.encode('Once upon a time', { addBos: true }))).toBe('Once upon a time');
  });

  it('asks for the vocab size when only a tok*.bin is there', () => {
    expect(tokenizerErrorOf(() => loadTokenizer([tok512])).message).toMatch(
      /^stories260K\/tok512\.bin: does not store its token count/,
    );
  });

  it('prefers vocab.json + merges.txt to a tok*.bin, and tokenizer.json to both', () => {
    expect(loadTokenizer([tok512, vocab, merges], { vocabSize: 512 }).kind).toBe('gpt2-bpe');
    const vocabMap = JSON.parse(new TextDecoder().decode(vocab.data)) as Record<string, number>;
    const tokenizerJson = {
      added_tokens: [{ id: 50256, content: '<|endoftext|>', special: true }],
      pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false },
      decoder: { type: 'ByteLevel' },
      model: {
        type: 'BPE',
        vocab: vocabMap,
        merges: new TextDecoder().decode(merges.data).split('\n').slice(1, -1),
      },
    };
    const tok = loadTokenizer([
      tok512,
      vocab,
      merges,
      textFile('x/tokenizer.json', JSON.stringify(tokenizerJson)),
    ]);
    expect(tok.kind).toBe('tokenizer.json');
    expect(tok.encode('Hello world')).toEqual([15496, 995]);
  });

  it('takes BOS and EOS from tokenizer_config.json, and hints over it', () => {
    const config = textFile('tokenizer_config.json', JSON.stringify({ bos_token: 'Hello', eos_token: '.' }));
    const tok = loadTokenizer([vocab, merges, config]);
    expect(tok.bosId).toBe(15496);
    expect(tok.eosId).toBe(13);
    expect(loadTokenizer([vocab, merges, config], { bosToken: '<|endoftext|>' }).bosId).toBe(50256);
  });

  it('says what is missing when no loader fits', () => {
    expect(tokenizerErrorOf(() => loadTokenizer([textFile('README.md', '')])).message).toMatch(
      /^README\.md: no usable tokenizer: give tokenizer\.json, vocab\.json with merges\.txt, or a llama2\.c tok\*\.bin/,
    );
    expect(tokenizerErrorOf(() => loadTokenizer([vocab])).message).toMatch(
      /vocab\.json needs its merges\.txt/,
    );
    expect(tokenizerErrorOf(() => loadTokenizer([])).message).toMatch(/^\(no files\): no usable tokenizer/);
  });

  it('names a file that is not text or not JSON', () => {
    const notUtf8 = { name: 'tokenizer.json', data: new Uint8Array([0x7b, 0xff, 0xfe]).buffer };
    expect(tokenizerErrorOf(() => loadTokenizer([notUtf8])).message).toBe(
      'tokenizer.json: is not UTF-8 text',
    );
    expect(tokenizerErrorOf(() => loadTokenizer([textFile('m/tokenizer.json', '{')])).message).toMatch(
      /^m\/tokenizer\.json: is not valid JSON/,
    );
    expect(
      tokenizerErrorOf(() => loadTokenizer([vocab, merges, textFile('tokenizer_config.json', '[]')])).message,
    ).toBe('tokenizer_config.json: must hold a JSON object');
  });
});
