// `prune --compressed --out`: the pruned matrices are written compressed in the run's own pattern,
// and the folder opens as exactly the weights the same run writes dense.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { folderSources } from '../host/nodeFiles';
import { bytesSource } from '../model/byteSource';
import { openModel } from '../model/checkpoint';
import { readSafetensorsHeader } from '../model/safetensors';
import { tinyConfig } from '../model/testModels';
import { canonicalTensors } from '../model/weights';
import { runCommand, tinyModelInTemp } from './testing';

const config = tinyConfig('llama', { layers: 1, vocabSize: 512 });
const temp = tinyModelInTemp('compressed-out-test-', config, 11);

const bitsOf = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

describe('prune --compressed', () => {
  const prune = (pattern: string, out: string, ...more: string[]) =>
    runCommand(
      'prune',
      '--model',
      temp.model,
      '--method',
      'magnitude',
      '--pattern',
      pattern,
      '--calibration',
      'tinystories',
      '--calibration-windows',
      '1',
      '--calibration-length',
      '8',
      '--eval',
      'none',
      '--no-eval-before',
      '--out',
      join(temp.dir, out),
      ...more,
    );

  for (const [pattern, format] of [
    ['2:4', 'nm'],
    ['50%', 'bitmask'],
  ] as const) {
    it(`writes ${pattern} matrices as ${format} parts that open as the dense run's weights`, async () => {
      const tag = pattern.replace(/\W/g, '');
      for (const [out, more] of [
        [`dense-${tag}`, []],
        [`packed-${tag}`, ['--compressed']],
      ] as const) {
        const run = await prune(pattern, out, ...more);
        expect(run.code, run.stderr).toBe(0);
      }
      const headerOf = async (f: string) =>
        readSafetensorsHeader(
          bytesSource('model.safetensors', await readFile(join(temp.dir, f, 'model.safetensors'))),
        );
      // Data bytes (a tiny model's file also carries the parts' names in its header).
      const dataBytes = (h: Awaited<ReturnType<typeof headerOf>>) =>
        [...h.tensors.values(), ...h.words.values()].reduce((s, t) => s + t.byteLength, 0);
      const header = await headerOf(`packed-${tag}`);
      expect(dataBytes(header)).toBeLessThan(dataBytes(await headerOf(`dense-${tag}`)));
      const formats = Object.entries(header.metadata)
        .filter(([k]) => k.startsWith('sparse:'))
        .map(([, v]) => JSON.parse(v).format);
      // Every block linear layer (7 in a Llama block) is compressed.
      expect(formats).toEqual(Array(7).fill(format));
      const [a, b] = await Promise.all(
        [`packed-${tag}`, `dense-${tag}`].map(async (f) => openModel(await folderSources(join(temp.dir, f)))),
      );
      for (const t of canonicalTensors(config))
        expect(
          bitsOf(await (a as Awaited<ReturnType<typeof openModel>>).weights.read(t.name)),
          t.name,
        ).toEqual(bitsOf(await (b as Awaited<ReturnType<typeof openModel>>).weights.read(t.name)));
    });
  }

  it('refuses --compressed without --out', async () => {
    const run = await runCommand('prune', '--model', temp.model, '--compressed');
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--compressed says how --out stores the model/);
  });
});
