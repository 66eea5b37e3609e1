import {
  appendRequest,
  appendStatement,
  buildEventFilter,
  buildStorableEvent,
  P,
  parseTableName,
  queryStatement,
  withStrongConsistency,
} from '@es/core';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { freshTable, instance, useCluster } from './helpers.js';

/** Filters of payload containments, each shape the static guard and read take; the last matches nothing. */
const CONTAINMENT_SHAPES = [
  buildEventFilter().matching().anyEventTypeOf('A').andAllPredicatesOf(P('BookID', 'b3')),
  buildEventFilter().matching().anyEventTypeOf('A', 'C').andAllPredicatesOf(P('BookID', 'b3'), P('n', 2)),
  buildEventFilter().matching().allPredicatesOf(P('ReaderID', 'r1'), P('flag', true)),
  buildEventFilter().matching().anyPredicateOf(P('BookID', 'b1'), P('ReaderID', 'r4')),
  buildEventFilter()
    .matching()
    .anyEventTypeOf('B')
    .andAnyPredicateOf(P('n', 3), P('BookID', 'b6'))
    .orMatching()
    .anyEventTypeOf('C')
    .andAllPredicatesOf(P('ReaderID', 'r0')),
  buildEventFilter().matching().anyEventTypeOf('A').andAllPredicatesOf(P('BookID', 'none')),
];

/**
 * 2,000 events of types A, B and C, each with its own time and metadata, whose payloads every one of
 * `CONTAINMENT_SHAPES` but the last matches some of.
 */
async function insertShapeEvents(primary: pg.Pool, table: string): Promise<void> {
  await primary.query(
    `INSERT INTO "${table}" (event_type, occurred_at, payload, metadata)
     SELECT (ARRAY['A', 'B', 'C'])[1 + i % 3], now() - i * interval '1 second',
       jsonb_build_object('BookID', 'b' || (i % 7), 'ReaderID', 'r' || (i % 5), 'n', i % 4, 'flag', i % 2 = 0),
       jsonb_build_object('i', i)
     FROM generate_series(1, 2000) AS i`,
  );
}

/**
 * SPEC §6: a prepared statement switches to a generic plan after 5 executions, and for MAX over a filter
 * that plan walks the whole primary key backwards. auto_explain (log_level notice) sends the plan of every
 * nested statement to this client, so the test reads the real plans of the guard and of the strong read on
 * one connection running them as NAMED (prepared) statements 12 times each:
 * - a boundary of payload containments goes to the static guard and the static strong read, whose plans
 *   are kept: they must read the payload index and never walk the primary key, on every execution;
 * - a filter with a bound goes to the dynamic guard and read, planned with their values on every execution.
 */
