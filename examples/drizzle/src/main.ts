/**
 * The library demo with Drizzle ORM (node-postgres): the app already has a drizzle instance per server;
 * the event store runs on those, and the app keeps using drizzle's query builder for its own queries.
 *
 *   pnpm --filter @es/example-drizzle start     # starts a local primary + streaming replica (@es/testing)
 *   ES_PRIMARY_URL=... ES_REPLICA_URL=... pnpm --filter @es/example-drizzle start    # your servers
 *
 * It works in a schema of its own, which it drops at the end.
 */
import type { OperationReport } from '@es/core';
import { fromDrizzleAndReplica } from '@es/drizzle';
import {
  addBookCopy,
  booksInCirculation,
  type CommandResult,
  lendBookCopyToReader,
  removeBookCopy,
  returnBookCopyFromReader,
} from '@es/example-library';
import { startCluster } from '@es/testing';
import { count, sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import { bigserial, jsonb, pgSchema, text, timestamp } from 'drizzle-orm/pg-core';
import pg from 'pg';

const schemaName = `library_drizzle_${Date.now().toString(36)}`;

/** The events table as the app's own drizzle schema sees it (es creates and migrates it). */
const events = pgSchema(schemaName).table('events', {
  sequenceNumber: bigserial('sequence_number', { mode: 'bigint' }).primaryKey(),
  eventType: text('event_type').notNull(),
  occurredAt: timestamp('occurred_at', { withTimezone: true }).notNull(),
  payload: jsonb('payload').notNull(),
});

/** A pool as you would configure one: explicit connect timeout, and an 'error' listener. */
function newPool(role: string, connectionString: string): pg.Pool {
  const pool = new pg.Pool({ connectionString, max: 5, connectionTimeoutMillis: 5_000 });
  pool.on('error', (error) => console.error(`[${role} pool] idle client error: ${error.message}`));
  return pool;
}

const reports: OperationReport[] = [];
/** Where the calls since `from` were served, from the store's hook: "strong -> primary". */
const served = (from: number) =>
  [...new Set(reports.slice(from).map((r) => `${r.consistency} -> ${r.server} (${r.driver})`))].join(', ');

async function step(label: string, run: () => Promise<CommandResult>): Promise<void> {
  const from = reports.length;
  const result = await run();
  const text =
    result.outcome === 'appended'
      ? `appended #${result.sequenceNumbers.join(', #')}`
      : `${result.outcome}: ${result.reason}`;
  console.log(`  ${label.padEnd(24)} ${served(from).padEnd(48)} ${text}`);
}

const cluster = await startCluster({ database: 'library' });
const primaryPool = newPool('primary', cluster.primaryUrl);
const replicaPool = newPool('replica', cluster.replicaUrl);
const db = drizzle({ client: primaryPool });
const replicaDb = drizzle({ client: replicaPool });
try {
  const store = fromDrizzleAndReplica(db, replicaDb, {
    tableName: `${schemaName}.events`,
    hooks: { onOperation: (report) => reports.push(report) },
  });
  await store.migrate();
  console.log(`es + drizzle (node-postgres), ${cluster.mode} cluster, table ${store.tableName}\n`);

  console.log('Commands (strong consistency)');
  await step('add copy-1 "Dune"', () => addBookCopy(store, { bookId: 'copy-1', title: 'Dune' }));
  await step('add copy-2 "Emma"', () => addBookCopy(store, { bookId: 'copy-2', title: 'Emma' }));
  await step('lend copy-1 to ann', () => lendBookCopyToReader(store, { bookId: 'copy-1', readerId: 'ann' }));
  await step('remove copy-1', () => removeBookCopy(store, { bookId: 'copy-1' }));
  await step('return copy-1 from ann', () =>
    returnBookCopyFromReader(store, { bookId: 'copy-1', readerId: 'ann' }),
  );

  console.log('\nQueries (eventual consistency, after the replica replayed the writes)');
  await cluster.waitForReplay();
  const from = reports.length;
  const view = await booksInCirculation(store);
  const copies = view.copies.map((c) => `${c.bookId} ${c.lentTo ? `lent to ${c.lentTo}` : 'on the shelf'}`);
  console.log(`  ${'booksInCirculation'.padEnd(24)} ${served(from).padEnd(48)} ${copies.join(', ')}`);

  // The app's own admin query, typed by the table declaration above, on the replica.
  const perType = await replicaDb
    .select({ type: events.eventType, total: count() })
    .from(events)
    .groupBy(events.eventType)
    .orderBy(events.eventType);
  console.log('\nAdmin count with drizzle on the replica');
  for (const { type, total } of perType) console.log(`  ${type.padEnd(32)} ${total}`);
} finally {
  await db.execute(sql`DROP SCHEMA IF EXISTS ${sql.identifier(schemaName)} CASCADE`).catch(() => {});
  await Promise.allSettled([primaryPool.end(), replicaPool.end()]);
  await cluster.stop();
}
