// The GPU runtime every kernel wrapper talks to: the device and its negotiated limits, the buffer
// ledger, a pipeline cache, dispatch that checks the workgroup-count and binding limits, and
// readback through reusable staging buffers.
//
// Dispatches are recorded into one pending command encoder and submitted together when the CPU
// next needs the GPU's results or changes its inputs (a read, a write, a sync), or when the batch
// grows large. A forward pass of a model is dozens of small kernels; one submit instead of one each
// removes most of the per-submit cost. Buffers destroyed while work that uses them is pending are
// freed after the submit (see BufferLedger.deferDestroy).
//
// WebGPU reports validation failures and device loss asynchronously; the runtime keeps the first
// such failure and rethrows it at the next point where the caller awaits (readback or sync), so
// an error is raised where someone is listening for it.

import { type AcquireOptions, acquireGpu, type CapabilityReport, type EngineLimits } from './device';
import {
  GpuDeviceLostError,
  type GpuError,
  GpuLimitError,
  GpuShaderError,
  GpuValidationError,
} from './errors';
import { type BufferCategory, BufferLedger, type TrackedBuffer } from './ledger';

/** A storage binding: a whole buffer, or a byte range of it. */
export type Binding = GPUBuffer | { buffer: GPUBuffer; offset: number; size: number };

export interface Dispatch {
  pipeline: GPUComputePipeline;
  /** Bound at @binding(0) as a uniform block, when the shader declares one. */
  uniforms?: ArrayBuffer;
  /** Bound in order from @binding(1) (or @binding(0) when there are no uniforms). */
  storage: Binding[];
  workgroups: readonly [number, number?, number?];
}

export interface KernelSource {
  /** Names the pipeline in errors and in the cache. */
  name: string;
  code: string;
  entryPoint?: string;
  constants?: Record<string, number>;
  /** Labels the pipeline, which names its time in a profile (startProfile); `name` when omitted. */
  label?: string;
}

/** Recorded dispatches that trigger a submit on their own, to bound the encoder's size. */
const MAX_PENDING_DISPATCHES = 512;
/** One shared uniform buffer's size: 64 blocks at the usual 256-byte offset alignment. */
const UNIFORM_CHUNK_BYTES = 16384;

/** Work recorded but not yet submitted. */
interface Pending {
  encoder: GPUCommandEncoder;
  dispatches: number;
  /** Destructions of buffers this work uses, run after the submit. */
  deferred: (() => void)[];
  /** The uniform buffers this work binds, mapped until the submit; `used` bytes of the last one. */
  uniforms: { tracked: TrackedBuffer; bytes: Uint8Array; used: number }[];
  /** The compute pass that dispatches are being recorded into, while one is open. */
  pass: GPUComputePassEncoder | null;
}

function endPass(pending: Pending): void {
  pending.pass?.end();
  pending.pass = null;
}

/**
 * What the runtime has asked of the GPU so far: the costs that decide speed on a real GPU, where a
 * read-back stalls the CPU until the queue drains and every submit and dispatch has a fixed price.
 * Jobs and the benchmark take a snapshot before a unit of work and subtract it after
 * (countersSince), so the numbers are per operator, per step or per run.
 */
export interface GpuCounters {
  /** GPU→CPU copies the caller waited for (read, readF32). */
  readbacks: number;
  /** Bytes those read-backs brought to the CPU. */
  bytesRead: number;
  /** Compute dispatches recorded (empty ones skipped). */
  dispatches: number;
  /** Command buffers handed to the queue (each flush of recorded work, and each read-back's copy). */
  submissions: number;
  /** CPU→GPU writes (writeBuffer) and the bytes they carried. */
  writes: number;
  bytesWritten: number;
}
// The timestamps of the profiler and of the GPU clock (startProfile, startGpuClock) are not counted:
// their resolve and copy ride in the work's own command buffers, and their reads are mapped in the
// background, never waited for on the caller's path.

export function zeroCounters(): GpuCounters {
  return { readbacks: 0, bytesRead: 0, dispatches: 0, submissions: 0, writes: 0, bytesWritten: 0 };
}

/** after − before, field by field. */
export function countersSince(after: GpuCounters, before: GpuCounters): GpuCounters {
  const out = zeroCounters();
  for (const key of Object.keys(out) as (keyof GpuCounters)[]) out[key] = after[key] - before[key];
  return out;
}

