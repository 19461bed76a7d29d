// A baseline's dense energy ‖WX‖²_F and reported error ‖(Ŵ − W)X‖²_F computed from the group's
// calibration inputs X (tokens × n) instead of its Gram H = XᵀX (n × n). The two forms are the same
// quantities; what differs is the work: through H each is an (m × n)·(n × n) product and the error
// also needs B = W·H, 3 · 2mn² per operator, while through the tokens each is one
// (tokens × n)·(n × m) product, 2 · 2mnt. With a small calibration set (t ≪ n) that is what makes a
// LLaMA-2-7B block (down: 4096 × 11008) prunable on a CPU adapter: at t = 128 the three products
// of 2.3 TFLOP each become two of 0.05 TFLOP each over the block.
//
// Only the baselines use it: their statistics are collected in one dense pass (X* = X), and B and
// ‖WX‖² serve only the reported error. FISTAPruner keeps the n × n form, since every iteration
// multiplies by G anyway.

import type { GpuRuntime } from '../gpu/runtime';
import { matmul } from '../kernels/matmul';
import { reduceToNumber } from '../kernels/reduce';

/**
 * Whether a baseline's group keeps its inputs and measures through the tokens: when that costs
 * fewer FLOPs, 2 · 2mnt < 3 · 2mn², i.e. 2t < 3n for every operator of the group (m cancels).
 * The kept inputs, t·n values, are then also fewer than the H they sit beside (n²).
 */
export function measuresThroughTokens(tokens: number, width: number): boolean {
  return 2 * tokens < 3 * width;
}

/** One operator's shapes, its group's kept inputs X (tokens × cols) and its dense output X·Wᵀ. */
export interface TokenProblem {
  rows: number;
  cols: number;
  tokens: number;
  x: GPUBuffer;
  /** tokens × rows: X·Wᵀ, filled by denseOutput. */
  xw: GPUBuffer;
}

/** Fills p.xw = X·Wᵀ and returns ‖WX‖²_F, its sum of squares. */
export async function denseOutput(rt: GpuRuntime, p: TokenProblem, w: GPUBuffer): Promise<number> {
  await matmul(rt, { a: p.x, b: w, c: p.xw, m: p.tokens, n: p.rows, k: p.cols, transB: true });
  return reduceToNumber(rt, 'sumsq', p.tokens * p.rows, { buffer: p.xw });
}

/** ‖(V − W)X‖²_F = ‖X·Vᵀ − X·Wᵀ‖²_F of a matrix V (rows × cols), the difference formed before it is squared. */
export async function tokenError(rt: GpuRuntime, p: TokenProblem, v: GPUBuffer): Promise<number> {
  const count = p.tokens * p.rows;
  const d = await rt.createBuffer('X·Vᵀ − X·Wᵀ', 'scratch', 4 * count);
  try {
    rt.copy(p.xw, d.buffer, 4 * count);
    await matmul(rt, {
      a: p.x,
      b: v,
      c: d.buffer,
      m: p.tokens,
      n: p.rows,
      k: p.cols,
      transB: true,
      beta: -1,
    });
    return await reduceToNumber(rt, 'sumsq', count, { buffer: d.buffer });
  } finally {
    d.destroy();
  }
}
