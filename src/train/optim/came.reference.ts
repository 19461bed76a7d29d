// CAME in float64 on the CPU, the same algorithm as came.ts (yangluo7/CAME semantics, docs/algorithms/came.md),
// for tests only.

import { factoredRsqrt, rms, rowColMeans } from './adafactor.reference';
import type { ReferenceParam } from './adamw.reference';

interface State {
  m: Float64Array;
  /** Per element, the largest |Û| so far: what bounds the rounding error M has gathered. */
  umax: Float64Array;
  r?: Float64Array;
  c?: Float64Array;
  rr?: Float64Array;
  rc?: Float64Array;
  v?: Float64Array;
}

export class CameReference {
  readonly states = new Map<string, State>();
  /**
   * After each step, per parameter, for error bounds: η·max over elements of max_t|Û|/sqrt(S) (how
   * far an error in M can move the step) and η·max|M/sqrt(S)| (the step itself).
   */
  readonly scales = new Map<string, { spread: number; step: number }>();

  constructor(
    readonly beta1 = 0.9,
    readonly beta2 = 0.999,
    readonly beta3 = 0.9999,
    readonly eps1 = 1e-30,
    readonly eps2 = 1e-16,
    readonly clipThreshold = 1,
    readonly weightDecay = 0,
  ) {}

  step(params: ReferenceParam[], lr: number): void {
    for (const { name, rows, cols, p, g } of params) {
      const n = rows * cols;
      const factored = rows > 1 && cols > 1;
      let s = this.states.get(name);
      if (!s) {
        s = { m: new Float64Array(n), umax: new Float64Array(n) };
        if (factored) {
          s.r = new Float64Array(rows);
          s.c = new Float64Array(cols);
          s.rr = new Float64Array(rows);
          s.rc = new Float64Array(cols);
        } else s.v = new Float64Array(n);
        this.states.set(name, s);
      }
      const u = new Float64Array(n);
      if (s.r && s.c) {
        const x = Float64Array.from(g, (gi) => gi * gi + this.eps1);
        const [rm, cm] = rowColMeans(x, rows, cols);
        for (let i = 0; i < rows; i++)
          s.r[i] = this.beta2 * (s.r[i] as number) + (1 - this.beta2) * (rm[i] as number);
        for (let j = 0; j < cols; j++)
          s.c[j] = this.beta2 * (s.c[j] as number) + (1 - this.beta2) * (cm[j] as number);
        const inv = factoredRsqrt(s.r, s.c);
        for (let i = 0; i < n; i++) u[i] = (g[i] as number) * (inv[i] as number);
      } else {
        const v = s.v as Float64Array;
        for (let i = 0; i < n; i++) {
          v[i] = this.beta2 * (v[i] as number) + (1 - this.beta2) * ((g[i] as number) ** 2 + this.eps1);
          u[i] = (g[i] as number) / Math.sqrt(v[i] as number);
        }
      }
      const clip = 1 / Math.max(1, rms(u) / this.clipThreshold);
      for (let i = 0; i < n; i++) {
        u[i] = (u[i] as number) * clip;
        s.m[i] = this.beta1 * (s.m[i] as number) + (1 - this.beta1) * (u[i] as number);
      }
      let confidence: Float64Array;
      if (s.rr && s.rc) {
        const res = new Float64Array(n);
        for (let i = 0; i < n; i++) res[i] = ((u[i] as number) - (s.m[i] as number)) ** 2 + this.eps2;
        const [rm, cm] = rowColMeans(res, rows, cols);
        for (let i = 0; i < rows; i++)
          s.rr[i] = this.beta3 * (s.rr[i] as number) + (1 - this.beta3) * (rm[i] as number);
        for (let j = 0; j < cols; j++)
          s.rc[j] = this.beta3 * (s.rc[j] as number) + (1 - this.beta3) * (cm[j] as number);
        confidence = factoredRsqrt(s.rr, s.rc);
      } else confidence = new Float64Array(n).fill(1);
      let spread = 0;
      let stepMax = 0;
      for (let i = 0; i < n; i++) {
        const step = (s.m[i] as number) * (confidence[i] as number);
        s.umax[i] = Math.max(s.umax[i] as number, Math.abs(u[i] as number));
        spread = Math.max(spread, (s.umax[i] as number) * (confidence[i] as number));
        stepMax = Math.max(stepMax, Math.abs(step));
        p[i] = (p[i] as number) - this.weightDecay * lr * (p[i] as number) - lr * step;
      }
      this.scales.set(name, { spread: lr * spread, step: lr * stepMax });
    }
  }
}
