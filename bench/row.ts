// One measured case, as printed and as written to the JSON report.

export interface JsBaseline {
  /** Rows of the result the JS loop computed, of `totalRows`. */
  rows: number;
  totalRows: number;
  /** FLOPs of that slice. */
  flops: number;
  runs: number;
  medianMs: number;
  gflops: number;
}

/** A product's operands, so that other programs (bench/torch_matmul.py) can time the same one. */
export interface ProductDims {
  /** op(A) is m × k, op(B) is k × n; op transposes the stored operand when trans is set. */
  m: number;
  n: number;
  k: number;
  transA: boolean;
  transB: boolean;
}

export interface BenchRow {
  group: string;
  name: string;
  kind: 'copy' | 'matmul' | 'gram';
  /** A·B, A·Bᵀ, Aᵀ·B, XᵀX (symmetric), or "copy". */
  layout: string;
  /** m×n×k for products, bytes for the copy. */
  shape: string;
  /** The product's dimensions and layout (a Gram is Xᵀ·X: m = n = width, k = rows); absent for the copy. */
  product?: ProductDims;
  /** FLOPs of the delivered result (2·m·n·k; 2·rows·width² for a Gram). */
  flops: number;
  /** FLOPs the kernel actually executes (the symmetric Gram computes only upper tiles). */
  executedFlops: number;
  /** The fewest bytes moved: each input read once, each output written once. */
  bytes: number;
  runs: number;
  firstMs: number;
  timesMs: number[];
  medianMs: number;
  minMs: number;
  maxMs: number;
  gflops: number;
  gbps: number;
  /**
   * GPU time of one more run (ms, timestamp queries; measure.ts gpuMsOf) and the GFLOP/s it gives:
   * the kernel without the host's cost and round trip. Null for the copy and without timestamps.
   */
  gpuMs: number | null;
  gpuGflops: number | null;
  /** GFLOP/s over the run's best plain matmul GFLOP/s (a Gram counts delivered FLOPs, so can exceed 1). */
  fracPeakMatmul: number | null;
  /** GB/s over the run's copy GB/s. */
  fracPeakCopy: number | null;
  js: JsBaseline | null;
  /** GPU GFLOP/s ÷ JS GFLOP/s. */
  vsJs: number | null;
  /** max |gpu − js| / max |js| over the rows the JS loop computed. */
  maxRelError: number | null;
  /** Share of the machine's CPU capacity other processes used while this case ran (0 = undisturbed). */
  otherCpu: number;
  /** Set when the case failed; the other numbers are then NaN. */
  error?: string;
}
