// `train`: the optimizer studio's training comparison, headless. Arms (an optimizer and its learning
// rate each) train the same starting model on the same batches; the command prints the final
// training and validation loss and the optimizer-state bytes per arm, and can save every arm's
// model as a Hugging Face folder with the tokenizer it was trained with. The run is the host-neutral
// TrainJob (src/jobs/train.ts): after a lost device it continues on a new one from the last
// validation, says so on stderr, and --json counts it in `resumes`; out of GPU memory it continues
// from there with one arm at a time on the GPU, says so on stderr, and --json has `residency`.

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import { SEED_BOUND } from '../bounds/bound';
import { folderSiteFiles } from '../host/nodeFiles';
import { TrainJob } from '../jobs/train';
import { presetModel } from '../jobs/trainData';
import type { ModelConfig } from '../model/config';
import { exportHfModel } from '../model/export';
import { canonicalTensors, memoryWeightSource } from '../model/weights';
import { adapterName, trainOutcome } from '../run/build';
import { presetIdentity } from '../run/presetIdentity';
import { ARM_KINDS, ArmSpecError, type ArmText, readArmSpec } from '../train/armSpec';
import { TRAIN_TEXTS, type TrainText, tokenizeTrainText } from '../train/data';
import type { ArmSpec, TrainOptions, TrainSummary } from '../train/job';
import { PRESETS, type PresetFamily, type PresetName } from '../train/modelPresets';
import type { OptimizerChoice } from '../train/optim';
import { DEFAULT_BETAS as ADAMW_BETAS } from '../train/optim/adamw';
import { DEFAULT_BETAS as CAME_BETAS } from '../train/optim/came';
import { TRAIN_BOUNDS } from '../train/options';
import { DECAYS, type Decay } from '../train/schedule';
import { ProgressLine } from './progress';
import { addRecordOption, type JobResult, modelIdentity, RunDraft, readData, runRecorded } from './record';
import { addGpuTimeOption, choice, openModelFolder, ROOT, within, withRuntimes } from './shared';

/** Engine option names of the arm settings that map one to one (beta1/beta2 of AdamW and CAME go into betas). */
const OPTION_OF: Record<string, string> = {
  beta1: 'beta1',
  beta2: 'beta2',
  wd: 'weightDecay',
  kmin: 'kMin',
  kmax: 'kMax',
  xi: 'errorThreshold',
  guidance: 'guidance',
  seed: 'seed',
};

/** An arm's settings as its optimizer's options. */
function optimizerOfArm({ kind, settings }: ArmText): OptimizerChoice {
  const options: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(settings)) {
    if (key === 'warm') options.warmStart = value === 'on';
    else if (key !== 'beta1' && key !== 'beta2') options[OPTION_OF[key] as string] = value;
  }
  const b1 = settings.beta1 as number | undefined;
  const b2 = settings.beta2 as number | undefined;
  if (kind === 'adamw' && (b1 !== undefined || b2 !== undefined)) {
    options.betas = [b1 ?? ADAMW_BETAS[0], b2 ?? ADAMW_BETAS[1]];
  } else if (kind === 'came' && (b1 !== undefined || b2 !== undefined)) {
    options.betas = [b1 ?? CAME_BETAS[0], b2 ?? CAME_BETAS[1], CAME_BETAS[2]];
  } else {
    if (b1 !== undefined) options.beta1 = b1;
    if (b2 !== undefined) options.beta2 = b2;
  }
  return { kind, options } as OptimizerChoice;
}

/**
 * An arm: `kind[@lr][:key=value,…]`, e.g. `adamw@3e-3`, `adapprox:beta1=0` (no first moment),
 * `adapprox@1e-3:kmin=1,kmax=1` (fixed rank 1). The id is the spec itself, so arms stay distinct.
 */
export function parseArm(spec: string): ArmSpec {
  try {
    const arm = readArmSpec(spec);
    return { id: spec.trim(), label: spec.trim(), lr: arm.lr, optimizer: optimizerOfArm(arm) };
  } catch (error) {
    if (error instanceof ArmSpecError) throw new InvalidArgumentError(error.message);
    throw error;
  }
}

interface TrainCliOptions {
  size: PresetName;
  family: PresetFamily;
  from?: string;
  text: TrainText;
  textFile?: string;
  arm: ArmSpec[];
  steps: number;
  batch: number;
  seqLen: number;
  warmup?: number;
  decay: Decay;
  minLrRatio: number;
  valEvery?: number;
  valWindows: number;
  valFraction: number;
  seed: number;
  out?: string;
  json?: boolean;
  record?: string;
  gpuTime?: boolean;
}

