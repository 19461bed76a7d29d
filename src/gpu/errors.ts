// Typed GPU failures. WebGPU reports most problems asynchronously through error scopes and the
// `device.lost` promise; the engine turns each into one of these so that the UI can say what
// happened and what to do, and so that callers can tell a recoverable failure (out of memory,
// lost device) from a bug (validation).

export type GpuErrorKind =
  | 'unavailable'
  | 'out-of-memory'
  | 'validation'
  | 'shader'
  | 'device-lost'
  | 'limit';

export class GpuError extends Error {
  readonly kind: GpuErrorKind;
  /** What a person can do about it, one sentence. */
  readonly advice: string;

  constructor(kind: GpuErrorKind, message: string, advice: string) {
    super(message);
    this.name = 'GpuError';
    this.kind = kind;
    this.advice = advice;
  }
}

export class GpuUnavailableError extends GpuError {
  constructor(message: string, advice: string) {
    super('unavailable', message, advice);
    this.name = 'GpuUnavailableError';
  }
}

export class GpuOutOfMemoryError extends GpuError {
  readonly requestedBytes: number;
  constructor(label: string, requestedBytes: number, liveBytes: number, detail: string) {
    super(
      'out-of-memory',
      `GPU out of memory while allocating "${label}" (${formatBytes(requestedBytes)}; ` +
        `${formatBytes(liveBytes)} already live): ${detail}`,
      'Close other GPU-heavy tabs or programs, or choose a smaller batch, chunk or model.',
    );
    this.name = 'GpuOutOfMemoryError';
    this.requestedBytes = requestedBytes;
  }
}

export class GpuValidationError extends GpuError {
  constructor(what: string, detail: string) {
    super(
      'validation',
      `WebGPU rejected ${what}: ${detail}`,
      'This is a bug in Compression Studio; please report it with the capability report.',
    );
    this.name = 'GpuValidationError';
  }
}

export class GpuShaderError extends GpuError {
  constructor(shader: string, messages: string) {
    super(
      'shader',
      `Shader "${shader}" failed to compile:\n${messages}`,
      'This is a bug in Compression Studio; please report it with the capability report.',
    );
    this.name = 'GpuShaderError';
  }
}

export class GpuDeviceLostError extends GpuError {
  readonly reason: string;
  constructor(reason: string, detail: string) {
    super(
      'device-lost',
      `The GPU device was lost (${reason}${detail ? `: ${detail}` : ''}).`,
      'Work up to the last checkpoint is kept; reacquire the GPU and resume.',
    );
    this.name = 'GpuDeviceLostError';
    this.reason = reason;
  }
}

export class GpuLimitError extends GpuError {
  constructor(message: string) {
    super('limit', message, 'Split the work into smaller pieces, or use a GPU with larger limits.');
    this.name = 'GpuLimitError';
  }
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}
