// Hugging Face tokenizers (`tokenizer.json`) and GPT-2's byte-level BPE files (vocab.json +
// merges.txt, which OPT uses too), through Tokenizers.js (@huggingface/tokenizers), a pure-JS port of
// the Rust `tokenizers` crate that runs in a worker and in Node. GPT-2's two files are turned into the
// tokenizer.json that HF's `gpt2` ships, so both paths run the same code.
//
// BOS is our business, not the post-processor's: encode never asks the library for special tokens and
// prepends `bosId` itself when asked, so every tokenizer behaves the same whatever template it ships.

import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { type EncodeOptions, type Tokenizer, TokenizerError } from './tokenizer';

export interface HuggingFaceOptions {
  /** The token that `encode(text, { addBos: true })` prepends, by its text (OPT: '</s>'). */
  bosToken?: string;
  eosToken?: string;
  /** The name errors give; default 'tokenizer.json' (or 'vocab.json' / 'merges.txt'). */
  file?: string;
}

type Json = Record<string, unknown>;

class HuggingFaceTokenizer implements Tokenizer {
  readonly vocabSize: number;

  constructor(
    readonly kind: string,
    private readonly hf: HfTokenizer,
    private readonly file: string,
    readonly bosId: number | undefined,
    readonly eosId: number | undefined,
  ) {
    this.vocabSize = hf.model?.vocab.length ?? 0;
  }

  encode(text: string, options?: EncodeOptions): number[] {
    const ids =
      text.length > 0
        ? this.library('encode', () => this.hf.encode(text, { add_special_tokens: false }).ids)
        : [];
    // The library maps a piece with no id to the unk token, and to undefined when there is none.
    if (ids.some((id) => id === undefined)) {
      throw new TokenizerError(
        this.file,
        'the text has a piece that is not in the vocabulary, and there is no unk token',
      );
    }
    if (!options?.addBos) return ids;
    if (this.bosId === undefined) {
      throw new TokenizerError(
        this.file,
        'has no BOS token to prepend; name one (bosToken) or encode without addBos',
      );
    }
    return [this.bosId, ...ids];
  }

  decode(ids: number[]): string {
    for (const id of ids) {
      if (!Number.isInteger(id) || this.hf.id_to_token(id) === undefined) {
        throw new TokenizerError(this.file, `cannot decode id ${id}: it is not in the vocabulary`);
      }
    }
    const text = ids.filter((id) => id !== this.bosId && id !== this.eosId);
    // The library refuses an empty list.
    return text.length > 0
      ? this.library('decode', () => this.hf.decode(text, { skip_special_tokens: false }))
      : '';
  }

  /**
   * A call into the library. It checks a tokenizer.json's pipeline (normalizer, pre-tokenizer,
   * post-processor, decoder) only when it runs, so a malformed step surfaces here as the library's
   * own TypeError; it is reported as what it is, a problem with this file.
   */
  private library<T>(what: string, call: () => T): T {
    try {
      return call();
    } catch (error) {
      if (error instanceof TokenizerError) throw error;
      throw new TokenizerError(
        this.file,
        `could not ${what} with this tokenizer (${(error as Error).message}); is the file's pipeline malformed?`,
      );
    }
  }
}

function parseJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new TokenizerError(file, `is not valid JSON (${(error as Error).message})`);
  }
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** tokenizer_config.json writes special tokens as a string or as an AddedToken object. */
export function tokenText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (isObject(value) && typeof value.content === 'string') return value.content;
  return undefined;
}

/** The special token a TemplateProcessing post-processor puts first: the BOS HF would prepend. */
function templateBos(postProcessor: unknown): string | undefined {
  if (!isObject(postProcessor) || postProcessor.type !== 'TemplateProcessing') return undefined;
  const first = Array.isArray(postProcessor.single) ? postProcessor.single[0] : undefined;
  const id = isObject(first) && isObject(first.SpecialToken) ? first.SpecialToken.id : undefined;
  return typeof id === 'string' ? id : undefined;
}

