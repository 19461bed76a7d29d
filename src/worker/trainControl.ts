// What the page can do to a training run while it runs, besides cancelling it: hold it between steps
// and let it go on, and ask for the second-moment spectrum of one Adapprox matrix at the arm's next
// step. The engine's job keeps one inspection request and answers it only when the arm reaches that
// matrix; this makes sure every request gets an answer even when that never happens (the run ends,
// the arm stops on a NaN, a newer request replaces it).

import type { SecondMomentSpectrum, TrainEvent } from '../train/job';
import type { SpectrumResult } from './api';

/** The part of TrainingJob this needs (a fake in tests). */
export interface InspectableJob {
  inspectSecondMoment(arm: string, matrix: string): Promise<SecondMomentSpectrum>;
}

const INSPECT_ADVICE =
  'Ask again while the run is running or paused: the spectrum is taken at the arm’s next step.';

export class TrainControl {
  private paused = false;
  private resume: (() => void) | null = null;
  private job: InspectableJob | null = null;
  /** Per Adapprox arm, the matrices it factors (known from its first step's ranks). */
  private readonly factored = new Map<string, Set<string>>();
  private readonly stopped = new Set<string>();
  private pending: { id: number; arm: string; matrix: string; answer: (r: SpectrumResult) => void } | null =
    null;
  private requests = 0;
  private closed: string | null = null;

  setPaused(paused: boolean): void {
    this.paused = paused;
    if (!paused) {
      this.resume?.();
      this.resume = null;
    }
  }

  /**
   * The pause hook TrainingJob.run awaits between steps: at once while not paused, otherwise when
   * the page resumes or the run is cancelled (run() checks the signal right after). onPause is
   * told when a pause takes hold and when the run goes on.
   */
  gate(signal: AbortSignal, onPause: (paused: boolean) => void): () => Promise<void> {
    return async () => {
      if (!this.paused || signal.aborted) return;
      onPause(true);
      await new Promise<void>((resolve) => {
        const done = () => {
          signal.removeEventListener('abort', done);
          this.resume = null;
          resolve();
        };
        this.resume = done;
        signal.addEventListener('abort', done, { once: true });
      });
      if (!signal.aborted) onPause(false);
    };
  }

  attach(job: InspectableJob): void {
    this.job = job;
  }

  /** Learns the factored matrices from step events, and drops requests an arm can no longer answer. */
  observe(event: TrainEvent): void {
    if (event.type === 'step' && event.ranks && !this.factored.has(event.arm)) {
      this.factored.set(event.arm, new Set(event.ranks.map((r) => r.name)));
    } else if (event.type === 'arm-stopped') {
      this.stopped.add(event.arm);
      if (this.pending?.arm === event.arm)
        this.settle(failure(`Arm ${event.arm} stopped (${event.message}), so it takes no next step.`));
    }
  }

  inspect(arm: string, matrix: string): Promise<SpectrumResult> {
    if (this.closed !== null || !this.job)
      return Promise.resolve(failure(this.closed ?? 'No run has started yet.'));
    const names = this.factored.get(arm);
    if (this.stopped.has(arm))
      return Promise.resolve(failure(`Arm ${arm} has stopped; it takes no next step.`));
    if (!names) {
      return Promise.resolve(
        failure(
          `Arm ${arm} has not reported a step with ranks yet: either it is not an Adapprox arm of this run, or its first step is still running.`,
        ),
      );
    }
    if (!names.has(matrix)) {
      return Promise.resolve(
        failure(
          `${matrix} is not a factored matrix of arm ${arm} (vectors and matrices with a side under 8 keep a dense V); choose one of ${[...names].join(', ')}.`,
        ),
      );
    }
    this.settle(failure('A newer inspection request replaced this one.'));
    const id = ++this.requests;
    return new Promise<SpectrumResult>((answer) => {
      this.pending = { id, arm, matrix, answer };
      (this.job as InspectableJob).inspectSecondMoment(arm, matrix).then(
        (spectrum) => {
          if (this.pending?.id === id) this.settle({ ok: true, spectrum });
        },
        (error: unknown) => {
          if (this.pending?.id === id)
            this.settle(failure(error instanceof Error ? error.message : String(error)));
        },
      );
    });
  }

  /** The run is over: later requests, and one still waiting, are answered with why. */
  close(reason: string): void {
    this.closed = reason;
    this.job = null;
    this.settle(failure(reason));
  }

  private settle(result: SpectrumResult): void {
    const p = this.pending;
    this.pending = null;
    p?.answer(result);
  }
}

function failure(message: string): SpectrumResult {
  return { ok: false, kind: 'range', message, advice: INSPECT_ADVICE };
}
