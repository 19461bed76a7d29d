// What the benchmark measures. Sizes come in two sets: the full one (square products up to 2048,
// and OPT-125M's linear layers and Gram statistics for a 2048-token calibration sequence) and a
// quick one with the same shapes scaled down, for a smoke run.

export interface CopyCase {
  kind: 'copy';
  group: string;
  name: string;
  bytes: number;
}

export interface MatmulCase {
  kind: 'matmul';
  group: string;
  name: string;
  /** op(A) is m × k, op(B) is k × n. */
  m: number;
  n: number;
  k: number;
  transA: boolean;
  transB: boolean;
}

export interface GramCase {
  kind: 'gram';
  group: string;
  name: string;
  /** G (width × width) += XᵀX, X is rows × width. */
  rows: number;
  width: number;
}

export type BenchCase = CopyCase | MatmulCase | GramCase;

/** OPT-125M: hidden size 768, MLP size 3072; weights are stored out × in as in PyTorch. */
const OPT_HIDDEN = 768;
const OPT_FFN = 3072;
const MIB = 1024 * 1024;

export interface Suite {
  cases: BenchCase[];
  /** Default timed runs per case. */
  runs: number;
  /** Without --runs, products above this many executed FLOPs get at most `bigRuns` runs. */
  bigFlops: number;
  bigRuns: number;
  /** The copy reference runs at least this many times (it takes milliseconds). */
  copyRuns: number;
  /** FLOPs the JS baseline spends per run; bigger products are computed on a slice of rows. */
  jsTargetFlops: number;
}

export function suite(quick: boolean): Suite {
  const tokens = quick ? 128 : 2048;
  const squares = quick ? [128, 256] : [256, 512, 1024, 2048];
  const ab = (m: number, n: number, k: number, transA = false, transB = false) => ({
    m,
    n,
    k,
    transA,
    transB,
  });
  const cases: BenchCase[] = [
    {
      kind: 'copy',
      group: 'reference',
      name: `copy ${quick ? 64 : 256} MiB`,
      bytes: (quick ? 64 : 256) * MIB,
    },
    ...squares.map(
      (s): MatmulCase => ({ kind: 'matmul', group: 'square A·B', name: `n=${s}`, ...ab(s, s, s) }),
    ),
    // A linear layer on the calibration activations: Y = X·Wᵀ, X tokens × in, W out × in.
    {
      kind: 'matmul',
      group: `OPT-125M, ${tokens} tokens`,
      name: 'q/k/v/out_proj',
      ...ab(tokens, OPT_HIDDEN, OPT_HIDDEN, false, true),
    },
    {
      kind: 'matmul',
      group: `OPT-125M, ${tokens} tokens`,
      name: 'fc1',
      ...ab(tokens, OPT_FFN, OPT_HIDDEN, false, true),
    },
    {
      kind: 'matmul',
      group: `OPT-125M, ${tokens} tokens`,
      name: 'fc2',
      ...ab(tokens, OPT_HIDDEN, OPT_FFN, false, true),
    },
    // The other two layouts with the q_proj operand sizes: X·W with W stored in × out, and
    // Xᵀ·Y (a weight-gradient shape, and the non-symmetric twin of the Gram below).
    { kind: 'matmul', group: 'layouts', name: 'A·B', ...ab(tokens, OPT_HIDDEN, OPT_HIDDEN) },
    { kind: 'matmul', group: 'layouts', name: 'Aᵀ·B', ...ab(OPT_HIDDEN, OPT_HIDDEN, tokens, true, false) },
    {
      kind: 'gram',
      group: 'Gram G += XᵀX',
      name: `X ${tokens}×${OPT_HIDDEN}`,
      rows: tokens,
      width: OPT_HIDDEN,
    },
    { kind: 'gram', group: 'Gram G += XᵀX', name: `X ${tokens}×${OPT_FFN}`, rows: tokens, width: OPT_FFN },
  ];
  return quick
    ? { cases, runs: 3, bigFlops: Number.POSITIVE_INFINITY, bigRuns: 3, copyRuns: 10, jsTargetFlops: 1e8 }
    : { cases, runs: 5, bigFlops: 4e9, bigRuns: 3, copyRuns: 10, jsTargetFlops: 5e8 };
}

/** The matmul kernel's output tile: the symmetric Gram computes only tiles on or above the diagonal. */
export const MATMUL_TILE = 64;

export function layoutName(c: MatmulCase): string {
  return `${c.transA ? 'Aᵀ' : 'A'}·${c.transB ? 'Bᵀ' : 'B'}`;
}
