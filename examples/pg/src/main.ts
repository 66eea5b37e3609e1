/**
 * The library demo: command handlers on the primary (strong consistency), a query handler on the replica
 * (eventual consistency), and what replication lag means for each.
 *
 *   pnpm --filter @es/example-pg start        # starts a local primary + streaming replica (@es/testing)
 *   ES_PRIMARY_URL=... ES_REPLICA_URL=... pnpm --filter @es/example-pg start    # your servers (docker/)
 *
 * It works in a schema of its own, which it drops at the end, so it leaves nothing behind on your servers.
 */
import { runCli } from '@es/cli';
import {
  buildEventFilter,
  type EventFilter,
  type EventStore,
  isEventStoreError,
  type OperationReport,
  P,
  withEventualConsistency,
  withStrongConsistency,
} from '@es/core';
import {
  addBookCopy,
  BOOK_COPY_LENT,
  BOOK_COPY_RETURNED,
  type BooksInCirculation,
  bookCopyLentToReader,
  booksInCirculation,
  type CommandResult,
  lendBookCopyToReader,
  removeBookCopy,
  returnBookCopyFromReader,
  toStorableEvent,
} from '@es/example-library';
import { fromPgPoolAndReplica } from '@es/pg';
import { type Cluster, startCluster } from '@es/testing';
import pg from 'pg';
import { raceBeforeFirstAppend } from './race.js';

const LABEL = 27;
const ROUTE = 21;

/** Every operation the store reports through its hook: which server served it, for which consistency. */
const reports: OperationReport[] = [];

/** What the demo has opened, so that the cleanup (normal end, error or Ctrl-C) can close exactly that. */
const opened: {
  cluster?: Cluster;
  primary?: pg.Pool;
  replica?: pg.Pool;
  schema?: string;
  replayPaused?: boolean;
} = {};

async function main(): Promise<void> {
  console.log('es demo: a library on PostgreSQL with node-postgres, a primary and a streaming replica');
  // With ES_PRIMARY_URL and ES_REPLICA_URL set this uses those servers; otherwise it starts local ones.
  const cluster = await startCluster({ database: 'library' });
  opened.cluster = cluster;
  const primary = newPool('primary', cluster.primaryUrl);
  opened.primary = primary;
  const replica = newPool('replica', cluster.replicaUrl);
  opened.replica = replica;
  const schema = `library_demo_${Date.now().toString(36)}`;
  const store = fromPgPoolAndReplica(primary, replica, {
    tableName: `${schema}.events`,
    hooks: { onOperation: (report) => reports.push(report) },
  });
  const where = `${cluster.mode}: primary ${hostOf(cluster.primaryUrl)}, replica ${hostOf(cluster.replicaUrl)}`;
  console.log(row('cluster', where));
  opened.schema = schema;
  await store.migrate();
  console.log(row('schema', `${store.tableName}, migrated on the primary`));

  await commands(store);
  await queries(store, cluster);
  await routingRule(store);
  await projection(store, cluster);
  summary();
  await operatorView(cluster, `${schema}.events`);
}

let cleaning: Promise<void> | undefined;

/** Resumes replay, drops the demo schema, ends the pools, stops the cluster. Runs once; never throws. */
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    const { cluster, primary, replica, schema, replayPaused } = opened;
    if (replayPaused) await cluster?.resumeReplay().catch(() => {});
    if (primary && schema) await dropSchema(primary, schema);
    await Promise.allSettled([primary?.end(), replica?.end()]);
    await cluster
      ?.stop()
      .catch((error: unknown) => console.error(`could not stop the cluster: ${describe(error)}`));
  })();
  return cleaning;
}

/** A pool as you would configure one: bounded, with explicit timeouts and an 'error' listener. */
function newPool(role: string, connectionString: string): pg.Pool {
  const pool = new pg.Pool({
    connectionString,
    max: 5,
    connectionTimeoutMillis: 5_000, // a server that accepts TCP but never answers must not hang us
    idleTimeoutMillis: 10_000,
    application_name: `es-example-pg (${role})`,
  });
  // Idle clients emit 'error' when their server goes away; without a listener that crashes the process.
  pool.on('error', (error) => console.error(`  [${role} pool] idle client error: ${error.message}`));
  return pool;
}

