// What every arm of a training run has reported so far, as its host keeps it: each step's event,
// the validations and a stop. The CLI prints and records its series from it; the studio summarises a
// run that failed at the step its kept weights are from (a run that ends has the engine's summary).
// After a lost device the run continues from its last checkpoint and reports the steps after it
// again, so the record is rewound to that step first: the curves hold each step once.

import type { WorkCounters } from '../gpu/meter';
import type { ArmSummary, TrainEvent, TrainOptions, TrainSummary } from '../train/job';

type StepEvent = Extract<TrainEvent, { type: 'step' }>;

interface ArmRecord {
  label: string;
  optimizer: string;
  steps: StepEvent[];
  validation: [step: number, loss: number][];
  stopped?: { step: number; message: string };
}

/** One arm's series as the CLI's --json prints them. */
export interface ArmSeries {
  loss: number[];
  validation: [number, number][];
  /** Adapprox: the rank of every factored matrix, per step. */
  ranks: number[][];
  counters: WorkCounters[];
  optimizerCounters: WorkCounters[];
}

export class TrainRecord {
  private readonly arms = new Map<string, ArmRecord>();

  observe(e: TrainEvent): void {
    if (e.type === 'started') {
      for (const a of e.arms)
        this.arms.set(a.id, { label: a.label, optimizer: a.optimizer, steps: [], validation: [] });
      return;
    }
    if (e.type === 'checkpoint') return;
    const a = this.arms.get(e.arm);
    if (!a) return;
    if (e.type === 'step') a.steps.push(e);
    else if (e.type === 'validation') a.validation.push([e.step, e.loss]);
    else a.stopped = { step: e.step, message: e.message };
  }

  /** Forgets what was reported after `step` (the checkpoint a continued run starts from). */
  rewind(step: number): void {
    for (const a of this.arms.values()) {
      a.steps = a.steps.filter((s) => s.step <= step);
      a.validation = a.validation.filter(([s]) => s <= step);
      if (a.stopped && a.stopped.step > step) a.stopped = undefined;
    }
  }

  /** The last step any arm reported. */
  get lastStep(): number {
    return Math.max(0, ...[...this.arms.values()].map((a) => a.steps.at(-1)?.step ?? 0));
  }

  series(): Record<string, ArmSeries> {
    const out: Record<string, ArmSeries> = {};
    for (const [id, a] of this.arms)
      out[id] = {
        loss: a.steps.map((s) => s.loss),
        validation: a.validation,
        ranks: a.steps.flatMap((s) => (s.ranks ? [s.ranks.map((r) => r.rank)] : [])),
        counters: a.steps.map((s) => s.counters),
        optimizerCounters: a.steps.map((s) => s.optimizerCounters),
      };
    return out;
  }

  /** The training and validation curves, [step, loss] each (run/build.ts trainOutcome takes them). */
  curves(): { id: string; train: [number, number][]; validation: [number, number][] }[] {
    return [...this.arms].map(([id, a]) => ({
      id,
      train: a.steps.map((s): [number, number] => [s.step, s.loss]),
      validation: a.validation,
    }));
  }

  /**
   * The arms as of `step` (the kept weights' step): losses there, state and timings as reported up
   * to it. The engine's summary knows only 'finished' and 'cancelled'; a failed run says 'failed'.
   */
  summaryAt(step: number, options: TrainOptions): TrainSummary {
    const arms: ArmSummary[] = options.arms.map((spec) => {
      const a = this.arms.get(spec.id);
      const steps = a?.steps.filter((s) => s.step <= step) ?? [];
      const last = steps.at(-1);
      const mean = (f: (s: StepEvent) => number) =>
        steps.length ? steps.reduce((sum, s) => sum + f(s), 0) / steps.length : 0;
      return {
        id: spec.id,
        label: spec.label,
        optimizer: a?.optimizer ?? spec.optimizer.kind,
        lr: spec.lr,
        steps: last?.step ?? 0,
        finalTrainLoss: last?.loss ?? null,
        finalValidationLoss: a?.validation.find(([s]) => s === step)?.[1] ?? null,
        state: last?.state ?? { persistent: 0, transient: 0 },
        modelMs: mean((s) => s.modelMs),
        optimizerMs: mean((s) => s.optimizerMs),
        ...(a?.stopped && a.stopped.step <= step ? { stopped: a.stopped.message } : {}),
      };
    });
    return { status: 'cancelled', arms, ms: 0 };
  }
}
