import { describe, expect, it } from 'vitest';
import type { GeneratedText } from '../../worker/api';
import { reducePlaygroundJob, startingPlaygroundJob } from './playgroundReducer';

const result = (text: string): GeneratedText => ({
  text,
  tokens: 2,
  promptTokens: 5,
  stopReason: 'max-tokens',
  prefillTokensPerSecond: 40,
  decodeTokensPerSecond: 6,
  weightBytes: 1000,
  compressed: null,
  cacheBytes: 100,
});

describe('the playground reducer', () => {
  it('fills each column in turn from its tokens, then takes the finished text and numbers', () => {
    let job = startingPlaygroundJob(['dense', 'run-1']);
    expect(job.columns.map((c) => c.status)).toEqual(['waiting', 'waiting']);
    job = reducePlaygroundJob(job, { type: 'model-started', model: 'dense' });
    job = reducePlaygroundJob(job, {
      type: 'token',
      model: 'dense',
      index: 0,
      text: ' Once',
      tokensPerSecond: 3,
    });
    job = reducePlaygroundJob(job, {
      type: 'token',
      model: 'dense',
      index: 1,
      text: ' upon',
      tokensPerSecond: 4,
    });
    expect(job.columns[0]).toMatchObject({
      status: 'running',
      text: ' Once upon',
      tokens: 2,
      tokensPerSecond: 4,
    });
    expect(job.columns[1]?.status).toBe('waiting');
    job = reducePlaygroundJob(job, { type: 'model-finished', model: 'dense', result: result(' Once upon') });
    job = reducePlaygroundJob(job, { type: 'model-started', model: 'run-1' });
    expect(job.columns.map((c) => c.status)).toEqual(['finished', 'running']);
    expect(job.columns[0]?.result?.decodeTokensPerSecond).toBe(6);
    job = reducePlaygroundJob(job, { type: 'finished' });
    expect(job.status).toBe('finished');
  });

  it('ends cancelled or failed with the error kept', () => {
    const start = startingPlaygroundJob(['dense']);
    expect(reducePlaygroundJob(start, { type: 'cancelled' }).status).toBe('cancelled');
    const failed = reducePlaygroundJob(start, { type: 'error', kind: 'range', message: 'm', advice: 'a' });
    expect(failed).toMatchObject({ status: 'failed', error: { kind: 'range', message: 'm', advice: 'a' } });
  });
});
