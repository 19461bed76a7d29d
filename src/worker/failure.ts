// Turns anything thrown inside the engine into a value that survives structured cloning with its
// kind and advice intact; only GpuError knows what a person can do, anything else is our bug.

import { GpuError } from '../gpu/errors';
import type { EngineFailure, KernelCheckOutcome } from './api';

const BUG_ADVICE = 'This is a bug in Compression Studio; please report it with the capability report.';

export function toFailure(error: unknown): EngineFailure {
  if (error instanceof GpuError) {
    return { ok: false, kind: error.kind, message: error.message, advice: error.advice };
  }
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return { ok: false, kind: 'internal', message, advice: BUG_ADVICE };
}

export function errorEvent(error: unknown): Extract<KernelCheckOutcome, { type: 'error' }> {
  const { kind, message, advice } = toFailure(error);
  return { type: 'error', kind, message, advice };
}
