import type { Statement } from './driver.js';
import type { EventFilter } from './filter.js';
import { MIGRATIONS, migrationsTable } from './schema.js';
import type { StorableEvent } from './storable-event.js';
import type { TableNames } from './table-name.js';

/**
 * Every statement the store sends. All values are bind parameters passed as text (JSON where
 * structured) and cast in SQL, so every driver sends and receives the same thing; all columns come
 * back as text for the same reason. A typed parameter is cast through text (`$1::text::jsonb`): the
 * server then reports it as text, and a driver that serialises by the reported type (postgres.js)
 * sends the string unchanged instead of encoding it again as JSON or reading `'true'` as false.
 */

const EVENT_COLUMNS = `sequence_number::text AS sequence_number, event_type,
  floor(extract(epoch FROM occurred_at) * 1000)::bigint::text AS occurred_at_ms,
  payload::text AS payload, metadata::text AS metadata`;

/** The JSON shape the SQL `<table>_where` function reads; values stay JSON, never SQL text. */
export function encodeFilter(filter: EventFilter): string {
  return JSON.stringify({
    items: filter.items.map((item) => ({
      types: item.eventTypes,
      predicates: item.predicates.map(({ key, value }) => ({ [key]: value })),
      all: item.allPredicatesMustMatch,
    })),
    ...(filter.occurredFrom && { from: filter.occurredFrom.toISOString() }),
    ...(filter.occurredUntil && { until: filter.occurredUntil.toISOString() }),
    ...(filter.sequenceNumberHigherThan !== undefined && {
      after: filter.sequenceNumberHigherThan.toString(),
    }),
  });
}

/** Reads the events matching `filter`; `barrier` (strong reads) first waits for in-flight appends that could match. */
export function queryStatement(names: TableNames, filter: EventFilter, barrier: boolean): Statement {
  return {
    name: 'es.query',
    text: `SELECT ${EVENT_COLUMNS} FROM ${names.derived('_query')}($1::text::jsonb, $2::text::boolean)`,
    values: [encodeFilter(filter), String(barrier)],
  };
}

/** The guarded append: one call, one round trip. */
export function appendStatement(
  names: TableNames,
  filter: EventFilter,
  expectedMaxSequenceNumber: bigint,
  events: readonly StorableEvent[],
): Statement {
  return {
    name: 'es.append',
    text: `SELECT max_sequence_number::text AS max_sequence_number, sequence_numbers::text AS sequence_numbers
FROM ${names.derived('_append')}($1::text::jsonb, $2::text::bigint, $3::text::jsonb)`,
    values: [
      encodeFilter(filter),
      expectedMaxSequenceNumber.toString(),
      JSON.stringify(
        events.map((event) => ({
          type: event.type,
          occurredAt: event.occurredAt.toISOString(),
          payload: event.payload,
          metadata: event.metadata,
        })),
      ),
    ],
  };
}

/** Serialises concurrent `migrate()` calls within a schema (transaction-scoped), bookkeeping table included. */
export function migrationLockStatement(names: TableNames): Statement {
  return {
    name: 'es.migrate.lock',
    text: `SELECT pg_advisory_xact_lock(hashtextextended('es.migrate:' || $1, 0))::text AS locked`,
    values: [names.schema ?? ''],
  };
}

/** Creates the bookkeeping table (and the schema); the advisory lock above makes this safe under concurrency. */
export function migrationsTableStatements(names: TableNames): Statement[] {
  const schema = names.schema ? [`CREATE SCHEMA IF NOT EXISTS ${names.schema}`] : [];
  const table = `CREATE TABLE IF NOT EXISTS ${migrationsTable(names)} (
  table_name text NOT NULL,
  version int NOT NULL,
  description text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (table_name, version)
)`;
  return [...schema, table].map((text, index) => ({
    name: `es.migrate.bookkeeping.${index}`,
    text,
    values: [],
  }));
}

/** The versions already applied to this table. */
export function appliedVersionsStatement(names: TableNames): Statement {
  return {
    name: 'es.migrate.applied',
    text: `SELECT version::text AS version FROM ${migrationsTable(names)} WHERE table_name = $1`,
    values: [names.configured],
  };
}

/** The statements of one migration step plus its bookkeeping row. */
export function migrationStepStatements(names: TableNames, version: number): Statement[] {
  const migration = MIGRATIONS.find((candidate) => candidate.version === version);
  if (!migration) throw new Error(`unknown migration version ${version}`);
  return [
    ...migration
      .statements(names)
      .map((text, index) => ({ name: `es.migrate.v${version}.${index}`, text, values: [] })),
    {
      name: 'es.migrate.record',
      text: `INSERT INTO ${migrationsTable(names)} (table_name, version, description) VALUES ($1, $2::text::int, $3)`,
      values: [names.configured, String(version), migration.description],
    },
  ];
}

/** Transaction control, for drivers without a transaction helper of their own. */
export const TRANSACTION_STATEMENTS: Readonly<Record<'begin' | 'commit' | 'rollback', Statement>> =
  Object.freeze({
    begin: { name: 'es.begin', text: 'BEGIN', values: [] },
    commit: { name: 'es.commit', text: 'COMMIT', values: [] },
    rollback: { name: 'es.rollback', text: 'ROLLBACK', values: [] },
  });

/**
 * The session's server process id. For drivers that cannot send PostgreSQL's cancel request themselves:
 * read the pid on the connection that will run a statement, and cancel it from another with
 * `cancelBackendStatement` (the same role may cancel its own sessions).
 */
export function backendPidStatement(): Statement {
  return { name: 'es.backend_pid', text: 'SELECT pg_backend_pid()::text AS pid', values: [] };
}

/** Cancels the statement running in session `pid` (see `backendPidStatement`); a no-op when it is idle. */
export function cancelBackendStatement(pid: string): Statement {
  return {
    name: 'es.cancel_backend',
    text: 'SELECT pg_cancel_backend($1::text::int)::text AS cancelled',
    values: [pid],
  };
}
