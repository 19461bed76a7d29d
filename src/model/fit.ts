// Will a model run on this GPU? Answered from the config and the device limits alone, before a
// weight is read. WebGPU does not report how much memory a GPU has, so the memory budget is the
// user's setting; the binding and buffer limits are the device's own.

import type { EngineLimits } from '../gpu/device';
import { formatBytes } from '../gpu/errors';
import { logitChunkRows, windowActivationBytes } from './batch';
import type { ModelConfig } from './config';
import { tensorBytes, tensorStorage } from './weightStorage';
import { canonicalTensors, type WeightSource } from './weights';

export type FitVerdict = 'fits' | 'fits block by block' | 'does not fit';

export interface FitReport {
  verdict: FitVerdict;
  reasons: string[];
  weightBytes: number;
  /** Embeddings, final norm and head: resident for the whole run. */
  sharedBytes: number;
  largestBlockBytes: number;
  /** Activations of one window at the given sequence length. */
  activationBytes: number;
  /** Peak with every block resident / with one block resident. */
  peakResidentBytes: number;
  peakStreamingBytes: number;
  largestTensor: { name: string; bytes: number };
}

/**
 * `source`, when given, says how its tensors are stored: a F16 or BF16 checkpoint's matrices take 2
 * bytes an element on the GPU (weightStorage.ts). Without it every tensor counts as f32.
 */
export function fitCheck(
  c: ModelConfig,
  limits: EngineLimits,
  budgetBytes: number,
  seqLen: number,
  source?: Pick<WeightSource, 'dtype' | 'readHalf'>,
): FitReport {
  const tensors = canonicalTensors(c).map((t) => ({
    name: t.name,
    bytes: tensorBytes(t, source ? tensorStorage(source, t) : 'f32'),
  }));
  const weightBytes = tensors.reduce((s, t) => s + t.bytes, 0);
  const blocks = new Map<string, number>();
  let sharedBytes = 0;
  for (const t of tensors) {
    const block = /^layers\.(\d+)\./.exec(t.name)?.[1];
    if (block === undefined) sharedBytes += t.bytes;
    else blocks.set(block, (blocks.get(block) ?? 0) + t.bytes);
  }
  const largestBlockBytes = Math.max(0, ...blocks.values());
  const activationBytes =
    windowActivationBytes(c, seqLen) + 4 * logitChunkRows(c.vocabSize, seqLen) * c.vocabSize;
  const largestTensor = tensors.reduce((a, b) => (b.bytes > a.bytes ? b : a));
  const peakResidentBytes = weightBytes + activationBytes;
  const peakStreamingBytes = sharedBytes + largestBlockBytes + activationBytes;

  const reasons: string[] = [];
  let verdict: FitVerdict;
  if (largestTensor.bytes > limits.maxBufferSize) {
    verdict = 'does not fit';
    reasons.push(
      `tensor ${largestTensor.name} needs ${formatBytes(largestTensor.bytes)}, above this GPU's largest buffer (${formatBytes(limits.maxBufferSize)})`,
    );
  } else if (peakResidentBytes <= budgetBytes) {
    verdict = 'fits';
    reasons.push(
      `all weights and one window's activations take ${formatBytes(peakResidentBytes)} of the ${formatBytes(budgetBytes)} budget`,
    );
  } else if (peakStreamingBytes <= budgetBytes) {
    verdict = 'fits block by block';
    reasons.push(
      `all weights (${formatBytes(weightBytes)}) exceed the ${formatBytes(budgetBytes)} budget; one block at a time ` +
        `needs ${formatBytes(peakStreamingBytes)}`,
    );
  } else {
    verdict = 'does not fit';
    reasons.push(
      `even one block at a time needs ${formatBytes(peakStreamingBytes)}, above the ${formatBytes(budgetBytes)} budget; ` +
        'a shorter sequence length lowers the activations',
    );
  }
  return {
    verdict,
    reasons,
    weightBytes,
    sharedBytes,
    largestBlockBytes,
    activationBytes,
    peakResidentBytes,
    peakStreamingBytes,
    largestTensor,
  };
}

/**
 * The memory a batched pass's activations may take (batch.ts): the budget less what the weights
 * hold resident (all of them, or the shared tensors and one block when streaming), and never less
 * than the one window the fit check counted.
 */
export function passBytes(fit: FitReport, budgetBytes: number, residency: 'resident' | 'streaming'): number {
  const peak = residency === 'resident' ? fit.peakResidentBytes : fit.peakStreamingBytes;
  return Math.max(fit.activationBytes, budgetBytes - (peak - fit.activationBytes));
}
