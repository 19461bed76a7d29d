// What the CLI's commands share: where the built-in files are, argument parsers, output, and the
// GPU runtime's lifetime.

import { InvalidArgumentError } from 'commander';
import type { GpuRuntime } from '../gpu/runtime';
import { folderSources } from '../host/nodeFiles';
import { createNodeRuntime } from '../host/nodeGpu';
import { projectRoot } from '../host/projectRoot';
import { openModel } from '../model/checkpoint';
import { loadTokenizer } from '../tokenizer';

/** The project root with a trailing slash, where public/ holds the built-in model and texts. */
export const ROOT = `${projectRoot()}/`;

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

export function emit(json: boolean, result: object, summary: string): void {
  if (json) process.stdout.write(`${JSON.stringify(result)}\n`);
  else process.stderr.write(`${summary}\n`);
}

export async function withRuntime<T>(fn: (rt: GpuRuntime) => Promise<T>): Promise<T> {
  const rt = await createNodeRuntime();
  try {
    return await fn(rt);
  } finally {
    rt.destroy();
  }
}

/** A model folder opened: its weights (lazily), config, tokenizer and the tokenizer's files. */
export async function openModelFolder(path: string) {
  const opened = await openModel(await folderSources(path));
  const config = opened.config;
  const tokenizerFiles = await Promise.all(
    opened.otherFiles.map(async (f) => ({ name: f.name, data: await f.read(0, f.size) })),
  );
  const tokenizer = loadTokenizer(tokenizerFiles, { vocabSize: config.vocabSize });
  return { opened, config, tokenizer, tokenizerFiles };
}
