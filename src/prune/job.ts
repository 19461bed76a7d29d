// A pruning run over a whole model, block by block (docs/algorithms/fistapruner.md §2–§4). Each block's input activations for
// every calibration window live on the host between blocks; on the GPU there is one block's dense
// weights, its pruned operators, one operator group's statistics and one window's activations, so
// memory is bounded by a block, not by the model or the calibration tokens.
//
// Inside a block the operator groups are pruned in order (q,k,v; o; fc1 or gate,up; fc2 or down).
// With error correction (FISTAPruner) each group's statistics come from one pass in which every
// window runs through the dense block (X, the target's input) and through the block with the
// earlier groups already pruned (X*). Without it (the baselines' convention) one dense pass
// collects every group at once. The next block's input comes from the dense block (FISTAPruner:
// blocks independent) or the pruned one (the baselines' sequential pipeline).
//
// A finished block is a checkpoint: its pruned tensors and the next block's inputs are on the host,
// so a lost device costs at most the block in progress (PruneInterruptedError carries the state).

import { GpuDeviceLostError } from '../gpu/errors';
import type { TrackedBuffer } from '../gpu/ledger';
import { addWork, type WorkCounters, WorkMeter, withGpuClock, zeroWork } from '../gpu/meter';
import type { GpuRuntime } from '../gpu/runtime';
import { encodeHalves } from '../kernels/halfFloat';
import { matmul } from '../kernels/matmul';
import { DEFAULT_PASS_BYTES, windowsPerPass } from '../model/batch';
import {
  type BlockBuffers,
  blockBufferSizes,
  blockForward,
  embedTokens,
  type GroupObserver,
  operatorGroups,
  operatorRows,
} from '../model/blockForward';
import type { ModelConfig } from '../model/config';
import { canonicalTensors, checkFinite, type WeightSource } from '../model/weights';
import { type BaselineArgs, pruneBaseline } from './baselines';
import type { BlockSummary, MatrixSummary, PruneEvent, PruneSummary } from './events';
import { type OperatorProblem, operatorError, weightedEnergy } from './fista';
import { GroupHessianFactor } from './hessianFactor';
import { fistaPruneOperator } from './lambdaSearch';
import { lipschitzConstant } from './lipschitz';
import {
  checkPatternFits,
  defaultBlockInputs,
  defaultCalibration,
  PAPER_FISTA,
  PAPER_SPARSEGPT,
  type PruneMethod,
  type PruneOptions,
  PruneOptionsError,
  validatePruneOptions,
} from './options';
import type { PrunedTensors } from './prunedTensors';
import { GroupStatistics } from './statistics';
import { denseOutput, measuresThroughTokens, type TokenProblem, tokenError } from './tokenForm';

/** Where a run stands after its last finished block. */
export interface PruneCheckpoint {
  /** The next layer to run (pruned or passed through densely). */
  layer: number;
  /** That layer's input for each calibration window (tokens × hidden). */
  inputs: Float32Array[];
  tensors: PrunedTensors;
  blocks: BlockSummary[];
  ms: number;
  /** What the run so far asked of the GPU (see PruneSummary.counters). */
  counters?: WorkCounters;
}

export class PruneInterruptedError extends Error {
  override name = 'PruneInterruptedError';
  constructor(
    readonly checkpoint: PruneCheckpoint,
    override readonly cause: unknown,
  ) {
    super(
      `the GPU device was lost while pruning layer ${checkpoint.layer}; the ${checkpoint.blocks.length} blocks finished before it are kept`,
    );
  }
}

export interface PruneInput {
  rt: GpuRuntime;
  source: WeightSource;
  /** Calibration windows of token ids (calibration.ts), all of one length. */
  calibration: number[][];
  options: PruneOptions;
  emit?: (event: PruneEvent) => void;
  signal?: AbortSignal;
  checkpoint?: PruneCheckpoint;
  /** Time the work on the GPU's clock for the counters' gpuMs (default: on a real GPU; see withGpuClock). */
  gpuTime?: boolean;
  /** Calibration windows per block pass; default sized by windowsPerPass from passBytes and the limits. */
  windowsPerPass?: number;
  /** Memory the activations of a pass may take, both buffer sets together (default DEFAULT_PASS_BYTES). */
  passBytes?: number;
  /** Where the finished blocks' matrices go (default: a Map in memory); a checkpoint brings its own. */
  tensors?: PrunedTensors;
}

