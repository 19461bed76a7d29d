// The headless CLI: the studio's engine in Node through Dawn's WebGPU. Human-readable progress
// goes to stderr; with --json, stdout carries exactly one JSON object. Exit codes: 0 success,
// 1 the job failed (bad file, GPU error), 2 wrong arguments.

import { readFile } from 'node:fs/promises';
import { Command, CommanderError, Option } from 'commander';
import { GpuError } from '../gpu/errors';
import { EVAL_TEXTS, type EvalText, evaluatePerplexity, tokenizeEvalText } from '../model/evaluate';
import { fitCheck } from '../model/fit';
import { GpuModel } from '../model/gpuModel';
import { type PerplexityProgress, type PerplexityResult, perplexity } from '../model/perplexity';
import { referenceNll } from '../model/reference';
import { canonicalTensors } from '../model/weights';
import { formatSeconds, ProgressLine } from './progress';
import { registerPrune } from './prune';
import { registerTrain } from './train';
import { emit, openModelFolder, positiveInt, ROOT, withRuntime } from './shared';

const program = new Command()
  .name('compression-studio')
  .description('Compression Studio, headless: the same WebGPU engine as the studio, in Node.')
  .showHelpAfterError()
  .exitOverride();

program
  .command('info')
  .description('the GPU adapter, its features and the limits the engine negotiated')
  .option('--json', 'print one JSON object on stdout')
  .action(async (options: { json?: boolean }) => {
    await withRuntime(async (rt) => {
      const c = rt.capability;
      const lines = [
        `adapter: ${c.vendor} ${c.architecture} ${c.description}${c.isFallbackAdapter ? ' (fallback)' : ''}`,
        `features: ${Object.entries(c.features)
          .map(([f, on]) => `${f} ${on ? 'yes' : 'no'}`)
          .join(', ')}`,
        ...Object.entries(c.limits).map(([name, value]) => `  ${name} = ${value}`),
      ];
      emit(Boolean(options.json), c, lines.join('\n'));
    });
  });

program
  .command('eval')
  .description("perplexity of a model on an evaluation text, by the papers' protocol")
  .option(
    '--model <path>',
    'a model folder (config.json + safetensors, or a llama2.c .bin)',
    `${ROOT}public/models/stories260K`,
  )
  .addOption(
    new Option('--text <name>', 'the evaluation text').choices(Object.keys(EVAL_TEXTS)).default('wikitext2'),
  )
  .option('--seq-len <n>', "tokens per window (default: the model's context)", positiveInt)
  .option('--windows <n>', 'score only the first n windows (default: all)', positiveInt)
  .option('--budget-gib <n>', 'GPU memory budget for the fit check (WebGPU does not report it)', Number, 4)
  .option('--reference', 'score on the CPU with the float64 reference forward instead of the GPU')
  .option('--json', 'print one JSON object on stdout')
  .action(
    async (options: {
      reference?: boolean;
      model: string;
      text: EvalText;
      seqLen?: number;
      windows?: number;
      budgetGib: number;
      json?: boolean;
    }) => {
      const started = performance.now();
      const { opened, config, tokenizer } = await openModelFolder(options.model);
      const seqLen = options.seqLen ?? config.maxPositions;
      const raw = await readFile(`${ROOT}public/${EVAL_TEXTS[options.text].file}`, 'utf8');
      const tokens = tokenizeEvalText(options.text, raw, tokenizer);
      const total = Math.min(Math.floor(tokens.length / seqLen), options.windows ?? Number.POSITIVE_INFINITY);
      const bar = new ProgressLine('perplexity', total, 'windows');
      const evalOptions = {
        seqLen,
        maxWindows: options.windows,
        onWindow: (p: PerplexityProgress) =>
          bar.update(p.done, `ppl ${p.runningPpl.toFixed(3)}, ${p.tokensPerSecond.toFixed(0)} tok/s`),
      };
      const report = (result: PerplexityResult, engine: string, extra: object) => {
        bar.done();
        const elapsedMs = performance.now() - started;
        emit(
          Boolean(options.json),
          {
            command: 'eval',
            model: options.model,
            family: config.family,
            text: options.text,
            engine,
            elapsedMs,
            ...extra,
            ...result,
          },
          `perplexity ${result.ppl.toFixed(4)} on ${EVAL_TEXTS[options.text].label} (${engine}): ${result.windows} windows of ` +
            `${seqLen} tokens (${result.tokensInText} in the text) in ${formatSeconds(elapsedMs / 1000)}`,
        );
      };
      if (options.reference) {
        // The float64 CPU forward the tests check the GPU against: slow, and independent of it.
        const tensors = new Map<string, Float32Array>();
        for (const t of canonicalTensors(config)) tensors.set(t.name, await opened.weights.read(t.name));
        const score = async (window: readonly number[]) => {
          const nll = referenceNll(config, tensors, window);
          return { nllSum: nll.sum, count: nll.count };
        };
        report(await perplexity(tokens, score, evalOptions), 'float64 CPU reference', {});
        return;
      }
      await withRuntime(async (rt) => {
        const fit = fitCheck(config, rt.limits, options.budgetGib * 2 ** 30, seqLen);
        if (fit.verdict === 'does not fit')
          throw new RangeError(`the model does not fit: ${fit.reasons.join('; ')}`);
        const load = new ProgressLine('upload', opened.weightBytes, 'bytes');
        const model = await GpuModel.load(rt, opened.weights, {
          residency: fit.verdict === 'fits' ? 'resident' : 'streaming',
          onProgress: (p) => load.update(p.bytesDone),
        });
        load.done();
        try {
          const result = await evaluatePerplexity(model, tokens, evalOptions);
          report(result, 'WebGPU', {
            residency: model.residency,
            adapter: `${rt.capability.vendor} ${rt.capability.architecture}`,
          });
        } finally {
          model.destroy();
        }
      });
    },
  );

registerPrune(program);
registerTrain(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // Help and version are successes; every other parse failure is a usage error.
    process.exitCode = error.code === 'commander.helpDisplayed' || error.code === 'commander.version' ? 0 : 2;
  } else {
    process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
    if (error instanceof GpuError) process.stderr.write(`${error.advice}\n`);
    process.exitCode = 1;
  }
}
