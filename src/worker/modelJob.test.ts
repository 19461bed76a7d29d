import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuRuntime } from '../gpu/runtime';
import { createNodeRuntime } from '../host/nodeGpu';
import { type LoadedModel, runModelLoad } from '../jobs/load';
import { modelFailure } from '../jobs/loadFailure';
import type { EvalEvent, ModelLoadEvent } from './api';
import { fetchEvalText, runEvaluation } from './evalJob';
import { type InspectedModel, inspectModel } from './modelJob';

// The jobs the worker runs for models, on Dawn in Node, with the site served by a fake fetch from
// public/: the event protocol the UI relies on, checked without a browser.

const SITE = 'http://studio.test/';
const publicFile = (path: string) => readFileSync(new URL(`../../public/${path}`, import.meta.url));

interface FakeSite {
  fetch: typeof fetch;
  requests: string[];
}

/**
 * A static host over public/: range requests answered with 206, missing files with 404 — or, with
 * spa set, with index.html and 200, as Vite's dev server and many single-page hosts do.
 */
function fakeSite({ spa = false } = {}): FakeSite {
  const requests: string[] = [];
  const fetchFn = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(String(input));
    requests.push(url.pathname);
    let body: Buffer;
    try {
      body = publicFile(url.pathname.slice(1));
    } catch {
      if (spa)
        return new Response('<!doctype html><title>studio</title>', {
          headers: { 'Content-Type': 'text/html' },
        });
      return new Response('not found', { status: 404, statusText: 'Not Found' });
    }
    const range = /bytes=(\d+)-(\d+)/.exec(new Headers(init?.headers).get('Range') ?? '');
    if (range) {
      const start = Number(range[1]);
      const end = Math.min(Number(range[2]), body.length - 1);
      return new Response(new Uint8Array(body.subarray(start, end + 1)), {
        status: 206,
        headers: {
          'Content-Range': `bytes ${start}-${end}/${body.length}`,
          'Content-Type': 'application/octet-stream',
        },
      });
    }
    return new Response(new Uint8Array(body), { headers: { 'Content-Type': 'application/octet-stream' } });
  }) as typeof fetch;
  return { fetch: fetchFn, requests };
}

let rt: GpuRuntime;
beforeAll(async () => {
  rt = await createNodeRuntime();
});
afterAll(() => rt.destroy());

describe('inspectModel', () => {
  it('opens the built-in model from the site, and summarizes it', async () => {
    const model = await inspectModel({ kind: 'builtin' }, SITE, fakeSite().fetch);
    expect(model.summary).toMatchObject({
      name: 'stories260K (built-in)',
      family: 'llama',
      format: 'safetensors',
      layers: 5,
      hidden: 64,
      heads: 8,
      kvHeads: 4,
      vocabSize: 512,
      context: 512,
      paperSeqLen: 2048,
      defaultSeqLen: 512,
      weightFiles: ['model.safetensors'],
      tokenizerFiles: ['tok512.bin'],
    });
    // stories260K: 260K parameters, as its name says, stored as f32.
    expect(model.summary.parameters).toBeGreaterThan(250_000);
    expect(model.summary.parameters).toBeLessThan(270_000);
    expect(model.summary.weightBytes).toBe(4 * model.summary.parameters);
  });

  it('opens a URL folder, probing the optional files and reading the weights in ranges', async () => {
    const site = fakeSite();
    const model = await inspectModel({ kind: 'url', url: `${SITE}models/stories260K` }, SITE, site.fetch);
    expect(model.summary.name).toBe(`${SITE}models/stories260K`);
    expect(model.summary.tokenizerFiles).toEqual(['tok512.bin']);
    expect(site.requests).toContain('/models/stories260K/tokenizer.json');
  });

  it('treats a single-page host’s HTML answer as a missing file', async () => {
    const model = await inspectModel(
      { kind: 'url', url: `${SITE}models/stories260K/` },
      SITE,
      fakeSite({ spa: true }).fetch,
    );
    expect(model.summary.tokenizerFiles).toEqual(['tok512.bin']);
    const failure = await inspectModel(
      { kind: 'url', url: `${SITE}nowhere/` },
      SITE,
      fakeSite({ spa: true }).fetch,
    ).then(() => null, modelFailure);
    expect(failure).toMatchObject({
      kind: 'model-format',
      message: expect.stringContaining('nowhere/config.json'),
    });
  });

  it('names the file of a truncated checkpoint, as a model-format failure with advice', async () => {
    const weights = publicFile('models/stories260K/model.safetensors');
    const files = [
      new File([new Uint8Array(publicFile('models/stories260K/config.json'))], 'config.json'),
      new File([new Uint8Array(weights.subarray(0, weights.length >> 1))], 'model.safetensors'),
    ];
    const failure = await inspectModel({ kind: 'files', files }, SITE).then(() => null, modelFailure);
    expect(failure).toMatchObject({ ok: false, kind: 'model-format' });
    expect(failure?.message).toMatch(/^model\.safetensors.*truncated/);
    expect(failure?.advice).toMatch(/complete/);
  });

  it('reports a network failure with the URL', async () => {
    const offline = (async () => {
      throw new TypeError('Failed to fetch');
    }) as typeof fetch;
    const failure = await inspectModel({ kind: 'url', url: 'https://example.test/m/' }, SITE, offline).then(
      () => null,
      modelFailure,
    );
    expect(failure).toMatchObject({
      kind: 'network',
      message: expect.stringContaining('https://example.test/m/config.json'),
    });
  });
});