export interface PruneOutput {
  /** The pruned weight matrices, in canonical naming ('layers.0.q.weight'), out × in. */
  tensors: PrunedTensors;
  summary: PruneSummary;
}

/** The paper's settings for a method, with calibration scaled to the model. */
export function defaultPruneOptions(
  method: PruneMethod,
  model: { context: number; parameters: number },
): PruneOptions {
  return {
    method,
    pattern: { kind: 'unstructured', sparsity: 0.5 },
    calibration: defaultCalibration(model.context, model.parameters),
    fista: { ...PAPER_FISTA, warmStart: 'sparsegpt' },
    sparsegpt: { ...PAPER_SPARSEGPT },
    blockInputs: defaultBlockInputs(method),
  };
}

/**
 * The model with pruned tensors in place of its dense ones. It keeps the checkpoint's dtypes: a F16
 * or BF16 model's pruned matrices are rounded back to 16 bits (halfFloat.ts encodeHalves: nearest
 * even, a pruned zero stays zero and a kept weight stays nonzero) when they are exported or
 * uploaded packed, so what is evaluated is what is written.
 */
export function prunedWeightSource(source: WeightSource, tensors: PrunedTensors): WeightSource {
  const dtype = (name: string) => source.dtype?.(name) ?? 'F32';
  return {
    config: source.config,
    description: `${source.description} (pruned)`,
    read: async (name) => tensors.get(name) ?? source.read(name),
    dtype,
    ...(source.readHalf && {
      readHalf: async (name: string) => {
        const pruned = tensors.get(name);
        const stored = dtype(name);
        if (!pruned) return (source.readHalf as NonNullable<WeightSource['readHalf']>)(name);
        if (stored === 'F32') throw new RangeError(`tensor ${name} is F32, not a 16-bit tensor`);
        return encodeHalves(stored, pruned, name);
      },
    }),
  };
}

/**
 * What can be checked of the options before any work: their ranges, and the pattern against every
 * operator's input width. Hosts call it first, so a bad setting costs no calibration or evaluation.
 */
export function checkOptionsFit(options: PruneOptions, c: ModelConfig): void {
  validatePruneOptions(options, c.layers);
  for (const group of operatorGroups(c))
    for (const op of group.operators) checkPatternFits(options.pattern, op, group.inputWidth);
}

/** Calibration windows per block pass when the caller does not say: two sets of buffers (dense and pruned) share the pass's memory. */
export function pruneWindowsPerPass(
  c: ModelConfig,
  seqLen: number,
  windows: number,
  limits: Pick<GpuRuntime['limits'], 'maxBufferSize'>,
  passBytes = DEFAULT_PASS_BYTES,
): number {
  return windowsPerPass(c, seqLen, windows, limits, passBytes / 2);
}

export async function pruneModel(input: PruneInput): Promise<PruneOutput> {
  // Held for the run, so every operator's and block's counters carry its GPU time.
  return withGpuClock(input.rt, input.gpuTime, () => prune(input));
}

