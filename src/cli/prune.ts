// `prune`: the studio's pruning run, headless. Optionally measures perplexity before and after on
// the evaluation texts, and writes the pruned model as a Hugging Face folder (prunedFolder.ts).
// `--blocks` or `--shard i/n` prune part of the model, so that shards on several processes or
// machines can be joined by `merge`; each folder's summary.json says which blocks it holds.

import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { describeBound, inBound, SEED_BOUND } from '../bounds/bound';
import { formatBytes } from '../gpu/errors';
import { PrunedOnDiskFolder } from '../host/prunedOnDisk';
import { EVAL_BOUNDS } from '../jobs/evalOptions';
import { type Perplexity, PruneJob, type PruneJobProgress } from '../jobs/prune';
import { EVAL_TEXTS, type EvalText, tokenizeEvalText } from '../model/evaluate';
import type { SparseExportFormat } from '../model/sparseSafetensors';
import { CALIBRATION_TEXTS } from '../prune/calibration';
import type { PruneEvent } from '../prune/events';
import { checkOptionsFit, defaultPruneOptions } from '../prune/job';
import {
  BLOCK_INPUTS,
  type BlockInputs,
  type CalibrationSource,
  PRUNE_BOUNDS,
  PRUNE_METHODS,
  type PruneMethod,
  type PruneOptions,
  PruneOptionsError,
  type SparsityPattern,
  THRESHOLD_GROUPS,
  type ThresholdGroup,
  WARM_STARTS,
  type WarmStart,
} from '../prune/options';
import { canSplitBlocks, devicesProblem, maxPruneDevices } from '../prune/parallel';
import { adapterName, PruneSeriesCollector, pruneConfig, pruneResults } from '../run/build';
import {
  matrixEntries,
  PRUNED_FOLDER_FORMAT,
  type PrunedFolderSummary,
  RECORD_FILE,
} from '../run/prunedFolder';
import type { DataIdentity } from '../run/record';
import { describeBlocks, type Shard, shardBlocks } from '../run/shards';
import { formatSeconds, ProgressLine } from './progress';
import { writePrunedFolder } from './prunedFolder';
import { addRecordOption, type JobResult, modelIdentity, RunDraft, readData, runRecorded } from './record';
import { parseShard } from './shard';
import {
  addGpuTimeOption,
  choice,
  formatCounters,
  openModelFolder,
  ROOT,
  usageError,
  within,
  withRuntimes,
} from './shared';

/** '50%', '0.5' or '2:4', each number within PRUNE_BOUNDS (N < M is the engine's check). */
export function parsePattern(value: string): SparsityPattern {
  const B = PRUNE_BOUNDS;
  const [n, m] = (/^(\d+):(\d+)$/.exec(value) ?? []).slice(1).map(Number);
  const percent = /^(\d+(?:\.\d+)?)%$/.exec(value);
  const sparsity = percent ? Number(percent[1]) / 100 : Number(value);
  if (n !== undefined && m !== undefined && inBound(B.n, n) && inBound(B.m, m)) return { kind: 'nm', n, m };
  if (n === undefined && inBound(B.sparsity, sparsity)) return { kind: 'unstructured', sparsity };
  throw new InvalidArgumentError(
    `expected a sparsity such as 50% or 0.5 (${describeBound(B.sparsity)}), ` +
      `or N:M such as 2:4 (N ${describeBound(B.n)}, M ${describeBound(B.m)})`,
  );
}

/** '0-3', '5', '0,2,4-6'. */
export function parseBlocks(value: string): number[] {
  const out: number[] = [];
  for (const part of value.split(',')) {
    const range = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!range) throw new InvalidArgumentError(`expected blocks such as 0-3 or 1,4, got "${part}"`);
    const lo = Number(range[1]);
    const hi = range[2] === undefined ? lo : Number(range[2]);
    if (hi < lo) throw new InvalidArgumentError(`block range ${part} runs backwards`);
    for (let b = lo; b <= hi; b++) out.push(b);
  }
  return out;
}

