#!/usr/bin/env node
import { parseArgs } from 'node:util';
import type { StartClusterOptions } from './cluster.js';
import { redactUrl } from './control-sql.js';
import { CLUSTER_MODES, MAX_REPLICAS, replicaCount, startCluster } from './start-cluster.js';

const USAGE = `usage: es-cluster [--mode ${CLUSTER_MODES.join('|')}] [--database NAME] [--replicas N]
                  [--quiet]
Starts a PostgreSQL primary + N streaming replicas (1 to ${MAX_REPLICAS}, default 1), prints
ES_PRIMARY_URL=..., ES_REPLICA_URL=... (the first replica) and, with several replicas,
ES_REPLICA_URLS=... (all of them, comma-separated), and stops them cleanly on SIGINT/SIGTERM (Ctrl-C).`;

/** `--mode embedded` and `--mode=embedded` alike (node:util parseArgs); unknown flags and modes are refused. */
function readArgs(args: string[]): StartClusterOptions & { quiet: boolean } {
  const { values } = parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: {
      mode: { type: 'string' },
      database: { type: 'string' },
      replicas: { type: 'string' },
      quiet: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const mode = values.mode as StartClusterOptions['mode'];
  if (mode !== undefined && !CLUSTER_MODES.includes(mode)) throw new Error(`unknown --mode ${values.mode}`);
  if (values.replicas !== undefined && !/^\d+$/.test(values.replicas))
    throw new Error(`--replicas needs a whole number, got '${values.replicas}'`);
  return {
    ...(mode === undefined ? {} : { mode }),
    ...(values.database === undefined ? {} : { database: values.database }),
    ...(values.replicas === undefined ? {} : { replicas: replicaCount(Number(values.replicas)) }),
    quiet: values.quiet === true,
  };
}

async function main(): Promise<void> {
  let parsed: ReturnType<typeof readArgs>;
  try {
    parsed = readArgs(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`es-cluster: ${error instanceof Error ? error.message : error}\n${USAGE}\n`);
    process.exit(2);
  }
  const { quiet, ...options } = parsed;
  const cluster = await startCluster({
    ...options,
    log: (line) => {
      if (!quiet) process.stderr.write(`es-cluster: ${line}\n`);
    },
  });
  // Passwords never get printed (local modes have none).
  const replicaUrls = cluster.replicaUrls.map(redactUrl);
  process.stdout.write(
    `ES_PRIMARY_URL=${redactUrl(cluster.primaryUrl)}\nES_REPLICA_URL=${replicaUrls[0]}\n` +
      (replicaUrls.length > 1 ? `ES_REPLICA_URLS=${replicaUrls.join(',')}\n` : ''),
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
