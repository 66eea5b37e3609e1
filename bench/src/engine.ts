/**
 * The engine benchmark: es against the floor (plain SQL) and its peers, on one local primary + replica,
 * every variant in the same run, in rounds with the order rotated (see measure.ts).
 *
 * - appends/s with 16 writers on disjoint boundaries (each writer cycles over 64 books of its own and
 *   knows their max, so it appends without reading), for the floor (a plain INSERT), the Go original's
 *   single-statement guard, Emmett 0.42 (a stream per book, expected version) and es through each adapter;
 * - sequential append latency (p50, one caller) of 1 and of 5 events;
 * - read latency (p50) of a 10-event boundary: the SELECT a user would write, the store's own SELECT
 *   sent raw, es eventual (replica) and strong (primary, with its barrier), and Emmett's readStream;
 * - wide events: 40 payload fields against 3, appends/s at 16 writers, each on a table of its own;
 * - the hot boundary: 16 writers read, decide and append on ONE book; the oracle counts successful
 *   appends whose expected max was not the boundary's max below their position (Go-style vs es).
 * Sections run on an empty table, then on 200,000 events (reads), then on 2,500,000 (everything again).
 *
 *   npm run bench                                  # or: pnpm --filter @es/bench bench:engine
 *   BENCH_SECONDS=3 BENCH_ROUNDS=3 BENCH_LARGE=2500000 ...
 */
import { buildEventFilter, buildStorableEvent, type EventStore, P, withStrongConsistency } from '@es/core';
import { fromPgPoolAndReplica } from '@es/pg';
import { startCluster, startWebSocketRelay } from '@es/testing';
import { getPostgreSQLEventStore } from '@event-driven-io/emmett-postgresql';
import { neonConfig } from '@neondatabase/serverless';
import type pg from 'pg';
import { FLAVOURS, newPgPool } from './adapters.js';
import { interleavedLatencies, latency, load, rate, report, rounds, type Variant } from './measure.js';
import {
  type Appender,
  disjointAppends,
  EVENT_TYPE,
  emmett,
  esReader,
  esStore,
  goStyleGuard,
  pgSend,
  plainInsert,
  plainSelect,
  plainTable,
  type Reader,
  rawRead,
  runPrefix,
} from './mechanisms.js';
import { printTable } from './table.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
/** Reads take half a second a run and vary more from run to run: more rounds. */
const READ_ROUNDS = 2 * ROUNDS + 1;
const LARGE = Number(process.env.BENCH_LARGE ?? 2_500_000);
const WRITERS = 16;
const READ_SIZE = 200_000;
const LATENCY_OPS = 600;
const FLOOR = 'bench_floor';
const GO = 'bench_go';
const ES = 'bench_es';
/** Every table a section measures on; analysed before each run while they are small (see `fresh`). */
const TABLES = [
  FLOOR,
  GO,
  ES,
  'bench_narrow',
  'bench_wide',
  'bench_plain_wide',
  'bench_plain_narrow',
  'emt_messages',
  'emt_streams',
];

/** One caller appending `events` events per call, cycling over 64 books: the median call in ms. */
const sequential = (appender: Appender, events: number): Variant => ({
  name: appender.name,
  run: () => {
    const prefix = runPrefix(appender.name);
    const known = new Map<string, bigint>();
    let next = 0;
    return latency(async () => {
      const book = `${prefix}-${next++ % 64}`;
      known.set(book, await appender.append(book, known.get(book) ?? 0n, events));
    }, LATENCY_OPS);
  },
});

/** One read of a random preloaded 10-event book by `reader`. */
const readOnce = (reader: Reader, size: number) => ({
  name: reader.name,
  run: async () => {
    const got = await reader.read(`book-${Math.floor(Math.random() * (size / 10))}`);
    if (got !== 10) throw new Error(`${reader.name}: read ${got} events of a 10-event book`);
  },
});

/** Adds events up to `to` in all: books `book-<n>` of 10 events each, in every table; then VACUUM ANALYZE. */
async function grow(pool: pg.Pool, from: number, to: number): Promise<void> {
  const started = performance.now();
  const chunk = 250_000;
  for (let at = from; at < to; at += chunk) {
    const [first, last] = [at / 10, Math.min(to, at + chunk) / 10 - 1];
    const rows = `FROM generate_series(${first}, ${last}) AS book, generate_series(1, 10) AS position`;
    const data = `jsonb_build_object('BookID', 'book-' || book, 'ReaderID', 'reader-' || (book % 97), 'Copy', position)`;
    for (const table of [FLOOR, GO, ES]) {
      await pool.query(
        `INSERT INTO ${table} (event_type, occurred_at, payload) SELECT '${EVENT_TYPE}', now(), ${data} ${rows} ORDER BY book, position`,
      );
    }
    await pool.query(`INSERT INTO emt_streams (stream_id, stream_position, stream_type, stream_metadata)
      SELECT 'book-' || book, 10, 'book', '{}' FROM generate_series(${first}, ${last}) AS book`);
    await pool.query(`INSERT INTO emt_messages (stream_position, transaction_id, stream_id, message_schema_version, message_id, message_type, message_data, message_metadata)
      SELECT position, pg_current_xact_id(), 'book-' || book, '1', gen_random_uuid()::text, '${EVENT_TYPE}', ${data}, '{}' ${rows} ORDER BY book, position`);
    const done = Math.min(to, at + chunk);
    console.log(
      `  loaded ${done.toLocaleString('en')} events per table (${((performance.now() - started) / 1000).toFixed(0)} s)`,
    );
  }
  for (const table of [FLOOR, GO, ES, 'emt_messages', 'emt_streams'])
    await pool.query(`VACUUM ANALYZE ${table}`);
}