/** a + b, field by field (to total per-operator counts over a block or a run). */
export function addCounters(a: GpuCounters, b: GpuCounters): GpuCounters {
  const out = zeroCounters();
  for (const key of Object.keys(out) as (keyof GpuCounters)[]) out[key] = a[key] + b[key];
  return out;
}

export class GpuRuntime {
  readonly ledger: BufferLedger;
  private readonly modules = new Map<string, GPUShaderModule>();
  private readonly pipelines = new Map<string, Promise<GPUComputePipeline>>();
  private readonly staging: TrackedBuffer[] = [];
  private readonly lostListeners = new Set<(error: GpuDeviceLostError) => void>();
  private pendingError: GpuError | null = null;
  private pending: Pending | null = null;
  private readonly layouts = new WeakMap<GPUComputePipeline, GPUBindGroupLayout>();
  private lostError: GpuDeviceLostError | null = null;
  private destroying = false;
  /** Timestamps around every compute pass, while profiling or while the GPU clock runs. */
  private profiler: KernelProfiler | null = null;
  /** Holders of the GPU clock (startGpuClock − stopGpuClock). */
  private clockHolders = 0;
  private readonly counts: GpuCounters = zeroCounters();

  private constructor(
    readonly device: GPUDevice,
    readonly capability: CapabilityReport,
  ) {
    this.ledger = new BufferLedger(device);
    this.ledger.deferDestroy = (destroyNow) => {
      if (!this.pending) return false;
      this.pending.deferred.push(destroyNow);
      return true;
    };
    device.addEventListener('uncapturederror', (event) => {
      this.fail(new GpuValidationError('a GPU command', (event as GPUUncapturedErrorEvent).error.message));
    });
    void device.lost.then((info) => {
      if (this.destroying) return;
      this.lostError = new GpuDeviceLostError(info.reason ?? 'unknown', info.message);
      this.profiler?.abandon();
      this.ledger.forgetAll();
      for (const listener of this.lostListeners) listener(this.lostError);
    });
  }

  static async create(gpu: GPU | undefined, options: AcquireOptions = {}): Promise<GpuRuntime> {
    const { device, capability } = await acquireGpu(gpu, options);
    return new GpuRuntime(device, capability);
  }

  get limits(): EngineLimits {
    return this.capability.limits;
  }

  /** A copy of the running totals; subtract two with countersSince. */
  counters(): GpuCounters {
    return { ...this.counts };
  }

  get isLost(): boolean {
    return this.lostError !== null;
  }

  /** Called once if the device is lost; returns an unsubscribe function. */
  onLost(listener: (error: GpuDeviceLostError) => void): () => void {
    this.lostListeners.add(listener);
    return () => this.lostListeners.delete(listener);
  }

  /** Allocates a storage buffer through the ledger. */
  async createBuffer(
    label: string,
    category: BufferCategory,
    size: number,
    extraUsage = 0,
  ): Promise<TrackedBuffer> {
    this.throwIfLost();
    return this.ledger.create({
      label,
      category,
      size,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST | extraUsage,
    });
  }

  /** Allocates a storage buffer and fills it with data. */
  async upload(
    label: string,
    category: BufferCategory,
    data: Float32Array | Uint32Array,
  ): Promise<TrackedBuffer> {
    const tracked = await this.createBuffer(label, category, data.byteLength);
    this.write(tracked.buffer, data);
    return tracked;
  }

  write(buffer: GPUBuffer, data: Float32Array | Uint32Array, byteOffset = 0): void {
    this.throwIfLost();
    // writeBuffer takes effect on the queue at once, ahead of work still being recorded.
    this.flush();
    // writeBuffer needs a multiple of 4 bytes, which f32/u32 data always is.
    this.device.queue.writeBuffer(buffer, byteOffset, data.buffer, data.byteOffset, data.byteLength);
    this.counts.writes++;
    this.counts.bytesWritten += data.byteLength;
  }

  /** Compiles (once) and returns the pipeline for a kernel with the given override constants. */
  pipeline(source: KernelSource): Promise<GPUComputePipeline> {
    this.throwIfLost();
    const entryPoint = source.entryPoint ?? 'main';
    const key = `${source.name}:${entryPoint}:${JSON.stringify(source.constants ?? {})}`;
    let pipeline = this.pipelines.get(key);
    if (!pipeline) {
      pipeline = this.compile(source, entryPoint);
      this.pipelines.set(key, pipeline);
      // A failed compile must not poison the cache for a retry after a fix or a new device.
      pipeline.catch(() => this.pipelines.delete(key));
    }
    return pipeline;
  }

