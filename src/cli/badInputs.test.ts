// The three hostile inputs of issue 16 through the CLI, as a person would hand them over: a
// config.json claiming a billion layers (which used to abort Node with a V8 out-of-memory error,
// exit 134), a config whose sizes disagree with its tensors, and a tokenizer whose merges name
// tokens its vocabulary lacks. Each is refused before any GPU work, with exit code 1 and a message
// that names the file, the field and what is wrong, on stderr and in --json's error.
// Then every numeric option of prune and train against the bound it is checked with
// (PRUNE_BOUNDS, TRAIN_BOUNDS, SEED_BOUND): its parser accepts exactly what the bound holds, and a
// value past either end is a usage error (exit 2) that names the option and the range.

import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { type Bound, describeBound, inBound, SEED_BOUND } from '../bounds/bound';
import { edgeValues } from '../bounds/testing';
import { EVAL_BOUNDS } from '../jobs/evalOptions';
import { freshSeed, Random } from '../kernels/random';
import { randomTensors, tinyConfig } from '../model/testModels';
import { PRUNE_BOUNDS } from '../prune/options';
import { splitTokens } from '../train/data';
import { TRAIN_BOUNDS } from '../train/options';
import { checkSchedule } from '../train/schedule';
import { createProgram } from './program';
import { jsonOf, runCommand, tempFolder, writeModelFolder } from './testing';

const temp = tempFolder('cli-bad-inputs-');
const config = tinyConfig('llama', { vocabSize: 512 });

/** A valid tiny model folder with its config.json edited. */
async function folderWithConfig(name: string, edit: Record<string, unknown>): Promise<string> {
  const folder = join(temp.dir, name);
  await writeModelFolder(folder, config, randomTensors(config, 9));
  const json = JSON.parse(await readFile(join(folder, 'config.json'), 'utf8'));
  await writeFile(join(folder, 'config.json'), JSON.stringify({ ...json, ...edit }));
  return folder;
}

async function expectRefused(folder: string, message: RegExp): Promise<void> {
  const run = await runCommand('eval', '--model', folder, '--text', 'tinystories', '--json');
  expect(run.code, run.stderr).toBe(1);
  expect(run.stderr).toMatch(/^error: /);
  expect(run.stderr).toMatch(message);
  expect(jsonOf(run).error).toMatch(message);
}

describe('hostile model folders through the CLI', () => {
  it('a config.json claiming 1e9 layers exits with 1 and says so, instead of running out of memory', async () => {
    const folder = await folderWithConfig('billion-layers', { num_hidden_layers: 1_000_000_000 });
    await expectRefused(
      folder,
      /config\.json: num_hidden_layers = 1000000000 does not match the checkpoint \(model\.safetensors\): its tensors hold 2 layers/,
    );
  });

  it('a config whose sizes disagree with its tensors names the field and both values', async () => {
    const folder = await folderWithConfig('wrong-width', { intermediate_size: 48 });
    await expectRefused(
      folder,
      /config\.json: intermediate_size = 48 does not match the checkpoint \(model\.safetensors\): the MLP's first projection has 20 outputs/,
    );
  });

  it('a tokenizer whose merges use tokens its vocabulary lacks is refused by name', async () => {
    const folder = await folderWithConfig('bad-merges', {});
    // A GPT-2 style vocab.json + merges.txt beside the model; they win over tok512.bin.
    await rm(join(folder, 'tok512.bin'));
    await writeFile(join(folder, 'vocab.json'), JSON.stringify({ a: 0, b: 1, ab: 2, '<|endoftext|>': 3 }));
    await writeFile(join(folder, 'merges.txt'), '#version: 0.2\na b\nab zz\n');
    await expectRefused(folder, /merges\.txt: line 3 uses "zz", which vocab\.json does not have/);
  });

  it('the same merge in a tokenizer.json is refused too', async () => {
    const folder = await folderWithConfig('bad-json-merges', {});
    await rm(join(folder, 'tok512.bin'));
    const tokenizer = {
      model: { type: 'BPE', vocab: { a: 0, b: 1, ab: 2 }, merges: ['a b', ['ab', 'zz']] },
    };
    await writeFile(join(folder, 'tokenizer.json'), JSON.stringify(tokenizer));
    await expectRefused(
      folder,
      /tokenizer\.json: model\.merges\[1\] uses "zz", which model\.vocab does not have/,
    );
  });
});

/** A numeric option, the bound it is checked against, and how a value is spelled on the command line. */
interface Bounded {
  command: 'eval' | 'prune' | 'train';
  flag: string;
  bound: Bound;
  spell?: (text: string) => string;
  /** What the refusal says, when not commander's 'expected <the bound>'. */
  says?: RegExp;
}