/** The hot boundary: 16 writers read, decide and append on one book; the oracle over every success. */
async function hotBoundary(
  name: string,
  read: () => Promise<bigint>,
  append: (expected: bigint) => Promise<bigint | undefined>,
) {
  const successes: { expected: bigint; position: bigint }[] = [];
  const attempts = await rate(
    Array.from({ length: WRITERS }, () => async () => {
      const expected = await read();
      const position = await append(expected);
      if (position !== undefined) successes.push({ expected, position });
    }),
    SECONDS,
  );
  const positions = successes.map((success) => success.position).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const violations = successes.filter(({ expected, position }) => {
    const index = positions.indexOf(position);
    return (index > 0 ? positions[index - 1] : 0n) !== expected;
  }).length;
  return [name, attempts.toFixed(0), String(successes.length), String(violations)];
}

async function main() {
  console.log(
    `engine benchmark: node ${process.version}, ${WRITERS} writers, ${SECONDS} s per measurement, ${ROUNDS} rounds, load average ${load()}`,
  );
  const cluster = await startCluster({ log: (line) => console.log(`  cluster: ${line}`) });
  const relay = await startWebSocketRelay();
  Object.assign(neonConfig, relay.neonConfig);
  const primary = newPgPool(cluster.primaryUrl);
  const replica = newPgPool(cluster.replicaUrl);
  const closers: (() => Promise<unknown>)[] = [];
  try {
    await primary.query(`${plainTable(FLOOR)}; ${plainTable(GO)}; CREATE EXTENSION IF NOT EXISTS pgcrypto`);
    const emmettPool = newPgPool(cluster.primaryUrl);
    const emmettStore = getPostgreSQLEventStore(cluster.primaryUrl, {
      connectionOptions: { pool: emmettPool, pooled: true },
    });
    closers.push(() => emmettStore.close().finally(() => emmettPool.end().catch(() => {})));
    await emmettStore.schema.migrate();
    // es through every adapter, on one table.
    const stores: { name: string; store: EventStore }[] = [];
    for (const flavour of FLAVOURS) {
      const [onPrimary, onReplica] = [
        flavour.connect(cluster.primaryUrl),
        flavour.connect(cluster.replicaUrl),
      ];
      closers.push(() => Promise.all([flavour.close(onPrimary), flavour.close(onReplica)]));
      stores.push({
        name: `es via ${flavour.adapter}`,
        store: flavour.store(onPrimary, onReplica, { tableName: ES }),
      });
    }
    const es = stores[0]?.store as EventStore;
    await es.migrate();
    const narrowStore = fromPgPoolAndReplica(primary, replica, { tableName: 'bench_narrow' });
    const wideStore = fromPgPoolAndReplica(primary, replica, { tableName: 'bench_wide' });
    await narrowStore.migrate();
    await wideStore.migrate();
    await primary.query(`${plainTable('bench_plain_wide')}; ${plainTable('bench_plain_narrow')}`);
    // On small tables the planner's statistics lag far behind the rows each run adds; a plan made without
    // them is what a fresh table gets, and the Go-style guard then walks the primary key (see the 2.5 M
    // rows). Every variant runs on analysed tables, so that each is measured at its best.
    const fresh = () => primary.query(`ANALYZE ${TABLES.join(', ')}`);

    const appenders = () => [
      plainInsert(primary, FLOOR),
      goStyleGuard(primary, GO),
      emmett(emmettStore),
      ...stores.map(({ name, store }) => esStore(store, name)),
    ];
    const appendSections = async (size: string, before?: () => Promise<unknown>) => {
      report(
        `appends/s, ${WRITERS} writers, disjoint boundaries, ${size}`,
        'appends/s',
        await rounds(
          appenders().map((a) => disjointAppends(a, WRITERS, SECONDS)),
          ROUNDS,
          before,
        ),
        {
          note: 'vs the floor; es must reach >= 1.0x the Go-style guard and >= 1.2x Emmett',
        },
      );
      for (const events of [1, 5]) {
        const variants = [
          goStyleGuard(primary, GO),
          plainInsert(primary, FLOOR),
          emmett(emmettStore),
          esStore(es, 'es via @es/pg'),
        ];
        report(
          `sequential ${events}-event append, p50, ${size}`,
          'ms',
          await rounds(
            variants.map((a) => sequential(a, events)),
            ROUNDS,
            before,
          ),
          {
            digits: 3,
            note: 'vs the Go-style guard; es must stay <= 1.3x',
          },
        );
      }
    };
    const readSection = async (size: number) => {
      await cluster.waitForReplay();
      const names = `${size.toLocaleString('en')} events`;
      const variants = [
        plainSelect(primary, ES, 'plain SELECT via pg, primary'),
        plainSelect(replica, ES, 'plain SELECT via pg, replica'),
        rawRead(pgSend(replica), ES, false, "the store's SELECT via raw pg, replica"),
        esReader(es, 'eventual', 'es eventual (replica)'),
        esReader(es, 'strong', 'es strong (primary, barrier)'),
        { name: 'Emmett readStream (primary)', read: (book: string) => emmett(emmettStore).read(book) },
      ];
      report(
        `read of a 10-event boundary, p50, ${names}`,
        'ms',
        // Reads take well under a millisecond, so the readers take turns call by call (see
        // interleavedLatencies): a round of one reader after another let the replica's work after a large
        // load (2.5 M events) weigh on the first readers only.
        await interleavedLatencies(
          variants.map((reader) => readOnce(reader, size)),
          LATENCY_OPS * 2,
          READ_ROUNDS,
        ),
        {
          digits: 3,
          reference: 'plain SELECT via pg, replica',
          note: 'es eventual must stay <= 1.15x the plain SELECT on its server; es strong <= 1.4x the one on the primary',
        },
      );
    };

    console.log(`\n== empty tables`);
    await appendSections('empty tables', fresh);
    const wide = [
      esStore(narrowStore, 'es, 3-field events'),
      esStore(wideStore, 'es, 40-field events', 40),
      { ...plainInsert(primary, 'bench_plain_narrow', 3), name: 'plain INSERT, 3-field events' },
      { ...plainInsert(primary, 'bench_plain_wide', 40), name: 'plain INSERT, 40-field events' },
    ];
    report(
      `wide events: appends/s, ${WRITERS} writers, disjoint boundaries, tables of their own`,
      'appends/s',
      await rounds(
        wide.map((a) => disjointAppends(a, WRITERS, SECONDS)),
        ROUNDS,
        fresh,
      ),
      {
        note: 'es with 40 fields must reach >= 0.5x es with 3 fields; the plain INSERTs show what the fields cost without es',
      },
    );

    const hot = buildEventFilter()
      .matching()
      .anyEventTypeOf(EVENT_TYPE)
      .andAllPredicatesOf(P('BookID', `hot-${process.pid}`))
      .finalize();
    const go = goStyleGuard(primary, GO);
    const rows = [
      await hotBoundary(
        'Go-style single-statement guard',
        async () =>
          BigInt(
            (
              await primary.query(
                `SELECT coalesce(max(sequence_number), 0)::text AS max FROM ${GO} WHERE event_type = $1 AND payload @> $2::jsonb`,
                [EVENT_TYPE, JSON.stringify({ BookID: `hot-${process.pid}` })],
              )
            ).rows[0].max,
          ),
        (expected) => go.append(`hot-${process.pid}`, expected, 1).catch(() => undefined),
      ),
      await hotBoundary(
        'es via @es/pg',
        async () => (await es.query(withStrongConsistency(), hot)).maxSequenceNumber,
        async (expected) => {
          const event = buildStorableEvent({
            type: EVENT_TYPE,
            occurredAt: new Date(),
            payload: { BookID: `hot-${process.pid}` },
          });
          return (await es.append(withStrongConsistency(), hot, expected, event).catch(() => undefined))
            ?.sequenceNumbers[0];
        },
      ),
    ];
    printTable(
      `\nhot boundary: ${WRITERS} writers read, decide and append on one book, ${SECONDS} s`,
      ['mechanism', 'attempts/s', 'successful appends', 'oracle violations'],
      rows,
    );

    console.log(`\n== loading ${READ_SIZE.toLocaleString('en')} events into each table`);
    await grow(primary, 0, READ_SIZE);
    await readSection(READ_SIZE);
    console.log(`\n== loading ${LARGE.toLocaleString('en')} events into each table`);
    await grow(primary, READ_SIZE, LARGE);
    await appendSections(`${LARGE.toLocaleString('en')} events`);
    await readSection(LARGE);
  } finally {
    for (const close of closers) await close().catch(() => {});
    await Promise.all([primary.end(), replica.end()]);
    await relay.close();
    await cluster.stop();
  }
}

await main();
