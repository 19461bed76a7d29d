// `npm run bench`: the one place the engine's speed is measured (tests never time anything). The
// run itself is run.ts, which the CLI's `bench` command shares; this entry reads the flags,
// prints the tables on stdout and exits non-zero when a case failed.

import { parseArgs, USAGE } from './args';
import { runBench } from './run';

async function main(): Promise<number> {
  const options = parseArgs(process.argv.slice(2));
  if (options.help) {
    console.log(USAGE);
    return 0;
  }
  const { failed } = await runBench(options, (text) => console.log(text));
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(1);
  },
);