export function registerTrain(program: Command): void {
  const B = TRAIN_BOUNDS;
  const command = program
    .command('train')
    .description('train a model with several optimizers side by side (AdamW, Adafactor, CAME, Adapprox)')
    .addOption(choice('--size <preset>', 'model size to train from scratch', Object.keys(PRESETS), 'tiny'))
    .addOption(choice('--family <family>', 'decoder family of the preset', ['gpt2', 'llama'], 'gpt2'))
    .option('--from <path>', 'fine-tune this model folder instead of a preset from scratch')
    .addOption(choice('--text <name>', 'shipped training text', Object.keys(TRAIN_TEXTS), 'tinyshakespeare'))
    .option('--text-file <path>', 'train on this UTF-8 text file instead')
    .option(
      '--arm <spec>',
      'an optimizer arm, kind[@lr][:key=value,…], repeatable (e.g. adamw@3e-3, adapprox:beta1=0, adapprox:kmin=1,kmax=1)',
      (value: string, previous: ArmSpec[] | undefined) => [...(previous ?? []), parseArm(value)],
    )
    .option('--steps <n>', 'optimizer steps per arm', within(B.steps), 200)
    .option('--batch <n>', 'windows per step', within(B.batch), 8)
    .option('--seq-len <n>', 'tokens per window', within(B.seqLen), 64)
    .option('--warmup <n>', 'linear warm-up steps (default: a tenth of the steps)', within(B.warmupSteps))
    .addOption(choice('--decay <shape>', 'learning-rate decay after warm-up', DECAYS, 'cosine'))
    .option('--min-lr-ratio <r>', 'the decay floor as a fraction of the peak', within(B.minLrRatio), 0.1)
    .option(
      '--val-every <n>',
      'validate every n steps (default: 10 times per run)',
      within(B.validationEvery),
    )
    .option(
      '--val-windows <n>',
      'held-out windows scored at each validation',
      within(B.validationWindows),
      16,
    )
    .option(
      '--val-fraction <f>',
      "fraction of the text's tail held out for validation",
      within(B.validationFraction),
      0.1,
    )
    .option('--seed <n>', "seeds the batch order and the preset's initialization", within(SEED_BOUND), 0)
    .option('--out <dir>', "save every arm's model (safetensors, config, tokenizer) in <dir>/<arm>/")
    .option('--json', 'print one JSON object on stdout');
  addRecordOption(addGpuTimeOption(command)).action(async (cli: TrainCliOptions) => {
    const { json, record, out, gpuTime, ...config } = cli;
    const draft = new RunDraft('train', cli.seed);
    draft.config = { ...config, arm: (cli.arm ?? defaultArms()).map((a) => a.id) };
    await runRecorded(cli, draft, () => train(cli, draft));
  });
}

const defaultArms = () => ARM_KINDS.map((k) => parseArm(k));

