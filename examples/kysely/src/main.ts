/**
 * The library demo with Kysely: the app's own Kysely instances (pg dialect, CamelCasePlugin) carry the
 * event store, and the admin screen reads the events table with a typed Kysely query of its own.
 *
 *   pnpm --filter @es/example-kysely start        # starts a local primary + streaming replica (@es/testing)
 *   ES_PRIMARY_URL=... ES_REPLICA_URL=... pnpm --filter @es/example-kysely start    # your servers
 */
import type { OperationReport } from '@es/core';
import {
  addBookCopy,
  booksInCirculation,
  type CommandResult,
  lendBookCopyToReader,
  returnBookCopyFromReader,
} from '@es/example-library';
import { fromKyselyAndReplica } from '@es/kysely';
import { type Cluster, startCluster } from '@es/testing';
import { CamelCasePlugin, type ColumnType, type Generated, Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';

/** The app's view of the events table the store migrates (CamelCasePlugin maps event_type to eventType). */
interface Database {
  events: {
    sequenceNumber: Generated<string>;
    eventType: string;
    occurredAt: ColumnType<Date, never, never>;
    payload: unknown;
  };
}

/** A Kysely instance as an app would build one: bounded pool, explicit connect timeout, an 'error' listener. */
function newDb(role: string, connectionString: string): Kysely<Database> {
  const pool = new pg.Pool({ connectionString, max: 5, connectionTimeoutMillis: 5_000 });
  pool.on('error', (error) => console.error(`  [${role} pool] idle client error: ${error.message}`));
  // Kysely checks clients out: one whose connection breaks mid-query emits 'error' too (the query fails).
  pool.on('connect', (client) => client.on('error', () => {}));
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }), plugins: [new CamelCasePlugin()] });
}

const reports: OperationReport[] = [];
/** Which server(s) served the calls since `from`, as the store's onOperation hook reported them. */
const servedBy = (from: number) => [...new Set(reports.slice(from).map((r) => r.server))].join('+') || '-';
const print = (label: string, from: number, text: string) =>
  console.log(`  ${label.padEnd(26)}${servedBy(from).padEnd(9)}${text}`);

async function command(label: string, run: () => Promise<CommandResult>): Promise<void> {
  const from = reports.length;
  const result = await run();
  const text =
    result.outcome === 'appended'
      ? `appended ${result.sequenceNumbers.map((n) => `#${n}`).join(', ')}`
      : `${result.outcome}: ${result.reason}`;
  print(label, from, text);
}

let cluster: Cluster | undefined;
let primary: Kysely<Database> | undefined;
let replica: Kysely<Database> | undefined;
const schema = `library_kysely_${Date.now().toString(36)}`;
try {
  console.log('es demo: a library on PostgreSQL with Kysely, a primary and a streaming replica\n');
  cluster = await startCluster({ database: 'library' });
  primary = newDb('primary', cluster.primaryUrl);
  replica = newDb('replica', cluster.replicaUrl);
  // Two plain instances, one per server (not one built with kysely-replication: see @es/kysely's README).
  // The CamelCasePlugin on them is for the app's own queries; the store's statements bypass it.
  const store = fromKyselyAndReplica(primary, replica, {
    tableName: `${schema}.events`,
    hooks: { onOperation: (report) => reports.push(report) },
  });
  await store.migrate();
  print('migrate', 0, store.tableName);

  await command('add copy-1 "Dune"', () => addBookCopy(store, { bookId: 'copy-1', title: 'Dune' }));
  await command('add copy-2 "Emma"', () => addBookCopy(store, { bookId: 'copy-2', title: 'Emma' }));
  await command('lend copy-1 to ann', () =>
    lendBookCopyToReader(store, { bookId: 'copy-1', readerId: 'ann' }),
  );
  await command('lend copy-1 to bob', () =>
    lendBookCopyToReader(store, { bookId: 'copy-1', readerId: 'bob' }),
  );
  await command('return copy-1 from ann', () =>
    returnBookCopyFromReader(store, { bookId: 'copy-1', readerId: 'ann' }),
  );

  // The replica lags by a fraction of a millisecond: wait until it has replayed the primary's last commit.
  await cluster.waitForReplay();
  const from = reports.length;
  const view = await booksInCirculation(store);
  const copies = view.copies.map((c) => `${c.bookId} ${c.lentTo ? `lent to ${c.lentTo}` : 'on the shelf'}`);
  print('booksInCirculation', from, `as of #${view.asOf}: ${copies.join(', ')}`);

  // The admin screen: the app's own typed Kysely query on the replica, not a store call.
  const counts = await replica
    .withSchema(schema)
    .selectFrom('events')
    .select((eb) => ['eventType', eb.fn.countAll<string>().as('count')])
    .groupBy('eventType')
    .orderBy('eventType')
    .execute();
  console.log(`  ${'admin: events per type'.padEnd(26)}${'replica'.padEnd(9)}(a Kysely query of the app)`);
  for (const { eventType, count } of counts) console.log(`${' '.repeat(37)}${eventType}: ${count}`);
  console.log('\ndone');
} catch (error) {
  console.error('\ndemo failed:', error);
  process.exitCode = 1;
} finally {
  await primary?.schema
    .dropSchema(schema)
    .ifExists()
    .cascade()
    .execute()
    .catch(() => {});
  await Promise.allSettled([primary?.destroy(), replica?.destroy()]);
  await cluster?.stop();
}
