// Float64 central differences of a float64 forward reference, used only by the backward kernels'
// tests: the gradient a kernel computes is checked against the slope of the very function the
// forward references define, not against a second hand-derived formula that could share a mistake.
//
// The references take f32 inputs, so a perturbed input is rounded to f32. The step actually taken
// is therefore not h but fround(x ± h) − x, which f64 computes exactly (both are f32 values of
// nearby magnitude); dividing by the exact width of the interval keeps the difference a true
// central difference up to the asymmetry of the two steps, at most one ulp of x, whose effect
// (f″ · ulp / 2) is far below f32 resolution. A step below half an ulp of x would round both
// ways back to x (a width of zero, so 0/0); such a step is doubled until both sides move.

export interface Differences {
  /** ∂loss/∂x by central differences with step h. */
  grad: Float64Array;
  /**
   * An estimate of the largest error of grad: the truncation error of a central difference is
   * c·h² + O(h⁴), so with step 2h it is 4c·h², and |g_h − g_2h| / 3 estimates it (Richardson).
   * Zero when the estimate was not asked for.
   */
  error: number;
}

/**
 * Central differences of loss at x (which is modified during the call and restored), for every
 * element or for the listed indices only (other entries of grad are 0). With `estimate`, the
 * differences are also taken with step 2h to estimate their own error.
 */
export function centralDifferences(
  loss: (x: Float32Array) => number,
  x: Float32Array,
  h: number,
  options: { indices?: readonly number[]; estimate?: boolean } = {},
): Differences {
  const grad = new Float64Array(x.length);
  let error = 0;
  const slope = (i: number, step: number): number => {
    const x0 = x[i] as number;
    let up = Math.fround(x0 + step);
    let down = Math.fround(x0 - step);
    for (let s = step; up === x0 || down === x0; ) {
      s *= 2;
      up = Math.fround(x0 + s);
      down = Math.fround(x0 - s);
    }
    x[i] = up;
    const fUp = loss(x);
    x[i] = down;
    const fDown = loss(x);
    x[i] = x0;
    return (fUp - fDown) / (up - down);
  };
  const indices = options.indices ?? Array.from({ length: x.length }, (_, i) => i);
  for (const i of indices) {
    const g = slope(i, h);
    grad[i] = g;
    if (options.estimate) error = Math.max(error, Math.abs(g - slope(i, 2 * h)) / 3);
  }
  return { grad, error };
}

/** Σ weights ⊙ values: the scalar loss whose gradient with respect to `values` is `weights`. */
export function dot(weights: ArrayLike<number>, values: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += (weights[i] as number) * (values[i] as number);
  return sum;
}

/**
 * max |gpu − want| over the elements, divided by the largest |want|: a gradient's error measured
 * against the tensor's own size. With `scale` a number, divided by it instead; with `scale` an
 * array, each element's error is divided by its own scale (the magnitude its f32 rounding error is
 * proportional to, such as Σ|terms| of a sum) and the largest ratio is returned. Over `indices`
 * only when given. NaN or infinity anywhere in gpu gives Infinity, so poisoned output that
 * survives fails.
 */
export function gradientError(
  gpu: Float32Array,
  want: Float64Array,
  options: { indices?: readonly number[]; scale?: number | Float64Array } = {},
): number {
  if (gpu.length !== want.length) return Number.POSITIVE_INFINITY;
  for (const g of gpu) if (!Number.isFinite(g)) return Number.POSITIVE_INFINITY;
  const indices = options.indices ?? Array.from({ length: gpu.length }, (_, i) => i);
  const scale = options.scale;
  let worst = 0;
  let size = 0;
  for (const i of indices) {
    const error = Math.abs((gpu[i] as number) - (want[i] as number));
    if (scale instanceof Float64Array) {
      worst = Math.max(worst, error / Math.max(scale[i] as number, 1e-30));
    } else {
      worst = Math.max(worst, error);
      size = Math.max(size, Math.abs(want[i] as number));
    }
  }
  if (scale instanceof Float64Array) return worst;
  return worst / Math.max(scale ?? size, 1e-30);
}