async function train(options: TrainCliOptions, draft: RunDraft): Promise<JobResult> {
  const arms = options.arm ?? defaultArms();
  const { config, start, tokenizer, tokenizerFiles, identity } = await startingModel(options);
  draft.model = identity;
  const trainOptions: TrainOptions = {
    seqLen: options.seqLen,
    batch: options.batch,
    steps: options.steps,
    warmupSteps: options.warmup ?? Math.round(options.steps / 10),
    decay: options.decay,
    minLrRatio: options.minLrRatio,
    validationEvery: options.valEvery ?? Math.max(1, Math.round(options.steps / 10)),
    validationWindows: options.valWindows,
    seed: options.seed,
    arms,
  };
  draft.config = { ...draft.config, resolved: { ...trainOptions, arms: arms.map((a) => a.id) } };
  let tokenCount = 0;
  return withRuntimes(async (acquire) => {
    const progress = new ProgressLine('train', options.steps * arms.length, 'arm-steps');
    let done = 0;
    const job = new TrainJob(
      {
        acquire: async () => {
          const rt = await acquire();
          draft.adapter ??= adapterName(rt.capability);
          return rt;
        },
        tokens: async () => {
          const text = options.textFile
            ? await readData('user', options.textFile)
            : await readData(
                options.text,
                join(ROOT, 'public', TRAIN_TEXTS[options.text as Exclude<TrainText, 'user'>].file),
              );
          draft.data.push(text.identity);
          const tokens = tokenizeTrainText(options.textFile ? 'user' : options.text, text.text, tokenizer);
          tokenCount = tokens.length;
          return tokens;
        },
        onProgress: (e) => {
          if (e.type === 'degraded') {
            // The steps after the checkpoint are taken again, as after a lost device.
            done = e.step * arms.length;
            process.stderr.write(
              `\n${e.message}; continuing from step ${e.step} with one arm at a time on the GPU\n`,
            );
            return;
          }
          if (e.type !== 'resumed') return;
          // The steps after the checkpoint are taken again: the count goes back with them.
          done = e.step * arms.length;
          process.stderr.write(
            `\nthe GPU device was lost (${e.message}); continuing on a new one from step ${e.step}\n`,
          );
        },
        onEngineEvent: (e) => {
          if (e.type === 'step') progress.update(++done, `${e.arm} loss ${e.loss.toFixed(3)}`);
          else if (e.type === 'arm-stopped') process.stderr.write(`\n${e.arm}: ${e.message}\n`);
        },
        gpuTime: options.gpuTime,
        phase: (name, body) => draft.phase(name, body),
      },
      { config, start, options: trainOptions, validationFraction: options.valFraction },
    );
    const { summary, weights, data } = await job.run();
    progress.done();
    if (options.out)
      await draft.phase('save', () =>
        saveArms(config, weights, options.out as string, tokenizerFiles, summary),
      );
    const lines = summary.arms.map(
      (a) =>
        `${a.label.padEnd(28)} train ${fmt(a.finalTrainLoss)}  validation ${fmt(a.finalValidationLoss)}  ` +
        `state ${a.state.persistent} B  ${a.modelMs.toFixed(0)} + ${a.optimizerMs.toFixed(0)} ms/step` +
        (a.countersPerStep && a.optimizerCountersPerStep
          ? `  ${num(a.countersPerStep.readbacks)} read-backs/step (optimizer ${num(a.optimizerCountersPerStep.readbacks)})`
          : '') +
        (a.stopped ? `  (${a.stopped})` : ''),
    );
    if (job.resumes) lines.push(`continued on a new device after ${job.resumes} lost`);
    if (job.residency === 'one-at-a-time')
      lines.push('one arm at a time on the GPU after running out of memory');
    return {
      output: {
        config,
        options: trainOptions,
        data: {
          text: options.textFile ?? options.text,
          tokens: tokenCount,
          train: data.train.length,
          validation: data.validation.length,
        },
        summary,
        series: job.record.series(),
        resumes: job.resumes,
        residency: job.residency,
      },
      summary: lines.join('\n'),
      ...trainOutcome(job.record.curves(), summary),
      detail: summary,
    };
  });
}

const fmt = (x: number | null) => (x === null ? '—' : x.toFixed(4));
/** A mean count: whole when it is, else to a tenth. */
const num = (x: number) => (Number.isInteger(x) ? String(x) : x.toFixed(1));

/** A preset from scratch over the built-in tokenizer (tok512), or a model folder to fine-tune. */
async function startingModel(options: TrainCliOptions) {
  if (options.from) {
    const { inspected, opened, config, tokenizer, tokenizerFiles } = await openModelFolder(options.from);
    const start = new Map<string, Float32Array>();
    for (const t of canonicalTensors(config)) start.set(t.name, await opened.weights.read(t.name));
    return { config, start, tokenizer, tokenizerFiles, identity: await modelIdentity(inspected) };
  }
  // The studio's preset, its tokenizer read from public/ as the worker fetches it from the site.
  const preset = await presetModel(
    { kind: 'preset', preset: options.size, family: options.family },
    options.seed,
    folderSiteFiles(join(ROOT, 'public')),
  );
  const tokenizerFiles = await Promise.all(
    preset.tokenizerFiles.map(async (f) => ({ name: f.name, data: await f.read(0, f.size) })),
  );
  const identity = await presetIdentity(
    preset.config,
    `${options.size} ${options.family} preset, seed ${options.seed}`,
    options.seed,
  );
  return {
    config: preset.config,
    start: preset.weights,
    tokenizer: preset.tokenizer,
    tokenizerFiles,
    identity,
  };
}

async function saveArms(
  config: ModelConfig,
  weights: Map<string, Map<string, Float32Array>>,
  out: string,
  tokenizerFiles: { name: string; data: ArrayBuffer }[],
  summary: TrainSummary,
) {
  for (const arm of summary.arms) {
    const dir = join(out, arm.id.replace(/[^A-Za-z0-9._=-]+/g, '_'));
    await mkdir(dir, { recursive: true });
    const source = memoryWeightSource(config, weights.get(arm.id) as Map<string, Float32Array>, arm.label);
    const files = [...(await exportHfModel(source, { optimizer: arm.label })), ...tokenizerFiles];
    for (const f of files)
      await writeFile(join(dir, f.name), f.data instanceof Uint8Array ? f.data : new Uint8Array(f.data));
    await writeFile(join(dir, 'summary.json'), `${JSON.stringify(arm, null, 2)}\n`);
  }
}
