// `prune`: the studio's pruning run, headless. Optionally measures perplexity before and after on
// the evaluation texts, and writes the pruned model as a Hugging Face folder (safetensors, config,
// the tokenizer files it was opened with, and a summary of sparsity per matrix).

import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import type { GpuRuntime } from '../gpu/runtime';
import { EVAL_TEXTS, type EvalText, evaluatePerplexity, tokenizeEvalText } from '../model/evaluate';
import { exportHfModel } from '../model/export';
import { GpuModel } from '../model/gpuModel';
import type { WeightSource } from '../model/weights';
import { CALIBRATION_TEXTS, sampleCalibration } from '../prune/calibration';
import type { PruneEvent, PruneSummary } from '../prune/events';
import { defaultPruneOptions, prunedWeightSource, pruneModel } from '../prune/job';
import type {
  CalibrationSource,
  PruneMethod,
  PruneOptions,
  SparsityPattern,
  ThresholdGroup,
  WarmStart,
} from '../prune/options';
import { formatSeconds, ProgressLine } from './progress';
import { emit, openModelFolder, positiveInt, ROOT, withRuntime } from './shared';

/** Files a tokenizer is read from: Hugging Face's, GPT-2's and llama2.c's (tok*.bin). */
export const TOKENIZER_FILE =
  /^(tokenizer\.json|tokenizer_config\.json|special_tokens_map\.json|vocab\.json|merges\.txt|tokenizer\.model|tok\d*\.bin)$/;

/** '50%', '0.5' or '2:4'. */
export function parsePattern(value: string): SparsityPattern {
  const nm = /^(\d+):(\d+)$/.exec(value);
  if (nm) return { kind: 'nm', n: Number(nm[1]), m: Number(nm[2]) };
  const percent = /^(\d+(?:\.\d+)?)%$/.exec(value);
  const sparsity = percent ? Number(percent[1]) / 100 : Number(value);
  if (!Number.isFinite(sparsity))
    throw new InvalidArgumentError('expected a sparsity such as 50% or 0.5, or N:M such as 2:4');
  return { kind: 'unstructured', sparsity };
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

function parseNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n)) throw new InvalidArgumentError('expected a number');
  return n;
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
  eval: EvalText[];
  evalWindows?: number;
  evalBefore: boolean;
  seqLen?: number;
  out?: string;
  json?: boolean;
}

export function registerPrune(program: Command): void {
  program
    .command('prune')
    .description(
      'prune a model with FISTAPruner, SparseGPT, Wanda or magnitude, and measure perplexity before and after',
    )
    .option(
      '--model <path>',
      'a model folder (config.json + safetensors, or a llama2.c .bin)',
      `${ROOT}public/models/stories260K`,
    )
    .addOption(
      new Option('--method <name>', 'pruning method')
        .choices(['fista', 'sparsegpt', 'wanda', 'magnitude'])
        .default('fista'),
    )
    .option(
      '--pattern <p>',
      'unstructured sparsity (50%, 0.5) or N:M (2:4, 4:8)',
      parsePattern,
      parsePattern('50%'),
    )
    .addOption(
      new Option('--warm-start <name>', 'FISTAPruner: where FISTA starts')
        .choices(['sparsegpt', 'wanda', 'magnitude', 'dense'])
        .default('sparsegpt'),
    )
    .addOption(
      new Option('--threshold-group <g>', 'FISTAPruner: rank unstructured magnitudes per row or per matrix')
        .choices(['row', 'matrix'])
        .default('row'),
    )
    .option('--no-error-correction', 'FISTAPruner: X* = X (the ablation without intra-layer correction)')
    .option('--iterations <k>', 'FISTAPruner: FISTA iterations per λ round (paper: 20)', positiveInt)
    .option('--rounds <t>', 'FISTAPruner: λ rounds (paper: 3)', positiveInt)
    .option('--xi <ξ>', 'FISTAPruner: error-ratio threshold of the λ search (paper: 0.3)', parseNumber)
    .option('--calibration <source>', 'c4, tinystories, or a text file path', 'c4')
    .option('--calibration-windows <n>', 'calibration windows (default scaled to the model)', positiveInt)
    .option(
      '--calibration-length <n>',
      'tokens per calibration window (default scaled to the model)',
      positiveInt,
    )
    .option('--seed <n>', 'calibration sampling seed', (v) => Number.parseInt(v, 10), 0)
    .option('--blocks <list>', 'prune only these blocks (0-3, 1,4), for sharded runs', parseBlocks)
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
    .option('--eval-windows <n>', 'score only the first n windows of each text (default: all)', positiveInt)
    .option('--seq-len <n>', "evaluation window (default: the model's context)", positiveInt)
    .option('--out <dir>', 'write the pruned model (safetensors + config + tokenizer + summary.json) here')
    .option('--json', 'print one JSON object on stdout')
    .action(async (cli: PruneCliOptions) => {
      const started = performance.now();
      const { opened, config, tokenizer, tokenizerFiles } = await openModelFolder(cli.model);
      const parameters = opened.weightBytes / 4;
      const base = defaultPruneOptions(cli.method, { context: config.maxPositions, parameters });
      const options: PruneOptions = {
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
          source: await calibrationSource(cli.calibration),
          windows: cli.calibrationWindows ?? base.calibration.windows,
          seqLen: cli.calibrationLength ?? base.calibration.seqLen,
          seed: cli.seed,
        },
        blocks: cli.blocks,
      };
      const raw =
        options.calibration.source.kind === 'text'
          ? options.calibration.source.text
          : await readPublic(CALIBRATION_TEXTS[options.calibration.source.kind].file);
      const windows = sampleCalibration(options.calibration.source, raw, tokenizer, options.calibration);
      const seqLen = cli.seqLen ?? config.maxPositions;
      const evalTokens = new Map<EvalText, number[]>();
      for (const text of cli.eval)
        evalTokens.set(text, tokenizeEvalText(text, await readPublic(EVAL_TEXTS[text].file), tokenizer));

      await withRuntime(async (rt) => {
        const before = cli.evalBefore
          ? await perplexities(rt, opened.weights, evalTokens, seqLen, cli.evalWindows, 'dense')
          : {};
        const run = await pruneModel({
          rt,
          source: opened.weights,
          calibration: windows,
          options,
          emit: progressPrinter(),
        });
        const pruned = prunedWeightSource(opened.weights, run.tensors);
        const after = await perplexities(rt, pruned, evalTokens, seqLen, cli.evalWindows, 'pruned');
        if (cli.out) await writeModel(cli.out, pruned, run.summary, tokenizerFiles);
        const elapsedMs = performance.now() - started;
        const lines = [
          `${cli.method} ${describePattern(options.pattern)}: sparsity ${(100 * run.summary.sparsity).toFixed(2)}% over ${run.summary.blocks.length} blocks in ${formatSeconds(elapsedMs / 1000)}`,
          ...[...evalTokens.keys()].map(
            (t) =>
              `  ${EVAL_TEXTS[t].label}: perplexity ${before[t]?.toFixed(4) ?? '(dense not measured)'} → ${after[t]?.toFixed(4)}`,
          ),
          ...(cli.out ? [`  written to ${cli.out}`] : []),
        ];
        emit(
          Boolean(cli.json),
          {
            command: 'prune',
            model: cli.model,
            options,
            summary: run.summary,
            perplexity: { before, after, seqLen, windows: cli.evalWindows ?? null },
            elapsedMs,
          },
          lines.join('\n'),
        );
      });
    });
}