  private async compile(source: KernelSource, entryPoint: string): Promise<GPUComputePipeline> {
    let module = this.modules.get(source.name);
    if (!module) {
      module = this.device.createShaderModule({ label: source.name, code: source.code });
      this.modules.set(source.name, module);
    }
    try {
      return await this.device.createComputePipelineAsync({
        label: source.label ?? source.name,
        layout: 'auto',
        compute: { module, entryPoint, constants: source.constants ?? {} },
      });
    } catch (error) {
      const info = await module.getCompilationInfo();
      const messages = info.messages
        .filter((m) => m.type === 'error')
        .map((m) => `  ${source.name}:${m.lineNum}:${m.linePos} ${m.message}`)
        .join('\n');
      throw new GpuShaderError(source.name, messages || String(error));
    }
  }

  /** Records the dispatches, in order, into the pending command encoder. */
  submit(dispatches: readonly Dispatch[]): void {
    this.throwIfLost();
    // Every dispatch is checked before any is recorded, so a refused batch leaves nothing behind.
    for (const dispatch of dispatches) this.checkDispatch(dispatch);
    const pending = this.openPending();
    const label = dispatches[0]?.pipeline.label ?? '';
    // A profile times each call's dispatches in a pass of their own; otherwise consecutive calls
    // share one pass (a pass costs the host about as much as a dispatch), ended before a copy or
    // the submit.
    let pass: GPUComputePassEncoder;
    if (this.profiler) {
      pass = pending.encoder.beginComputePass({ timestampWrites: this.profiler.next(label) });
    } else {
      pending.pass ??= pending.encoder.beginComputePass();
      pass = pending.pass;
    }
    for (const dispatch of dispatches) {
      const [x, y = 1, z = 1] = dispatch.workgroups;
      if (x === 0 || y === 0 || z === 0) continue;
      const entries: GPUBindGroupEntry[] = [];
      if (dispatch.uniforms)
        entries.push({ binding: 0, resource: this.uniformSlot(pending, dispatch.uniforms) });
      for (const binding of dispatch.storage) {
        entries.push({
          binding: entries.length,
          resource: 'offset' in binding ? binding : { buffer: binding },
        });
      }
      const bindGroup = this.device.createBindGroup({ layout: this.layoutOf(dispatch.pipeline), entries });
      pass.setPipeline(dispatch.pipeline);
      pass.setBindGroup(0, bindGroup);
      pass.dispatchWorkgroups(x, y, z);
      pending.dispatches++;
      this.counts.dispatches++;
    }
    if (this.profiler) pass.end();
    if (pending.dispatches >= MAX_PENDING_DISPATCHES || this.profiler?.full) this.flush();
  }

  /**
   * A dispatch's uniform block, placed in the pending batch's shared uniform buffer (a new one when
   * the last is full). One buffer per UNIFORM_CHUNK_BYTES of blocks instead of one per dispatch:
   * creating a buffer costs far more than a dispatch on a GPU. The buffers stay mapped while work
   * is recorded and are unmapped and freed at the submit (flush).
   */
  private uniformSlot(pending: Pending, block: ArrayBuffer): GPUBufferBinding {
    const align = this.limits.minUniformBufferOffsetAlignment;
    const size = block.byteLength;
    let chunk = pending.uniforms.at(-1);
    let offset = chunk ? Math.ceil(chunk.used / align) * align : 0;
    if (!chunk || offset + size > chunk.bytes.byteLength) {
      const tracked = this.ledger.createFast(
        {
          label: 'uniform blocks',
          category: 'uniform',
          size: Math.max(UNIFORM_CHUNK_BYTES, size),
          usage: GPUBufferUsage.UNIFORM,
          mappedAtCreation: true,
        },
        (error) => this.fail(error as GpuError),
      );
      chunk = { tracked, bytes: new Uint8Array(tracked.buffer.getMappedRange()), used: 0 };
      pending.uniforms.push(chunk);
      offset = 0;
    }
    chunk.bytes.set(new Uint8Array(block), offset);
    chunk.used = offset + size;
    return { buffer: chunk.tracked.buffer, offset, size };
  }

