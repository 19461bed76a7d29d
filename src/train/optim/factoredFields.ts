// Uniform fields that Adafactor's and CAME's entry points share (shaders/train/optim/adafactor.wgsl,
// came.wgsl), in their WGSL structs' order: each kernel declaration spreads the groups it reads
// where its struct has them, so a group is spelled once and kernels/kernel.ts checks the result
// against the WGSL.

/** A factored parameter's pass over rows of `cols`: window, G, the factors R and C, the scalar slot. */
export const FACTORED_OPERANDS = {
  n: 'u32',
  start: 'u32',
  cols: 'u32',
  g: 'u32',
  r: 'u32',
  c: 'u32',
  slot: 'u32',
} as const;
/** A vector's pass: G, its dense second moment V, the scalar slot. */
export const DENSE_OPERANDS = { n: 'u32', g: 'u32', v: 'u32', slot: 'u32' } as const;
/** Update clipping: Û / max(1, RMS(Û)/d), the RMS from ΣÛ² and 1/(rows·cols). */
export const CLIPPING = { inv_count: 'f32', d: 'f32' } as const;
/** The momentum's EMA of the update. */
export const MOMENTUM = { beta1: 'f32', one_minus_beta1: 'f32' } as const;