async function prune(input: PruneInput): Promise<PruneOutput> {
  const { rt, source, options, signal } = input;
  const c = source.config;
  const emit = input.emit ?? (() => {});
  checkOptionsFit(options, c);
  checkCalibration(input.calibration, c);
  const targets = [...new Set(options.blocks ?? Array.from({ length: c.layers }, (_, l) => l))].sort(
    (a, b) => a - b,
  );
  const last = targets[targets.length - 1] ?? -1;
  const tokensPerWindow = input.calibration[0]?.length ?? 0;
  const state: PruneCheckpoint = input.checkpoint ?? {
    layer: 0,
    inputs: [],
    tensors: input.tensors ?? new Map(),
    blocks: [],
    ms: 0,
  };
  state.counters ??= zeroWork();
  emit({
    type: 'started',
    blocks: targets,
    operatorsPerBlock: operatorGroups(c).flatMap((g) => g.operators),
    calibrationTokens: input.calibration.length * tokensPerWindow,
  });
  const perPass =
    input.windowsPerPass ??
    pruneWindowsPerPass(c, tokensPerWindow, input.calibration.length, rt.limits, input.passBytes);
  const runner = await BlockRunner.create(rt, c, tokensPerWindow, perPass);
  try {
    if (state.layer === 0 && state.inputs.length === 0) {
      const meter = WorkMeter.start(rt);
      state.inputs = await runner.embed(source, input.calibration, signal);
      state.counters = addWork(state.counters, await meter.read());
    }
    while (state.layer <= last) {
      const l = state.layer;
      const started = performance.now();
      const meter = WorkMeter.start(rt);
      const dense = await uploadBlock(rt, source, l);
      try {
        if (targets.includes(l)) {
          const pruned = await pruneBlock(runner, dense, l, state.inputs, options, emit, signal);
          try {
            const summary: BlockSummary = {
              block: l,
              ms: performance.now() - started,
              matrices: pruned.summaries,
            };
            const lookup = options.blockInputs === 'pruned' ? pruned.lookup : lookupOf(dense);
            state.inputs = await runner.advance(lookup, l, state.inputs, signal);
            summary.ms = performance.now() - started;
            summary.counters = await meter.read();
            for (const [name, data] of pruned.tensors) state.tensors.set(name, data);
            state.blocks.push(summary);
            emit({ type: 'block-finished', summary });
          } finally {
            pruned.destroy();
          }
        } else {
          state.inputs = await runner.advance(lookupOf(dense), l, state.inputs, signal);
        }
      } finally {
        for (const b of dense.values()) b.destroy();
        rt.flush();
      }
      state.ms += performance.now() - started;
      state.counters = addWork(state.counters, await meter.read());
      state.layer = l + 1;
    }
  } catch (error) {
    if (error instanceof GpuDeviceLostError || rt.isLost) throw new PruneInterruptedError(state, error);
    throw error;
  } finally {
    runner.destroy();
  }
  return {
    tensors: state.tensors,
    summary: summarize(options, state, input.calibration.length * tokensPerWindow),
  };
}

function checkCalibration(windows: number[][], c: ModelConfig): void {
  const length = windows[0]?.length ?? 0;
  if (windows.length === 0 || length === 0) throw new PruneOptionsError('there are no calibration windows');
  if (length > c.maxPositions)
    throw new PruneOptionsError(
      `calibration windows of ${length} tokens exceed the model's context of ${c.maxPositions}`,
    );
  for (const w of windows) {
    if (w.length !== length) throw new PruneOptionsError('calibration windows differ in length');
    for (const id of w)
      if (!Number.isInteger(id) || id < 0 || id >= c.vocabSize)
        throw new PruneOptionsError(`calibration token ${id} is outside the vocabulary of ${c.vocabSize}`);
  }
}

/**
 * Zeros over entries of every pruned matrix, summed block by block in order: a run's sparsity, and
 * that of shards joined, which must equal it to the last bit.
 */
export function sparsityOf(blocks: readonly BlockSummary[]): number {
  let zeros = 0;
  let entries = 0;
  for (const block of blocks)
    for (const m of block.matrices) {
      zeros += m.sparsity * m.rows * m.cols;
      entries += m.rows * m.cols;
    }
  return entries ? zeros / entries : 0;
}

function summarize(options: PruneOptions, state: PruneCheckpoint, calibrationTokens: number): PruneSummary {
  return {
    method: options.method,
    options,
    blocks: state.blocks,
    sparsity: sparsityOf(state.blocks),
    calibrationTokens,
    ms: state.ms,
    ...(state.counters ? { counters: state.counters } : {}),
  };
}

