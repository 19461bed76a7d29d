// The buffer ledger: the one place GPU buffers are created and destroyed. It knows every live
// buffer by label and category, the live bytes and the peak, and tells subscribers when they
// change; the memory chart and the optimizer-state byte counts read it, so nothing in the engine
// estimates memory on the side.

import { GpuOutOfMemoryError, GpuValidationError } from './errors';

export type BufferCategory =
  | 'weights'
  | 'activations'
  | 'statistics'
  | 'optimizer'
  /** What an optimizer step allocates and frees again (the dense V and sketches of Adapprox, row sums). */
  | 'optimizer-transient'
  | 'gradients'
  | 'scratch'
  | 'uniform'
  | 'staging';

export interface LedgerEntry {
  id: number;
  label: string;
  category: BufferCategory;
  size: number;
}

export interface LedgerSnapshot {
  liveBytes: number;
  peakBytes: number;
  liveBuffers: number;
  byCategory: Partial<Record<BufferCategory, number>>;
}

export interface TrackedBuffer {
  readonly buffer: GPUBuffer;
  readonly entry: LedgerEntry;
  /** Frees the GPU memory and removes the entry; calling it twice is harmless. */
  destroy(): void;
}

export interface BufferRequest {
  label: string;
  category: BufferCategory;
  size: number;
  usage: GPUBufferUsageFlags;
  mappedAtCreation?: boolean;
}

export class BufferLedger {
  private readonly live = new Map<number, LedgerEntry>();
  private readonly listeners = new Set<(snapshot: LedgerSnapshot) => void>();
  private nextId = 1;
  private liveBytes = 0;
  private peakBytes = 0;
  /** Live and peak bytes per category, so one category's transient peak can be measured alone. */
  private readonly categoryLive = new Map<BufferCategory, number>();
  private readonly categoryPeak = new Map<BufferCategory, number>();

  /**
   * Set by the runtime while it holds encoded work not yet submitted: a buffer that work uses must
   * outlive the submit, so its destruction is handed over (return true) and run after it. The
   * entry stays live in the ledger until then, which is also when the memory is really freed.
   */
  deferDestroy: ((destroyNow: () => void) => boolean) | null = null;

  constructor(private readonly device: GPUDevice) {}

  /**
   * Creates a buffer inside an out-of-memory and a validation error scope, so an allocation the
   * GPU cannot back surfaces here, named, instead of as a later unrelated failure.
   */
  async create(request: BufferRequest): Promise<TrackedBuffer> {
    const buffer = this.allocate(request);
    // Both pops are issued before any await, so work interleaved at the await cannot push a scope
    // between them. Scopes pop in reverse order of pushing: validation was pushed last.
    const [validation, oom] = await Promise.all([this.device.popErrorScope(), this.device.popErrorScope()]);
    if (oom || validation) {
      buffer.destroy();
      this.release(buffer.entry);
      if (oom) throw new GpuOutOfMemoryError(request.label, request.size, this.liveBytes, oom.message);
      throw new GpuValidationError(
        `buffer "${request.label}" (${request.size} bytes)`,
        validation?.message ?? '',
      );
    }
    return buffer;
  }

  /** Creates the buffer with two error scopes pushed; the caller pops them. */
  private allocate(request: BufferRequest): TrackedBuffer {
    if (!Number.isFinite(request.size) || request.size < 0) {
      throw new GpuValidationError(`buffer "${request.label}"`, `size ${request.size} is not a byte count`);
    }
    // WebGPU requires mapped buffers to be a multiple of 4 bytes; zero-sized buffers are legal
    // but useless, so every buffer holds at least one word.
    const size = Math.max(4, Math.ceil(request.size / 4) * 4);
    this.device.pushErrorScope('out-of-memory');
    this.device.pushErrorScope('validation');
    const buffer = this.device.createBuffer({
      label: request.label,
      size,
      usage: request.usage,
      mappedAtCreation: request.mappedAtCreation ?? false,
    });
    const entry: LedgerEntry = { id: this.nextId++, label: request.label, category: request.category, size };
    this.live.set(entry.id, entry);
    this.liveBytes += size;
    this.peakBytes = Math.max(this.peakBytes, this.liveBytes);
    const inCategory = (this.categoryLive.get(request.category) ?? 0) + size;
    this.categoryLive.set(request.category, inCategory);
    this.categoryPeak.set(
      request.category,
      Math.max(this.categoryPeak.get(request.category) ?? 0, inCategory),
    );
    this.notify();
    let destroyed = false;
    return {
      buffer,
      entry,
      destroy: () => {
        if (destroyed) return;
        destroyed = true;
        const now = () => {
          buffer.destroy();
          this.release(entry);
        };
        if (!this.deferDestroy?.(now)) now();
      },
    };
  }

  /**
   * Creates a buffer without awaiting its error scopes (they are popped in the background and
   * reported through onError); for hot paths such as per-dispatch uniforms, where awaiting each
   * allocation would serialize the queue.
   */
  createFast(request: BufferRequest, onError: (error: Error) => void): TrackedBuffer {
    const tracked = this.allocate(request);
    void Promise.all([this.device.popErrorScope(), this.device.popErrorScope()]).then(([validation, oom]) => {
      if (oom) onError(new GpuOutOfMemoryError(request.label, request.size, this.liveBytes, oom.message));
      else if (validation) onError(new GpuValidationError(`buffer "${request.label}"`, validation.message));
    });
    return tracked;
  }

  snapshot(): LedgerSnapshot {
    const byCategory: Partial<Record<BufferCategory, number>> = {};
    for (const entry of this.live.values()) {
      byCategory[entry.category] = (byCategory[entry.category] ?? 0) + entry.size;
    }
    return { liveBytes: this.liveBytes, peakBytes: this.peakBytes, liveBuffers: this.live.size, byCategory };
  }

  /** Live entries, largest first. */
  entries(): LedgerEntry[] {
    return [...this.live.values()].sort((a, b) => b.size - a.size);
  }

  /** Bytes live in one category (for example the optimizer state). */
  bytesIn(category: BufferCategory): number {
    let total = 0;
    for (const entry of this.live.values()) if (entry.category === category) total += entry.size;
    return total;
  }

  /** The most bytes one category held at once since the last resetPeak() or resetPeakIn(category). */
  peakIn(category: BufferCategory): number {
    return this.categoryPeak.get(category) ?? 0;
  }

  /** Starts a new peak measurement of one category, leaving the overall peak alone. */
  resetPeakIn(category: BufferCategory): void {
    this.categoryPeak.set(category, this.categoryLive.get(category) ?? 0);
  }

  /** Starts a new peak measurement (overall and per category) from the current live bytes. */
  resetPeak(): void {
    this.peakBytes = this.liveBytes;
    for (const [category, bytes] of this.categoryLive) this.categoryPeak.set(category, bytes);
    this.notify();
  }

  subscribe(listener: (snapshot: LedgerSnapshot) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Forgets every entry without touching the GPU: the device they belonged to is gone. */
  forgetAll(): void {
    this.live.clear();
    this.liveBytes = 0;
    this.categoryLive.clear();
    this.notify();
  }

  private release(entry: LedgerEntry): void {
    if (!this.live.delete(entry.id)) return;
    this.liveBytes -= entry.size;
    this.categoryLive.set(entry.category, (this.categoryLive.get(entry.category) ?? 0) - entry.size);
    this.notify();
  }

  private notify(): void {
    if (this.listeners.size === 0) return;
    const snapshot = this.snapshot();
    for (const listener of this.listeners) listener(snapshot);
  }
}
