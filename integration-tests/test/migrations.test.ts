import { readFileSync } from 'node:fs';
import {
  buildEventFilter,
  buildStorableEvent,
  type EventFilter,
  isEventStoreError,
  matchesFilter,
  P,
  withStrongConsistency,
} from '@es/core';
import { fromPgPool } from '@es/pg';
import { describe, expect, it } from 'vitest';
import { freshTable, pool, useCluster } from './helpers.js';

/**
 * Migrations are real from step 2 on: a database created by step 1 as released (recorded in a fixture,
 * the statements exactly as that release sent them) upgrades with `migrate()`, keeps its events and
 * holds the guarantees; and `migrate()` refuses a schema that differs from what its steps produce.
 */
const step1 = JSON.parse(
  readFileSync(new URL('../../packages/core/fixtures/step1-legacy.events.json', import.meta.url), 'utf8'),
) as { text: string; values: string[] }[];

/** The filter encoding of step 1's functions. */
const legacyFilter = (book: string) =>
  JSON.stringify({ items: [{ types: [], predicates: [{ BookID: book }], all: true }] });

describe('migrations', () => {
  const cluster = useCluster();

  it('a database created by released step 1 upgrades, keeps its events, and the guard holds under concurrency', async () => {
    const primary = pool(cluster().primaryUrl, 24);
    try {
      // Install step 1 exactly as released, and write with it: through its append function and by plain INSERT.
      const client = await primary.connect();
      try {
        await client.query('BEGIN');
        for (const { text, values } of step1) await client.query(text, values);
        await client.query('COMMIT');
      } finally {
        client.release();
      }
      for (let index = 0; index < 5; index++) {
        await primary.query('SELECT * FROM legacy.events_append($1::jsonb, $2::bigint, $3::jsonb)', [
          legacyFilter(`old-${index}`),
          '0',
          JSON.stringify([
            {
              type: 'Lent',
              occurredAt: new Date().toISOString(),
              payload: { BookID: `old-${index}` },
              metadata: {},
            },
          ]),
        ]);
      }
      await primary.query(
        `INSERT INTO legacy.events (event_type, occurred_at, payload) VALUES ('Lent', now(), '{"BookID": "old-raw"}')`,
      );
      const before = (await primary.query('SELECT * FROM legacy.events ORDER BY sequence_number')).rows;
      expect(before).toHaveLength(6);

      const store = fromPgPool(primary, { tableName: 'legacy.events' });
      await store.migrate();
      await store.migrate(); // idempotent
      const versions = await primary.query(
        `SELECT version FROM legacy.es_migrations WHERE table_name = 'legacy.events' ORDER BY version`,
      );
      expect(versions.rows.map((row) => row.version)).toEqual([1, 2, 3, 4, 5, 6]);
      // Step 3 adds the id column: the old events keep everything else, with no id.
      expect((await primary.query('SELECT * FROM legacy.events ORDER BY sequence_number')).rows).toEqual(
        before.map((row) => ({ ...row, id: null })),
      );
      const old = await store.query(withStrongConsistency(), boundary('old-3'));
      expect(old.events.map((event) => event.payload)).toEqual([{ BookID: 'old-3' }]);
      // Step 1's functions are gone: an application still on the old release fails loudly, never half-guarded.
      await expect(
        primary.query('SELECT * FROM legacy.events_append($1::jsonb, $2::bigint, $3::jsonb)', [
          legacyFilter('x'),
          '0',
          '[]',
        ]),
      ).rejects.toMatchObject({ code: '42883' });

      // 20 appends on one boundary with the same expected max: exactly one wins.
      const race = await Promise.allSettled(
        Array.from({ length: 20 }, (_, writer) =>
          store.append(
            withStrongConsistency(),
            boundary('old-3'),
            old.maxSequenceNumber,
            lent('old-3', { writer }),
          ),
        ),
      );
      expect(race.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(1);
      for (const outcome of race) {
        if (outcome.status === 'rejected')
          expect(isEventStoreError(outcome.reason, 'CONCURRENCY_CONFLICT')).toBe(true);
      }
      // Read-decide-append cycles on overlapping boundaries, with plain INSERTs beside them: the oracle holds.
      const successes = await cycles(store, primary);
      expect(successes.length).toBeGreaterThan(50);
      const stored = (
        await primary.query(
          'SELECT sequence_number::text AS s, event_type, occurred_at, payload FROM legacy.events ORDER BY sequence_number',
        )
      ).rows.map((row) => ({
        sequenceNumber: BigInt(row.s),
        type: row.event_type,
        occurredAt: row.occurred_at,
        payload: row.payload,
      }));
      const violations = successes.filter(({ filter, expected, first }) => {
        const below = stored.filter((event) => event.sequenceNumber < first && matchesFilter(filter, event));
        return (below.at(-1)?.sequenceNumber ?? 0n) !== expected;
      });
      expect(violations).toEqual([]);
    } finally {
      await primary.end();
    }
  }, 120_000);

  it('refuses a schema that differs from what the steps produce, and changes nothing', async () => {
    const primary = pool(cluster().primaryUrl);
    try {
      const table = freshTable('drift');
      const store = fromPgPool(primary, { tableName: table });
      await store.migrate();
      const body = `(SELECT prosrc FROM pg_proc WHERE proname = '${table}_append')`;
      const original = (await primary.query(`SELECT ${body} AS body`)).rows[0].body;
      // A function edited by hand (here: only a comment added).
      await primary.query(
        `DO $$ BEGIN EXECUTE replace(pg_get_functiondef('"${table}_append"'::regproc), 'BEGIN', 'BEGIN -- patched'); END $$`,
      );
      const drift = await store.migrate().catch((error: unknown) => error);
      expect(isEventStoreError(drift, 'SCHEMA_DRIFT')).toBe(true);
      expect((drift as { problems: string[] }).problems).toEqual([
        `function ${table}_append differs from the one the migration steps install`,
      ]);
      expect((await primary.query(`SELECT ${body} AS body`)).rows[0].body).not.toBe(original);

      // A step applied by a newer release.
      await primary.query(
        `INSERT INTO es_migrations (table_name, version, description) VALUES ($1, 99, 'future')`,
        [table],
      );
      const newer = await store.migrate().catch((error: unknown) => error);
      expect((newer as Error).message).toMatch(/step 99 was applied by a newer version/);

      // A relation that already has the payload index's name, on a new table: migrate() does not pretend.
      const other = freshTable('taken');
      await primary.query(
        `CREATE TABLE "${other}_holder" (payload jsonb); CREATE INDEX "${other}_payload_idx" ON "${other}_holder" (payload)`,
      );
      const taken = await fromPgPool(primary, { tableName: other })
        .migrate()
        .catch((error: unknown) => error);
      expect((taken as { problems?: string[] }).problems).toEqual([`index ${other}_payload_idx is missing`]);
      expect((await primary.query('SELECT to_regclass($1) AS exists', [other])).rows[0].exists).toBeNull();
    } finally {
      await primary.end();
    }
  });
});

function boundary(book: string): EventFilter {
  return buildEventFilter().matching().allPredicatesOf(P('BookID', book)).finalize();
}

function lent(book: string, extra: Record<string, number> = {}) {
  return buildStorableEvent({ type: 'Lent', occurredAt: new Date(), payload: { BookID: book, ...extra } });
}

/** 8 workers, 300 read-decide-append cycles on 3 books (filters of one or two books), and plain INSERTs. */
async function cycles(store: ReturnType<typeof fromPgPool>, primary: ReturnType<typeof pool>) {
  const books = ['old-0', 'old-1', 'new-a'];
  const successes: { filter: EventFilter; expected: bigint; first: bigint }[] = [];
  let attempts = 0;
  const worker = async (id: number) => {
    while (attempts++ < 300) {
      const picked = books.filter((_, index) => (attempts * (id + 1) + index) % 3 !== 0);
      const filter = buildEventFilter()
        .matching()
        .anyPredicateOf(...(picked.map((book) => P('BookID', book)) as [ReturnType<typeof P>]))
        .finalize();
      if (attempts % 10 === 0) {
        await primary.query(
          `INSERT INTO legacy.events (event_type, occurred_at, payload) VALUES ('Lent', now(), $1::jsonb)`,
          [JSON.stringify({ BookID: picked[0], raw: true })],
        );
      }
      const read = await store.query(withStrongConsistency(), filter);
      try {
        const { sequenceNumbers } = await store.append(
          withStrongConsistency(),
          filter,
          read.maxSequenceNumber,
          lent(picked.at(-1) as string),
        );
        successes.push({ filter, expected: read.maxSequenceNumber, first: sequenceNumbers[0] as bigint });
      } catch (error) {
        if (!isEventStoreError(error, 'CONCURRENCY_CONFLICT')) throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, (_, id) => worker(id)));
  return successes;
}