  /** A pipeline's bind group layout, asked of the pipeline once (each call makes a new object). */
  private layoutOf(pipeline: GPUComputePipeline): GPUBindGroupLayout {
    let layout = this.layouts.get(pipeline);
    if (!layout) {
      layout = pipeline.getBindGroupLayout(0);
      this.layouts.set(pipeline, layout);
    }
    return layout;
  }

  /** Records a buffer-to-buffer copy after the work recorded so far (offsets and length in bytes, multiples of 4). */
  copy(src: GPUBuffer, dst: GPUBuffer, byteLength: number, srcOffset = 0, dstOffset = 0): void {
    this.throwIfLost();
    if (
      byteLength % 4 ||
      srcOffset % 4 ||
      dstOffset % 4 ||
      srcOffset + byteLength > src.size ||
      dstOffset + byteLength > dst.size
    ) {
      throw new RangeError(
        `copy of ${byteLength} bytes from "${src.label}"@${srcOffset} to "${dst.label}"@${dstOffset} is out of range or unaligned`,
      );
    }
    if (byteLength === 0) return;
    const pending = this.openPending();
    endPass(pending);
    pending.encoder.copyBufferToBuffer(src, srcOffset, dst, dstOffset, byteLength);
  }

  /**
   * Starts timing every recorded kernel call on the GPU's own clock (timestamp queries around each
   * compute pass), for benchmarks. Returns false where the adapter has no timestamp-query.
   */
  startProfile(): boolean {
    if (!this.capability.features['timestamp-query']) return false;
    this.flush();
    this.profiler ??= new KernelProfiler(this.device, this.ledger);
    this.profiler.profiling = true;
    return true;
  }

  /** Stops timing and returns the GPU nanoseconds spent per kernel (pipeline label). */
  async stopProfile(): Promise<Map<string, number>> {
    const profiler = this.profiler;
    if (!profiler?.profiling) return new Map();
    this.flush();
    profiler.profiling = false;
    this.releaseTimestamps();
    return profiler.takeTotals();
  }

  /**
   * Starts the GPU clock, a running total of the GPU time of every compute pass on the GPU's own
   * clock (timestamp queries), for jobs that report GPU time per unit of work (see gpuClock). Each
   * call that returns true holds the clock until its stopGpuClock; false where the adapter has no
   * timestamp-query. Timing every pass costs a resolve and a background read per submit.
   */
  startGpuClock(): boolean {
    if (!this.capability.features['timestamp-query']) return false;
    if (!this.profiler) {
      this.flush();
      this.profiler = new KernelProfiler(this.device, this.ledger);
    }
    this.clockHolders++;
    return true;
  }

  stopGpuClock(): void {
    if (this.clockHolders === 0) return;
    this.clockHolders--;
    this.releaseTimestamps();
  }

  /**
   * The GPU clock's reading at this point of the recorded work: GPU nanoseconds of the compute
   * passes recorded since the clock started. Taking it neither submits nor waits; it resolves once
   * those passes are submitted (at the next read, write, sync or flush), run, and their timestamps
   * read in the background. NaN if the device is lost first; null while the clock is not running.
   */
  gpuClock(): Promise<number> | null {
    return this.clockHolders > 0 && this.profiler ? this.profiler.mark() : null;
  }

  /** Drops the timestamps once neither the profile nor the clock needs them. */
  private releaseTimestamps(): void {
    const profiler = this.profiler;
    if (!profiler || profiler.profiling || this.clockHolders > 0) return;
    this.flush();
    this.profiler = null;
    void profiler.finish();
  }

  /** Submits the recorded work, if any. */
  flush(): void {
    const pending = this.pending;
    if (!pending) return;
    this.pending = null;
    if (this.lostError) return;
    endPass(pending);
    // The uniform blocks were written in place; a buffer must be unmapped before a submit uses it.
    for (const chunk of pending.uniforms) chunk.tracked.buffer.unmap();
    this.profiler?.resolve(pending.encoder);
    this.device.queue.submit([pending.encoder.finish()]);
    this.counts.submissions++;
    this.profiler?.collect();
    void this.device.popErrorScope().then((error) => {
      if (error) this.fail(new GpuValidationError('a compute dispatch', error.message));
    });
    // Destroying after submit is allowed: the implementation keeps the memory until the work that
    // uses it has finished.
    for (const destroyNow of pending.deferred) destroyNow();
    for (const chunk of pending.uniforms) chunk.tracked.destroy();
  }

