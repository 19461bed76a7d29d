// The activation statistics of one operator group, accumulated window by window on the GPU so
// that memory is bounded by one window and the n × n matrices, never by the calibration tokens:
//   H = XᵀX     the dense input's Gram (Wanda's column norms on its diagonal, SparseGPT's Hessian,
//               and ‖WX‖² for the error),
//   G = X*ᵀX*   the Gram of the input with the earlier operators pruned (FISTA's quadratic term),
//   C = XᵀX*    the cross-Gram that makes the target W X reachable from X* (B = W·C).
// Without error correction X* = X and a single matrix serves as all three.
// A baseline's group may also keep X itself (tokens × n, every window's rows one after another),
// when measuring its operators through the tokens is cheaper (tokenForm.ts).

import type { TrackedBuffer } from '../gpu/ledger';
import type { GpuRuntime } from '../gpu/runtime';
import { accumulateGram } from '../kernels/gram';
import { matmul } from '../kernels/matmul';
import { reduceToNumber } from '../kernels/reduce';

export class GroupStatistics {
  private constructor(
    readonly width: number,
    readonly corrected: boolean,
    private readonly owned: TrackedBuffer[],
    /** The inputs kept (tokens × width), when the group was made to keep `tokens` of them. */
    private readonly kept: TrackedBuffer | undefined,
    readonly keptTokens: number,
  ) {}

  /** Rows of the kept inputs filled so far. */
  private filled = 0;

  /** Zero-filled statistics of a group whose inputs are `width` wide; keeping `keepTokens` rows of X if > 0. */
  static async create(
    rt: GpuRuntime,
    width: number,
    corrected: boolean,
    label: string,
    keepTokens = 0,
  ): Promise<GroupStatistics> {
    const owned: TrackedBuffer[] = [];
    let kept: TrackedBuffer | undefined;
    try {
      for (const name of corrected ? ['H', 'G', 'C'] : ['H'])
        owned.push(await rt.createBuffer(`${label} ${name}`, 'statistics', 4 * width * width));
      if (keepTokens > 0) {
        if (corrected) throw new RangeError('a corrected group cannot keep its inputs (X* ≠ X)');
        kept = await rt.createBuffer(`${label} X`, 'statistics', 4 * keepTokens * width);
        owned.push(kept);
      }
    } catch (error) {
      for (const b of owned) b.destroy();
      throw error;
    }
    return new GroupStatistics(width, corrected, owned, kept, keepTokens);
  }

  /** The kept inputs X (keptTokens × width), once every window has been added; undefined if none are kept. */
  get inputs(): GPUBuffer | undefined {
    if (this.kept && this.filled !== this.keptTokens)
      throw new RangeError(`the group's kept inputs hold ${this.filled} of ${this.keptTokens} rows`);
    return this.kept?.buffer;
  }

  get dense(): GPUBuffer {
    return (this.owned[0] as TrackedBuffer).buffer;
  }

  get gram(): GPUBuffer {
    return (this.owned[this.corrected ? 1 : 0] as TrackedBuffer).buffer;
  }

  get cross(): GPUBuffer {
    return (this.owned[this.corrected ? 2 : 0] as TrackedBuffer).buffer;
  }

  /** Adds one window: x (tokens × width) dense, xStar the corrected input (ignored unless corrected). */
  async add(rt: GpuRuntime, tokens: number, x: GPUBuffer, xStar: GPUBuffer): Promise<void> {
    const n = this.width;
    await accumulateGram(rt, { x, rows: tokens, width: n, g: this.dense });
    if (this.kept) {
      if (this.filled + tokens > this.keptTokens)
        throw new RangeError(
          `the group keeps ${this.keptTokens} input rows, and ${this.filled + tokens} were added`,
        );
      rt.copy(x, this.kept.buffer, 4 * tokens * n, 0, 4 * this.filled * n);
      this.filled += tokens;
    }
    if (!this.corrected) return;
    await accumulateGram(rt, { x: xStar, rows: tokens, width: n, g: this.gram });
    await matmul(rt, { a: x, b: xStar, c: this.cross, m: n, n, k: tokens, transA: true, beta: 1 });
  }

  /** Throws when a statistic holds NaN or infinities (their sums do). */
  async checkFinite(rt: GpuRuntime, what: string): Promise<void> {
    for (const b of this.owned.slice(0, this.corrected ? 3 : 1)) {
      const sum = await reduceToNumber(rt, 'sum', this.width * this.width, { buffer: b.buffer });
      if (!Number.isFinite(sum)) throw new StatisticsError(what);
    }
  }

  destroy(): void {
    for (const b of this.owned) b.destroy();
    this.owned.length = 0;
  }
}

export class StatisticsError extends RangeError {
  override name = 'StatisticsError';
  constructor(readonly what: string) {
    super(
      `the calibration statistics of ${what} hold NaN or infinite values: the model's weights or activations overflow f32. ` +
        'Check the weights for NaN, or use shorter calibration windows.',
    );
  }
}
