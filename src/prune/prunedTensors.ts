// Where a pruning run keeps its finished blocks' pruned matrices until the model is evaluated and
// exported. A Map keeps them in memory, the default. A host whose model's pruned matrices would not
// fit its memory passes a store that keeps them elsewhere (the CLI's --pruned-on-disk,
// host/prunedOnDisk.ts), so that it holds one block's matrices at a time: LLaMA-2-7B's pruned
// matrices take 24 GiB as float32. Iterating reads one matrix at a time.

export interface PrunedTensors {
  get(name: string): Float32Array | undefined;
  set(name: string, data: Float32Array): unknown;
  has(name: string): boolean;
  keys(): IterableIterator<string>;
  readonly size: number;
  [Symbol.iterator](): Iterator<[string, Float32Array]>;
}
