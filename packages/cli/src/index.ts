import {
  type DeploymentServer,
  deploymentChecks,
  deploymentStatus,
  type EventStore,
  isEventStoreError,
  parseTableName,
  type TableNames,
} from '@es/core';
import { fromPgPool, fromPgPoolAndReplicas, pgDriver } from '@es/pg';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import pg from 'pg';
import { masking, redactUrl, secretsOf, serversFrom } from './connection.js';
import { formatChecks, formatServer } from './format.js';

/**
 * The `es` command: `es migrate`, `es status` and `es doctor` against a primary and its replicas. All SQL is
 * `@es/core`'s; this package parses arguments (commander), connects with node-postgres and prints.
 */

/** The exit codes of `es`, documented in the README. */
export const EXIT_CODES = Object.freeze({
  /** The command did what it was asked; `es doctor` found no error (warnings allowed). */
  ok: 0,
  /** `es doctor` found an error, or `es migrate` failed on a server that answered. */
  problem: 1,
  /** Bad arguments: an unknown option, no primary, a bad table name. */
  usage: 2,
  /** A server did not answer (`es status`, `es migrate`). */
  unreachable: 3,
});

/** Where `runCli` writes and what environment it reads; the process's by default. */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
}

interface GlobalOptions {
  primary?: string;
  replica: string[];
  table: string;
  timeout: number;
  json?: boolean;
}

/** One connected deployment: a pool per server, named `primary`, `replica-1`, ... */
interface Connected {
  readonly names: TableNames;
  readonly primary: pg.Pool;
  readonly replicas: readonly pg.Pool[];
  readonly servers: readonly (DeploymentServer & { readonly url: string })[];
  end(): Promise<void>;
}

/** Runs `es` with `argv` (the arguments after `es`) and resolves with its exit code; never exits the process. */
export async function runCli(argv: readonly string[], io: Partial<CliIo> = {}): Promise<number> {
  const env = io.env ?? process.env;
  let mask = masking(secretsOf([...argv], env));
  const out = (text: string) => (io.stdout ?? ((t) => process.stdout.write(t)))(mask(text));
  const err = (text: string) => (io.stderr ?? ((t) => process.stderr.write(t)))(mask(text));
  let code: number = EXIT_CODES.ok;
  const program = new Command('es')
    .description('Migrate, inspect and check an es event store deployment (a primary and its replicas).')
    .exitOverride()
    .configureOutput({ writeOut: out, writeErr: err })
    .option('--primary <url>', 'the primary (default: $ES_PRIMARY_URL)')
    .option(
      '--replica <url>',
      'a replica, repeat for several (default: $ES_REPLICA_URLS, comma-separated, or $ES_REPLICA_URL)',
      (url: string, urls: string[]) => [...urls, url],
      [],
    )
    .option('--table <name>', 'the events table, optionally schema-qualified', 'events')
    .option('--timeout <ms>', 'bound on connecting and on each statement, per server', positiveInteger, 5_000)
    .option('--json', 'print JSON instead of text');
  const withDeployment =
    (work: (connected: Connected, options: GlobalOptions) => Promise<number>) => async () => {
      const options = program.opts<GlobalOptions>();
      const servers = serversFrom(options, env);
      mask = masking(secretsOf([servers.primary ?? '', ...servers.replicas], env));
      if (!servers.primary) {
        err('es: no primary: give --primary <url> or set ES_PRIMARY_URL\n');
        code = EXIT_CODES.usage;
        return;
      }
      const connected = connect(
        servers.primary,
        servers.replicas,
        parseTableName(options.table),
        options.timeout,
      );
      try {
        code = await work(connected, options);
      } finally {
        await connected.end();
      }
    };
  program
    .command('migrate')
    .description(
      "apply the missing migration steps on the primary and check the result (waits for replicas' replay)",
    )
    .action(withDeployment((connected, options) => migrate(connected, options, out, err)));
  program
    .command('status')
    .description('each server: role, recovery, WAL position, lag, WAL receiver, standbys and slots')
    .action(withDeployment((connected, options) => status(connected, options, out)));
  program
    .command('doctor')
    .description('check roles, settings and the schema; exit 1 on an error')
    .option('--longest-replica-read <ms>', 'how long replica reads may run', positiveInteger, 30_000)
    .action(async (flags: { longestReplicaRead: number }) =>
      withDeployment((connected, options) => doctor(connected, options, flags.longestReplicaRead, out))(),
    );
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return code;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.code === 'commander.helpDisplayed' || error.code === 'commander.version'
        ? EXIT_CODES.ok
        : EXIT_CODES.usage;
    }
    if (isEventStoreError(error, 'INVALID_CONFIGURATION')) {
      err(`es: ${error.message}\n`);
      return EXIT_CODES.usage;
    }
    err(`es: ${error instanceof Error ? error.message : String(error)}\n`);
    return EXIT_CODES.problem;
  }
}

