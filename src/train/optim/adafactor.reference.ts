// Adafactor in float64 on the CPU, the same algorithm as adafactor.ts (HF semantics, docs/algorithms/adafactor.md),
// for tests only.

import type { ReferenceParam } from './adamw.reference';

export interface AdafactorReferenceOptions {
  beta1: number;
  decayRate: number;
  eps1: number;
  eps2: number;
  clipThreshold: number;
  weightDecay: number;
  relativeStep: boolean;
  scaleParameter: boolean;
  warmupInit: boolean;
}

export const ADAFACTOR_DEFAULTS: AdafactorReferenceOptions = {
  beta1: 0,
  decayRate: -0.8,
  eps1: 1e-30,
  eps2: 1e-3,
  clipThreshold: 1,
  weightDecay: 0,
  relativeStep: false,
  scaleParameter: false,
  warmupInit: false,
};

interface State {
  t: number;
  r?: Float64Array;
  c?: Float64Array;
  v?: Float64Array;
  m?: Float64Array;
}

export function rms(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += (x[i] as number) ** 2;
  return Math.sqrt(s / x.length);
}

/** Row means and column means of X (rows × cols). */
export function rowColMeans(x: Float64Array, rows: number, cols: number): [Float64Array, Float64Array] {
  const r = new Float64Array(rows);
  const c = new Float64Array(cols);
  for (let i = 0; i < rows; i++)
    for (let j = 0; j < cols; j++) {
      const v = x[i * cols + j] as number;
      r[i] = (r[i] as number) + v / cols;
      c[j] = (c[j] as number) + v / rows;
    }
  return [r, c];
}

/** 1/sqrt of the factored estimate (R / mean R) ⊗ C, per element. */
export function factoredRsqrt(r: Float64Array, c: Float64Array): Float64Array {
  const rows = r.length;
  const cols = c.length;
  const mean = r.reduce((a, b) => a + b, 0) / rows;
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++)
    for (let j = 0; j < cols; j++)
      out[i * cols + j] = 1 / Math.sqrt((r[i] as number) / mean) / Math.sqrt(c[j] as number);
  return out;
}

export class AdafactorReference {
  readonly states = new Map<string, State>();
  readonly o: AdafactorReferenceOptions;
  /** After each step, per parameter: max |α·Û| (clipped, before momentum), for error bounds. */
  readonly lastUpdate = new Map<string, number>();

  constructor(options: Partial<AdafactorReferenceOptions> = {}) {
    this.o = { ...ADAFACTOR_DEFAULTS, ...options };
  }

  step(params: ReferenceParam[], lr: number): void {
    const o = this.o;
    for (const { name, rows, cols, p, g } of params) {
      const n = rows * cols;
      const factored = rows > 1 && cols > 1;
      let s = this.states.get(name);
      if (!s) {
        s = { t: 0 };
        if (factored) {
          s.r = new Float64Array(rows);
          s.c = new Float64Array(cols);
        } else s.v = new Float64Array(n);
        if (o.beta1 > 0) s.m = new Float64Array(n);
        this.states.set(name, s);
      }
      s.t++;
      const rho = o.relativeStep ? Math.min(o.warmupInit ? 1e-6 * s.t : 1e-2, 1 / Math.sqrt(s.t)) : lr;
      const alpha = o.scaleParameter ? Math.max(o.eps2, rms(p)) * rho : rho;
      const beta2t = 1 - s.t ** o.decayRate;
      const x = new Float64Array(n);
      for (let i = 0; i < n; i++) x[i] = (g[i] as number) ** 2 + o.eps1;
      const u = new Float64Array(n);
      if (s.r && s.c) {
        const [rm, cm] = rowColMeans(x, rows, cols);
        for (let i = 0; i < rows; i++)
          s.r[i] = beta2t * (s.r[i] as number) + (1 - beta2t) * (rm[i] as number);
        for (let j = 0; j < cols; j++)
          s.c[j] = beta2t * (s.c[j] as number) + (1 - beta2t) * (cm[j] as number);
        const inv = factoredRsqrt(s.r, s.c);
        for (let i = 0; i < n; i++) u[i] = (g[i] as number) * (inv[i] as number);
      } else {
        const v = s.v as Float64Array;
        for (let i = 0; i < n; i++) {
          v[i] = beta2t * (v[i] as number) + (1 - beta2t) * (x[i] as number);
          u[i] = (g[i] as number) / Math.sqrt(v[i] as number);
        }
      }
      const clip = 1 / Math.max(1, rms(u) / o.clipThreshold);
      let big = 0;
      for (let i = 0; i < n; i++) {
        let d = alpha * clip * (u[i] as number);
        big = Math.max(big, Math.abs(d));
        if (s.m) {
          s.m[i] = o.beta1 * (s.m[i] as number) + (1 - o.beta1) * d;
          d = s.m[i] as number;
        }
        p[i] = (p[i] as number) - o.weightDecay * alpha * (p[i] as number) - d;
      }
      this.lastUpdate.set(name, big);
    }
  }
}
