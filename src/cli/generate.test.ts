// `generate` on the built-in stories260K, a few tokens at a time: streamed text on stdout, one JSON
// object with --json, usage errors for bad settings and a clear failure for a prompt too long.

import { describe, expect, it } from 'vitest';
import { STORIES260K_GREEDY } from '../model/testModels';
import { jsonOf, runCommand } from './testing';

describe('generate', () => {
  it('streams the greedy continuation to stdout and a summary with tokens/s to stderr', async () => {
    const run = await runCommand('generate', '--max-tokens', '8');
    expect(run.code).toBe(0);
    const text = run.stdout.replace(/\n$/, '');
    expect(text.length).toBeGreaterThan(10);
    expect(STORIES260K_GREEDY.startsWith(text)).toBe(true);
    expect(run.stderr).toMatch(
      /8 tokens \(max-tokens, seed \d+\): prompt 1 tokens at [\d.]+ tok\/s, decode 7 steps/,
    );
  });

  it('prints one JSON object: tokens, text, timings and counters, the same for the same seed', async () => {
    const args = ['generate', '--prompt', 'Once upon a time', '--max-tokens', '6'];
    const sampled = [...args, '--temperature', '0.8', '--top-k', '10', '--seed', '7', '--json'];
    const first = await runCommand(...sampled);
    expect(first.code).toBe(0);
    const out = jsonOf(first);
    expect(out).toMatchObject({ command: 'generate', family: 'llama', seed: 7, temperature: 0.8, topK: 10 });
    expect(out.tokens).toHaveLength(6);
    expect(typeof out.text).toBe('string');
    expect((out.promptIds as number[])[0]).toBe(1);
    expect(out.prefill).toMatchObject({
      tokens: (out.promptIds as number[]).length,
      counters: { readbacks: 1 },
    });
    expect(out.decode).toMatchObject({ tokens: 5, counters: { readbacks: 5 } });
    expect((out.decode as { tokensPerSecond: number }).tokensPerSecond).toBeGreaterThan(0);
    expect(jsonOf(await runCommand(...sampled)).tokens).toEqual(out.tokens);

    const stopped = jsonOf(await runCommand(...args, '--stop', 'there', '--json'));
    expect(stopped).toMatchObject({ stopReason: 'stop-text', text: ', ' });
    const greedy = jsonOf(await runCommand(...args, '--json')).tokens as number[];
    const stopId = greedy[2] as number;
    const byId = jsonOf(await runCommand(...args, '--stop-id', '9999', String(stopId), '--json'));
    expect(byId).toMatchObject({
      stopReason: 'stop-token',
      tokens: greedy.slice(0, greedy.indexOf(stopId) + 1),
    });
  });

  it('refuses bad settings with the usage, and a prompt longer than the limit with a clear error', async () => {
    for (const bad of [
      ['--temperature', '-1'],
      ['--max-tokens', '0'],
      ['--top-k', '1.5'],
      ['--seed', 'x'],
    ]) {
      const run = await runCommand('generate', ...bad, '--json');
      expect(run.code, bad.join(' ')).toBe(2);
      expect(run.stderr).toContain('Usage: compression-studio generate [options]');
    }
    const long = await runCommand('generate', '--prompt', 'Once upon a time', '--context', '6', '--json');
    expect(long.code).toBe(1);
    expect(jsonOf(long).error).toMatch(
      /the prompt's \d+ tokens and 64 new ones exceed the limit of 6 tokens/,
    );
    const help = await runCommand('generate', '--help');
    expect(help.stdout).toContain('--json');
  });
});