  /** The encoder that work is being recorded into, opened (with its validation scope) on first use. */
  private openPending(): NonNullable<typeof this.pending> {
    if (!this.pending) {
      this.device.pushErrorScope('validation');
      this.pending = {
        encoder: this.device.createCommandEncoder(),
        dispatches: 0,
        deferred: [],
        uniforms: [],
        pass: null,
      };
    }
    return this.pending;
  }

  private checkDispatch(dispatch: Dispatch): void {
    const maxGroups = this.limits.maxComputeWorkgroupsPerDimension;
    const [x, y = 1, z = 1] = dispatch.workgroups;
    if (x > maxGroups || y > maxGroups || z > maxGroups) {
      throw new GpuLimitError(
        `Dispatch ${dispatch.pipeline.label} of ${x}×${y}×${z} workgroups exceeds ` +
          `maxComputeWorkgroupsPerDimension = ${maxGroups}.`,
      );
    }
    // The planners tile every kernel to the engine's limit, which tests set far below the
    // device's; a binding above it is a planner bug that the device itself would not catch.
    const maxBinding = this.limits.maxStorageBufferBindingSize;
    for (const binding of dispatch.storage) {
      if (binding.size > maxBinding) {
        const label = 'offset' in binding ? binding.buffer.label : binding.label;
        throw new GpuLimitError(
          `Dispatch ${dispatch.pipeline.label} binds ${binding.size} bytes of "${label}", ` +
            `above maxStorageBufferBindingSize = ${maxBinding}.`,
        );
      }
    }
  }

  /** Copies a byte range of a buffer to the CPU. Waits for all submitted work. */
  async read(buffer: GPUBuffer, byteOffset = 0, byteLength = buffer.size - byteOffset): Promise<ArrayBuffer> {
    this.throwIfLost();
    const staging = await this.takeStaging(byteLength);
    try {
      this.flush();
      const encoder = this.device.createCommandEncoder();
      encoder.copyBufferToBuffer(buffer, byteOffset, staging.buffer, 0, byteLength);
      this.device.queue.submit([encoder.finish()]);
      this.counts.submissions++;
      this.counts.readbacks++;
      this.counts.bytesRead += byteLength;
      try {
        await staging.buffer.mapAsync(GPUMapMode.READ, 0, byteLength);
      } catch (error) {
        this.throwIfLost();
        throw new GpuValidationError(`reading back "${buffer.label}"`, String(error));
      }
      const copy = staging.buffer.getMappedRange(0, byteLength).slice(0);
      staging.buffer.unmap();
      this.throwPending();
      return copy;
    } finally {
      if (!this.isLost) this.staging.push(staging);
    }
  }

  async readF32(buffer: GPUBuffer, byteOffset = 0, byteLength?: number): Promise<Float32Array> {
    return new Float32Array(await this.read(buffer, byteOffset, byteLength));
  }

  /** Waits until the queue is idle, then raises any error reported meanwhile. */
  async sync(): Promise<void> {
    this.throwIfLost();
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    this.throwIfLost();
    this.throwPending();
  }

  /** Frees everything and the device itself. */
  destroy(): void {
    this.destroying = true;
    this.flush();
    for (const s of this.staging) s.destroy();
    this.staging.length = 0;
    this.device.destroy();
    this.ledger.forgetAll();
  }

