#!/usr/bin/env node
import type { StartClusterOptions } from './cluster.js';
import { redactUrl } from './control-sql.js';
import { startCluster } from './start-cluster.js';

const USAGE = `usage: es-cluster [--mode auto|local|embedded|external|testcontainers] [--database NAME] [--quiet]
Starts a PostgreSQL primary + streaming replica, prints ES_PRIMARY_URL=... and ES_REPLICA_URL=...,
and stops both cleanly on SIGINT/SIGTERM (Ctrl-C).`;

function parseArgs(args: string[]): StartClusterOptions & { quiet: boolean } {
  const options: StartClusterOptions & { quiet: boolean } = { quiet: false };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--mode' || arg === '--database') {
      const value = args[++i];
      if (!value) throw new Error(`${arg} needs a value\n${USAGE}`);
      if (arg === '--mode') options.mode = value as NonNullable<StartClusterOptions['mode']>;
      else options.database = value;
    } else if (arg === '--quiet') {
      options.quiet = true;
    } else if (arg === '--help' || arg === '-h') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else {
      throw new Error(`unknown argument ${arg}\n${USAGE}`);
    }
  }
  return options;
}

async function main(): Promise<void> {
  const { quiet, ...options } = parseArgs(process.argv.slice(2));
  const cluster = await startCluster({
    ...options,
    log: (line) => {
      if (!quiet) process.stderr.write(`es-cluster: ${line}\n`);
    },
  });
  // Passwords never get printed (local modes have none).
  process.stdout.write(
    `ES_PRIMARY_URL=${redactUrl(cluster.primaryUrl)}\nES_REPLICA_URL=${redactUrl(cluster.replicaUrl)}\n`,
  );
  const keepAlive = setInterval(() => {}, 1 << 30);
  let stopping = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    if (!quiet) process.stderr.write(`es-cluster: ${signal}, stopping\n`);
    cluster.stop().then(
      () => {
        clearInterval(keepAlive);
        process.exit(0);
      },
      (error: unknown) => {
        process.stderr.write(`es-cluster: stop failed: ${error instanceof Error ? error.message : error}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}

main().catch((error: unknown) => {
  process.stderr.write(`es-cluster: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