describe('the append guard on a prepared connection', () => {
  const cluster = useCluster();

  it('reads the payload index on every execution; the dynamic guard is planned with its values', async () => {
    const table = freshTable('plans');
    const app = instance(cluster(), table);
    const client = new pg.Client({ connectionString: cluster().primaryUrl, connectionTimeoutMillis: 5_000 });
    try {
      await app.store.migrate();
      // A large table where every event has one type, and the planner's default estimate for `payload @>`
      // (no payload statistics, as on a fresh table): the shape where a generic plan, or a plain MAX with
      // the estimate, walks the whole primary key backwards.
      await app.primary.query(
        `ALTER TABLE "${table}" SET (autovacuum_enabled = false), ALTER payload SET STATISTICS 0`,
      );
      await app.primary.query(
        `INSERT INTO "${table}" (event_type, occurred_at, payload)
         SELECT 'BookCopyLentToReader', now(), jsonb_build_object('BookID', 'book-' || i, 'ReaderID', 'r-' || (i % 50))
         FROM generate_series(1, 50000) AS i`,
      );
      await app.primary.query(`ANALYZE "${table}"`);

      await client.connect();
      const plans: string[] = [];
      client.on('notice', (notice) => plans.push(notice.message ?? ''));
      await client.query(`LOAD 'auto_explain'`);
      await client.query(`SET auto_explain.log_min_duration = 0`);
      await client.query(`SET auto_explain.log_nested_statements = on`);
      await client.query(`SET auto_explain.log_level = notice`);

      const names = parseTableName(table);
      for (let run = 0; run < 24; run++) {
        // The first 12 runs a boundary (the static guard), the next 12 the same with a time bound (dynamic).
        const boundary = buildEventFilter()
          .matching()
          .anyEventTypeOf('BookCopyLentToReader')
          .andAllPredicatesOf(P('BookID', `book-${run * 1000 + 7}`));
        const filter = run < 12 ? boundary.finalize() : boundary.occurredFrom(new Date(0)).finalize();
        const event = buildStorableEvent({
          type: 'BookCopyLentToReader',
          occurredAt: new Date(),
          payload: { BookID: `new-${run}` },
        });
        const { rows } = await app.primary.query(
          `SELECT coalesce(max(sequence_number), 0)::text AS max FROM "${table}" WHERE payload @> $1::jsonb`,
          [JSON.stringify({ BookID: `book-${run * 1000 + 7}` })],
        );
        const expected = BigInt(rows[0].max);
        expect(expected).toBeGreaterThan(0n);
        const statement = appendStatement(names, [appendRequest(filter, expected, [event])]);
        const result = await client.query({
          name: run < 12 ? 'es-append-static' : 'es-append-dynamic',
          text: statement.text,
          values: [...statement.values],
        });
        // The result holds the max found and the new position: the guard passed.
        expect(result.rows[0].result.split(',')).toHaveLength(2);
        const read = queryStatement(names, filter, true);
        const { rows: events } = await client.query({
          name: run < 12 ? 'es-query-static' : 'es-query-dynamic',
          text: read.text,
          values: [...read.values],
        });
        expect(events).toHaveLength(1);
      }

      const planOf = (query: string) => plans.filter((plan) => plan.includes(`Query Text: ${query}`));
      const staticGuards = planOf('SELECT array_agg((');
      const dynamicGuards = planOf('SELECT ARRAY[coalesce(greatest(');
      const staticReads = planOf('SELECT json_build_array(found.sequence_number');
      const dynamicReads = planOf(`SELECT "${table}".sequence_number::text`);
      expect(staticGuards).toHaveLength(12);
      expect(dynamicGuards).toHaveLength(12);
      expect(staticReads).toHaveLength(12);
      expect(dynamicReads).toHaveLength(12);
      for (const plan of [...staticGuards, ...dynamicGuards, ...staticReads, ...dynamicReads]) {
        expect(plan).toContain(`${table}_payload_idx`);
        expect(plan).not.toMatch(/Index Scan Backward using \S*_pkey/);
        expect(plan).not.toContain('Seq Scan');
        // No JIT compilation (10-30 ms a call) for statements that take microseconds.
        expect(plan).not.toContain('JIT:');
      }
      // The static read finds the events through the payload index alone, never by walking the positions.
      for (const plan of staticReads) expect(plan).not.toMatch(/Index Scan using \S*_pkey/);
      // Custom plans: the boundary's value is a constant in the plan, not a parameter.
      for (const plan of [...dynamicGuards, ...dynamicReads]) {
        expect(plan).toMatch(/payload @> '\{"BookID": "book-\d+"\}'::jsonb/);
      }
    } finally {
      await client.end().catch(() => {});
      await app.close();
    }
  });

  it('the static strong read returns the events the read planned with its values returns, for every containment shape', async () => {
    const table = freshTable('reads');
    const app = instance(cluster(), table);
    try {
      await app.store.migrate();
      await insertShapeEvents(app.primary, table);
      const strong = withStrongConsistency();
      for (const shape of CONTAINMENT_SHAPES) {
        const fixed = await app.store.query(strong, shape.finalize());
        // A bound that excludes nothing sends the same filter to the read planned with its values.
        const planned = await app.store.query(strong, shape.occurredFrom(new Date(0)).finalize());
        expect(queryStatement(parseTableName(table), shape.finalize(), true).text).toContain(
          '_read_matching',
        );
        expect(fixed.events).toEqual(planned.events);
        expect(fixed.maxSequenceNumber).toBe(planned.maxSequenceNumber);
      }
      const counts = await Promise.all(
        CONTAINMENT_SHAPES.map(
          async (shape) => (await app.store.query(strong, shape.finalize())).events.length,
        ),
      );
      expect(counts.filter((count) => count > 0)).toHaveLength(CONTAINMENT_SHAPES.length - 1);
    } finally {
      await app.close();
    }
  });

  it('the static guard finds the same max as the guard planned with its values, for every containment shape', async () => {
    const table = freshTable('guards');
    const app = instance(cluster(), table);
    try {
      await app.store.migrate();
      await insertShapeEvents(app.primary, table);
      const names = parseTableName(table);
      const event = buildStorableEvent({ type: 'Z', occurredAt: new Date(), payload: { other: 1 } });
      // Expected -1 never passes: the calls insert nothing and answer the maxima they found.
      const maxima = async (filters: ReturnType<(typeof CONTAINMENT_SHAPES)[number]['finalize']>[]) => {
        const statement = appendStatement(
          names,
          filters.map((filter) => appendRequest(filter, -1n, [event])),
        );
        const { rows } = await app.primary.query(statement.text, [...statement.values]);
        return { guard: statement.values[3], maxima: rows[0].result };
      };
      const fixed = await maxima(CONTAINMENT_SHAPES.map((shape) => shape.finalize()));
      // A bound that excludes nothing sends the same filters to the guard planned with their values.
      const planned = await maxima(
        CONTAINMENT_SHAPES.map((shape) => shape.occurredFrom(new Date(0)).finalize()),
      );
      expect(fixed.guard).toBeNull();
      expect(planned.guard).toContain('SELECT ARRAY[');
      expect(fixed.maxima).toBe(planned.maxima);
      const found = (fixed.maxima as string).slice(1, -1).split(',').map(Number);
      expect(found.filter((max) => max > 0)).toHaveLength(CONTAINMENT_SHAPES.length - 1);
      expect(found.at(-1)).toBe(0);
    } finally {
      await app.close();
    }
  });
});