  private async takeStaging(byteLength: number): Promise<TrackedBuffer> {
    // Size classes of powers of two keep the pool small while letting most reads reuse a buffer.
    const size = 2 ** Math.ceil(Math.log2(Math.max(byteLength, 256)));
    const index = this.staging.findIndex((s) => s.entry.size === size);
    if (index >= 0) return this.staging.splice(index, 1)[0] as TrackedBuffer;
    return this.ledger.create({
      label: `staging ${size}`,
      category: 'staging',
      size,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
  }

  private fail(error: GpuError): void {
    this.pendingError ??= error;
  }

  private throwPending(): void {
    const error = this.pendingError;
    if (error) {
      this.pendingError = null;
      throw error;
    }
  }

  private throwIfLost(): void {
    if (this.lostError) throw this.lostError;
  }
}

/**
 * Timestamp queries around each compute pass (one pass per kernel call), resolved at every flush
 * and read back in the background, in submission order. Implementations may quantise or clamp
 * timestamps; the totals are what the GPU's clock says, not wall time. Two readers: the profile
 * (GPU time per kernel label, of the batches submitted while `profiling`) and the GPU clock (the
 * running total over every pass, read at marks).
 */
class KernelProfiler {
  private static readonly CAPACITY = 512;
  private readonly querySet: GPUQuerySet;
  private readonly labels: string[] = [];
  private reads: Promise<void> = Promise.resolve();
  private readonly totals = new Map<string, number>();
  private resolved: {
    buffers: [resolve: TrackedBuffer, read: TrackedBuffer];
    labels: string[];
    profiled: boolean;
  } | null = null;
  /** Whether the batches resolved now count towards the per-label totals. */
  profiling = false;
  // The clock: passes recorded, passes whose times have been read and their GPU ns, and the marks
  // (in recording order) waiting for the passes before them.
  private recorded = 0;
  private timed = 0;
  private ns = 0;
  private readonly marks: { pass: number; resolve: (ns: number) => void }[] = [];
  private abandoned = false;
  private finished = false;

  constructor(
    device: GPUDevice,
    private readonly ledger: BufferLedger,
  ) {
    this.querySet = device.createQuerySet({ type: 'timestamp', count: 2 * KernelProfiler.CAPACITY });
  }

  get full(): boolean {
    return this.labels.length >= KernelProfiler.CAPACITY;
  }

  next(label: string): GPUComputePassTimestampWrites {
    this.recorded++;
    const index = this.labels.push(label) - 1;
    return {
      querySet: this.querySet,
      beginningOfPassWriteIndex: 2 * index,
      endOfPassWriteIndex: 2 * index + 1,
    };
  }

  resolve(encoder: GPUCommandEncoder): void {
    if (this.labels.length === 0) return;
    const bytes = 16 * this.labels.length;
    const staging = (label: string, usage: number) =>
      this.ledger.createFast({ label, category: 'staging', size: bytes, usage }, () => {});
    const resolveBuffer = staging('timestamps', GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC);
    const readBuffer = staging('timestamps read', GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
    encoder.resolveQuerySet(this.querySet, 0, 2 * this.labels.length, resolveBuffer.buffer, 0);
    encoder.copyBufferToBuffer(resolveBuffer.buffer, 0, readBuffer.buffer, 0, bytes);
    this.resolved = {
      buffers: [resolveBuffer, readBuffer],
      labels: this.labels.splice(0),
      profiled: this.profiling,
    };
  }

  collect(): void {
    const resolved = this.resolved;
    if (!resolved) return;
    this.resolved = null;
    const [resolveBuffer, readBuffer] = resolved.buffers;
    const mapped = readBuffer.buffer.mapAsync(GPUMapMode.READ);
    // Once mapped, the copy out of the resolve buffer is done: both can go.
    const free = () => {
      resolveBuffer.destroy();
      readBuffer.destroy();
    };
    // Chained, so the clock's passes are added in the order they were recorded.
    this.reads = Promise.all([this.reads, mapped]).then(
      () => {
        const stamps = new BigUint64Array(readBuffer.buffer.getMappedRange());
        for (const [i, label] of resolved.labels.entries()) {
          const ns = Math.max(0, Number((stamps[2 * i + 1] as bigint) - (stamps[2 * i] as bigint)));
          if (resolved.profiled) this.totals.set(label, (this.totals.get(label) ?? 0) + ns);
          this.ns += ns;
          this.timed++;
          while (this.marks[0]?.pass === this.timed) this.marks.shift()?.resolve(this.ns);
        }
        free();
      },
      () => {
        free();
        this.abandon();
      },
    );
    this.reads = this.reads.catch(() => this.abandon());
  }

  /** The running total at the passes recorded so far, once they have been read. */
  mark(): Promise<number> {
    if (this.abandoned) return Promise.resolve(Number.NaN);
    if (this.timed === this.recorded) return Promise.resolve(this.ns);
    return new Promise((resolve) => this.marks.push({ pass: this.recorded, resolve }));
  }

  /** The device is gone: no further timestamps will arrive. */
  abandon(): void {
    this.abandoned = true;
    for (const m of this.marks.splice(0)) m.resolve(Number.NaN);
  }

  /** The per-label totals of the profile, once its batches are read; they start again from zero. */
  async takeTotals(): Promise<Map<string, number>> {
    await this.reads;
    const totals = new Map(this.totals);
    this.totals.clear();
    return totals;
  }

  async finish(): Promise<void> {
    await this.reads;
    if (this.finished) return;
    this.finished = true;
    this.abandon();
    this.querySet.destroy();
  }
}