interface PruneCliOptions {
  model: string;
  method: PruneMethod;
  pattern: SparsityPattern;
  warmStart: WarmStart;
  thresholdGroup: ThresholdGroup;
  errorCorrection: boolean;
  iterations?: number;
  rounds?: number;
  xi?: number;
  calibration: string;
  calibrationWindows?: number;
  calibrationLength?: number;
  seed: number;
  blocks?: number[];
  shard?: Shard;
  devices: number;
  blockInputs?: BlockInputs;
  eval: EvalText[];
  evalWindows?: number;
  evalBefore: boolean;
  seqLen?: number;
  out?: string;
  compressed?: boolean;
  prunedOnDisk?: boolean;
  json?: boolean;
  record?: string;
  gpuTime?: boolean;
}

type Model = Awaited<ReturnType<typeof openModelFolder>>;

export function registerPrune(program: Command): void {
  const B = PRUNE_BOUNDS;
  const command = program
    .command('prune')
    .description(
      'prune a model with FISTAPruner, SparseGPT, Wanda or magnitude, and measure perplexity before and after',
    )
    .option(
      '--model <path>',
      'a model folder (config.json + safetensors, or a llama2.c .bin)',
      `${ROOT}public/models/stories260K`,
    )
    .addOption(choice('--method <name>', 'pruning method', PRUNE_METHODS, 'fista'))
    .option(
      '--pattern <p>',
      'unstructured sparsity (50%, 0.5) or N:M (2:4, 4:8)',
      parsePattern,
      parsePattern('50%'),
    )
    .addOption(choice('--warm-start <name>', 'FISTAPruner: where FISTA starts', WARM_STARTS, 'sparsegpt'))
    .addOption(
      choice(
        '--threshold-group <g>',
        'FISTAPruner: rank unstructured magnitudes per row or per matrix',
        THRESHOLD_GROUPS,
        'row',
      ),
    )
    .option('--no-error-correction', 'FISTAPruner: X* = X (the ablation without intra-layer correction)')
    .option('--iterations <k>', 'FISTAPruner: FISTA iterations per λ round (paper: 20)', within(B.iterations))
    .option('--rounds <t>', 'FISTAPruner: λ rounds (paper: 3)', within(B.rounds))
    .option('--xi <ξ>', 'FISTAPruner: error-ratio threshold of the λ search (paper: 0.3)', within(B.xi))
    .option('--calibration <source>', 'c4, tinystories, or a text file path', 'c4')
    .option(
      '--calibration-windows <n>',
      'calibration windows (default scaled to the model)',
      within(B.windows),
    )
    .option(
      '--calibration-length <n>',
      'tokens per calibration window (default scaled to the model)',
      within(B.seqLen),
    )
    .option('--seed <n>', 'calibration sampling seed', within(SEED_BOUND), 0)
    .addOption(
      new Option('--blocks <list>', 'prune only these blocks (0-3, 1,4)')
        .argParser(parseBlocks)
        .conflicts('shard'),
    )
    .option(
      '--shard <i/n>',
      'prune shard i of n: a contiguous, balanced range of blocks (join the shards with merge)',
      parseShard,
    )
    .option(
      '--devices <n>',
      'prune on n GPU devices at once: with dense block inputs (FISTAPruner) the blocks are split into n ranges, ' +
        'each on its own device, and joined (the same weights as on one device); at most the cores',
      within(B.devices),
      1,
    )
    .addOption(
      choice(
        '--block-inputs <from>',
        "each block's calibration input: the dense model's (FISTAPruner's default) or the pruned one's (the baselines')",
        BLOCK_INPUTS,
      ),
    )
    .option(
      '--eval <texts>',
      'perplexity before and after on these texts (comma-separated; "none" to skip)',
      (v) =>
        v === 'none'
          ? []
          : v.split(',').map((t) => {
              if (!(t in EVAL_TEXTS))
                throw new InvalidArgumentError(
                  `unknown text ${t}: choose from ${Object.keys(EVAL_TEXTS).join(', ')}`,
                );
              return t as EvalText;
            }),
      ['wikitext2'] as EvalText[],
    )
    .option('--no-eval-before', "skip the dense model's perplexity (when it is already known)")
    .option(
      '--eval-windows <n>',
      'score only the first n windows of each text (default: all)',
      within(EVAL_BOUNDS.maxWindows),
    )
    .option('--seq-len <n>', "evaluation window (default: the model's context)", within(EVAL_BOUNDS.seqLen))
    .option(
      '--out <dir>',
      'write the pruned model here (safetensors, config, tokenizer, summary.json, run-record.json)',
    )
    .option(
      '--compressed',
      'with --out: store the pruned matrices compressed (N:M parts for an N:M pattern, else a bitmask; docs/sparse.md)',
    )
    .option(
      '--pruned-on-disk',
      "keep finished blocks' pruned matrices in files (under --out, else the temp folder) rather than in memory, " +
        'so the host holds one block of them at a time; the files are removed when the run ends',
    )
    .option('--json', 'print one JSON object on stdout (with the counters of the run and of each operator)');
  addRecordOption(addGpuTimeOption(command)).action(async (cli: PruneCliOptions) => {
    if (cli.compressed && !cli.out)
      usageError(command, '--compressed says how --out stores the model; give --out too');
    const model = await openModelFolder(cli.model);
    let blocks = cli.blocks;
    if (cli.shard) {
      try {
        blocks = shardBlocks(cli.shard, model.config.layers);
      } catch (error) {
        usageError(command, `--shard ${cli.shard.index}/${cli.shard.count}: ${(error as Error).message}`);
      }
    }
    try {
      // Before any text is read or window scored; the calibration source is not among what is checked.
      const options = pruneOptionsOf(cli, model, blocks, { kind: 'c4' });
      checkOptionsFit(options, model.config);
      // The CLI has no memory budget: the cores alone bound the devices.
      const max = maxPruneDevices({ cores: availableParallelism(), budgetBytes: Number.POSITIVE_INFINITY });
      const problem = devicesProblem(cli.devices, canSplitBlocks(options), max);
      if (problem) throw new PruneOptionsError(`--devices ${cli.devices}: ${problem}`);
    } catch (error) {
      if (!(error instanceof PruneOptionsError)) throw error;
      usageError(command, error.message);
    }
    const draft = new RunDraft('prune', cli.seed);
    await runRecorded(cli, draft, () => prune(cli, model, blocks, draft));
  });
}

