// How much memory a pruning run will take, from the config and the options alone, before a weight
// is read: the studio's and the CLI's answer to "will pruning this model fit my budget?", and the
// plan a LLaMA-2-7B-sized run is judged by on a machine that cannot run it.
//
// The plan replays job.ts's allocations in their order (block.ts's runner, one block's weights,
// each group's statistics, each operator's B or X·Wᵀ, scratch and output) and keeps the most bytes live at
// once, overall and per ledger category, as BufferLedger measures them. Every block is alike, so
// one block's timeline is the run's. Left out are buffers whose size does not grow with a matrix or
// a pass (uniforms, staging for read-backs, reduction partials, Lanczos vectors, the attention
// kernels' per-window scratch); memoryPlan.test.ts bounds what they add against the ledger.

import type { BufferCategory } from '../gpu/ledger';
import { blockBufferSizes, operatorGroups, operatorRows } from '../model/blockForward';
import type { ModelConfig } from '../model/config';
import { canonicalTensors } from '../model/weights';
import { LANCZOS_STEPS } from './lipschitz';
import type { PruneOptions } from './options';
import { measuresThroughTokens } from './tokenForm';

/** hessianFactor.ts's diagonal block width and status record; the plan follows its allocations. */
const FACTOR_BLOCK = 64;
const FACTOR_STATUS_BYTES = 4 * 8;
/** FistaWorkspace's rows × cols buffers (fista.ts): y, yg, w, pg, z, terms, change, hard, best, keep. */
const FISTA_MATRICES = 10;
/** The smallest staging buffer the runtime makes. */
const STAGING_MIN_BYTES = 256;

export interface MemoryPeak {
  bytes: number;
  byCategory: Partial<Record<BufferCategory, number>>;
  /** What the run is doing when the peak is reached. */
  phase: string;
}

export interface PruneMemoryPlan {
  /** Calibration windows per block pass. */
  perPass: number;
  peak: MemoryPeak;
  /** Each category's own peak, as BufferLedger.peakIn measures it. */
  categoryPeaks: Partial<Record<BufferCategory, number>>;
  /**
   * Host memory at the end of the run: every window's block input twice (a block's outputs are
   * collected before its inputs are dropped) and every pruned matrix, as float32.
   */
  hostBytes: number;
  /** The same with the finished blocks' matrices kept off the host (prunedTensors.ts): one block's. */
  hostBytesPrunedElsewhere: number;
}

export interface PrunePlanInput {
  seqLen: number;
  windows: number;
  perPass: number;
}

/** Live buffers and their peaks, as the ledger keeps them. */
class Timeline {
  private readonly live = new Map<string, { category: BufferCategory; bytes: number }>();
  private liveBytes = 0;
  private readonly categoryLive = new Map<BufferCategory, number>();
  readonly categoryPeaks: Partial<Record<BufferCategory, number>> = {};
  peak: MemoryPeak = { bytes: 0, byCategory: {}, phase: '' };

  alloc(key: string, category: BufferCategory, bytes: number, phase: string): void {
    if (this.live.has(key)) throw new Error(`memory plan: ${key} allocated twice`);
    this.live.set(key, { category, bytes });
    this.liveBytes += bytes;
    const inCategory = (this.categoryLive.get(category) ?? 0) + bytes;
    this.categoryLive.set(category, inCategory);
    this.categoryPeaks[category] = Math.max(this.categoryPeaks[category] ?? 0, inCategory);
    if (this.liveBytes > this.peak.bytes)
      this.peak = { bytes: this.liveBytes, byCategory: Object.fromEntries(this.categoryLive), phase };
  }

  free(...keys: string[]): void {
    for (const key of keys) {
      const entry = this.live.get(key);
      if (!entry) throw new Error(`memory plan: ${key} freed but not live`);
      this.live.delete(key);
      this.liveBytes -= entry.bytes;
      this.categoryLive.set(entry.category, (this.categoryLive.get(entry.category) ?? 0) - entry.bytes);
    }
  }