describe('runModelLoad and runEvaluation', () => {
  let inspected: InspectedModel;
  let loaded: LoadedModel | undefined;
  beforeAll(async () => {
    inspected = await inspectModel({ kind: 'builtin' }, SITE, fakeSite().fetch);
  });
  afterAll(() => loaded?.model.destroy());

  it('refuses a model over the budget before dropping the loaded one', async () => {
    const events: ModelLoadEvent[] = [];
    let dropped = false;
    const { outcome, loaded: none } = await runModelLoad({
      rt,
      inspected,
      options: { budgetBytes: 1024, seqLen: 512 },
      emit: (e) => events.push(e),
      signal: new AbortController().signal,
      dropPrevious: () => {
        dropped = true;
      },
    });
    expect(outcome).toMatchObject({ type: 'error', kind: 'does-not-fit' });
    expect(none).toBeUndefined();
    expect(dropped).toBe(false);
    expect(events.at(-1)).toEqual(outcome);
  });

  it('loads with progress in bytes up to the total, ending once', async () => {
    const events: ModelLoadEvent[] = [];
    let dropped = false;
    const result = await runModelLoad({
      rt,
      inspected,
      options: { budgetBytes: 4 * 2 ** 30, seqLen: 512 },
      emit: (e) => events.push(e),
      signal: new AbortController().signal,
      dropPrevious: () => {
        dropped = true;
      },
    });
    loaded = result.loaded;
    expect(dropped).toBe(true);
    expect(result.outcome).toMatchObject({
      type: 'loaded',
      residency: 'resident',
      bytesUploaded: inspected.summary.weightBytes,
    });
    expect(loaded?.tokenizer.kind).toBe('llama2c');
    const started = events.find((e) => e.type === 'started');
    expect(started).toMatchObject({ residency: 'resident', verdict: 'fits' });
    const progress = events.filter((e) => e.type === 'progress');
    const last = progress.at(-1);
    expect(last?.bytesDone).toBe(last?.bytesTotal);
    expect(last?.etaMs).toBe(0);
    expect(events.filter((e) => ['loaded', 'cancelled', 'error'].includes(e.type))).toHaveLength(1);
    expect(events.at(-1)).toEqual(result.outcome);
  });

  it('streams windows, caches the tokens, and ends cancelled when aborted between windows', async () => {
    if (!loaded) throw new Error('the load test must run first');
    const fetchText = (text: 'tinystories' | 'wikitext2') => fetchEvalText(text, SITE, fakeSite().fetch);
    const run = async (maxWindows: number, stopAfter?: number) => {
      const events: EvalEvent[] = [];
      const controller = new AbortController();
      const outcome = await runEvaluation({
        acquire: async () => rt,
        loaded: loaded as LoadedModel,
        options: { text: 'tinystories', seqLen: 64, maxWindows },
        fetchText,
        emit: (e) => {
          events.push(e);
          if (e.type === 'window' && e.done === stopAfter) controller.abort();
        },
        signal: controller.signal,
      });
      return { events, outcome };
    };

    const first = await run(2);
    expect(first.events.map((e) => e.type).filter((t) => t !== 'memory')).toEqual([
      'preparing',
      'started',
      'window',
      'window',
      'finished',
    ]);
    expect(first.outcome).toMatchObject({
      type: 'finished',
      result: { windows: 2, seqLen: 64, tokensScored: 128, text: 'tinystories' },
    });
    const ppl = first.outcome.type === 'finished' ? first.outcome.result.ppl : Number.NaN;
    expect(ppl).toBeGreaterThan(1);

    const again = await run(3, 1);
    expect(again.events.some((e) => e.type === 'preparing')).toBe(false);
    expect(again.outcome).toEqual({ type: 'cancelled', done: 1, total: 3 });
  });

  it('turns a window longer than the context into a range failure', async () => {
    if (!loaded) throw new Error('the load test must run first');
    const outcome = await runEvaluation({
      acquire: async () => rt,
      loaded,
      options: { text: 'tinystories', seqLen: 1024, maxWindows: 1 },
      fetchText: () => Promise.reject(new Error('not reached')),
      emit: () => {},
      signal: new AbortController().signal,
    });
    expect(outcome).toMatchObject({ type: 'error', kind: 'range', message: expect.stringMatching(/1024/) });
  });
});
