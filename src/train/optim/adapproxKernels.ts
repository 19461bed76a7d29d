// The kernels of Adapprox's shader module: its passes (shaders/train/optim/adapprox.wgsl) and the
// S-RSI kernels (srsi.wgsl) compiled together, one declaration per entry point with its named
// uniform block (kernels/kernel.ts). In a pass's block, n is the window's elements and an operand's
// name its window offset (train/optim/passes.ts fills those).

import adapproxBody from '../../../shaders/train/optim/adapprox.wgsl?raw';
import block8 from '../../../shaders/train/optim/block8.wgsl?raw';
import srsiBody from '../../../shaders/train/optim/srsi.wgsl?raw';
import { defineKernel } from '../../kernels/kernel';
import { withOptimizerCommon } from './passes';

// Each entry point is labelled apart, so that a profile shows Adapprox's time per kernel.
const module = {
  name: 'adapprox',
  code: withOptimizerCommon(`${adapproxBody}\n${srsiBody}\n${block8}`),
  labelEntryPoints: true,
} as const;

export const adapproxKernels = {
  second_moment: defineKernel({
    ...module,
    entryPoints: ['second_moment'],
    uniforms: {
      n: 'u32',
      pbase: 'u32',
      g: 'u32',
      v: 'u32',
      counts: 'u32',
      beta2: 'f32',
      one_minus_beta2: 'f32',
      eps1: 'f32',
      eps: 'f32',
    },
  }),
  history_moment: defineKernel({
    ...module,
    entryPoints: ['history_moment'],
    uniforms: {
      n: 'u32',
      start: 'u32',
      cols: 'u32',
      pbase: 'u32',
      g: 'u32',
      v: 'u32',
      counts: 'u32',
      q: 'u32',
      u: 'u32',
      k: 'u32',
      stride: 'u32',
      q_rows: 'u32',
      beta2: 'f32',
      one_minus_beta2: 'f32',
      eps1: 'f32',
      eps: 'f32',
    },
  }),
  moment: defineKernel({
    ...module,
    entryPoints: ['moment'],
    uniforms: {
      n: 'u32',
      g: 'u32',
      v: 'u32',
      slot: 'u32',
      m: 'u32',
      eps: 'f32',
      inv_count: 'f32',
      d: 'f32',
      beta1: 'f32',
      one_minus_beta1: 'f32',
    },
  }),
  guidance_dot: defineKernel({
    ...module,
    entryPoints: ['guidance_dot'],
    uniforms: {
      n: 'u32',
      pbase: 'u32',
      g: 'u32',
      v: 'u32',
      m: 'u32',
      eps: 'f32',
    },
  }),
  apply_momentum: defineKernel({
    ...module,
    entryPoints: ['apply_momentum'],
    uniforms: {
      n: 'u32',
      m: 'u32',
      slot: 'u32',
      w: 'u32',
      lr: 'f32',
      weight_decay: 'f32',
      guidance: 'f32',
      inv_count: 'f32',
      d: 'f32',
    },
  }),
  apply_plain: defineKernel({
    ...module,
    entryPoints: ['apply_plain'],
    uniforms: {
      n: 'u32',
      g: 'u32',
      v: 'u32',
      slot: 'u32',
      w: 'u32',
      lr: 'f32',
      weight_decay: 'f32',
      eps: 'f32',
      inv_count: 'f32',
      d: 'f32',
    },
  }),
  scaled_square: defineKernel({
    ...module,
    entryPoints: ['scaled_square'],
    uniforms: {
      n: 'u32',
      pbase: 'u32',
      v: 'u32',
      slot: 'u32',
    },
  }),
  sketch_gaussian: defineKernel({
    ...module,
    entryPoints: ['sketch_gaussian'],
    uniforms: {
      n: 'u32',
      start: 'u32',
      omega: 'u32',
      key: 'u32',
    },
  }),
  sketch_warm: defineKernel({
    ...module,
    entryPoints: ['sketch_warm'],
    uniforms: {
      n: 'u32',
      start: 'u32',
      cols: 'u32',
      omega: 'u32',
      u: 'u32',
      key: 'u32',
      taken: 'u32',
      stride: 'u32',
      slot: 'u32',
    },
  }),
  skinny: defineKernel({
    ...module,
    entryPoints: ['skinny'],
    uniforms: {
      n: 'u32',
      cols: 'u32',
      v: 'u32',
      b: 'u32',
      c: 'u32',
      inner: 'u32',
      w: 'u32',
      transpose: 'u32',
      out: 'u32',
      slot: 'u32',
    },
  }),
  scale_inverse_top: defineKernel({
    ...module,
    entryPoints: ['scale_inverse_top'],
    uniforms: {
      n: 'u32',
      c: 'u32',
      slot: 'u32',
    },
  }),
  cholesky_qr3: defineKernel({
    ...module,
    entryPoints: ['cholesky_qr3'],
    uniforms: {
      rows: 'u32',
      y: 'u32',
      work: 'u32',
      w: 'u32',
      plain: 'u32',
      spare: 'u32',
    },
  }),
  eigen_rank: defineKernel({
    ...module,
    entryPoints: ['eigen_rank'],
    uniforms: {
      rows: 'u32',
      u: 'u32',
      work: 'u32',
      w: 'u32',
      slot: 'u32',
      record: 'u32',
      k_min: 'u32',
      k_cap: 'u32',
      threshold: 'f32',
    },
  }),
  srsi_small: defineKernel({
    ...module,
    entryPoints: ['srsi_small'],
    uniforms: {
      short: 'u32',
      long: 'u32',
      cols: 'u32',
      w: 'u32',
      transpose: 'u32',
      slot: 'u32',
      record: 'u32',
      k_min: 'u32',
      k_cap: 'u32',
      key: 'u32',
      l: 'u32',
      taken: 'u32',
      threshold: 'f32',
      u_stride: 'u32',
    },
  }),
  srsi_batch: defineKernel({
    ...module,
    entryPoints: ['srsi_batch'],
    uniforms: { first: 'u32', matrices: 'u32' },
  }),
  rotate_factors: defineKernel({
    ...module,
    entryPoints: ['rotate_factors'],
    uniforms: {
      n: 'u32',
      stride: 'u32',
      short: 'u32',
      w: 'u32',
      k: 'u32',
      e: 'u32',
      slot: 'u32',
      u: 'u32',
      q: 'u32',
    },
  }),
};