/** The engine's options for the command line, calibrating on `source`. */
function pruneOptionsOf(
  cli: PruneCliOptions,
  model: Model,
  blocks: number[] | undefined,
  source: CalibrationSource,
): PruneOptions {
  const parameters = model.opened.weightBytes / 4;
  const base = defaultPruneOptions(cli.method, { context: model.config.maxPositions, parameters });
  return {
    ...base,
    pattern: cli.pattern,
    fista: {
      ...base.fista,
      warmStart: cli.warmStart,
      thresholdGroup: cli.thresholdGroup,
      errorCorrection: cli.errorCorrection,
      iterations: cli.iterations ?? base.fista.iterations,
      rounds: cli.rounds ?? base.fista.rounds,
      xi: cli.xi ?? base.fista.xi,
    },
    calibration: {
      source,
      windows: cli.calibrationWindows ?? base.calibration.windows,
      seqLen: cli.calibrationLength ?? base.calibration.seqLen,
      seed: cli.seed,
    },
    blockInputs: cli.blockInputs ?? base.blockInputs,
    blocks,
  };
}

async function prune(
  cli: PruneCliOptions,
  model: Model,
  blocks: number[] | undefined,
  draft: RunDraft,
): Promise<JobResult> {
  const { opened, config, tokenizer, tokenizerFiles } = model;
  draft.model = await modelIdentity(model.inspected);
  const calibration = await calibrationText(cli.calibration);
  draft.data.push(calibration.identity);
  const options = pruneOptionsOf(cli, model, blocks, calibration.source);
  draft.config = pruneConfig(options);
  const seqLen = cli.seqLen ?? config.maxPositions;
  const evalTokens = new Map<EvalText, number[]>();
  for (const text of cli.eval) {
    const data = await readData(text, `${ROOT}public/${EVAL_TEXTS[text].file}`);
    draft.data.push(data.identity);
    evalTokens.set(text, tokenizeEvalText(text, data.text, tokenizer));
  }

  // Removed however the run ends; the export below reads from it first.
  const onDisk = cli.prunedOnDisk ? PrunedOnDiskFolder.create(cli.out ?? tmpdir()) : undefined;
  try {
    return await withRuntimes(async (acquire) => {
      const series = new PruneSeriesCollector();
      const progress = progressPrinter();
      const job = new PruneJob(
        {
          source: opened.weights,
          tokenizer,
          acquire: async (slot) => {
            const rt = await acquire(slot);
            draft.adapter ??= adapterName(rt.capability);
            return rt;
          },
          readCalibration: async () => calibration.text,
          evalTokens: async (text) => evalTokens.get(text) as number[],
          onProgress: progress.job,
          onEngineEvent: (event) => {
            progress.engine(event);
            series.add(event);
          },
          gpuTime: cli.gpuTime,
          devices: cli.devices,
          ...(onDisk && { prunedTensors: () => onDisk.store() }),
          phase: (name, body) => draft.phase(name, body),
        },
        options,
        evalTokens.size
          ? { texts: [...evalTokens.keys()], seqLen, maxWindows: cli.evalWindows, before: cli.evalBefore }
          : null,
      );
      const run = await job.run();
      const before = pplOf(run.before);
      const after = pplOf(run.after);
      const summary = { ...run.summary, options: pruneConfig(run.summary.options) };
      const prunedBlocks = run.summary.blocks.map((b) => b.block);
      let outputSha256: string | undefined;
      if (cli.out) {
        const folder: PrunedFolderSummary = {
          format: PRUNED_FOLDER_FORMAT,
          method: summary.method,
          options: summary.options,
          sparsity: summary.sparsity,
          layers: config.layers,
          blocks: prunedBlocks,
          shard: cli.shard ?? null,
          baseModel: draft.model as NonNullable<typeof draft.model>,
          matrices: matrixEntries(summary),
        };
        const out = cli.out;
        outputSha256 = await draft.phase('writing', () =>
          writePrunedFolder(out, run.pruned, tokenizerFiles, folder, compressionOf(cli)),
        );
      }
      const part = cli.shard
        ? ` (shard ${cli.shard.index}/${cli.shard.count}: blocks ${describeBlocks(prunedBlocks)})`
        : blocks
          ? ` (blocks ${describeBlocks(prunedBlocks)})`
          : '';
      const lines = [
        `${cli.method} ${describePattern(options.pattern)}: sparsity ${(100 * summary.sparsity).toFixed(2)}% over ${prunedBlocks.length} blocks${part} in ${formatSeconds(draft.elapsedMs() / 1000)}`,
        ...[...evalTokens.keys()].map(
          (t) =>
            `  ${EVAL_TEXTS[t].label}: perplexity ${before[t]?.toFixed(4) ?? '(dense not measured)'} → ${after[t]?.toFixed(4)}`,
        ),
        ...(summary.counters ? [`  GPU work: ${formatCounters(summary.counters)}`] : []),
        ...(job.resumes ? [`  continued on a new device after ${job.resumes} lost`] : []),
        ...(cli.out ? [`  written to ${cli.out}`] : []),
      ];
      return {
        output: {
          command: 'prune',
          model: cli.model,
          options: summary.options,
          shard: cli.shard ?? null,
          summary,
          // The whole pruning run's; each operator's and block's are in summary.blocks.
          counters: summary.counters ?? null,
          perplexity: { before, after, seqLen, windows: cli.evalWindows ?? null },
          resumes: job.resumes,
          elapsedMs: draft.elapsedMs(),
        },
        summary: lines.join('\n'),
        metrics: series.series(run.summary),
        results: {
          ...pruneResults(run.summary, { before, after }),
          ...series.results(),
          ...(outputSha256 ? { outputSha256 } : {}),
        },
        detail: summary,
        recordFiles: cli.out ? [join(cli.out, RECORD_FILE)] : [],
      };
    });
  } finally {
    onDisk?.remove();
  }
}

