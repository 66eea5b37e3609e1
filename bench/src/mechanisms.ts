import {
  appendRequest,
  appendStatement,
  buildEventFilter,
  buildStorableEvent,
  type EventFilter,
  type EventStore,
  P,
  parseTableName,
  queryStatement,
  type Row,
  type Statement,
} from '@es/core';
import type pg from 'pg';

/** The outcome of one attempt: on success, the max it expected and the position it got. */
export type Attempt = { ok: true; expected: bigint; position: bigint } | { ok: false };

/** One way of appending an event to a boundary, as measured by the benchmark. */
export interface Mechanism {
  readonly name: string;
  /**
   * Appends one event to `boundary`, guarded by `knownMax` when the caller knows the boundary's max (it
   * is the boundary's only writer), else by a max read first. Resolves what happened.
   */
  append(boundary: string, knownMax?: bigint): Promise<Attempt>;
}

const EVENT_TYPE = 'BookCopyLentToReader';

export function boundaryFilter(boundary: string): EventFilter {
  return buildEventFilter()
    .matching()
    .anyEventTypeOf(EVENT_TYPE)
    .andAllPredicatesOf(P('BookID', boundary))
    .finalize();
}

function payload(boundary: string) {
  return { BookID: boundary, ReaderID: `reader-${Math.floor(Math.random() * 1000)}` };
}

/** The floor: one single-row INSERT, no guard, no read. */
export function plainInsert(pool: pg.Pool, table: string): Mechanism {
  return {
    name: 'plain INSERT (floor, no guard)',
    async append(boundary) {
      const { rows } = await pool.query(
        `INSERT INTO ${table} (event_type, occurred_at, payload) VALUES ($1, now(), $2::jsonb) RETURNING sequence_number::text`,
        [EVENT_TYPE, JSON.stringify(payload(boundary))],
      );
      return { ok: true, expected: -1n, position: BigInt(rows[0].sequence_number) };
    },
  };
}

/**
 * The Go original's shape: read the boundary's max, then one INSERT ... SELECT whose CTE re-reads the
 * max and inserts only if it is unchanged. One round trip for the append, but it checks a snapshot
 * taken before any concurrent uncommitted append commits: it is not safe under concurrency.
 */
export function singleStatementGuard(pool: pg.Pool, table: string): Mechanism {
  const where = `event_type = $1 AND payload @> $2::jsonb`;
  return {
    name: 'Go original: single-statement guard',
    async append(boundary, knownMax) {
      const key = JSON.stringify({ BookID: boundary });
      const expected =
        knownMax?.toString() ??
        ((
          await pool.query(
            `SELECT coalesce(max(sequence_number), 0)::text AS max FROM ${table} WHERE ${where}`,
            [EVENT_TYPE, key],
          )
        ).rows[0].max as string);
      const inserted = await pool.query(
        `WITH context AS (SELECT coalesce(max(sequence_number), 0) AS max FROM ${table} WHERE ${where})
         INSERT INTO ${table} (event_type, occurred_at, payload)
         SELECT $1, now(), $3::jsonb FROM context WHERE max = $4::bigint
         RETURNING sequence_number::text`,
        [EVENT_TYPE, key, JSON.stringify(payload(boundary)), expected],
      );
      const [row] = inserted.rows;
      return row
        ? { ok: true, expected: BigInt(expected), position: BigInt(row.sequence_number) }
        : { ok: false };
    },
  };
}

/** The es store: a strong read (with its read barrier) and the guarded append, through an adapter. */
export function esStore(store: EventStore, name: string): Mechanism {
  return {
    name,
    async append(boundary, knownMax) {
      const filter = boundaryFilter(boundary);
      const maxSequenceNumber = knownMax ?? (await store.query(undefined, filter)).maxSequenceNumber;
      const event = buildStorableEvent({
        type: EVENT_TYPE,
        occurredAt: new Date(),
        payload: payload(boundary),
      });
      try {
        const { sequenceNumbers } = await store.append(undefined, filter, maxSequenceNumber, event);
        return { ok: true, expected: maxSequenceNumber, position: sequenceNumbers[0] as bigint };
      } catch (error) {
        if ((error as { code?: string }).code === 'CONCURRENCY_CONFLICT') return { ok: false };
        throw error;
      }
    },
  };
}

/** Sends one statement through a driver directly, as a user of that driver would. */
export type Send = (statement: Statement) => Promise<{ rows: readonly Row[] }>;

/** node-postgres: `pool.query({ text, values })`, what @es/pg sends. */
export const pgSend =
  (pool: pg.Pool): Send =>
  (statement) =>
    pool.query({ text: statement.text, values: [...statement.values] });

/**
 * The same statements as the es store, sent by the raw driver: the store's own overhead (routing,
 * validation, decoding, hooks) is the difference to `esStore`.
 */
export function rawSameSql(send: Send, tableName: string, name = 'raw pg, the same SQL as es'): Mechanism {
  const names = parseTableName(tableName);
  return {
    name,
    async append(boundary, knownMax) {
      const filter = boundaryFilter(boundary);
      const read = async () => {
        const { rows } = await send(queryStatement(names, filter, true));
        return rows.length === 0 ? 0n : BigInt(rows[rows.length - 1]?.sequence_number as string);
      };
      const expected = knownMax ?? (await read());
      const event = buildStorableEvent({
        type: EVENT_TYPE,
        occurredAt: new Date(),
        payload: payload(boundary),
      });
      const result = await send(appendStatement(names, [appendRequest(filter, expected, [event])]));
      const [, position] = (result.rows[0]?.result ?? '{}').slice(1, -1).split(',');
      return position ? { ok: true, expected, position: BigInt(position) } : { ok: false };
    },
  };
}