type BlockWeights = Map<string, TrackedBuffer>;
type Lookup = (name: string) => GPUBuffer | undefined;

const lookupOf =
  (w: BlockWeights): Lookup =>
  (name) =>
    w.get(name)?.buffer;

async function uploadBlock(rt: GpuRuntime, source: WeightSource, l: number): Promise<BlockWeights> {
  const block: BlockWeights = new Map();
  try {
    for (const t of canonicalTensors(source.config).filter((t) => t.name.startsWith(`layers.${l}.`))) {
      const data = await source.read(t.name);
      checkFinite(source.description, t.name, data);
      block.set(t.name, await rt.upload(t.name, 'weights', data));
    }
  } catch (error) {
    for (const b of block.values()) b.destroy();
    throw error;
  }
  return block;
}

/** Consecutive calibration windows run through a block together (see model/batch.ts). */
interface Pass {
  first: number;
  count: number;
}

/**
 * Two sets of activation buffers (the dense block and the partly pruned one), each for a pass of
 * up to `perPass` windows of `seqLen` tokens. The windows' block inputs stay on the host, one array
 * per window; a pass writes them one after another into the buffers and reads them back at once.
 */
class BlockRunner {
  private constructor(
    readonly rt: GpuRuntime,
    readonly config: ModelConfig,
    readonly seqLen: number,
    readonly perPass: number,
    readonly dense: BlockBuffers,
    readonly pruned: BlockBuffers,
    private readonly owned: TrackedBuffer[],
  ) {}

  static async create(rt: GpuRuntime, c: ModelConfig, seqLen: number, perPass: number): Promise<BlockRunner> {
    const owned: TrackedBuffer[] = [];
    const tokens = perPass * seqLen;
    const make = async (label: string): Promise<BlockBuffers> => {
      const sizes = blockBufferSizes(c, tokens);
      const out: Partial<Record<keyof BlockBuffers, unknown>> = { tokens, seqLen };
      for (const [name, elements] of Object.entries(sizes)) {
        const b = await rt.createBuffer(`${label} ${name}`, 'activations', 4 * elements);
        owned.push(b);
        out[name as keyof BlockBuffers] = b.buffer;
      }
      return out as BlockBuffers;
    };
    try {
      return new BlockRunner(rt, c, seqLen, perPass, await make('dense'), await make('pruned'), owned);
    } catch (error) {
      for (const b of owned) b.destroy();
      throw error;
    }
  }

  /** The passes over `windows` windows, in order. */
  passes(windows: number): Pass[] {
    const out: Pass[] = [];
    for (let first = 0; first < windows; first += this.perPass)
      out.push({ first, count: Math.min(this.perPass, windows - first) });
    return out;
  }

  /** `buffers` holding the pass's windows' inputs, as a pass of that many rows. */
  private load(buffers: BlockBuffers, inputs: Float32Array[], pass: Pass): BlockBuffers {
    for (let w = 0; w < pass.count; w++)
      this.rt.write(
        buffers.x,
        inputs[pass.first + w] as Float32Array,
        4 * w * this.seqLen * this.config.hidden,
      );
    return { ...buffers, tokens: pass.count * this.seqLen };
  }

  /** The pass's residual stream, read back once and split into its windows. */
  private async readWindows(buffers: BlockBuffers): Promise<Float32Array[]> {
    const width = this.seqLen * this.config.hidden;
    const all = await this.rt.readF32(buffers.x, 0, 4 * buffers.tokens * this.config.hidden);
    return Array.from({ length: buffers.tokens / this.seqLen }, (_, w) =>
      all.slice(w * width, (w + 1) * width),
    );
  }