const P = PRUNE_BOUNDS;
const T = TRAIN_BOUNDS;
const E = EVAL_BOUNDS;
const patternSays = /expected a sparsity such as 50% or 0\.5 .*or N:M such as 2:4/;
const BOUNDED: Bounded[] = [
  { command: 'prune', flag: '--pattern', bound: P.sparsity, says: patternSays },
  { command: 'prune', flag: '--pattern', bound: P.n, spell: (n) => `${n}:${P.m.max}`, says: patternSays },
  { command: 'prune', flag: '--pattern', bound: P.m, spell: (m) => `1:${m}`, says: patternSays },
  { command: 'prune', flag: '--iterations', bound: P.iterations },
  { command: 'prune', flag: '--rounds', bound: P.rounds },
  { command: 'prune', flag: '--xi', bound: P.xi },
  { command: 'prune', flag: '--calibration-windows', bound: P.windows },
  { command: 'prune', flag: '--calibration-length', bound: P.seqLen },
  { command: 'prune', flag: '--seed', bound: SEED_BOUND },
  { command: 'prune', flag: '--devices', bound: P.devices },
  { command: 'prune', flag: '--eval-windows', bound: E.maxWindows },
  { command: 'prune', flag: '--seq-len', bound: E.seqLen },
  { command: 'eval', flag: '--windows', bound: E.maxWindows },
  { command: 'eval', flag: '--seq-len', bound: E.seqLen },
  { command: 'train', flag: '--steps', bound: T.steps },
  { command: 'train', flag: '--batch', bound: T.batch },
  { command: 'train', flag: '--seq-len', bound: T.seqLen },
  { command: 'train', flag: '--warmup', bound: T.warmupSteps },
  { command: 'train', flag: '--min-lr-ratio', bound: T.minLrRatio },
  { command: 'train', flag: '--val-every', bound: T.validationEvery },
  { command: 'train', flag: '--val-windows', bound: T.validationWindows },
  { command: 'train', flag: '--val-fraction', bound: T.validationFraction },
  {
    command: 'train',
    flag: '--arm',
    bound: T.lr,
    spell: (lr) => `adamw@${lr}`,
    says: /the learning rate of adamw@.* must be a number in \(0, 1\]/,
  },
  { command: 'train', flag: '--seed', bound: SEED_BOUND },
];

/** Whether the option's own parser takes the text, as commander would call it. */
function parserAccepts(command: string, flag: string, text: string): boolean {
  const option = createProgram()
    .commands.find((c) => c.name() === command)
    ?.options.find((o) => o.long === flag);
  if (!option?.parseArg) throw new Error(`${command} has no option ${flag} with a parser`);
  try {
    option.parseArg(text, undefined);
    return true;
  } catch (error) {
    if (!(error instanceof InvalidArgumentError)) throw error;
    return false;
  }
}

describe('numeric options out of their bounds', () => {
  const seed = freshSeed();
  const random = new Random(seed);
  for (const { command, flag, bound, spell = (t: string) => t, says } of BOUNDED) {
    const label = `${command} ${flag} ${spell('…')}`;
    it(`${label}: the parser takes exactly what the bound holds (seed ${seed})`, () => {
      for (const v of edgeValues(bound, () => random.next())) {
        const text = String(v);
        expect(parserAccepts(command, flag, spell(text)), text).toBe(inBound(bound, Number(text)));
      }
    });

    it(`${label}: a value past either end exits with 2, naming the option and the range`, async () => {
      const values = edgeValues(bound, () => random.next());
      // The first is one below the bottom; the first above the top is one past it (none when the
      // bound has no top: the model or the machine bounds it, where they are known).
      const past = [values[0], values.find((v) => v > bound.max)].filter((v) => v !== undefined);
      for (const v of past) {
        const run = await runCommand(command, `${flag}=${spell(String(v))}`, '--json');
        expect(run.code, run.stderr).toBe(2);
        expect(run.stdout).toBe('');
        expect(run.stderr).toContain(`option '${flag} `);
        expect(run.stderr).toMatch(says ?? `expected ${describeBound(bound)}`);
      }
    });
  }

  it("the two settings only the CLI sets are the engine's bounds too", () => {
    // The decay floor (checkSchedule) and the validation fraction (splitTokens): the engine refuses
    // with a RangeError exactly what the option's parser refuses.
    const tokens = Array.from({ length: 2_000_000 }, (_, i) => i % 512);
    const engine = {
      '--min-lr-ratio': (v: number) =>
        checkSchedule({ peak: 1e-3, warmupSteps: 0, totalSteps: 1, decay: 'cosine', minRatio: v }),
      '--val-fraction': (v: number) => splitTokens(tokens, v, 1),
    };
    for (const [flag, check] of Object.entries(engine)) {
      const bound = flag === '--min-lr-ratio' ? T.minLrRatio : T.validationFraction;
      for (const v of edgeValues(bound, () => random.next())) {
        let refused = false;
        try {
          check(v);
        } catch (error) {
          if (!(error instanceof RangeError)) throw error;
          refused = true;
        }
        expect(!refused, `${flag} ${v}`).toBe(parserAccepts('train', flag, String(v)));
      }
    }
  });
});
