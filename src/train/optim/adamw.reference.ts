// AdamW in float64 on the CPU, the same algorithm as adamw.ts (PyTorch semantics, docs/algorithms/adamw.md), for
// tests only.

export interface ReferenceParam {
  name: string;
  rows: number;
  cols: number;
  p: Float64Array;
  g: Float32Array | Float64Array;
}

export class AdamWReference {
  readonly states = new Map<string, { t: number; m: Float64Array; v: Float64Array }>();

  constructor(
    readonly beta1 = 0.9,
    readonly beta2 = 0.999,
    readonly eps = 1e-8,
    readonly weightDecay = 1e-2,
  ) {}

  step(params: ReferenceParam[], lr: number): void {
    for (const { name, p, g } of params) {
      let s = this.states.get(name);
      if (!s) {
        s = { t: 0, m: new Float64Array(p.length), v: new Float64Array(p.length) };
        this.states.set(name, s);
      }
      s.t++;
      const bc1 = 1 - this.beta1 ** s.t;
      const bc2 = 1 - this.beta2 ** s.t;
      for (let i = 0; i < p.length; i++) {
        const gi = g[i] as number;
        const m = this.beta1 * (s.m[i] as number) + (1 - this.beta1) * gi;
        const v = this.beta2 * (s.v[i] as number) + (1 - this.beta2) * gi * gi;
        s.m[i] = m;
        s.v[i] = v;
        const w = (p[i] as number) * (1 - lr * this.weightDecay);
        p[i] = w - ((lr / bc1) * m) / (Math.sqrt(v) / Math.sqrt(bc2) + this.eps);
      }
    }
  }
}