function describePattern(p: SparsityPattern): string {
  return p.kind === 'nm' ? `${p.n}:${p.m}` : `${(100 * p.sparsity).toFixed(0)}% unstructured`;
}

async function readPublic(file: string): Promise<string> {
  return readFile(`${ROOT}public/${file}`, 'utf8');
}

async function calibrationSource(value: string): Promise<CalibrationSource> {
  if (value === 'c4' || value === 'tinystories') return { kind: value };
  return { kind: 'text', text: await readFile(value, 'utf8'), label: value };
}

async function perplexities(
  rt: GpuRuntime,
  source: WeightSource,
  texts: Map<EvalText, number[]>,
  seqLen: number,
  maxWindows: number | undefined,
  label: string,
): Promise<Partial<Record<EvalText, number>>> {
  const out: Partial<Record<EvalText, number>> = {};
  if (texts.size === 0) return out;
  const model = await GpuModel.load(rt, source);
  try {
    for (const [text, tokens] of texts) {
      const total = Math.min(Math.floor(tokens.length / seqLen), maxWindows ?? Number.POSITIVE_INFINITY);
      const bar = new ProgressLine(`${label} ${text}`, total, 'windows');
      const result = await evaluatePerplexity(model, tokens, {
        seqLen,
        maxWindows,
        onWindow: (p) => bar.update(p.done),
      });
      bar.done();
      out[text] = result.ppl;
    }
  } finally {
    model.destroy();
  }
  return out;
}

/** One progress bar over every operator the run prunes. */
function progressPrinter(): (event: PruneEvent) => void {
  let bar: ProgressLine | null = null;
  let finished = 0;
  return (event) => {
    if (event.type === 'started') {
      bar = new ProgressLine('prune', event.blocks.length * event.operatorsPerBlock.length, 'operators');
    } else if (event.type === 'operator-finished') {
      const m = event.matrix;
      bar?.update(
        ++finished,
        `${m.tensor}: sparsity ${(100 * m.sparsity).toFixed(1)}%, relative error ${m.relativeError.toExponential(2)}`,
      );
    }
  };
}

async function writeModel(
  dir: string,
  source: WeightSource,
  summary: PruneSummary,
  tokenizerFiles: { name: string; data: ArrayBuffer }[],
) {
  await mkdir(dir, { recursive: true });
  for (const file of await exportHfModel(source, { pruned_by: 'compression-studio', method: summary.method }))
    await writeFile(join(dir, file.name), file.data);
  // Only the tokenizer travels with the pruned weights: a folder's other files (the dense
  // checkpoint in another format, notes) would describe the model it was pruned from.
  for (const file of tokenizerFiles.filter((f) => TOKENIZER_FILE.test(f.name)))
    await writeFile(join(dir, file.name), new Uint8Array(file.data));
  const perMatrix = summary.blocks.flatMap((b) =>
    b.matrices.map((m) => ({
      tensor: m.tensor,
      rows: m.rows,
      cols: m.cols,
      sparsity: m.sparsity,
      relativeError: m.relativeError,
    })),
  );
  await writeFile(
    join(dir, 'summary.json'),
    `${JSON.stringify({ method: summary.method, options: summary.options, sparsity: summary.sparsity, matrices: perMatrix }, null, 2)}\n`,
  );
}
