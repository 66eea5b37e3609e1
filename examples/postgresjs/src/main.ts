/**
 * The library demo on postgres.js: command handlers on the primary (strong consistency), the query
 * handler on the replica (eventual consistency), each step printed with the server that served it.
 *
 *   pnpm --filter @es/example-postgresjs start     # starts a local primary + streaming replica
 *   ES_PRIMARY_URL=... ES_REPLICA_URL=... pnpm --filter @es/example-postgresjs start   # your servers
 *
 * It works in a schema of its own and drops it at the end, so it leaves nothing behind on your servers.
 */
import { type OperationReport, withEventualConsistency, withTimeout } from '@es/core';
import {
  addBookCopy,
  booksInCirculation,
  type CommandResult,
  lendBookCopyToReader,
  returnBookCopyFromReader,
} from '@es/example-library';
import { fromPostgresJsAndReplica } from '@es/postgresjs';
import { startCluster } from '@es/testing';
import postgres from 'postgres';

const reports: OperationReport[] = [];

/** Runs one step and prints where it was served ("strong -> primary") and what came of it. */
async function step<T>(label: string, run: () => Promise<T>, describe: (result: T) => string) {
  const before = reports.length;
  const result = await run();
  const served = [...new Set(reports.slice(before).map((r) => `${r.consistency} -> ${r.server}`))];
  console.log(`  ${label.padEnd(30)}${served.join(', ').padEnd(22)}${describe(result)}`);
}

const outcome = (result: CommandResult) =>
  result.outcome === 'appended'
    ? `appended ${result.sequenceNumbers.map((n) => `#${n}`).join(', ')}`
    : `${result.outcome}: ${result.reason}`;

// With ES_PRIMARY_URL and ES_REPLICA_URL set this uses those servers; otherwise it starts local ones.
const cluster = await startCluster({ database: 'library' });
// One postgres() instance per server. connect_timeout (seconds) bounds a server that accepts TCP but
// never answers; onnotice replaces postgres.js's console.log of server notices (the migration's
// `IF EXISTS` steps raise a few "does not exist, skipping").
const primary = postgres(cluster.primaryUrl, { max: 10, connect_timeout: 5, onnotice: () => {} });
const replica = postgres(cluster.replicaUrl, { max: 10, connect_timeout: 2, onnotice: () => {} });
const schema = `library_demo_${Date.now().toString(36)}`;

try {
  const store = fromPostgresJsAndReplica(primary, replica, {
    tableName: `${schema}.events`,
    hooks: { onOperation: (report) => reports.push(report) },
  });
  console.log(`es demo with postgres.js (${cluster.mode} primary + streaming replica)`);
  await step(
    'migrate',
    () => store.migrate(),
    () => `${store.tableName} is ready`,
  );

  console.log('\nCommands: read the boundary strongly, decide, append');
  await step('add copy-1 "Dune"', () => addBookCopy(store, { bookId: 'copy-1', title: 'Dune' }), outcome);
  await step('add copy-2 "Emma"', () => addBookCopy(store, { bookId: 'copy-2', title: 'Emma' }), outcome);
  const lend = (bookId: string, readerId: string) => lendBookCopyToReader(store, { bookId, readerId });
  await step('lend copy-1 to ann', () => lend('copy-1', 'ann'), outcome);
  await step('lend copy-1 to bob', () => lend('copy-1', 'bob'), outcome);
  const giveBack = () => returnBookCopyFromReader(store, { bookId: 'copy-1', readerId: 'ann' });
  await step('return copy-1 from ann', giveBack, outcome);

  console.log('\nQueries: eventual consistency, served by the replica');
  await cluster.waitForReplay(); // replay lag is sub-millisecond here, but not zero
  // A timeout in the context cancels the statement on the server (PostgreSQL's cancel request) if it fires.
  const ctx = withTimeout(withEventualConsistency(), 5_000);
  await step(
    'booksInCirculation',
    () => booksInCirculation(store, ctx),
    (view) =>
      `as of #${view.asOf}: ` +
      view.copies.map((c) => `${c.bookId} ${c.lentTo ? `lent to ${c.lentTo}` : 'on the shelf'}`).join(', '),
  );
  console.log('\ndone');
} finally {
  await primary`DROP SCHEMA IF EXISTS ${primary(schema)} CASCADE`.catch((error: unknown) =>
    console.error(`could not drop the demo schema ${schema}: ${String(error)}`),
  );
  await Promise.all([primary.end({ timeout: 5 }), replica.end({ timeout: 5 })]);
  await cluster.stop();
}