async function commands(store: EventStore): Promise<void> {
  section('Commands', 'strong consistency: each handler reads its boundary, decides, appends');
  await command('add copy-1 "Dune"', () => addBookCopy(store, { bookId: 'copy-1', title: 'Dune' }));
  await command('add copy-2 "Emma"', () => addBookCopy(store, { bookId: 'copy-2', title: 'Emma' }));
  await command('add copy-3 "Ulysses"', () => addBookCopy(store, { bookId: 'copy-3', title: 'Ulysses' }));
  await command('lend copy-1 to ann', () =>
    lendBookCopyToReader(store, { bookId: 'copy-1', readerId: 'ann' }),
  );
  await command('lend copy-1 to bob', () =>
    lendBookCopyToReader(store, { bookId: 'copy-1', readerId: 'bob' }),
  );

  // Ann asks for copy-2 in the app while, at the desk, she borrows copy-3. Both decisions read "ann has
  // 1 book"; the desk commits first. Without the boundary check ann would end up with 3 books.
  const race = raceBeforeFirstAppend(store, (desk) =>
    lendBookCopyToReader(desk, { bookId: 'copy-3', readerId: 'ann' }),
  );
  const result = await command('lend copy-2 to ann (app)', () =>
    lendBookCopyToReader(race.store, { bookId: 'copy-2', readerId: 'ann' }),
  );
  const { reads, conflicts, competing } = race.record;
  reads.forEach((max, index) => {
    const decided = index === reads.length - 1 ? `decided again: ${result.outcome}` : 'decided to lend';
    detail(`attempt ${index + 1}: read the boundary up to #${max}, ${decided}`);
    if (index === 0 && competing) {
      detail(`meanwhile, at the desk: lend copy-3 to ann -> ${outcomeText(competing)}`);
    }
    const conflict = conflicts[index];
    if (conflict) {
      detail(
        `append expecting #${conflict.expected}: ConcurrencyConflictError (boundary now at #${conflict.actual}), ` +
          'nothing appended, retry',
      );
    }
  });

  await command('return copy-1 from ann', () =>
    returnBookCopyFromReader(store, { bookId: 'copy-1', readerId: 'ann' }),
  );
  await command('remove copy-1', () => removeBookCopy(store, { bookId: 'copy-1' }));
  await command('remove copy-3', () => removeBookCopy(store, { bookId: 'copy-3' }));
}

async function queries(store: EventStore, cluster: Cluster): Promise<void> {
  section('Queries', 'eventual consistency: the query handler may be served by the replica');
  const lsn = await cluster.primaryLsn();
  await cluster.waitForReplay(lsn);
  note(`the replica has replayed the primary's WAL up to ${lsn}`);
  await read('booksInCirculation', () => booksInCirculation(store));

  // Replication lag on one machine is well under a millisecond: pausing replay makes it visible on purpose.
  await cluster.pauseReplay();
  opened.replayPaused = true;
  note('replay paused on the replica: from now on it falls behind');
  const returned = await command('return copy-3 from ann', () =>
    returnBookCopyFromReader(store, { bookId: 'copy-3', readerId: 'ann' }),
  );
  const latest = returned.outcome === 'appended' ? returned.sequenceNumbers.at(-1) : undefined;
  await read('booksInCirculation', () => booksInCirculation(store), latest);
  await read('booksInCirculation', () => booksInCirculation(store, withStrongConsistency()), latest);

  await cluster.resumeReplay();
  opened.replayPaused = false;
  const caughtUp = await cluster.primaryLsn();
  await cluster.waitForReplay(caughtUp);
  note(`replay resumed; the replica caught up to ${caughtUp}`);
  await read('booksInCirculation', () => booksInCirculation(store), latest);
}

async function routingRule(store: EventStore): Promise<void> {
  section('Routing rule', 'an append must be decided on a strong read, so an eventual context is refused');
  const boundary = buildEventFilter()
    .matching()
    .anyEventTypeOf(BOOK_COPY_LENT)
    .andAllPredicatesOf(P('BookID', 'copy-2'))
    .finalize();
  const before = reports.length;
  try {
    await store.append(
      withEventualConsistency(),
      boundary,
      0n,
      toStorableEvent(bookCopyLentToReader('copy-2', 'bob'), new Date()),
    );
    throw new Error('an append with an eventual context was accepted');
  } catch (error) {
    if (!isEventStoreError(error, 'CONSISTENCY_VIOLATION')) throw error;
    // Refused by the routing rule before any statement; the hook still reports the failed call.
    const reported = reports.slice(before).some((report) => report.errorCode === error.code);
    const hook = reported ? 'reported through the hook' : 'not reported';
    console.log(
      row('append (eventual context)', `refused: ${error.name} (${error.code}), nothing sent; ${hook}`),
    );
    for (const line of wrap(error.message, 100 - 6)) detail(line);
  }
}

