#!/usr/bin/env node
/** The `es` executable: runs the command line and exits with its code (see `EXIT_CODES`). */
import { runCli } from './index.js';

runCli(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`es: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
