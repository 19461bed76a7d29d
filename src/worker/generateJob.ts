// The playground's job: one prompt continued by the loaded model and by pruned runs, one model after
// another on the same device with the same settings and seed, tokens streamed as they come. A
// pruned run's model is uploaded for its turn and freed after it, its block matrices compressed in
// its pattern when the sparse kernels are on; the dense model is the loaded one. Cancel lands
// between tokens.

import { GpuError } from '../gpu/errors';
import type { GpuRuntime } from '../gpu/runtime';
import type { LoadedModel } from '../jobs/load';
import { modelFailure } from '../jobs/loadFailure';
import type { PruneRunStore } from '../jobs/pruneRuns';
import { generate } from '../model/generate';
import { GpuModel } from '../model/gpuModel';
import type { SparseExportFormat } from '../model/sparseSafetensors';
import type { SparsityPattern } from '../prune/options';
import { NM_FORMAT_MAX_M } from '../sparse/nmFormat';
import {
  DENSE_MODEL,
  type GeneratedText,
  type GenerateJobEvent,
  type GenerateJobOptions,
  type GenerateOutcome,
} from './api';

export interface GenerateJob {
  rt: GpuRuntime;
  loaded: LoadedModel;
  store: PruneRunStore;
  options: GenerateJobOptions;
  emit: (event: GenerateJobEvent) => void;
  signal: AbortSignal;
}

/** The compressed format a pruning pattern fits: N:M as itself (up to M = 16), unstructured as a bitmask. */
function sparseFormatOf(pattern: SparsityPattern): SparseExportFormat | undefined {
  if (pattern.kind === 'unstructured') return { format: 'bitmask' };
  return pattern.m <= NM_FORMAT_MAX_M ? { format: 'nm', n: pattern.n, m: pattern.m } : undefined;
}

export async function runGenerate(job: GenerateJob): Promise<GenerateOutcome> {
  const { rt, loaded, store, options, emit, signal } = job;
  let outcome: GenerateOutcome;
  try {
    if (options.models.length === 0) throw new RangeError('choose at least one model to generate with');
    // Every model is checked before the first token, so a dropped run does not fail half-way.
    const sources = options.models.map((id) => {
      if (id === DENSE_MODEL) return null;
      const weights = store.weights(id);
      const run = store.get(id);
      if (!weights || !run)
        throw new RangeError(
          `the pruned weights of run ${id} are no longer held (the worker keeps the newest runs'): run it again to generate with it`,
        );
      return {
        weights,
        compress: options.sparseKernels ? sparseFormatOf(run.summary.options.pattern) : undefined,
      };
    });
    const denseBytes = rt.ledger.bytesIn('weights');
    for (const [i, id] of options.models.entries()) {
      signal.throwIfAborted();
      emit({ type: 'model-started', model: id });
      const source = sources[i];
      const before = rt.ledger.bytesIn('weights');
      const model = source
        ? await GpuModel.load(rt, source.weights, { compress: source.compress, signal })
        : loaded.model;
      const weightBytes = source ? rt.ledger.bytesIn('weights') - before : denseBytes;
      try {
        const result = await generate(
          model,
          loaded.tokenizer,
          options.prompt,
          {
            maxNewTokens: options.maxNewTokens,
            temperature: options.temperature,
            topK: options.topK ?? undefined,
            seed: options.seed,
          },
          (t) =>
            emit({
              type: 'token',
              model: id,
              index: t.index,
              text: t.text,
              tokensPerSecond: t.tokensPerSecond,
            }),
          signal,
        );
        const generated: GeneratedText = {
          text: result.text,
          tokens: result.tokens.length,
          promptTokens: result.promptIds.length,
          stopReason: result.stopReason,
          prefillTokensPerSecond: result.prefill.tokensPerSecond,
          decodeTokensPerSecond: result.decode.tokens > 0 ? result.decode.tokensPerSecond : 0,
          weightBytes,
          compressed: source?.compress?.format ?? null,
          cacheBytes: result.cacheBytes,
        };
        emit({ type: 'model-finished', model: id, result: generated });
      } finally {
        if (source) model.destroy();
      }
    }
    outcome = { type: 'finished' };
  } catch (error) {
    const reason: unknown = signal.aborted ? signal.reason : error;
    if (signal.aborted && !(reason instanceof GpuError)) outcome = { type: 'cancelled' };
    else {
      const { ok: _, ...failure } = modelFailure(reason);
      outcome = { type: 'error', ...failure };
    }
  }
  emit(outcome);
  return outcome;
}
