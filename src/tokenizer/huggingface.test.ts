import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fromGpt2Files, fromTokenizerJson } from './huggingface';
import { tokenizerErrorOf } from './testing';
import { TokenizerError } from './tokenizer';

const dir = new URL('../../public/tokenizers/gpt2/', import.meta.url);
const vocabText = readFileSync(new URL('vocab.json', dir), 'utf8');
const mergesText = readFileSync(new URL('merges.txt', dir), 'utf8');
const vocab = JSON.parse(vocabText) as Record<string, number>;
const merges = mergesText.split('\n').filter((line) => line !== '' && !line.startsWith('#version'));

describe('GPT-2 byte-level BPE (vocab.json + merges.txt)', () => {
  const tok = fromGpt2Files(vocabText, mergesText);

  it('has GPT-2 vocabulary and <|endoftext|> as BOS and EOS', () => {
    expect(tok.kind).toBe('gpt2-bpe');
    expect(tok.vocabSize).toBe(50257);
    expect(tok.bosId).toBe(50256);
    expect(tok.eosId).toBe(50256);
  });

  // Ids checked against a port of OpenAI's gpt-2 encoder.py on the same files.
  it.each([
    ['Hello world', [15496, 995]],
    [' Robert Boulter is an English film', [5199, 347, 2852, 353, 318, 281, 3594, 2646]],
    ['\n\n = Robert Boulter = \n', [628, 796, 5199, 347, 2852, 353, 796, 220, 198]],
  ])('encodes %j as GPT-2 does and round-trips it', (text, ids) => {
    expect(tok.encode(text)).toEqual(ids);
    expect(tok.decode(ids)).toBe(text);
  });

  it('round-trips unicode, spacing and punctuation exactly', () => {
    const text = "ñandú 😀 東京 Ωmega — “quotes” it's we'll  double  spaces\ttab\r\n don't . , ?";
    expect(tok.decode(tok.encode(text))).toBe(text);
  });

  it('prepends BOS only when asked, and decodes it to nothing', () => {
    expect(tok.encode('Hello world', { addBos: true })).toEqual([50256, 15496, 995]);
    expect(tok.decode([50256, 15496, 995, 50256])).toBe('Hello world');
    expect(tok.encode('')).toEqual([]);
    expect(tok.encode('', { addBos: true })).toEqual([50256]);
    expect(tok.decode([])).toBe('');
  });

  it('reads <|endoftext|> in the text as the special token (TinyStories separates stories with it)', () => {
    expect(tok.encode('end.<|endoftext|>Once')).toEqual([437, 13, 50256, 7454]);
  });

  it('rejects ids it does not have', () => {
    expect(tokenizerErrorOf(() => tok.decode([50257])).message).toMatch(
      /^vocab\.json: cannot decode id 50257/,
    );
    expect(() => tok.decode([1.5])).toThrow(TokenizerError);
  });

  it('supports OPT: </s> (id 2) is the BOS it prepends', () => {
    // OPT's vocab.json is GPT-2's BPE with <s>, <pad>, </s>, <unk> at 0..3; shifting GPT-2's ids by 4
    // gives a vocabulary of the same shape.
    const opt: Record<string, number> = { '<s>': 0, '<pad>': 1, '</s>': 2, '<unk>': 3 };
    for (const [token, id] of Object.entries(vocab)) if (token !== '<|endoftext|>') opt[token] = id + 4;
    const optTok = fromGpt2Files(opt, mergesText);
    expect(optTok.bosId).toBe(2);
    expect(optTok.eosId).toBe(2);
    expect(optTok.vocabSize).toBe(50260);
    expect(optTok.encode('Hello world', { addBos: true })).toEqual([2, 15500, 999]);
    expect(optTok.decode([2, 15500, 999])).toBe('Hello world');
    // Which BOS to prepend is an option.
    const withS = fromGpt2Files(opt, mergesText, { bosToken: '<s>' });
    expect(withS.encode('Hello', { addBos: true })[0]).toBe(0);
    expect(tokenizerErrorOf(() => fromGpt2Files(opt, mergesText, { bosToken: '<bos>' })).message).toMatch(
      /^vocab\.json: BOS token "<bos>" is not in the vocabulary/,
    );
  });

  it('names vocab.json when it is malformed', () => {
    expect(tokenizerErrorOf(() => fromGpt2Files('{"a": 1,', mergesText)).message).toMatch(
      /^vocab\.json: is not valid JSON/,
    );
    expect(tokenizerErrorOf(() => fromGpt2Files('[1, 2]', mergesText)).message).toMatch(
      /^vocab\.json: must map each token/,
    );
    expect(tokenizerErrorOf(() => fromGpt2Files('{"a": -1}', '')).message).toMatch(
      /^vocab\.json: token "a" has id -1/,
    );
    expect(tokenizerErrorOf(() => fromGpt2Files('{"a": "x"}', '')).file).toBe('vocab.json');
  });

  it('names merges.txt when it is malformed or does not match vocab.json', () => {
    expect(tokenizerErrorOf(() => fromGpt2Files(vocab, '#version: 0.2\nĠ t\nbad\n')).message).toMatch(
      /^merges\.txt: line 3 is "bad"/,
    );
    expect(tokenizerErrorOf(() => fromGpt2Files({ a: 0, b: 1 }, 'a b\n')).message).toMatch(
      /^merges\.txt: line 1 uses "ab", which vocab\.json does not have/,
    );
    // Keys every object inherits are not tokens.
    expect(tokenizerErrorOf(() => fromGpt2Files({ a: 0, b: 1 }, 'construct or\n')).message).toMatch(
      /^merges\.txt: line 1 uses "construct"/,
    );
  });
});

