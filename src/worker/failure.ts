// Turns anything thrown inside the engine into a value that survives structured cloning with its
// kind and advice intact (the jobs layer's toFailure), as the event that ends a kernel check.

import { toFailure } from '../jobs/failure';
import type { KernelCheckOutcome } from './api';

export { toFailure };

export function errorEvent(error: unknown): Extract<KernelCheckOutcome, { type: 'error' }> {
  const { kind, message, advice } = toFailure(error);
  return { type: 'error', kind, message, advice };
}