  /**
   * A read-back of `bytes`: the runtime keeps one staging buffer per power-of-two size class from
   * its first use on (GpuRuntime.takeStaging), so a class costs memory once, for the rest of the run.
   */
  read(bytes: number, phase: string): void {
    const size = 2 ** Math.ceil(Math.log2(Math.max(bytes, STAGING_MIN_BYTES)));
    if (!this.live.has(`staging ${size}`)) this.alloc(`staging ${size}`, 'staging', size, phase);
  }

  /** Allocates `buffers` for the duration of one step, then frees them. */
  transient(phase: string, buffers: [string, BufferCategory, number][]): void {
    for (const [key, category, bytes] of buffers) this.alloc(key, category, bytes, phase);
    this.free(...buffers.map(([key]) => key));
  }
}

export function pruneMemoryPlan(
  c: ModelConfig,
  options: PruneOptions,
  input: PrunePlanInput,
): PruneMemoryPlan {
  const { seqLen, windows, perPass } = input;
  const t = new Timeline();
  const tensors = canonicalTensors(c);
  const bytesOf = (name: string) => {
    const tensor = tensors.find((x) => x.name === name);
    return tensor ? 4 * tensor.shape.reduce((a, b) => a * b, 1) : 0;
  };

  // The runner's two sets of activation buffers live for the whole run.
  const activations = Object.values(blockBufferSizes(c, perPass * seqLen)).reduce((s, n) => s + 4 * n, 0);
  t.alloc('dense activations', 'activations', activations, 'the block runner');
  t.alloc('pruned activations', 'activations', activations, 'the block runner');
  // Each pass's block outputs are read back at once.
  const readPasses = (phase: string) => {
    for (let first = 0; first < windows; first += perPass)
      t.read(4 * Math.min(perPass, windows - first) * seqLen * c.hidden, phase);
  };
  const embedding = 'embedding the calibration windows';
  t.alloc('tok_embeddings', 'weights', bytesOf('tok_embeddings'), embedding);
  t.alloc('pos_embeddings', 'weights', bytesOf('pos_embeddings'), embedding);
  readPasses(embedding);
  t.free('tok_embeddings', 'pos_embeddings');

  // One block (layer 0; every block is alike): its dense weights, uploaded whole.
  const block = tensors.filter((x) => x.name.startsWith('layers.0.'));
  for (const x of block) t.alloc(`dense ${x.name}`, 'weights', bytesOf(x.name), 'uploading a block');

  const groups = operatorGroups(c);
  const corrected = options.method === 'fista' && options.fista.errorCorrection;
  // A baseline's group keeps its inputs X (tokens × n) when measuring through them is cheaper.
  const tokens = windows * seqLen;
  const keeps = (n: number) => options.method !== 'fista' && measuresThroughTokens(tokens, n);
  const statisticNames = (n: number, correctHere: boolean) =>
    correctHere ? ['H', 'G', 'C'] : keeps(n) ? ['H', 'X'] : ['H'];
  const statistics = (g: number, n: number, correctHere: boolean, phase: string) => {
    for (const name of statisticNames(n, correctHere))
      t.alloc(`group ${g} ${name}`, 'statistics', 4 * n * (name === 'X' ? tokens : n), phase);
  };
  const freeStatistics = (g: number, n: number, correctHere: boolean) =>
    t.free(...statisticNames(n, correctHere).map((name) => `group ${g} ${name}`));
  if (!corrected)
    for (const [g, group] of groups.entries())
      statistics(g, group.inputWidth, false, 'collecting every group’s statistics');

  for (const [g, group] of groups.entries()) {
    const n = group.inputWidth;
    const correctHere = corrected && g > 0;
    if (corrected) statistics(g, n, correctHere, `collecting group ${g}’s statistics`);
    // The statistics' finiteness check reads one sum each; FISTAPruner's λ_max, the Lanczos record.
    t.read(4, `checking group ${g}’s statistics`);
    if (options.method === 'fista') t.read(4 * (2 * Math.min(LANCZOS_STEPS, n) + 1), `group ${g}’s λ_max`);
    let factored = false;
    for (const op of group.operators) {
      const m = operatorRows(c, op);
      const mn = 4 * m * n;
      const phase = (what: string) => `${op}: ${what}`;
      const throughTokens = keeps(n);
      // Through the tokens: X·Wᵀ (tokens × m) until the error; through the Gram: B, then W·H's scratch.
      const tm = 4 * tokens * m;
      t.alloc(`pruned ${op}`, 'weights', mn, phase('its output'));
      if (throughTokens) t.alloc(`X·Wᵀ ${op}`, 'statistics', tm, phase('X·Wᵀ'));
      else {
        t.alloc(`B ${op}`, 'statistics', mn, phase('B = W·C'));
        t.transient(phase('‖WX‖²'), [
          ['W·H', 'scratch', mn],
          ['zeros', 'scratch', mn],
          ['energy terms', 'scratch', mn],
        ]);
      }
      t.read(4, phase('‖WX‖²'));
      const baseline = options.method === 'fista' ? options.fista.warmStart : options.method;
      if (options.method === 'fista') t.alloc('warm start', 'scratch', mn, phase('the warm start'));
      const what = options.method === 'fista' ? `the ${baseline} warm start` : options.method;
      if (baseline === 'sparsegpt') {
        if (!factored) {
          // The factor and its dead-input flags stay for the group; the rest is freed at once.
          const block = Math.min(FACTOR_BLOCK, Math.max(n, 1));
          t.alloc('factor', 'statistics', 4 * n * n, phase('factoring the Hessian'));
          t.alloc('dead inputs', 'statistics', 4 * n, phase('factoring the Hessian'));
          t.transient(phase('factoring the Hessian'), [
            ['factor diagonal', 'scratch', 4 * n],
            ['factor panel', 'scratch', 4 * n * block],
            ['factor diagonal block', 'scratch', 4 * block * block],
            ['factor block row', 'scratch', 4 * block * n],
            ['factor status', 'scratch', FACTOR_STATUS_BYTES],
          ]);
          factored = true;
        }
        const width = Math.min(options.sparsegpt.blocksize, n);
        const unstructured = options.pattern.kind === 'unstructured';
        t.transient(phase(`${what}'s sweep`), [
          ['sweep errors', 'scratch', 4 * m * width],
          ['sweep mask', 'scratch', unstructured ? 4 * m * width : 4],
          ['sweep scores', 'scratch', unstructured ? 4 * m * width : 0],
        ]);
      } else if (baseline === 'magnitude' || baseline === 'wanda') {
        t.transient(phase(what), [
          ['scores', 'scratch', mn],
          ['mask', 'scratch', mn],
          ['wanda column norms', 'scratch', baseline === 'wanda' ? 4 * n : 0],
        ]);
      }
      if (options.method === 'fista') {
        const workspace = Array.from({ length: FISTA_MATRICES }, (_, i) => `fista ${i}`);
        for (const key of workspace) t.alloc(key, 'scratch', mn, phase('FISTA'));
        // λ₀'s scores are read back whole; each round reads the solve's record.
        t.read(mn, phase('λ₀'));
        t.read(4 * (options.fista.iterations + 8), phase('FISTA'));
        t.free(...workspace, 'warm start');
      } else if (throughTokens) {
        t.transient(phase('its error'), [['X·Vᵀ − X·Wᵀ', 'scratch', tm]]);
      } else {
        t.transient(phase('its error'), [
          ['V·G', 'scratch', mn],
          ['error terms', 'scratch', mn],
        ]);
      }
      t.free(throughTokens ? `X·Wᵀ ${op}` : `B ${op}`);
      t.read(mn, phase('reading its pruned weights back'));
    }
    if (factored) t.free('factor', 'dead inputs');
    freeStatistics(g, n, correctHere);
  }
  readPasses('the next block’s inputs');

  const inputs = windows * seqLen * c.hidden * 4;
  const matrices = tensors.filter((x) => /^layers\.\d+\.(q|k|v|o|gate|up|down)\.weight$/.test(x.name));
  const pruned = matrices.reduce((s, x) => s + bytesOf(x.name), 0);
  const oneBlock = matrices
    .filter((x) => x.name.startsWith('layers.0.'))
    .reduce((s, x) => s + bytesOf(x.name), 0);
  return {
    perPass,
    peak: t.peak,
    categoryPeaks: t.categoryPeaks,
    hostBytes: 2 * inputs + pruned,
    hostBytesPrunedElsewhere: 2 * inputs + oneBlock,
  };
}
