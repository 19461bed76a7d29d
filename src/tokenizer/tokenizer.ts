// The one shape every tokenizer takes, so that perplexity, calibration and the UI never care whether
// the ids came from a llama2.c `tok*.bin`, GPT-2's vocab.json + merges.txt or a Hugging Face
// `tokenizer.json`.

export interface EncodeOptions {
  /** Prepend `bosId` (the language-model convention: a sequence starts at BOS). Default false. */
  addBos?: boolean;
}

export interface Tokenizer {
  /** Which loader made it: 'llama2c', 'gpt2-bpe' or 'tokenizer.json'. */
  readonly kind: string;
  /** One more than the largest id the tokenizer can produce; the model's embedding may be larger. */
  readonly vocabSize: number;
  readonly bosId?: number;
  readonly eosId?: number;
  encode(text: string, options?: EncodeOptions): number[];
  /** The text of the ids; BOS and EOS are control tokens and give no text. */
  decode(ids: number[]): string;
}

/** A tokenizer file that cannot be used: names the file and what is wrong with it. */
export class TokenizerError extends Error {
  readonly file: string;

  constructor(file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.name = 'TokenizerError';
    this.file = file;
  }
}