  /** The first block's input for every window: the embeddings. */
  async embed(source: WeightSource, windows: number[][], signal?: AbortSignal): Promise<Float32Array[]> {
    const shared = new Map<string, TrackedBuffer>();
    try {
      for (const name of ['tok_embeddings', 'pos_embeddings']) {
        if (name === 'pos_embeddings' && this.config.positions !== 'learned') continue;
        shared.set(name, await this.rt.upload(name, 'weights', await source.read(name)));
      }
      const out: Float32Array[] = [];
      for (const pass of this.passes(windows.length)) {
        signal?.throwIfAborted();
        const buffers = { ...this.dense, tokens: pass.count * this.seqLen };
        const ids = windows.slice(pass.first, pass.first + pass.count).flat();
        await embedTokens(this.rt, this.config, lookupOf(shared), buffers, ids);
        out.push(...(await this.readWindows(buffers)));
      }
      return out;
    } finally {
      for (const b of shared.values()) b.destroy();
    }
  }

  /** Runs a whole block on every window's input and returns the outputs. */
  async advance(
    weights: Lookup,
    layer: number,
    inputs: Float32Array[],
    signal?: AbortSignal,
  ): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    for (const pass of this.passes(inputs.length)) {
      signal?.throwIfAborted();
      const buffers = this.load(this.dense, inputs, pass);
      await blockForward(this.rt, this.config, weights, buffers, layer);
      out.push(...(await this.readWindows(buffers)));
    }
    return out;
  }

  /**
   * Runs the dense buffers through block `layer` from the pass's inputs, calling `observe` with
   * each operator group's input (rows = the pass's tokens) until it returns true.
   */
  async observe(
    weights: Lookup,
    layer: number,
    inputs: Float32Array[],
    pass: Pass,
    observe: GroupObserver,
  ): Promise<void> {
    await blockForward(this.rt, this.config, weights, this.load(this.dense, inputs, pass), layer, observe);
  }

  /** Runs `which` buffers through block `layer` from the pass's inputs until group `group`'s input; returns that buffer. */
  async inputOf(
    weights: Lookup,
    which: 'dense' | 'pruned',
    layer: number,
    inputs: Float32Array[],
    pass: Pass,
    group: number,
  ): Promise<GPUBuffer> {
    let found: GPUBuffer | undefined;
    const buffers = this.load(which === 'dense' ? this.dense : this.pruned, inputs, pass);
    await blockForward(this.rt, this.config, weights, buffers, layer, (g, x) => {
      if (g !== group) return false;
      found = x;
      return true;
    });
    if (!found) throw new Error(`block ${layer} has no operator group ${group}`);
    return found;
  }

  destroy(): void {
    for (const b of this.owned) b.destroy();
  }
}

interface PrunedBlock {
  tensors: Map<string, Float32Array>;
  summaries: MatrixSummary[];
  lookup: Lookup;
  destroy(): void;
}

