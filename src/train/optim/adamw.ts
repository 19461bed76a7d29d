// AdamW on the GPU with PyTorch's torch.optim.AdamW semantics (docs/algorithms/adamw.md): decoupled
// weight decay applied first, bias-corrected moments, ε outside the square root. One fused pass per
// parameter (shaders/train/optim/adamw.wgsl). amsgrad and maximize are not offered.
// State: m and v, rows × cols f32 each, for every parameter: 2·rows·cols floats.

import body from '../../../shaders/train/optim/adamw.wgsl?raw';
import type { TrackedBuffer } from '../../gpu/ledger';
import type { GpuRuntime } from '../../gpu/runtime';
import { defineKernel } from '../../kernels/kernel';
import { checkLearningRate, checkParams, checkPositive, checkRange, type ParamSlot } from './optimizer';
import { checkGradients, runPass } from './passes';
import { BufferedOptimizer, StateBuffers } from './state';

const adamwKernel = defineKernel({
  name: 'adamw',
  code: body,
  uniforms: {
    n: 'u32',
    grad: 'u32',
    m: 'u32',
    v: 'u32',
    w: 'u32',
    decay: 'f32',
    beta1: 'f32',
    one_minus_beta1: 'f32',
    beta2: 'f32',
    one_minus_beta2: 'f32',
    step: 'f32',
    inv_bias2: 'f32',
    eps: 'f32',
  },
});

/** PyTorch's (β1, β2). */
export const DEFAULT_BETAS: [number, number] = [0.9, 0.999];

export interface AdamWOptions {
  /** (β1, β2); PyTorch's default (0.9, 0.999). */
  betas?: [number, number];
  /** Default 1e-8. */
  eps?: number;
  /** Decoupled, scaled by the learning rate; PyTorch's default 1e-2. */
  weightDecay?: number;
  /** Refuse steps whose gradients hold NaN or ±∞ (see passes.checkGradients for the cost). Default true. */
  checkFinite?: boolean;
}

export class AdamW extends BufferedOptimizer<{ m: TrackedBuffer; v: TrackedBuffer }> {
  readonly name = 'AdamW';
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  readonly checkFinite: boolean;
  protected readonly states = new StateBuffers<{ m: TrackedBuffer; v: TrackedBuffer }>(
    this.name,
    ({ name, rows, cols }) => ({
      m: { label: `adamw m ${name}`, floats: rows * cols },
      v: { label: `adamw v ${name}`, floats: rows * cols },
    }),
  );

  constructor(options: AdamWOptions = {}) {
    super();
    [this.beta1, this.beta2] = options.betas ?? DEFAULT_BETAS;
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 1e-2;
    this.checkFinite = options.checkFinite ?? true;
    checkRange(this.name, 'β1', this.beta1, 0, 1);
    checkRange(this.name, 'β2', this.beta2, 0, 1);
    checkPositive(this.name, 'ε', this.eps);
    checkRange(this.name, 'weight decay', this.weightDecay, 0, Number.POSITIVE_INFINITY);
  }

  async step(rt: GpuRuntime, params: ParamSlot[], lr: number): Promise<void> {
    checkLearningRate(this.name, lr);
    checkParams(this.name, params, (name) => this.states.get(name));
    if (params.length === 0) return;
    if (this.checkFinite) await checkGradients(rt, this.name, params);
    for (const slot of params) {
      const state = await this.states.of(rt, slot);
      state.t++;
      const bc1 = 1 - this.beta1 ** state.t;
      const bc2 = 1 - this.beta2 ** state.t;
      await runPass(
        rt,
        adamwKernel,
        slot.rows * slot.cols,
        {
          grad: { buffer: slot.g },
          m: { buffer: state.m.buffer },
          v: { buffer: state.v.buffer },
          w: { buffer: slot.p },
        },
        {
          values: {
            decay: 1 - lr * this.weightDecay,
            beta1: this.beta1,
            one_minus_beta1: 1 - this.beta1,
            beta2: this.beta2,
            one_minus_beta2: 1 - this.beta2,
            step: lr / bc1,
            inv_bias2: 1 / Math.sqrt(bc2),
            eps: this.eps,
          },
        },
      );
    }
  }

  protected floatsOf(s: { rows: number; cols: number }): number {
    return 2 * s.rows * s.cols;
  }
}
