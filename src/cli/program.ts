// The headless CLI: the studio's engine in Node through Dawn's WebGPU. Human-readable progress
// goes to stderr; with --json, stdout carries exactly one JSON object (the result, or on failure
// the error, its advice and the run record it left). Exit codes: 0 success, 1 the job failed (bad
// file, GPU error, shards that do not fit together), 2 wrong arguments (with the usage) or a model
// that does not fit the device's limits and the memory budget (with what does not fit). Failures
// carry the same advice as in the studio (src/jobs/loadFailure.ts).
// runCli builds a fresh program per call, so tests run commands in-process as the binary would.

import { Command, CommanderError } from 'commander';
import { GpuError } from '../gpu/errors';
import { JobFailedError } from '../jobs/failure';
import { modelFailure } from '../jobs/loadFailure';
import { registerBench } from './bench';
import { registerEval } from './eval';
import { registerGenerate } from './generate';
import { registerMerge } from './merge';
import { registerPrune } from './prune';
import { FailedRunError } from './record';
import { emit, withRuntime } from './shared';
import { registerTrain } from './train';

export function createProgram(): Command {
  const program = new Command()
    .name('compression-studio')
    .description('Compression Studio, headless: the same WebGPU engine as the studio, in Node.')
    .showHelpAfterError()
    .exitOverride();

  program
    .command('info')
    .description('the GPU adapter, its features and the limits the engine negotiated')
    .option('--json', 'print one JSON object on stdout')
    .action(async (options: { json?: boolean }) => {
      await withRuntime(async (rt) => {
        const c = rt.capability;
        const lines = [
          `adapter: ${c.vendor} ${c.architecture} ${c.description}${c.isFallbackAdapter ? ' (fallback)' : ''}`,
          `features: ${Object.entries(c.features)
            .map(([f, on]) => `${f} ${on ? 'yes' : 'no'}`)
            .join(', ')}`,
          ...Object.entries(c.limits).map(([name, value]) => `  ${name} = ${value}`),
        ];
        emit(Boolean(options.json), c, lines.join('\n'));
      });
    });

  registerEval(program);
  registerGenerate(program);
  registerPrune(program);
  registerMerge(program);
  registerTrain(program);
  registerBench(program);
  return program;
}

/** Runs one command line (argv as process.argv gives it) and returns the exit code. */
export async function runCli(argv: readonly string[]): Promise<number> {
  try {
    await createProgram().parseAsync([...argv]);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version are successes; every other parse failure is a usage error.
      return error.code === 'commander.helpDisplayed' || error.code === 'commander.version' ? 0 : 2;
    }
    const cause = error instanceof FailedRunError ? error.cause : error;
    const message = cause instanceof Error ? cause.message : String(cause);
    const { kind, advice } = failureOf(cause);
    process.stderr.write(`error: ${message}\n${advice ? `${advice}\n` : ''}`);
    if (argv.includes('--json')) {
      const command = argv.slice(2).find((a) => !a.startsWith('-')) ?? null;
      const record = error instanceof FailedRunError ? error.record : null;
      process.stdout.write(`${JSON.stringify({ command, error: message, kind, advice, record })}\n`);
    }
    return kind === 'does-not-fit' ? 2 : 1;
  }
}

/** The load job's failures: what a model's files, its tokenizer or their source can get wrong. */
const MODEL_FAILURES = new Set(['model-format', 'tokenizer', 'network']);

/**
 * The failure's kind and advice: a refused or failed load's, a model file's as the studio gives
 * them, or a GPU error's own (the studio's speaks of reloading the model, which a command does by
 * itself). Other errors have none here: the message says what to change, and the studio's generic
 * advice for them (a bug report, the sequence length) would mislead.
 */
function failureOf(cause: unknown): { kind?: string; advice?: string } {
  if (cause instanceof JobFailedError || cause instanceof GpuError)
    return { kind: cause.kind, advice: cause.advice };
  const { kind, advice } = modelFailure(cause);
  return MODEL_FAILURES.has(kind) ? { kind, advice } : {};
}