function specialId(
  hf: HfTokenizer,
  file: string,
  role: string,
  names: (string | undefined)[],
): number | undefined {
  const [explicit, ...fallbacks] = names;
  if (explicit !== undefined) {
    const id = hf.token_to_id(explicit);
    if (id === undefined)
      throw new TokenizerError(file, `${role} token ${JSON.stringify(explicit)} is not in the vocabulary`);
    return id;
  }
  for (const name of fallbacks) {
    const id = name === undefined ? undefined : hf.token_to_id(name);
    if (id !== undefined) return id;
  }
  return undefined;
}

function build(json: Json, config: Json, file: string): HfTokenizer {
  try {
    return new HfTokenizer(json, config);
  } catch (error) {
    throw new TokenizerError(file, `could not be loaded as a tokenizer (${(error as Error).message})`);
  }
}

/**
 * A tokenizer from a Hugging Face `tokenizer.json` (parsed or as text), with the checkpoint's
 * `tokenizer_config.json` when there is one: it names BOS and EOS.
 */
export function fromTokenizerJson(
  json: unknown,
  tokenizerConfig?: Json,
  options: HuggingFaceOptions = {},
): Tokenizer {
  const file = options.file ?? 'tokenizer.json';
  const parsed = typeof json === 'string' ? parseJson(json, file) : json;
  if (!isObject(parsed)) throw new TokenizerError(file, 'must hold a JSON object');
  const model = parsed.model;
  if (!isObject(model) || !(isObject(model.vocab) || Array.isArray(model.vocab))) {
    throw new TokenizerError(file, 'has no "model" with a "vocab"; is it a Hugging Face tokenizer.json?');
  }
  if (model.type === 'BPE' || model.merges !== undefined) checkBpeMerges(file, model);
  if (parsed.added_tokens !== undefined && !Array.isArray(parsed.added_tokens)) {
    throw new TokenizerError(file, '"added_tokens" must be a list');
  }
  // The library takes an added token's text and id as given: a content of {"length": 1e9} (found by
  // the fuzz tests) made it build a billion-entry structure and run out of memory.
  for (const [index, token] of ((parsed.added_tokens ?? []) as unknown[]).entries()) {
    if (
      !isObject(token) ||
      typeof token.content !== 'string' ||
      token.content === '' ||
      !Number.isSafeInteger(token.id) ||
      (token.id as number) < 0
    ) {
      throw new TokenizerError(
        file,
        `added_tokens[${index}] is ${JSON.stringify(token)?.slice(0, 80)}; an added token has a non-empty "content" string and an integer "id" >= 0`,
      );
    }
  }
  const config = tokenizerConfig ?? {};
  const hf = build(
    // Real files always have these keys, possibly null; the library insists that they exist.
    {
      normalizer: null,
      pre_tokenizer: null,
      post_processor: null,
      decoder: null,
      added_tokens: [],
      ...parsed,
    },
    // HF's default clean-up rewrites " ." as "." and so breaks the round trip; only a config asks for it.
    { ...config, clean_up_tokenization_spaces: config.clean_up_tokenization_spaces ?? false },
    file,
  );
  const bosId = specialId(hf, file, 'BOS', [
    options.bosToken ?? tokenText(config.bos_token),
    templateBos(parsed.post_processor),
    '<s>',
    '<|begin_of_text|>',
    '<bos>',
    '<|endoftext|>',
  ]);
  const eosId = specialId(hf, file, 'EOS', [
    options.eosToken ?? tokenText(config.eos_token),
    '</s>',
    '<|end_of_text|>',
    '<eos>',
    '<|endoftext|>',
  ]);
  return new HuggingFaceTokenizer('tokenizer.json', hf, file, bosId, eosId);
}

/**
 * As the Rust tokenizers crate does: every merge must join known tokens into a known token. The
 * library itself would take an unknown one silently and then never apply it, so a vocabulary and
 * merges from different models would encode text wrongly without a word.
 */
function checkMerge(vocab: Json, a: string, b: string, file: string, where: string, vocabName: string): void {
  for (const token of [a, b, a + b]) {
    // Own keys only: "constructor" is in every object.
    if (!Object.hasOwn(vocab, token)) {
      throw new TokenizerError(
        file,
        `${where} uses ${JSON.stringify(token)}, which ${vocabName} does not have; are the vocabulary and the merges from the same model?`,
      );
    }
  }
}

/**
 * A BPE model's merges in tokenizer.json: "a b" strings (the older form) or [a, b] pairs (the form
 * that allows spaces in tokens), each over tokens of the vocabulary.
 */
