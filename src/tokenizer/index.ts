// Picks a tokenizer loader from the files a checkpoint comes with. A folder may hold several
// descriptions of the same tokenizer; the richest wins: tokenizer.json (it carries normalizer,
// pre-tokenizer and added tokens), then GPT-2's vocab.json + merges.txt, then a llama2.c tok*.bin.

import { fromGpt2Files, fromTokenizerJson, tokenText } from './huggingface';
import { parseLlama2cTokenizer } from './llama2c';
import { type Tokenizer, TokenizerError } from './tokenizer';

export { fromGpt2Files, fromTokenizerJson } from './huggingface';
export { Llama2cTokenizer, parseLlama2cTokenizer } from './llama2c';
export { type EncodeOptions, type Tokenizer, TokenizerError } from './tokenizer';

export interface TokenizerFile {
  /** The file name; a path is fine, only the last part is matched. */
  name: string;
  data: ArrayBuffer;
}

export interface TokenizerHints {
  /** Token count from the model header: a llama2.c tok*.bin does not store it. */
  vocabSize?: number;
  /** Which token `encode(text, { addBos: true })` prepends (OPT: '</s>'); overrides tokenizer_config.json. */
  bosToken?: string;
  eosToken?: string;
}

function baseName(name: string): string {
  return name.slice(Math.max(name.lastIndexOf('/'), name.lastIndexOf('\\')) + 1);
}

function text(file: TokenizerFile): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(file.data);
  } catch {
    throw new TokenizerError(file.name, 'is not UTF-8 text');
  }
}

function json(file: TokenizerFile): unknown {
  try {
    return JSON.parse(text(file));
  } catch (error) {
    if (error instanceof TokenizerError) throw error;
    throw new TokenizerError(file.name, `is not valid JSON (${(error as Error).message})`);
  }
}

export function loadTokenizer(files: TokenizerFile[], hints: TokenizerHints = {}): Tokenizer {
  const find = (test: (name: string) => boolean) => files.find((f) => test(baseName(f.name)));
  const configFile = find((n) => n === 'tokenizer_config.json');
  let config: Record<string, unknown> | undefined;
  if (configFile) {
    const parsed = json(configFile);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new TokenizerError(configFile.name, 'must hold a JSON object');
    }
    config = parsed as Record<string, unknown>;
  }
  const bosToken = hints.bosToken ?? tokenText(config?.bos_token);
  const eosToken = hints.eosToken ?? tokenText(config?.eos_token);

  const tokenizerJson = find((n) => n === 'tokenizer.json');
  if (tokenizerJson) {
    return fromTokenizerJson(json(tokenizerJson), config, { file: tokenizerJson.name, bosToken, eosToken });
  }
  const vocab = find((n) => n === 'vocab.json');
  const merges = find((n) => n === 'merges.txt');
  if (vocab && merges) {
    return fromGpt2Files(text(vocab), text(merges), { bosToken, eosToken });
  }
  const llama2c = find((n) => /^tok.*\.bin$/.test(n));
  if (llama2c) {
    if (hints.vocabSize === undefined) {
      throw new TokenizerError(
        llama2c.name,
        'does not store its token count; pass the vocab size from the model header',
      );
    }
    return parseLlama2cTokenizer(llama2c.data, hints.vocabSize, llama2c.name);
  }
  const names = files.map((f) => f.name);
  const missing = vocab
    ? ' (vocab.json needs its merges.txt)'
    : merges
      ? ' (merges.txt needs its vocab.json)'
      : '';
  throw new TokenizerError(
    names.length > 0 ? names.join(', ') : '(no files)',
    `no usable tokenizer${missing}: give tokenizer.json, vocab.json with merges.txt, or a llama2.c tok*.bin`,
  );
}
