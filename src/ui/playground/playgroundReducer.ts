// The playground's job as the page sees it: one column per model, filled token by token from the
// worker's events, with each model's numbers once it finishes.

import type { GeneratedText, GenerateJobEvent } from '../../worker/api';
import type { JobError } from '../shell/jobState';

export interface Column {
  model: string;
  status: 'waiting' | 'running' | 'finished';
  text: string;
  tokens: number;
  tokensPerSecond: number | null;
  result: GeneratedText | null;
}

export interface PlaygroundJob {
  status: 'idle' | 'running' | 'finished' | 'cancelled' | 'failed';
  columns: Column[];
  cancelRequested: boolean;
  error: JobError | null;
}

export const initialPlaygroundJob: PlaygroundJob = {
  status: 'idle',
  columns: [],
  cancelRequested: false,
  error: null,
};

/** A job about to start: every chosen model waits in its column, in the order they will run. */
export function startingPlaygroundJob(models: string[]): PlaygroundJob {
  return {
    status: 'running',
    columns: models.map((model) => ({
      model,
      status: 'waiting',
      text: '',
      tokens: 0,
      tokensPerSecond: null,
      result: null,
    })),
    cancelRequested: false,
    error: null,
  };
}

function updateColumn(job: PlaygroundJob, model: string, change: (c: Column) => Column): PlaygroundJob {
  return { ...job, columns: job.columns.map((c) => (c.model === model ? change(c) : c)) };
}

export function reducePlaygroundJob(job: PlaygroundJob, event: GenerateJobEvent): PlaygroundJob {
  switch (event.type) {
    case 'model-started':
      return updateColumn(job, event.model, (c) => ({ ...c, status: 'running' }));
    case 'token':
      return updateColumn(job, event.model, (c) => ({
        ...c,
        text: c.text + event.text,
        tokens: event.index + 1,
        tokensPerSecond: event.tokensPerSecond,
      }));
    case 'model-finished':
      return updateColumn(job, event.model, (c) => ({
        ...c,
        status: 'finished',
        text: event.result.text,
        tokens: event.result.tokens,
        result: event.result,
      }));
    case 'finished':
      return { ...job, status: 'finished' };
    case 'cancelled':
      return { ...job, status: 'cancelled' };
    case 'error':
      return {
        ...job,
        status: 'failed',
        error: { kind: event.kind, message: event.message, advice: event.advice },
      };
    case 'memory':
      return job;
  }
}