function checkBpeMerges(file: string, model: Json): void {
  if (model.merges === undefined) return;
  if (!Array.isArray(model.merges) || !isObject(model.vocab)) {
    throw new TokenizerError(file, 'a BPE model needs "vocab" as an object and "merges" as a list');
  }
  const vocab = model.vocab;
  model.merges.forEach((merge: unknown, index) => {
    const pair = typeof merge === 'string' ? merge.split(' ') : merge;
    const where = `model.merges[${index}]`;
    if (
      !Array.isArray(pair) ||
      pair.length !== 2 ||
      !pair.every((token) => typeof token === 'string' && token !== '')
    ) {
      throw new TokenizerError(
        file,
        `${where} is ${JSON.stringify(merge)}; a merge is "a b" or ["a", "b"], two tokens`,
      );
    }
    checkMerge(vocab, pair[0] as string, pair[1] as string, file, where, 'model.vocab');
  });
}

/** An entry of tokenizer.json's added_tokens for a special token, matched as written. */
export function specialToken(id: number, content: string) {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
}

/**
 * The tokenizer.json of a byte-level BPE (GPT-2's): its vocabulary, merges (one "a b" string each)
 * and special tokens, with no post-processor unless one is given. fromGpt2Files reads vocab.json and
 * merges.txt as this file.
 */
export function byteLevelBpeJson(
  vocab: Json,
  merges: readonly string[],
  addedTokens: readonly ReturnType<typeof specialToken>[],
  postProcessor: Json | null = null,
): Json {
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  return {
    version: '1.0',
    added_tokens: addedTokens,
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: postProcessor,
    decoder: byteLevel,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges,
    },
  };
}

/** Special tokens of the GPT-2 family (GPT-2 has only <|endoftext|>; OPT/RoBERTa have the others). */
const GPT2_SPECIALS = ['<|endoftext|>', '<s>', '<pad>', '</s>', '<unk>', '<mask>'];

/**
 * GPT-2 byte-level BPE from `vocab.json` and `merges.txt` (parsed or as text). BOS and EOS default to
 * <|endoftext|> (GPT-2, id 50256) and otherwise to </s>: OPT prepends </s> (id 2), not <s>.
 */
export function fromGpt2Files(
  vocabJson: unknown,
  mergesTxt: string,
  options: HuggingFaceOptions = {},
): Tokenizer {
  const vocab = typeof vocabJson === 'string' ? parseJson(vocabJson, 'vocab.json') : vocabJson;
  if (!isObject(vocab) || Object.keys(vocab).length === 0) {
    throw new TokenizerError('vocab.json', 'must map each token to its id, as a non-empty JSON object');
  }
  for (const [token, id] of Object.entries(vocab)) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) {
      throw new TokenizerError(
        'vocab.json',
        `token ${JSON.stringify(token)} has id ${JSON.stringify(id)}; ids are integers >= 0`,
      );
    }
  }
  const merges: string[] = [];
  mergesTxt.split(/\r?\n/).forEach((line, index) => {
    // The first line is a "#version: 0.2" header; the file ends with a new line.
    if (line === '' || line.startsWith('#version')) return;
    const parts = line.split(' ');
    const [a, b] = parts;
    if (parts.length !== 2 || !a || !b) {
      throw new TokenizerError(
        'merges.txt',
        `line ${index + 1} is ${JSON.stringify(line)}; each line must be two tokens and one space`,
      );
    }
    checkMerge(vocab, a, b, 'merges.txt', `line ${index + 1}`, 'vocab.json');
    merges.push(line);
  });
  const specials = GPT2_SPECIALS.filter((t) => t in vocab).map((content) =>
    specialToken(vocab[content] as number, content),
  );
  const tokenizerJson = byteLevelBpeJson(vocab, merges, specials);
  const hf = build(tokenizerJson, { clean_up_tokenization_spaces: false }, 'vocab.json');
  const file = options.file ?? 'vocab.json';
  const bosId = specialId(hf, file, 'BOS', [options.bosToken, '<|endoftext|>', '</s>']);
  const eosId = specialId(hf, file, 'EOS', [options.eosToken, '<|endoftext|>', '</s>']);
  return new HuggingFaceTokenizer('gpt2-bpe', hf, file, bosId, eosId);
}
