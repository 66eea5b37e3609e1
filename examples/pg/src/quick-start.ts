// The README's "Quick start", runnable: every code block of that section appears in this file verbatim
// (integration-tests/test/readme.test.ts checks it, type-checks nothing else, and runs this file against a
// local primary + replica). Run it yourself with the URLs `npx es-cluster` prints:
//   ES_PRIMARY_URL=... ES_REPLICA_URL=... npm run example -- pg quick-start
import {
  buildEventFilter,
  buildStorableEvent,
  ConcurrencyConflictError,
  P,
  type StoredEvent,
  withEventualConsistency,
  withStrongConsistency,
} from '@es/core';
import { fromPgPool, fromPgPoolAndReplica } from '@es/pg';
import pg from 'pg';

// An ES module (top-level await): "type": "module" in package.json, or a .mts file.
const primary = new pg.Pool({ connectionString: process.env.ES_PRIMARY_URL, connectionTimeoutMillis: 5_000 });
const replica = new pg.Pool({ connectionString: process.env.ES_REPLICA_URL, connectionTimeoutMillis: 2_000 });
const store = fromPgPoolAndReplica(primary, replica, {
  tableName: 'quick_start_events',
  // Every call, reported after it ends: operation, consistency, server, driver, outcome, count, duration.
  hooks: { onOperation: (report) => console.log(report.operation, report.server, report.outcome) },
});
await store.migrate(); // creates or updates the schema on the primary; idempotent

/** The boundary of one book: the events that decide whether a copy can be lent. */
const bookBoundary = (bookId: string) =>
  buildEventFilter()
    .matching()
    .anyEventTypeOf('BookCopyAddedToCirculation', 'BookCopyLentToReader', 'BookCopyReturnedByReader')
    .andAnyPredicateOf(P('BookID', bookId))
    .finalize();

/** A copy is available when it was added and every loan of it was returned. */
const isAvailable = (events: readonly StoredEvent[]) =>
  events.some((event) => event.type === 'BookCopyAddedToCirculation') &&
  events.filter((event) => event.type === 'BookCopyLentToReader').length ===
    events.filter((event) => event.type === 'BookCopyReturnedByReader').length;

async function addBookCopy(bookId: string) {
  const ctx = withStrongConsistency();
  const added = buildStorableEvent({
    type: 'BookCopyAddedToCirculation',
    occurredAt: new Date(),
    payload: { BookID: bookId },
  });
  // The first event of a boundary: expected max 0n (nothing matches it yet). Positions are bigints.
  const { sequenceNumbers } = await store.append(ctx, bookBoundary(bookId), 0n, added);
  return sequenceNumbers[0]; // e.g. 1n
}

async function lendBookCopy(bookId: string, readerId: string) {
  const ctx = withStrongConsistency();
  const boundary = bookBoundary(bookId);
  const { events, maxSequenceNumber } = await store.query(ctx, boundary);
  if (!isAvailable(events)) throw new Error('not available');

  const lent = buildStorableEvent({
    type: 'BookCopyLentToReader',
    occurredAt: new Date(),
    payload: { BookID: bookId, ReaderID: readerId },
  });
  // Appends only if no event matching `boundary` was added since the read; else ConcurrencyConflictError.
  await store.append(ctx, boundary, maxSequenceNumber, lent);
}

async function booksInCirculation() {
  const ctx = withEventualConsistency();
  const { events } = await store.query(
    ctx,
    buildEventFilter().matching().anyEventTypeOf('BookCopyAddedToCirculation').finalize(),
  );
  return events.map((event) => event.payload.BookID);
}

const bookId = `book-${Date.now()}`;
console.log('added at position', await addBookCopy(bookId));
// Two readers race for the copy: one loan is stored; the other is refused, either because it read the
// copy as lent already, or because the loan landed between its read and its append (a conflict).
const race = await Promise.allSettled([lendBookCopy(bookId, 'reader-1'), lendBookCopy(bookId, 'reader-2')]);
for (const outcome of race) {
  if (outcome.status === 'fulfilled') console.log('lent');
  else if (outcome.reason instanceof ConcurrencyConflictError) console.log('refused: the boundary changed');
  else console.log('refused:', (outcome.reason as Error).message);
}
console.log('in circulation (replica, may lag):', (await booksInCirculation()).length);

// One database instead of two: the same calls.
const single = fromPgPool(primary, { tableName: 'quick_start_events' });
console.log(
  'strong read on one database:',
  (await single.query(undefined, bookBoundary(bookId))).events.length,
);
await Promise.all([primary.end(), replica.end()]);
