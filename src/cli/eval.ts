// `eval`: perplexity of a model on an evaluation text by the papers' protocol, on the GPU or with
// the float64 CPU reference forward, with a run record (NLL per window, perplexity, timings).

import { type Command, Option } from 'commander';
import { EVAL_TEXTS, type EvalText, evaluatePerplexity, tokenizeEvalText } from '../model/evaluate';
import { fitCheck, passBytes } from '../model/fit';
import { GpuModel } from '../model/gpuModel';
import { type PerplexityProgress, type PerplexityResult, perplexity } from '../model/perplexity';
import { referenceNll } from '../model/reference';
import type { SparseExportFormat } from '../model/sparseSafetensors';
import { canonicalTensors } from '../model/weights';
import { adapterName, counterResults, nllPerWindow } from '../run/build';
import { formatSeconds, ProgressLine } from './progress';
import { addRecordOption, type JobResult, modelIdentity, RunDraft, readData, runRecorded } from './record';
import {
  addGpuTimeOption,
  formatCounters,
  openModelFolder,
  parseSparse,
  positiveInt,
  ROOT,
  SPARSE_HELP,
  withRuntime,
} from './shared';

interface EvalCliOptions {
  reference?: boolean;
  model: string;
  text: EvalText;
  seqLen?: number;
  windows?: number;
  budgetGib: number;
  sparse?: SparseExportFormat;
  json?: boolean;
  record?: string;
  gpuTime?: boolean;
}

export function registerEval(program: Command): void {
  const command = program
    .command('eval')
    .description("perplexity of a model on an evaluation text, by the papers' protocol")
    .option(
      '--model <path>',
      'a model folder (config.json + safetensors, or a llama2.c .bin)',
      `${ROOT}public/models/stories260K`,
    )
    .addOption(
      new Option('--text <name>', 'the evaluation text')
        .choices(Object.keys(EVAL_TEXTS))
        .default('wikitext2'),
    )
    .option('--seq-len <n>', "tokens per window (default: the model's context)", positiveInt)
    .option('--windows <n>', 'score only the first n windows (default: all)', positiveInt)
    .option('--budget-gib <n>', 'GPU memory budget for the fit check (WebGPU does not report it)', Number, 4)
    .option('--reference', 'score on the CPU with the float64 reference forward instead of the GPU')
    .option('--sparse <format>', SPARSE_HELP, parseSparse)
    .option('--json', 'print one JSON object on stdout');
  addRecordOption(addGpuTimeOption(command)).action(async (cli: EvalCliOptions) => {
    const { json, record, gpuTime, ...config } = cli;
    const draft = new RunDraft('eval', null);
    draft.config = config;
    await runRecorded(cli, draft, () => evaluate(cli, draft));
  });
}

async function evaluate(cli: EvalCliOptions, draft: RunDraft): Promise<JobResult> {
  const { opened, config, tokenizer } = await openModelFolder(cli.model);
  draft.model = await modelIdentity(cli.model, opened);
  const seqLen = cli.seqLen ?? config.maxPositions;
  const data = await readData(cli.text, `${ROOT}public/${EVAL_TEXTS[cli.text].file}`);
  draft.data.push(data.identity);
  const tokens = tokenizeEvalText(cli.text, data.text, tokenizer);
  const total = Math.min(Math.floor(tokens.length / seqLen), cli.windows ?? Number.POSITIVE_INFINITY);
  const bar = new ProgressLine('perplexity', total, 'windows');
  const evalOptions = {
    seqLen,
    maxWindows: cli.windows,
    gpuTime: cli.gpuTime,
    onWindow: (p: PerplexityProgress) =>
      bar.update(p.done, `ppl ${p.runningPpl.toFixed(3)}, ${p.tokensPerSecond.toFixed(0)} tok/s`),
  };
  let result: PerplexityResult;
  let extra: Record<string, unknown> = {};
  if (cli.reference) {
    // The float64 CPU forward the tests check the GPU against: slow, and independent of it.
    draft.adapter = 'float64 CPU reference';
    const tensors = new Map<string, Float32Array>();
    for (const t of canonicalTensors(config)) tensors.set(t.name, await opened.weights.read(t.name));
    const score = async (windows: readonly (readonly number[])[]) =>
      windows.map((window) => {
        const nll = referenceNll(config, tensors, window);
        return { nllSum: nll.sum, count: nll.count };
      });
    result = await draft.phase('evaluation', () => perplexity(tokens, score, evalOptions));
  } else {
    result = await withRuntime(async (rt) => {
      draft.adapter = adapterName(rt.capability);
      const fit = fitCheck(config, rt.limits, cli.budgetGib * 2 ** 30, seqLen, opened.weights);
      if (fit.verdict === 'does not fit')
        throw new RangeError(`the model does not fit: ${fit.reasons.join('; ')}`);
      const load = new ProgressLine('upload', opened.weightBytes, 'bytes');
      const model = await draft.phase('upload', () =>
        GpuModel.load(rt, opened.weights, {
          residency: fit.verdict === 'fits' ? 'resident' : 'streaming',
          compress: cli.sparse,
          onProgress: (p) => load.update(p.bytesDone),
        }),
      );
      load.done();
      try {
        extra = { residency: model.residency, adapter: draft.adapter };
        return await draft.phase('evaluation', () =>
          evaluatePerplexity(model, tokens, {
            ...evalOptions,
            passBytes: passBytes(fit, cli.budgetGib * 2 ** 30, model.residency),
          }),
        );
      } finally {
        model.destroy();
      }
    });
  }
  bar.done();
  const engine = cli.reference ? 'float64 CPU reference' : 'WebGPU';
  const elapsedMs = draft.elapsedMs();
  return {
    output: {
      command: 'eval',
      model: cli.model,
      family: config.family,
      text: cli.text,
      engine,
      elapsedMs,
      ...extra,
      ...result,
    },
    summary:
      `perplexity ${result.ppl.toFixed(4)} on ${EVAL_TEXTS[cli.text].label} (${engine}): ${result.windows} windows of ` +
      `${seqLen} tokens (${result.tokensInText} in the text), up to ${result.windowsPerPass} per pass, in ${formatSeconds(elapsedMs / 1000)}` +
      (result.counters ? `; GPU work: ${formatCounters(result.counters)}` : ''),
    metrics: [nllPerWindow(result)],
    results: {
      text: cli.text,
      ppl: result.ppl,
      meanNll: result.meanNll,
      windows: result.windows,
      seqLen,
      tokensScored: result.tokensScored,
      tokensInText: result.tokensInText,
      windowsPerPass: result.windowsPerPass,
      ...counterResults(result.counters),
    },
  };
}
