// The README's code blocks outside its quick start, runnable: each appears in this file verbatim, inside a
// block that sets up what it uses (integration-tests/test/readme.test.ts checks that, and runs this file
// against a local primary + replica). Run it yourself with the URLs `npx es-cluster` prints:
//   ES_PRIMARY_URL=... ES_REPLICA_URL=... npm run example -- pg readme-snippets
import {
  buildEventFilter,
  buildStorableEvent,
  P,
  withConsistencyToken,
  withEventualConsistency,
  withStrongConsistency,
} from '@es/core';
import { fromPgPoolAndReplica } from '@es/pg';
import pg from 'pg';

const primary = new pg.Pool({ connectionString: process.env.ES_PRIMARY_URL, connectionTimeoutMillis: 5_000 });
const replica = new pg.Pool({ connectionString: process.env.ES_REPLICA_URL, connectionTimeoutMillis: 2_000 });
const store = fromPgPoolAndReplica(primary, replica, { tableName: 'readme_snippet_events' });
await store.migrate();
const bookId = `book-${Date.now()}`;
const boundary = buildEventFilter()
  .matching()
  .anyEventTypeOf('BookCopyAddedToCirculation', 'BookCopyLentToReader')
  .andAnyPredicateOf(P('BookID', bookId))
  .finalize();
const event = (type: string) =>
  buildStorableEvent({ type, occurredAt: new Date(), payload: { BookID: bookId } });
const { sequenceNumbers } = await store.append(
  withStrongConsistency(),
  boundary,
  0n,
  event('BookCopyAddedToCirculation'),
);

// "Read your writes over HTTP": one response carries the header to the next request.
{
  const headers = new Map<string, string>();
  const response = { setHeader: (name: string, value: string) => headers.set(name.toLowerCase(), value) };
  const request = {
    get headers(): Record<string, string | string[] | undefined> {
      return Object.fromEntries(headers);
    },
  };
  const max = sequenceNumbers[0] as bigint;
  const lent = event('BookCopyLentToReader');

  // command handler: POST /books/:id/loans
  const { token } = await store.append(withStrongConsistency(), boundary, max, lent);
  response.setHeader('ES-Consistency-Token', token ?? '');

  // query handler: GET /books/:id (the client sends the header back)
  const given = request.headers['es-consistency-token'];
  const ctx = withConsistencyToken(
    withEventualConsistency(),
    typeof given === 'string' && given ? given : undefined,
  );
  const { events, token: seen } = await store.query(ctx, boundary);
  if (seen) response.setHeader('ES-Consistency-Token', seen); // monotonic reads on the next request

  console.log(`read your writes: ${events.length} events, token ${seen ? 'returned' : 'missing'}`);
}

// "Snapshots"
{
  const ctx = withStrongConsistency();
  const filter = boundary;
  const read = await store.query(ctx, filter);
  const state = { lent: read.events.filter((stored) => stored.type === 'BookCopyLentToReader').length };
  await store.saveSnapshot(ctx, {
    projectionType: 'loans',
    filter,
    sequenceNumber: read.maxSequenceNumber,
    state,
  });
  const snapshot = await store.loadSnapshot(ctx, 'loans', filter); // { sequenceNumber, state, savedAt, ... } | undefined
  await store.deleteSnapshot(ctx, 'loans', filter);
  console.log(`snapshot at ${snapshot?.sequenceNumber}: ${JSON.stringify(snapshot?.state)}`);
}

// "Streamed reads"
{
  let lent = 0;
  for await (const stored of store.queryStream(withEventualConsistency(), boundary, { batchSize: 500 })) {
    if (stored.type === 'BookCopyLentToReader') lent += 1;
  }
  console.log(`streamed: ${lent} lent`);
}

await store.close();
await Promise.all([primary.end(), replica.end()]);