function positiveInteger(value: string): number {
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed <= 0)
    throw new InvalidArgumentError('expected a positive integer');
  return parsed;
}

function connect(
  primaryUrl: string,
  replicaUrls: readonly string[],
  names: TableNames,
  timeoutMs: number,
): Connected {
  const pool = (url: string) => {
    const created = new pg.Pool({
      connectionString: url,
      max: 2,
      connectionTimeoutMillis: timeoutMs,
      statement_timeout: timeoutMs,
      query_timeout: timeoutMs + 1_000,
      application_name: 'es-cli',
    });
    created.on('error', () => {});
    return created;
  };
  const primary = pool(primaryUrl);
  const replicas = replicaUrls.map(pool);
  const server = (name: string, role: DeploymentServer['role'], url: string, of: pg.Pool) => ({
    name,
    role,
    url: redactUrl(url),
    executor: pgDriver(of, 'pg', timeoutMs),
  });
  return {
    names,
    primary,
    replicas,
    servers: [
      server('primary', 'primary', primaryUrl, primary),
      ...replicas.map((replica, index) =>
        server(`replica-${index + 1}`, 'replica', replicaUrls[index] as string, replica),
      ),
    ],
    end: async () => {
      await Promise.all([primary, ...replicas].map((each) => each.end()));
    },
  };
}

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

async function migrate(
  connected: Connected,
  options: GlobalOptions,
  out: (text: string) => void,
  err: (text: string) => void,
): Promise<number> {
  const storeOptions = { tableName: connected.names.configured, connectTimeoutMs: options.timeout };
  const store: EventStore =
    connected.replicas.length > 0
      ? fromPgPoolAndReplicas(connected.primary, connected.replicas, storeOptions)
      : fromPgPool(connected.primary, storeOptions);
  try {
    await store.migrate();
    if (options.json) out(json({ table: connected.names.configured, migrated: true }));
    else out(`es migrate: ${connected.names.configured} is at the latest migration step, checked\n`);
    return EXIT_CODES.ok;
  } catch (error) {
    const code = isEventStoreError(error) ? error.code : 'FAILED';
    const message = error instanceof Error ? error.message : String(error);
    if (options.json)
      out(json({ table: connected.names.configured, migrated: false, error: { code, message } }));
    else err(`es migrate: ${code}: ${message}\n`);
    return code === 'CONNECTION_FAILED' ? EXIT_CODES.unreachable : EXIT_CODES.problem;
  } finally {
    await store.close();
  }
}

async function status(
  connected: Connected,
  options: GlobalOptions,
  out: (text: string) => void,
): Promise<number> {
  const states = await deploymentStatus(connected.servers);
  const withUrls = states.map((state, index) => ({ ...state, url: connected.servers[index]?.url as string }));
  if (options.json) out(json({ table: connected.names.configured, servers: withUrls }));
  else out(`${withUrls.map((state) => formatServer(state, state.url)).join('\n')}\n`);
  return states.every((state) => state.reachable) ? EXIT_CODES.ok : EXIT_CODES.unreachable;
}

async function doctor(
  connected: Connected,
  options: GlobalOptions,
  longestReplicaReadMs: number,
  out: (text: string) => void,
): Promise<number> {
  const checks = await deploymentChecks(connected.servers, { names: connected.names, longestReplicaReadMs });
  const errors = checks.filter((check) => check.level === 'error').length;
  if (options.json) out(json({ table: connected.names.configured, errors, checks }));
  else out(`${formatChecks(checks)}\n`);
  return errors > 0 ? EXIT_CODES.problem : EXIT_CODES.ok;
}
