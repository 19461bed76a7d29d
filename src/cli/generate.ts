// `generate`: a continuation of a prompt by a model, with the KV cache (src/model/generate.ts). The
// text streams to stdout as tokens arrive and a summary (tokens/s of the prompt's pass and of the
// decode steps, the GPU work) goes to stderr; with --json, stdout holds one object instead: the
// tokens, the text, the timings and the counters.

import type { Command } from 'commander';
import { SEED_BOUND } from '../bounds/bound';
import { formatBytes } from '../gpu/errors';
import { JobFailedError } from '../jobs/failure';
import { DEFAULT_MAX_NEW_TOKENS, type GenerateOptions, generate } from '../model/generate';
import { KvCache } from '../model/kvCache';
import type { SparseExportFormat } from '../model/sparseSafetensors';
import { adapterName } from '../run/build';
import { loadModel } from './modelLoad';
import {
  budgetOption,
  emit,
  formatCounters,
  nonNegative,
  nonNegativeInt,
  openModelFolder,
  parseSparse,
  positiveInt,
  ROOT,
  SPARSE_HELP,
  within,
  withRuntime,
} from './shared';

interface GenerateCliOptions {
  model: string;
  prompt: string;
  maxTokens: number;
  temperature: number;
  topK?: number;
  seed?: number;
  stop?: string[];
  stopId?: number[];
  context?: number;
  budgetGib: number;
  sparse?: SparseExportFormat;
  json?: boolean;
}

export function registerGenerate(program: Command): void {
  program
    .command('generate')
    .description('continue a prompt with a model (KV cache; greedy, or sampled with a temperature and top-k)')
    .option(
      '--model <path>',
      'a model folder (config.json + safetensors, or a llama2.c .bin)',
      `${ROOT}public/models/stories260K`,
    )
    .option('--prompt <text>', 'the text to continue (BOS is put before it)', '')
    .option('--max-tokens <n>', 'new tokens at most', positiveInt, DEFAULT_MAX_NEW_TOKENS)
    .option('--temperature <t>', '0 is greedy; above 0, sample from softmax(logits / t)', nonNegative, 0)
    .option('--top-k <k>', 'sample only among the k most likely tokens', positiveInt)
    .option('--seed <s>', 'seed of the draws (default: a fresh one, printed)', within(SEED_BOUND))
    .option('--stop <text...>', 'texts that end the generation (EOS always does)')
    .option('--stop-id <id...>', 'token ids that end the generation', (value, previous: number[] = []) => [
      ...previous,
      nonNegativeInt(value),
    ])
    .option('--context <n>', "positions the KV cache may hold (default: the model's context)", positiveInt)
    .addOption(budgetOption())
    .option('--sparse <format>', SPARSE_HELP, parseSparse)
    .option('--json', 'print one JSON object on stdout')
    .action(async (cli: GenerateCliOptions) => {
      await run(cli);
    });
}

async function run(cli: GenerateCliOptions): Promise<void> {
  const { inspected, config, tokenizer } = await openModelFolder(cli.model);
  const options: GenerateOptions = {
    maxNewTokens: cli.maxTokens,
    temperature: cli.temperature,
    topK: cli.topK,
    seed: cli.seed,
    stopTexts: cli.stop,
    stopIds: cli.stopId,
    maxTokens: cli.context,
  };
  const prompt = tokenizer.encode(cli.prompt, { addBos: true });
  await withRuntime(async (rt) => {
    const budget = cli.budgetGib * 2 ** 30;
    const positions = Math.min(prompt.length + cli.maxTokens, config.maxPositions);
    // The cache is held beside the weights and one pass's activations, so it comes off the budget.
    const cacheBytes = KvCache.bytes(config, positions);
    if (cacheBytes >= budget)
      throw new JobFailedError({
        kind: 'does-not-fit',
        message: `${inspected.summary.name} does not fit: its KV cache of ${positions} positions takes ${formatBytes(cacheBytes)}, all of the ${formatBytes(budget)} budget`,
        advice: 'Raise --budget-gib, or ask for fewer new tokens (--max-tokens).',
      });
    // The prompt's pass is the widest; the fit check takes windows of 2 tokens or more, up to the context.
    const seqLen = Math.min(config.maxPositions, Math.max(2, prompt.length));
    const { model } = await loadModel(
      rt,
      inspected,
      { budgetBytes: budget - cacheBytes, seqLen },
      cli.sparse,
    );
    try {
      const result = await generate(model, tokenizer, prompt, options, (event) => {
        if (!cli.json) process.stdout.write(event.text);
      });
      if (!cli.json) process.stdout.write('\n');
      const { prefill, decode } = result;
      emit(
        Boolean(cli.json),
        {
          command: 'generate',
          model: cli.model,
          family: config.family,
          adapter: adapterName(rt.capability),
          residency: model.residency,
          prompt: cli.prompt,
          ...result,
          temperature: cli.temperature,
          topK: cli.topK ?? null,
        },
        `${result.tokens.length} tokens (${result.stopReason}, seed ${result.seed}): prompt ${prefill.tokens} tokens at ` +
          `${prefill.tokensPerSecond.toFixed(1)} tok/s, decode ${decode.tokens} steps at ` +
          `${decode.tokensPerSecond.toFixed(1)} tok/s; GPU work: prompt ${formatCounters(prefill.counters)}; ` +
          `decode ${formatCounters(decode.counters)}`,
      );
    } finally {
      model.destroy();
    }
  });
}
