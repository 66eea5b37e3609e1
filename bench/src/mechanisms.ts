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
  withEventualConsistency,
  withStrongConsistency,
} from '@es/core';
import type { PostgresEventStore } from '@event-driven-io/emmett-postgresql';
import type pg from 'pg';
import { rate, type Variant } from './measure.js';

/**
 * The ways of appending and reading that the benchmarks compare. An appender appends `count` events to
 * one boundary (a book), guarded by the boundary's max the caller knows, and returns the boundary's new
 * max; a reader reads one boundary and returns how many events it got. Every es variant goes through
 * the public API or sends exactly the statements the store sends.
 */

export const EVENT_TYPE = 'BookCopyLentToReader';

export interface Appender {
  readonly name: string;
  append(book: string, known: bigint, count: number): Promise<bigint>;
}

export interface Reader {
  readonly name: string;
  read(book: string): Promise<number>;
}

/** The payload of an event on `book`: 3 fields, or `fields` in all for wide events. */
export function payload(book: string, fields = 3): Record<string, string | number> {
  const base: Record<string, string | number> = {
    BookID: book,
    ReaderID: `reader-${book.length % 97}`,
    Copy: 1,
  };
  // Wide events: the extra fields are short codes and numbers, as a real event's attributes are.
  for (let index = 3; index < fields; index++)
    base[`attribute${index}`] = index % 2 ? index * 7 : `code-${index}`;
  return base;
}

export const boundary = (book: string): EventFilter =>
  buildEventFilter().matching().anyEventTypeOf(EVENT_TYPE).andAllPredicatesOf(P('BookID', book)).finalize();

/** DDL of a table with the es columns and indexes, for the variants that use plain SQL. */
export const plainTable = (table: string) => `CREATE TABLE ${table} (
  sequence_number bigserial PRIMARY KEY, event_type text NOT NULL, occurred_at timestamptz NOT NULL,
  payload jsonb NOT NULL, metadata jsonb NOT NULL DEFAULT '{}');
CREATE INDEX ON ${table} (event_type, sequence_number);
CREATE INDEX ON ${table} (occurred_at);
CREATE INDEX ON ${table} USING gin (payload jsonb_path_ops) WITH (fastupdate = off)`;

/** The floor: plain INSERTs in one statement, no guard, no read. */
export function plainInsert(pool: pg.Pool, table: string, fields = 3): Appender {
  return {
    name: 'plain INSERT (floor, no guard)',
    async append(book, _known, count) {
      const { rows } = await pool.query(
        `INSERT INTO ${table} (event_type, occurred_at, payload)
         SELECT $1, now(), p FROM unnest($2::jsonb[]) AS p RETURNING sequence_number::text AS position`,
        [EVENT_TYPE, Array.from({ length: count }, () => JSON.stringify(payload(book, fields)))],
      );
      return BigInt(rows.at(-1)?.position ?? 0);
    },
  };
}

/**
 * The Go original's guard: one INSERT ... SELECT whose CTE reads the boundary's max and inserts only if it
 * is the expected one. One statement, but its snapshot predates concurrent commits: not safe.
 */
export function goStyleGuard(pool: pg.Pool, table: string): Appender {
  return {
    name: 'Go-style single-statement guard (unsafe)',
    async append(book, known, count) {
      const { rows } = await pool.query(
        `WITH context AS (
           SELECT coalesce(max(sequence_number), 0) AS max FROM ${table} WHERE event_type = $1 AND payload @> $2::jsonb)
         INSERT INTO ${table} (event_type, occurred_at, payload)
         SELECT $1, now(), p FROM context, unnest($3::jsonb[]) AS p WHERE context.max = $4::bigint
         RETURNING sequence_number::text AS position`,
        [
          EVENT_TYPE,
          JSON.stringify({ BookID: book }),
          Array.from({ length: count }, () => JSON.stringify(payload(book))),
          known.toString(),
        ],
      );
      if (!rows[0]) throw new Error('Go-style guard: conflict on a boundary with a single writer');
      return BigInt(rows.at(-1)?.position);
    },
  };
}