async function pruneBlock(
  runner: BlockRunner,
  dense: BlockWeights,
  layer: number,
  inputs: Float32Array[],
  options: PruneOptions,
  emit: (event: PruneEvent) => void,
  signal?: AbortSignal,
): Promise<PrunedBlock> {
  const { rt, config: c } = runner;
  const groups = operatorGroups(c);
  const corrected = options.method === 'fista' && options.fista.errorCorrection;
  const prunedWeights = new Map<string, TrackedBuffer>();
  const lookupPruned: Lookup = (name) => (prunedWeights.get(name) ?? dense.get(name))?.buffer;
  const tensors = new Map<string, Float32Array>();
  const summaries: MatrixSummary[] = [];
  const stats: (GroupStatistics | undefined)[] = [];
  // SparseGPT's factor of the current group's Hessian, made once for all the group's operators.
  let factor: GroupHessianFactor | undefined;
  const destroy = () => {
    factor?.destroy();
    for (const s of stats) s?.destroy();
    for (const b of prunedWeights.values()) b.destroy();
  };
  try {
    // Without correction every group's statistics come from one dense pass.
    // A baseline's group keeps its inputs too when its operators are cheaper to measure through them.
    if (!corrected) {
      const tokens = inputs.length * runner.seqLen;
      for (const [g, group] of groups.entries()) {
        const keep = options.method !== 'fista' && measuresThroughTokens(tokens, group.inputWidth);
        stats[g] = await GroupStatistics.create(
          rt,
          group.inputWidth,
          false,
          `layers.${layer} group ${g}`,
          keep ? tokens : 0,
        );
      }
      for (const pass of runner.passes(inputs.length)) {
        signal?.throwIfAborted();
        const rows = pass.count * runner.seqLen;
        await runner.observe(lookupOf(dense), layer, inputs, pass, async (g, input) => {
          await stats[g]?.add(rt, rows, input, input);
          return g === groups.length - 1;
        });
        emit({
          type: 'statistics',
          block: layer,
          operators: groups.flatMap((g) => g.operators),
          windowsDone: pass.first + pass.count,
          windowsTotal: inputs.length,
        });
      }
    }
    for (const [g, group] of groups.entries()) {
      // X* differs from X only once an earlier group is pruned.
      const correctHere = corrected && g > 0;
      if (corrected) {
        const s = await GroupStatistics.create(
          rt,
          group.inputWidth,
          correctHere,
          `layers.${layer} group ${g}`,
        );
        stats[g] = s;
        for (const pass of runner.passes(inputs.length)) {
          signal?.throwIfAborted();
          const xDense = await runner.inputOf(lookupOf(dense), 'dense', layer, inputs, pass, g);
          const xStar = correctHere
            ? await runner.inputOf(lookupPruned, 'pruned', layer, inputs, pass, g)
            : xDense;
          await s.add(rt, pass.count * runner.seqLen, xDense, xStar);
          emit({
            type: 'statistics',
            block: layer,
            operators: group.operators,
            windowsDone: pass.first + pass.count,
            windowsTotal: inputs.length,
          });
        }
      }
      const s = stats[g] as GroupStatistics;
      await s.checkFinite(rt, `layers.${layer}.{${group.operators.join(',')}}`);
      const lipschitz =
        options.method === 'fista' ? await lipschitzConstant(rt, s.gram, group.inputWidth) : undefined;
      factor = new GroupHessianFactor(rt, {
        hessian: s.gram,
        cols: group.inputWidth,
        percdamp: options.sparsegpt.percdamp,
        signal,
      });
      for (const op of group.operators) {
        signal?.throwIfAborted();
        const name = `layers.${layer}.${op}.weight`;
        const rows = operatorRows(c, op);
        const cols = group.inputWidth;
        emit({ type: 'operator-started', block: layer, operator: op, rows, cols, lipschitz });
        const started = performance.now();
        const meter = WorkMeter.start(rt);
        const out = await rt.createBuffer(`${name} pruned`, 'weights', 4 * rows * cols);
        prunedWeights.set(name, out);
        const w = dense.get(name)?.buffer as GPUBuffer;
        const matrix = await pruneOperator(rt, {
          w,
          out: out.buffer,
          rows,
          cols,
          stats: s,
          factor,
          lipschitz,
          layer,
          op,
          options,
          emit,
          signal,
        });
        const data = await rt.readF32(out.buffer);
        let zeros = 0;
        for (const v of data) if (v === 0) zeros++;
        const summary: MatrixSummary = {
          tensor: name,
          block: layer,
          operator: op,
          rows,
          cols,
          sparsity: zeros / data.length,
          ...matrix,
          ms: performance.now() - started,
          counters: await meter.read(),
        };
        tensors.set(name, data);
        summaries.push(summary);
        emit({ type: 'operator-finished', matrix: summary });
      }
      factor.destroy();
      factor = undefined;
      s.destroy();
      stats[g] = undefined;
    }
  } catch (error) {
    destroy();
    throw error;
  }
  return { tensors, summaries, lookup: lookupPruned, destroy };
}

interface OperatorArgs {
  w: GPUBuffer;
  out: GPUBuffer;
  rows: number;
  cols: number;
  stats: GroupStatistics;
  factor: GroupHessianFactor;
  lipschitz?: number;
  layer: number;
  op: string;
  options: PruneOptions;
  emit: (event: PruneEvent) => void;
  signal?: AbortSignal;
}

