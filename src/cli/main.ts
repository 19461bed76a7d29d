// The CLI's entry point (dist-node/cli.js); the commands are in program.ts.

import { runCli } from './program';

process.exitCode = await runCli(process.argv);