/** Loans per reader, the projection the next section rebuilds: every lend and return, or those after `after`. */
function loansFilter(after?: bigint): EventFilter {
  const items = buildEventFilter().matching().anyEventTypeOf(BOOK_COPY_LENT, BOOK_COPY_RETURNED);
  return after === undefined ? items.finalize() : items.withSequenceNumberHigherThan(after).finalize();
}

type Loans = Record<string, number>;

/** Folds one lend or return into the books each reader holds. */
function foldLoan(loans: Loans, type: string, payload: { ReaderID?: unknown }): Loans {
  const reader = String(payload.ReaderID);
  return { ...loans, [reader]: (loans[reader] ?? 0) + (type === BOOK_COPY_LENT ? 1 : -1) };
}

const loansText = (loans: Loans) =>
  Object.entries(loans)
    .map(([reader, books]) => `${reader} ${books} ${books === 1 ? 'book' : 'books'}`)
    .join(', ');

async function projection(store: EventStore, cluster: Cluster): Promise<void> {
  section('Projection', 'a rebuild streamed from the replica, a snapshot on the primary to read on from');
  await cluster.waitForReplay(await cluster.primaryLsn());
  let loans: Loans = {};
  let last = 0n;
  let count = 0;
  let before = reports.length;
  for await (const event of store.queryStream(withEventualConsistency(), loansFilter(), { batchSize: 2 })) {
    loans = foldLoan(loans, event.type, event.payload);
    last = event.sequenceNumber;
    count += 1;
  }
  const streamed = `streamed ${count} events, 2 per round trip, up to #${last}: ${loansText(loans)}`;
  console.log(row('rebuild loans per reader', `${route(reports.slice(before))}${streamed}`));

  before = reports.length;
  await store.saveSnapshot(withStrongConsistency(), {
    projectionType: 'loans-per-reader',
    filter: loansFilter(),
    sequenceNumber: last,
    state: loans,
  });
  console.log(row('save snapshot', `${route(reports.slice(before))}'loans-per-reader' at #${last}`));

  await command('lend copy-2 to bob', () =>
    lendBookCopyToReader(store, { bookId: 'copy-2', readerId: 'bob' }),
  );
  await cluster.waitForReplay(await cluster.primaryLsn());
  before = reports.length;
  const snapshot = await store.loadSnapshot(withEventualConsistency(), 'loans-per-reader', loansFilter());
  if (!snapshot) throw new Error('the snapshot just saved was not found');
  let caughtUp = snapshot.state as Loans;
  let after = 0;
  for await (const event of store.queryStream(
    withEventualConsistency(),
    loansFilter(snapshot.sequenceNumber),
  )) {
    caughtUp = foldLoan(caughtUp, event.type, event.payload);
    after += 1;
  }
  const readOn = `snapshot at #${snapshot.sequenceNumber} + ${after} later event: ${loansText(caughtUp)}`;
  console.log(row('load snapshot, read on', `${route(reports.slice(before))}${readOn}`));
}

/** What an operator sees of this cluster: `es status` from @es/cli, run in-process. */
async function operatorView(cluster: Cluster, tableName: string): Promise<void> {
  section('es status', "the operator's view of the same servers, from @es/cli");
  const args = ['--primary', cluster.primaryUrl, '--replica', cluster.replicaUrl, '--table', tableName];
  console.log(`  $ es --primary <primary url> --replica <replica url> --table ${tableName} status`);
  const indent = (text: string) => process.stdout.write(text.replace(/^(?=.)/gm, '  '));
  const code = await runCli([...args, 'status'], { stdout: indent, stderr: indent });
  if (code !== 0) throw new Error(`es status exited with ${code}`);
}

