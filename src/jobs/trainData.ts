// What the studio's training run is asked for, and where its model and tokens come from: a preset
// from scratch over the built-in stories260K tokenizer (tok512.bin, 512 tokens, fetched once per session), or the loaded
// model's weights and tokenizer; and a shipped text (fetched once per session, tokenized once per
// tokenizer: Tiny Shakespeare is 1.1 MB and takes ~0.7 s) or the person's own text.

import type { ByteSource } from '../model/byteSource';
import { bytesSource } from '../model/byteSource';
import type { ModelConfig } from '../model/config';
import { canonicalTensors } from '../model/weights';
import { loadTokenizer, type Tokenizer } from '../tokenizer';
import type { ArmChoice } from '../train/armVariants';
import { TRAIN_TEXTS, type TrainText, tokenizeTrainText } from '../train/data';
import {
  initialWeights,
  PRESETS,
  type PresetFamily,
  type PresetName,
  presetConfig,
} from '../train/modelPresets';
import type { Decay } from '../train/schedule';
import type { LoadedModel } from './load';
import type { SiteFiles } from './siteFiles';

/** A preset from scratch over the built-in tokenizer (tok512), or the loaded model fine-tuned. */
export type TrainModelChoice =
  | { kind: 'preset'; preset: PresetName; family: PresetFamily }
  | { kind: 'loaded' };

/** A shipped text, or the person's own (pasted or a dropped .txt). */
export type TrainDataChoice =
  | { kind: Exclude<TrainText, 'user'> }
  | { kind: 'user'; label: string; text: string };

export interface TrainJobOptions {
  model: TrainModelChoice;
  data: TrainDataChoice;
  seqLen: number;
  batch: number;
  steps: number;
  warmupSteps: number;
  decay: Decay;
  validationEvery: number;
  validationWindows: number;
  /** Seeds the batch order and a preset's initialization. */
  seed: number;
  arms: ArmChoice[];
}

/** The built-in tokenizer presets are trained over, under the site root. */
const PRESET_TOKENIZER = { file: 'models/stories260K/tok512.bin', vocab: 512 };

export interface StartingModel {
  config: ModelConfig;
  weights: Map<string, Float32Array>;
  tokenizer: Tokenizer;
  /** Saved beside every arm of the run. */
  tokenizerFiles: ByteSource[];
  /** 'nano GPT-2 (from scratch)', or '<loaded model>, fine-tuned'. */
  name: string;
}

const FAMILY_LABELS = { gpt2: 'GPT-2', llama: 'Llama' } as const;

let presetTokenizer: Promise<{ tokenizer: Tokenizer; file: ByteSource }> | null = null;

export async function startingModel(
  choice: TrainModelChoice,
  seed: number,
  loaded: LoadedModel | null,
  loadedTokenizerFiles: ByteSource[],
  files: SiteFiles,
): Promise<StartingModel> {
  if (choice.kind === 'loaded') {
    if (!loaded) throw new NoModelError();
    const source = loaded.model.source;
    const weights = new Map<string, Float32Array>();
    for (const t of canonicalTensors(source.config)) weights.set(t.name, await source.read(t.name));
    return {
      config: source.config,
      weights,
      tokenizer: loaded.tokenizer,
      tokenizerFiles: loadedTokenizerFiles,
      name: `${loaded.summary.name}, fine-tuned`,
    };
  }
  return presetModel(choice, seed, files);
}

/**
 * A preset from scratch over the built-in tokenizer, read from the site's files (the worker fetches
 * them, the CLI reads them from public/), its weights drawn from the seed.
 */
export async function presetModel(
  choice: Extract<TrainModelChoice, { kind: 'preset' }>,
  seed: number,
  files: SiteFiles,
): Promise<StartingModel> {
  if (!PRESETS[choice.preset]) {
    throw new RangeError(`unknown model size ${choice.preset}; choose ${Object.keys(PRESETS).join(', ')}`);
  }
  if (!presetTokenizer) {
    const attempt = files.bytes(PRESET_TOKENIZER.file).then((data) => {
      const name = PRESET_TOKENIZER.file.split('/').pop() as string;
      const tokenizer = loadTokenizer([{ name, data }], { vocabSize: PRESET_TOKENIZER.vocab });
      return { tokenizer, file: bytesSource(name, data) };
    });
    // A failed fetch must not stick: the next run tries again.
    attempt.catch(() => {
      if (presetTokenizer === attempt) presetTokenizer = null;
    });
    presetTokenizer = attempt;
  }
  const { tokenizer, file } = await presetTokenizer;
  const config = presetConfig(choice.preset, choice.family, {
    size: PRESET_TOKENIZER.vocab,
    bosId: tokenizer.bosId ?? null,
    eosId: tokenizer.eosId ?? null,
  });
  return {
    config,
    weights: initialWeights(config, seed),
    tokenizer,
    tokenizerFiles: [file],
    name: `${choice.preset} ${FAMILY_LABELS[choice.family]} (from scratch)`,
  };
}

/** Raised when a run asks to fine-tune the loaded model and none is loaded. */
export class NoModelError extends Error {
  override name = 'NoModelError';
  constructor() {
    super('No model is loaded to fine-tune.');
  }
}

const texts = new Map<Exclude<TrainText, 'user'>, Promise<string>>();
const tokenCache = new WeakMap<Tokenizer, Map<TrainText, number[]>>();

export function dataLabel(choice: TrainDataChoice): string {
  return choice.kind === 'user' ? choice.label : TRAIN_TEXTS[choice.kind].label;
}

/** The text's tokens under the tokenizer; the shipped texts' are cached per tokenizer. */
export async function trainTokens(
  choice: TrainDataChoice,
  tokenizer: Tokenizer,
  files: SiteFiles,
): Promise<number[]> {
  if (choice.kind === 'user') return tokenizeTrainText('user', choice.text, tokenizer);
  const info = TRAIN_TEXTS[choice.kind];
  if (!info)
    throw new RangeError(
      `unknown training text ${choice.kind}; choose ${Object.keys(TRAIN_TEXTS).join(', ')}`,
    );
  const cache = tokenCache.get(tokenizer) ?? new Map<TrainText, number[]>();
  tokenCache.set(tokenizer, cache);
  const cached = cache.get(choice.kind);
  if (cached) return cached;
  let raw = texts.get(choice.kind);
  if (!raw) {
    raw = files.text(info.file);
    texts.set(choice.kind, raw);
    raw.catch(() => texts.delete(choice.kind));
  }
  const tokens = tokenizeTrainText(choice.kind, await raw, tokenizer);
  cache.set(choice.kind, tokens);
  return tokens;
}
