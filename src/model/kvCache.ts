// The keys and values of every position a generation has run, per layer, kept on the GPU so that
// each new token costs one row through the model instead of the whole prefix again. Keys are
// stored after rope (Llama), exactly as attention reads them. The buffers go through the ledger
// (category 'activations', labelled per layer), so the studio's memory chart counts them; the
// owner frees them with destroy().

import type { TrackedBuffer } from '../gpu/ledger';
import type { GpuRuntime } from '../gpu/runtime';
import type { ModelConfig } from './config';

export class KvCache {
  /** Positions filled so far: the next pass starts at this position. */
  length = 0;

  private constructor(
    readonly config: ModelConfig,
    /** Positions the buffers hold. */
    readonly capacity: number,
    private readonly tracked: TrackedBuffer[],
    /** Per layer, [capacity, kvHeads, headDim] f32. */
    readonly k: readonly GPUBuffer[],
    readonly v: readonly GPUBuffer[],
  ) {}

  /** Bytes of a cache of `capacity` positions: keys and values of every layer, in f32. */
  static bytes(config: ModelConfig, capacity: number): number {
    return 2 * config.layers * capacity * config.kvHeads * config.headDim * 4;
  }

  static async create(rt: GpuRuntime, config: ModelConfig, capacity: number): Promise<KvCache> {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > config.maxPositions) {
      throw new RangeError(
        `a KV cache of ${capacity} positions is outside 1..${config.maxPositions}, the model's context length`,
      );
    }
    const rowBytes = config.kvHeads * config.headDim * 4;
    if (capacity * rowBytes > rt.limits.maxBufferSize) {
      throw new RangeError(
        `a KV cache of ${capacity} positions needs ${capacity * rowBytes} bytes per layer, more than this ` +
          `device's largest buffer (${rt.limits.maxBufferSize}); ask for fewer tokens`,
      );
    }
    const tracked: TrackedBuffer[] = [];
    try {
      for (let l = 0; l < config.layers; l++) {
        tracked.push(await rt.createBuffer(`kv cache keys, layer ${l}`, 'activations', capacity * rowBytes));
        tracked.push(
          await rt.createBuffer(`kv cache values, layer ${l}`, 'activations', capacity * rowBytes),
        );
      }
    } catch (error) {
      for (const b of tracked) b.destroy();
      throw error;
    }
    const k = tracked.filter((_, i) => i % 2 === 0).map((b) => b.buffer);
    const v = tracked.filter((_, i) => i % 2 === 1).map((b) => b.buffer);
    return new KvCache(config, capacity, tracked, k, v);
  }

  /** Frees the buffers; calling it twice is harmless. */
  destroy(): void {
    for (const b of this.tracked) b.destroy();
  }
}
