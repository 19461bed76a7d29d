// `eval`: perplexity of a model on an evaluation text by the papers' protocol, on the GPU or with
// the float64 CPU reference forward, with a run record (NLL per window, perplexity, timings).

import type { Command } from 'commander';
import { EvalJob, evalRecordParts } from '../jobs/eval';
import { EVAL_BOUNDS, evalProblems } from '../jobs/evalOptions';
import { EVAL_TEXTS, type EvalText, tokenizeEvalText } from '../model/evaluate';
import { referenceScorer } from '../model/reference';
import type { SparseExportFormat } from '../model/sparseSafetensors';
import { adapterName } from '../run/build';
import { refuseUnfit } from './modelLoad';
import { formatSeconds, ProgressLine } from './progress';
import { addRecordOption, type JobResult, modelIdentity, RunDraft, readData, runRecorded } from './record';
import {
  addGpuTimeOption,
  budgetOption,
  choice,
  formatCounters,
  openModelFolder,
  parseSparse,
  ROOT,
  SPARSE_HELP,
  within,
  withRuntimes,
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
    .addOption(choice('--text <name>', 'the evaluation text', Object.keys(EVAL_TEXTS), 'wikitext2'))
    .option('--seq-len <n>', "tokens per window (default: the model's context)", within(EVAL_BOUNDS.seqLen))
    .option('--windows <n>', 'score only the first n windows (default: all)', within(EVAL_BOUNDS.maxWindows))
    .addOption(budgetOption())
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
  const { inspected, opened, config, tokenizer } = await openModelFolder(cli.model);
  draft.model = await modelIdentity(inspected);
  const seqLen = cli.seqLen ?? config.maxPositions;
  const budgetBytes = cli.budgetGib * 2 ** 30;
  const engine = cli.reference ? 'float64 CPU reference' : 'WebGPU';
  if (cli.reference) draft.adapter = engine;
  let bar: ProgressLine | undefined;
  let upload: ProgressLine | undefined;
  const { job, result } = await withRuntimes(async (acquire) => {
    // The load job's fit check before the text is read, once the window is one the job accepts
    // (else the job names the setting): a refusal says what does not fit, and exits with 2.
    const settingsOk = Object.keys(evalProblems({ text: cli.text, seqLen }, config)).length === 0;
    if (!cli.reference && settingsOk) refuseUnfit(await acquire(), inspected, { budgetBytes, seqLen });
    const job = new EvalJob(
      {
        acquire: async () => {
          const rt = await acquire();
          draft.adapter = adapterName(rt.capability);
          return rt;
        },
        source: opened.weights,
        // The float64 CPU forward the tests check the GPU against: slow, and independent of it.
        score: cli.reference ? await referenceScorer(opened.weights) : undefined,
        budgetBytes,
        compress: cli.sparse,
        onUpload: (p) => {
          upload ??= new ProgressLine('upload', p.bytesTotal, 'bytes');
          upload.update(p.bytesDone);
          if (p.tensor === '') {
            upload.done();
            upload = undefined;
          }
        },
        tokens: async () => {
          const data = await readData(cli.text, `${ROOT}public/${EVAL_TEXTS[cli.text].file}`);
          draft.data.push(data.identity);
          return tokenizeEvalText(cli.text, data.text, tokenizer);
        },
        gpuTime: cli.gpuTime,
        onProgress: (event) => {
          if (event.type === 'started') bar = new ProgressLine('perplexity', event.total, 'windows');
          else if (event.type === 'window')
            bar?.update(
              event.done,
              `ppl ${event.runningPpl.toFixed(3)}, ${event.tokensPerSecond.toFixed(0)} tok/s`,
            );
          else if (event.type === 'degraded')
            process.stderr.write(
              `\n${event.message}; scoring the windows again from the first, one per pass\n`,
            );
          else
            process.stderr.write(
              `\nthe GPU device was lost (${event.message}); continuing on a new one after window ${event.done}\n`,
            );
        },
        phase: (name, body) => draft.phase(name, body),
      },
      { text: cli.text, seqLen, maxWindows: cli.windows },
    );
    return { job, result: await job.run() };
  });
  bar?.done();
  const { label, ms, tokensPerSecond, ...scored } = result;
  const elapsedMs = draft.elapsedMs();
  return {
    output: {
      command: 'eval',
      model: cli.model,
      family: config.family,
      engine,
      elapsedMs,
      ...(cli.reference ? {} : { residency: job.residency, adapter: draft.adapter }),
      resumes: job.resumes,
      ...scored,
    },
    summary:
      `perplexity ${result.ppl.toFixed(4)} on ${label} (${engine}): ${result.windows} windows of ` +
      `${seqLen} tokens (${result.tokensInText} in the text), up to ${result.windowsPerPass} per pass, in ${formatSeconds(elapsedMs / 1000)}` +
      (result.counters ? `; GPU work: ${formatCounters(result.counters)}` : '') +
      (job.resumes ? `\ncontinued on a new device after ${job.resumes} lost` : ''),
    ...evalRecordParts(cli.text, result),
  };
}