function pplOf(results: Partial<Record<EvalText, Perplexity>>): Partial<Record<EvalText, number>> {
  return Object.fromEntries(Object.entries(results).map(([text, r]) => [text, r.ppl]));
}

function describePattern(p: SparsityPattern): string {
  return p.kind === 'nm' ? `${p.n}:${p.m}` : `${(100 * p.sparsity).toFixed(0)}% unstructured`;
}

/** The calibration text, its source for the engine and its identity for the record. */
async function calibrationText(
  value: string,
): Promise<{ source: CalibrationSource; text: string; identity: DataIdentity }> {
  if (value === 'c4' || value === 'tinystories') {
    const data = await readData(value, `${ROOT}public/${CALIBRATION_TEXTS[value].file}`);
    return { source: { kind: value }, ...data };
  }
  const data = await readData('user', value);
  return { source: { kind: 'text', text: data.text, label: value }, ...data };
}

/**
 * Progress on stderr: a bar per perplexity pass, one over every operator the run prunes, and a line
 * when the run continues on a new device.
 */
function progressPrinter(): { job: (event: PruneJobProgress) => void; engine: (event: PruneEvent) => void } {
  let pass: ProgressLine | null = null;
  let operators: ProgressLine | null = null;
  let finished = 0;
  return {
    job: (event) => {
      if (event.type === 'perplexity-started' && !event.cached) {
        const model = event.stage === 'before' ? 'dense' : 'pruned';
        pass = new ProgressLine(`${model} ${event.text}`, event.total, 'windows');
      } else if (event.type === 'perplexity-window') {
        pass?.update(event.done);
      } else if (event.type === 'perplexity-finished' && !event.cached) {
        pass?.done();
      } else if (event.type === 'calibrated') {
        const { plan } = event;
        process.stderr.write(
          `memory plan: ${formatBytes(plan.gpuPeakBytes)} on the GPU at its peak (${plan.gpuPeakPhase}), ` +
            `${formatBytes(plan.hostBytes)} on the host, ${plan.windowsPerPass} calibration windows per pass\n`,
        );
      } else if (event.type === 'degraded') {
        process.stderr.write(
          `\n${event.message}; running the ${event.stage} stage again with one window per pass\n`,
        );
      } else if (event.type === 'resumed') {
        const at = event.block === null ? '' : ` at block ${event.block}`;
        process.stderr.write(`\nthe GPU device was lost (${event.message}); continuing on a new one${at}\n`);
      }
    },
    engine: (event) => {
      if (event.type === 'started') {
        operators = new ProgressLine(
          'prune',
          event.blocks.length * event.operatorsPerBlock.length,
          'operators',
        );
      } else if (event.type === 'operator-finished') {
        const m = event.matrix;
        operators?.update(
          ++finished,
          `${m.tensor}: sparsity ${(100 * m.sparsity).toFixed(1)}%, relative error ${m.relativeError.toExponential(2)}`,
        );
      }
    },
  };
}

/** How --compressed stores the pruned matrices: in the run's own pattern. */
function compressionOf(cli: PruneCliOptions): SparseExportFormat | undefined {
  if (!cli.compressed) return undefined;
  return cli.pattern.kind === 'nm'
    ? { format: 'nm', n: cli.pattern.n, m: cli.pattern.m }
    : { format: 'bitmask' };
}