/** Emmett 0.42: a stream per boundary, guarded by the expected stream version. */
export function emmett(store: PostgresEventStore, fields = 3): Appender & Reader {
  return {
    name: 'Emmett 0.42',
    async append(book, known, count) {
      const events = Array.from({ length: count }, () => ({ type: EVENT_TYPE, data: payload(book, fields) }));
      const result = await store.appendToStream(book, events, { expectedStreamVersion: known });
      return result.nextExpectedStreamVersion;
    },
    async read(book) {
      return (await store.readStream(book)).events.length;
    },
  };
}

/** The es store through an adapter, with its own name in the tables. */
export function esStore(
  store: EventStore,
  name: string,
  fields = 3,
): Appender & { readonly store: EventStore } {
  return {
    name,
    store,
    async append(book, known, count) {
      const events = Array.from({ length: count }, () =>
        buildStorableEvent({ type: EVENT_TYPE, occurredAt: new Date(), payload: payload(book, fields) }),
      );
      const { sequenceNumbers } = await store.append(
        withStrongConsistency(),
        boundary(book),
        known,
        ...events,
      );
      return sequenceNumbers.at(-1) as bigint;
    },
  };
}

/** es reads through the store: strong (the primary, with the barrier) or eventual (the replica). */
export function esReader(store: EventStore, consistency: 'strong' | 'eventual', name: string): Reader {
  const ctx = consistency === 'strong' ? withStrongConsistency() : withEventualConsistency();
  return { name, read: async (book) => (await store.query(ctx, boundary(book))).events.length };
}

/** Sends one statement through a driver directly, as a user of that driver would. */
export type Send = (statement: Statement) => Promise<{ rows: readonly Row[] }>;

/** node-postgres: `pool.query({ text, values })`, what @es/pg sends. */
export const pgSend =
  (pool: pg.Pool): Send =>
  (statement) =>
    pool.query({ text: statement.text, values: [...statement.values] });

/** The very append statement the store sends for one append (no batching), sent by a raw driver. */
export function rawAppend(send: Send, tableName: string, name: string): Appender {
  const names = parseTableName(tableName);
  return {
    name,
    async append(book, known, count) {
      const events = Array.from({ length: count }, () =>
        buildStorableEvent({ type: EVENT_TYPE, occurredAt: new Date(), payload: payload(book) }),
      );
      const { rows } = await send(appendStatement(names, [appendRequest(boundary(book), known, events)]));
      const numbers = (rows[0]?.result ?? '{}').slice(1, -1).split(',');
      if (numbers.length < 2) throw new Error(`${name}: conflict on a boundary with a single writer`);
      return BigInt(numbers.at(-1) as string);
    },
  };
}

/** The statement the store sends for a read of `book`, sent by a raw driver. */
export function rawRead(send: Send, tableName: string, barrier: boolean, name: string): Reader {
  const names = parseTableName(tableName);
  return {
    name,
    read: async (book) => (await send(queryStatement(names, boundary(book), barrier))).rows.length,
  };
}

/** The SELECT a user would write for the boundary, through node-postgres (rows parsed by pg). */
export function plainSelect(pool: pg.Pool, table: string, name: string): Reader {
  return {
    name,
    async read(book) {
      const { rows } = await pool.query(
        `SELECT * FROM ${table} WHERE event_type = $1 AND payload @> $2::jsonb ORDER BY sequence_number`,
        [EVENT_TYPE, JSON.stringify({ BookID: book })],
      );
      return rows.length;
    },
  };
}

let runs = 0;

/** A book-name prefix no other run uses, so that each run starts on empty boundaries. */
export const runPrefix = (name: string): string => `${name.slice(0, 12)}-${process.pid}-${runs++}`;

/**
 * `writers` loops appending `events` events per call for `seconds`, each writer on 64 books of its own
 * whose max it knows (append only, no read): appends per second.
 */
export const disjointAppends = (
  appender: Appender,
  writers: number,
  seconds: number,
  events = 1,
): Variant => ({
  name: appender.name,
  run: () => {
    const prefix = runPrefix(appender.name);
    return rate(
      Array.from({ length: writers }, (_, writer) => {
        const known = new Map<string, bigint>();
        let next = 0;
        return async () => {
          const book = `${prefix}-${writer}-${next++ % 64}`;
          known.set(book, await appender.append(book, known.get(book) ?? 0n, events));
        };
      }),
      seconds,
    );
  },
});