function summary(): void {
  section('Served by', 'every operation the store reported through its onOperation hook');
  for (const server of ['primary', 'replica'] as const) {
    const mine = reports.filter((report) => report.server === server);
    const count = (what: (report: OperationReport) => boolean) => mine.filter(what).length;
    const tally: [number, string, string][] = [
      [count((r) => r.operation === 'eventstore.migrate'), 'migration', 'migrations'],
      [
        count((r) => r.operation === 'eventstore.query' && r.consistency === 'strong'),
        'strong read',
        'strong reads',
      ],
      [
        count((r) => r.operation === 'eventstore.query' && r.consistency === 'eventual'),
        'eventual read',
        'eventual reads',
      ],
      [count((r) => r.operation === 'eventstore.queryStream'), 'streamed read', 'streamed reads'],
      [count((r) => r.operation.startsWith('eventstore.snapshot.')), 'snapshot call', 'snapshot calls'],
      [count((r) => r.operation === 'eventstore.append' && r.outcome === 'ok'), 'append', 'appends'],
      [count((r) => r.outcome === 'conflict'), 'conflict', 'conflicts'],
      [count((r) => r.outcome === 'error'), 'error', 'errors'],
    ];
    const parts = tally.filter(([n]) => n !== 0).map(([n, one, many]) => `${n} ${n === 1 ? one : many}`);
    console.log(row(server, parts.join(', ') || 'nothing'));
  }
}

// --- running a step and printing it -----------------------------------------------------------------

/** Runs a command handler and prints one line: what, where it was served, and the outcome. */
async function command(label: string, run: () => Promise<CommandResult>): Promise<CommandResult> {
  const before = reports.length;
  const result = await run();
  const attempts = result.attempts > 1 ? ` after ${result.attempts} attempts` : '';
  console.log(row(label, `${route(reports.slice(before))}${outcomeText(result)}${attempts}`));
  return result;
}

/** Runs the query handler and prints where it was served and what it saw; `latest` marks a stale answer. */
async function read(label: string, run: () => Promise<BooksInCirculation>, latest?: bigint): Promise<void> {
  const before = reports.length;
  const view = await run();
  const copies = view.copies
    .map((copy) => `${copy.bookId} ${copy.lentTo ? `lent to ${copy.lentTo}` : 'on the shelf'}`)
    .join(', ');
  const stale = latest !== undefined && view.asOf < latest;
  const freshness = latest === undefined ? '' : stale ? `  (stale: misses #${latest})` : '  (up to date)';
  const seen = `as of #${view.asOf}: ${copies || 'no copies'}${freshness}`;
  console.log(row(label, `${route(reports.slice(before))}${seen}`));
}

/** "strong -> primary" from the hook's reports of one step (all of them, including retries). */
function route(stepReports: readonly OperationReport[]): string {
  const unique = (values: string[]) => [...new Set(values)].join('+') || '-';
  const consistency = unique(stepReports.map((r) => r.consistency));
  const server = unique(stepReports.map((r) => (r.fellBack ? `${r.server} (fallback)` : r.server)));
  return `${consistency.padEnd(8)} -> ${server}`.padEnd(ROUTE);
}

function outcomeText(result: CommandResult): string {
  if (result.outcome !== 'appended') return `${result.outcome}: ${result.reason}`;
  return `appended ${result.sequenceNumbers.map((n) => `#${n}`).join(', ')}`;
}

function section(title: string, subtitle: string): void {
  console.log(`\n${title} (${subtitle})`);
}

function row(label: string, text: string): string {
  return `  ${label.padEnd(LABEL)}${text}`;
}

function detail(text: string): void {
  console.log(`${' '.repeat(6)}${text}`);
}

function note(text: string): void {
  console.log(`  - ${text}`);
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  return lines;
}

/** host:port of a connection URL; never the user name or password. */
function hostOf(url: string): string {
  try {
    return new URL(url).host || 'default host';
  } catch {
    return 'unparsable URL';
  }
}

async function dropSchema(pool: pg.Pool, schema: string): Promise<void> {
  try {
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } catch (error) {
    console.error(`warning: could not drop the demo schema ${schema}: ${describe(error)}`);
  }
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = isEventStoreError(error) ? ` (${error.code})` : '';
  const cause = error.cause === undefined ? '' : `\n  caused by: ${describe(error.cause)}`;
  return `${error.name}${code}: ${error.message}${cause}`;
}

let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    interrupted = true;
    console.error(`\n${signal}: cleaning up`);
    void cleanup().finally(() => process.exit(130));
  });
}

try {
  await main();
  await cleanup();
  console.log('\ndone');
} catch (error) {
  if (!interrupted) console.error(`\ndemo failed: ${describe(error)}`);
  await cleanup();
  process.exitCode = 1;
}