type OperatorOutcome = Pick<
  MatrixSummary,
  'error' | 'relativeError' | 'warmStartError' | 'lambda' | 'damping'
>;

/** A baseline's arguments for this operator, writing the pruned matrix to `out`. */
function baselineArgs(a: OperatorArgs, out: GPUBuffer): BaselineArgs {
  const o = a.options;
  return {
    w: a.w,
    out,
    rows: a.rows,
    cols: a.cols,
    gram: a.stats.gram,
    pattern: o.pattern,
    sparsegpt: o.sparsegpt,
    factor: a.factor,
    signal: a.signal,
  };
}

/** One operator: its least-squares problem from the statistics, then the method. */
async function pruneOperator(rt: GpuRuntime, a: OperatorArgs): Promise<OperatorOutcome> {
  const x = a.stats.inputs;
  return x ? pruneThroughTokens(rt, a, x) : pruneThroughGram(rt, a);
}

/** A baseline whose group kept its inputs X: its energy and error through X (tokenForm.ts). */
async function pruneThroughTokens(rt: GpuRuntime, a: OperatorArgs, x: GPUBuffer): Promise<OperatorOutcome> {
  const { rows, cols, options: o } = a;
  if (o.method === 'fista') throw new RangeError('FISTAPruner measures through the Gram, not the tokens');
  const tokens = a.stats.keptTokens;
  const xw = await rt.createBuffer('X·Wᵀ', 'statistics', 4 * tokens * rows);
  try {
    const p: TokenProblem = { rows, cols, tokens, x, xw: xw.buffer };
    const denseEnergy = await denseOutput(rt, p, a.w);
    const result = await pruneBaseline(rt, o.method, baselineArgs(a, a.out));
    const error = await tokenError(rt, p, a.out);
    return { error, relativeError: error / denseEnergy, damping: result.damping };
  } finally {
    xw.destroy();
  }
}

/** The operator's problem through the group's n × n statistics, as FISTAPruner solves it. */
async function pruneThroughGram(rt: GpuRuntime, a: OperatorArgs): Promise<OperatorOutcome> {
  const { rows, cols, options: o } = a;
  const b = await rt.createBuffer('B = W·C', 'statistics', 4 * rows * cols);
  try {
    await matmul(rt, { a: a.w, b: a.stats.cross, c: b.buffer, m: rows, n: cols, k: cols });
    const problem: OperatorProblem = {
      rows,
      cols,
      gram: a.stats.gram,
      b: b.buffer,
      denseEnergy: await weightedEnergy(rt, a.w, a.stats.dense, rows, cols),
    };
    const baseline = o.method === 'fista' ? o.fista.warmStart : o.method;
    if (o.method !== 'fista') {
      const result = await pruneBaseline(rt, baseline, baselineArgs(a, a.out));
      const error = await operatorError(rt, problem, a.out);
      return { error, relativeError: error / problem.denseEnergy, damping: result.damping };
    }
    const start = await rt.createBuffer('warm start', 'scratch', 4 * rows * cols);
    try {
      const warm = await pruneBaseline(rt, baseline, baselineArgs(a, start.buffer));
      const result = await fistaPruneOperator(rt, {
        problem,
        dense: a.w,
        start: start.buffer,
        out: a.out,
        pattern: o.pattern,
        options: o.fista,
        lipschitz: a.lipschitz as number,
        // A dense start is not at the pattern, so it cannot be the result; a pruned start can.
        startIsCandidate: baseline !== 'dense',
        signal: a.signal,
        operator: { block: a.layer, operator: a.op },
        onRound: (round) => a.emit({ type: 'lambda-round', block: a.layer, operator: a.op, ...round }),
      });
      return {
        error: result.error,
        relativeError: result.error / problem.denseEnergy,
        warmStartError: result.warmStartError,
        lambda: result.lambda ?? undefined,
        damping: warm.damping,
      };
    } finally {
      start.destroy();
    }
  } finally {
    b.destroy();
  }
}
