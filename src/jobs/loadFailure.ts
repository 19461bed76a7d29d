// What can go wrong opening and loading a model, as a failure value with advice: the files
// (truncated, not a checkpoint, shapes that disagree with config.json), the tokenizer, the network
// a URL folder comes over, a model too big for the budget or the device, and a lost device.

import { GpuError } from '../gpu/errors';
import { ModelFormatError } from '../model/byteSource';
import type { FitReport } from '../model/fit';
import { SparseFormatError } from '../sparse/formatError';
import { TokenizerError } from '../tokenizer';
import { type EngineFailure, toFailure } from './failure';

/** A file that could not be fetched at all: offline, a wrong host, or a server without CORS. */
export class NetworkError extends Error {
  constructor(
    readonly url: string,
    detail: string,
  ) {
    super(`${url}: could not be fetched (${detail})`);
    this.name = 'NetworkError';
  }
}

const MODEL_FORMAT_ADVICE =
  'Check that the files are complete (an interrupted download leaves a truncated file) and that they ' +
  'are a supported checkpoint: GPT-2, OPT or Llama as config.json with safetensors (F32, F16 or BF16), ' +
  'or a llama2.c .bin.';
const TOKENIZER_ADVICE =
  "Put the model's tokenizer beside its weights: tokenizer.json, vocab.json with merges.txt, or a llama2.c tok*.bin.";
const NETWORK_ADVICE =
  'Check the address and the connection. A server on another site must allow cross-origin requests ' +
  '(CORS) and range requests, as the Hugging Face hub does; otherwise download the folder and drop it here.';
const RANGE_ADVICE =
  "Check the sequence length against the model's context and the text's length. A token id outside the " +
  'vocabulary means the tokenizer does not belong to this model; NaN or Inf means the weights are broken.';
const DEVICE_LOST_ADVICE =
  'The loaded model was dropped with the device: load the model again, then rerun. If it keeps happening, ' +
  'close other GPU-heavy tabs or lower the memory budget.';
const DOES_NOT_FIT_ADVICE =
  'Raise the memory budget if this GPU has more memory to spare, choose a shorter sequence length, or pick a smaller model.';

/** Like toFailure, but knowing the model's errors and that a lost device takes the model with it. */
export function modelFailure(error: unknown): EngineFailure {
  if (error instanceof ModelFormatError || error instanceof SparseFormatError) {
    return { ok: false, kind: 'model-format', message: error.message, advice: MODEL_FORMAT_ADVICE };
  }
  if (error instanceof TokenizerError) {
    return { ok: false, kind: 'tokenizer', message: error.message, advice: TOKENIZER_ADVICE };
  }
  if (error instanceof NetworkError)
    return { ok: false, kind: 'network', message: error.message, advice: NETWORK_ADVICE };
  if (error instanceof RangeError)
    return { ok: false, kind: 'range', message: error.message, advice: RANGE_ADVICE };
  if (error instanceof GpuError && error.kind === 'device-lost') {
    return { ok: false, kind: error.kind, message: error.message, advice: DEVICE_LOST_ADVICE };
  }
  return toFailure(error);
}

/** The refusal of a model the fit check says does not fit, naming what does not (fit.reasons). */
export function fitRefusal(name: string, fit: FitReport): EngineFailure {
  return {
    ok: false,
    kind: 'does-not-fit',
    message: `${name} does not fit: ${fit.reasons.join('; ')}.`,
    advice: DOES_NOT_FIT_ADVICE,
  };
}