describe('Hugging Face tokenizer.json', () => {
  // HF's gpt2 tokenizer.json, as the Rust tokenizers library writes it.
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  const gpt2Json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [
      {
        id: 50256,
        content: '<|endoftext|>',
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: true,
        special: true,
      },
    ],
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: byteLevel,
    decoder: byteLevel,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      vocab,
      merges,
    },
  };

  it('loads GPT-2 from tokenizer.json with the same ids as from vocab.json + merges.txt', () => {
    const tok = fromTokenizerJson(JSON.stringify(gpt2Json));
    const files = fromGpt2Files(vocab, mergesText);
    expect(tok.kind).toBe('tokenizer.json');
    expect(tok.vocabSize).toBe(50257);
    expect(tok.bosId).toBe(50256);
    const text =
      ' Robert Boulter is an English film and television actor. 😀\n\n = Valkyria Chronicles III = \n';
    expect(tok.encode(text)).toEqual(files.encode(text));
    expect(tok.decode(tok.encode(text))).toBe(text);
  });

  it('takes BOS from tokenizer_config.json, or from the template that would prepend it', () => {
    const opt: Record<string, number> = { '<s>': 0, '<pad>': 1, '</s>': 2, '<unk>': 3 };
    for (const [token, id] of Object.entries(vocab)) if (token !== '<|endoftext|>') opt[token] = id + 4;
    const special = (content: string) => ({ id: opt[content], content, normalized: false, special: true });
    const optJson = {
      ...gpt2Json,
      added_tokens: ['<s>', '<pad>', '</s>', '<unk>'].map(special),
      model: { ...gpt2Json.model, vocab: opt },
      post_processor: {
        type: 'TemplateProcessing',
        single: [{ SpecialToken: { id: '</s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
        pair: [],
        special_tokens: { '</s>': { id: '</s>', ids: [2], tokens: ['</s>'] } },
      },
    };
    expect(fromTokenizerJson(optJson).bosId).toBe(2);
    const config = { bos_token: { content: '<s>', special: true }, eos_token: '</s>' };
    const tok = fromTokenizerJson(optJson, config);
    expect(tok.bosId).toBe(0);
    expect(tok.eosId).toBe(2);
    // encode never lets the template add specials: BOS comes only from addBos.
    expect(tok.encode('Hello world')).toEqual([15500, 999]);
    expect(tok.encode('Hello world', { addBos: true })).toEqual([0, 15500, 999]);
  });

  it('names tokenizer.json when it is malformed', () => {
    expect(tokenizerErrorOf(() => fromTokenizerJson('{"model": ')).message).toMatch(
      /^tokenizer\.json: is not valid JSON/,
    );
    expect(tokenizerErrorOf(() => fromTokenizerJson('[]')).message).toMatch(
      /^tokenizer\.json: must hold a JSON object/,
    );
    expect(tokenizerErrorOf(() => fromTokenizerJson({ version: '1.0' })).message).toMatch(
      /^tokenizer\.json: has no "model" with a "vocab"/,
    );
    expect(tokenizerErrorOf(() => fromTokenizerJson({ model: { type: 'BPE', vocab: 3 } })).message).toMatch(
      /^tokenizer\.json: has no "model" with a "vocab"/,
    );
    expect(
      tokenizerErrorOf(() => fromTokenizerJson({ model: { type: 'BPE', vocab: { a: 0 }, merges: 5 } }))
        .message,
    ).toMatch(/^tokenizer\.json: a BPE model needs "vocab" as an object and "merges" as a list/);
    expect(
      tokenizerErrorOf(() =>
        fromTokenizerJson({ ...gpt2Json, added_tokens: 5 }, undefined, { file: 'opt/tokenizer.json' }),
      ).message,
    ).toMatch(/^opt\/tokenizer\.json: "added_tokens" must be a list/);
  });

  it('reports a pipeline step the library trips over as a problem with the file', () => {
    // Found by the fuzz tests: the library checks a post-processor only when it runs.
    const tok = fromTokenizerJson({
      model: { type: 'BPE', vocab: { a: 0, b: 1, ab: 2 }, merges: ['a b'] },
      post_processor: { type: 'TemplateProcessing', single: 5 },
    });
    expect(tokenizerErrorOf(() => tok.encode('ab')).message).toMatch(
      /^tokenizer\.json: could not encode with this tokenizer \(.*\); is the file's pipeline malformed\?/,
    );
  });

  it('refuses an added token without a text or an id, before the library sizes anything by it', () => {
    const withAdded = (token: unknown) => ({
      model: { type: 'BPE', vocab: { a: 0, b: 1, ab: 2 }, merges: ['a b'] },
      added_tokens: [token],
    });
    // Found by the fuzz tests: this content ran the library out of memory.
    expect(
      tokenizerErrorOf(() => fromTokenizerJson(withAdded({ id: 0, content: { length: 1e9 } }))).message,
    ).toMatch(
      /^tokenizer\.json: added_tokens\[0\] is .*; an added token has a non-empty "content" string and an integer "id" >= 0/,
    );
    expect(tokenizerErrorOf(() => fromTokenizerJson(withAdded({ id: -1, content: 'x' }))).message).toMatch(
      /added_tokens\[0\]/,
    );
    expect(tokenizerErrorOf(() => fromTokenizerJson(withAdded('x'))).message).toMatch(/added_tokens\[0\]/);
    expect(fromTokenizerJson(withAdded({ id: 3, content: '<s>', special: true })).bosId).toBe(3);
  });

  it('refuses merges over tokens its vocabulary does not have, in either spelling', () => {
    // The library would accept these and silently never apply them.
    const bpe = (merges: unknown[]) => ({ model: { type: 'BPE', vocab: { a: 0, b: 1, ab: 2 }, merges } });
    expect(fromTokenizerJson(bpe(['a b'])).encode('ab')).toEqual([2]);
    expect(fromTokenizerJson(bpe([['a', 'b']])).encode('ab')).toEqual([2]);
    expect(tokenizerErrorOf(() => fromTokenizerJson(bpe(['a b', 'a zz']))).message).toMatch(
      /^tokenizer\.json: model\.merges\[1\] uses "zz", which model\.vocab does not have/,
    );
    expect(tokenizerErrorOf(() => fromTokenizerJson(bpe([['b', 'a']]))).message).toMatch(
      /model\.merges\[0\] uses "ba", which model\.vocab does not have/,
    );
    expect(tokenizerErrorOf(() => fromTokenizerJson(bpe(['a b c']))).message).toMatch(
      /model\.merges\[0\] is "a b c"; a merge is "a b" or \["a", "b"\], two tokens/,
    );
    expect(tokenizerErrorOf(() => fromTokenizerJson(bpe([5]))).message).toMatch(/model\.merges\[0\] is 5/);
  });
});
