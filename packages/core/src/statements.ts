import type { AppendRequest } from './append-request.js';
import type { Statement } from './driver.js';
import type { EventFilter } from './filter.js';
import { containments, guardExpression, Params, readCondition } from './filter-sql.js';
import { filterKeys } from './lock-keys.js';
import { MIGRATIONS, migrationsTable } from './migrations/index.js';
import type { TableNames } from './table-name.js';

/**
 * Every statement the store sends. All values are bind parameters passed as text (JSON where
 * structured) and cast in SQL, so every driver sends and receives the same thing; all columns come
 * back as text for the same reason. A typed parameter is cast through text (`$1::text::jsonb`): the
 * server then reports it as text, and a driver that serialises by the reported type (postgres.js)
 * sends the string unchanged instead of encoding it again as JSON or reading `'true'` as false.
 */

/**
 * The columns of a stored event, every one as text, as the strong read function returns them (see
 * migrations/v2.ts). The millisecond conversion costs a few µs a row (numeric arithmetic); the other
 * reads select `eventJson` instead.
 */
export const eventColumns = (table: string) => `${table}.sequence_number::text AS sequence_number, event_type,
  floor(extract(epoch FROM occurred_at) * 1000)::bigint::text AS occurred_at_ms,
  payload::text AS payload, metadata::text AS metadata, id::text AS id`;

/**
 * A stored event as one JSON array in one text column, `event`: position (as a string), type, time,
 * payload, metadata, id. One column and one `JSON.parse` a row; PostgreSQL writes the time in ISO 8601
 * whatever the session's DateStyle (see `decodeEvent`). Measured here on a 10-event read: as fast as
 * `SELECT *` through node-postgres, where the text columns with the millisecond conversion took 1.3x.
 */
export const eventJson = (table: string) =>
  `json_build_array(${table}.sequence_number::text, event_type, occurred_at, payload, metadata, id)::text AS event`;

/**
 * Reads the events matching `filter` in position order. Eventual: one plain SELECT, no lock. Strong
 * (`barrier`): a read function takes the filter's barrier and reads up to the largest position committed
 * behind it (see migrations/v2.ts): for a filter of payload containments its static read
 * (migrations/v6.ts), otherwise `<table>_read` running the SELECT built here. Every row also carries
 * `state_lsn`, for the read's token: the WAL position the server has replayed (a standby) or written (the
 * primary), evaluated with each row, so after the snapshot the rows come from (for a strong read, after
 * its function returned them): past every commit the read saw. `withRecovery` adds `in_recovery` (an
 * eventual read on a replica asks, now and then, whether its server is a standby).
 */
export function queryStatement(
  names: TableNames,
  filter: EventFilter,
  barrier: boolean,
  withRecovery = false,
): Statement {
  const { table } = names;
  const select = (columns: string, condition: string) =>
    `SELECT ${columns} FROM ${table} WHERE ${condition} ORDER BY ${table}.sequence_number`;
  if (!barrier) {
    const params = new Params((position) => `$${position}`);
    const recovery = withRecovery ? ',\n  (SELECT pg_is_in_recovery())::text AS in_recovery' : '';
    const state = ',\n  coalesce(pg_last_wal_replay_lsn(), pg_current_wal_insert_lsn())::text AS state_lsn';
    return {
      name: 'es.query',
      text: select(`${eventJson(table)}${recovery}${state}`, readCondition(filter, params)),
      values: params.values,
    };
  }
  const matching = containments(filter);
  if (matching) {
    return {
      ...reusable(
        'es.query.strong',
        `SELECT event, pg_current_wal_insert_lsn()::text AS state_lsn
FROM ${names.derived('_read_matching')}($1::text::text[], $2::text::text[])`,
      ),
      values: [
        textArray(filterKeys(filter)),
        textArray(
          matching.flatMap(({ payload, eventTypes }) => [
            JSON.stringify(payload),
            JSON.stringify(eventTypes),
          ]),
        ),
      ],
    };
  }
  const params = new Params((position) => `$1[${position}]`);
  const query = select(
    eventColumns(table),
    `${readCondition(filter, params)} AND ${table}.sequence_number <= $2`,
  );
  return {
    ...reusable(
      'es.query.strong',
      `SELECT sequence_number, event_type, occurred_at_ms, payload, metadata, id,
  pg_current_wal_insert_lsn()::text AS state_lsn
FROM ${names.derived('_read')}($1::text::text[], $2::text, $3::text::text[])`,
    ),
    values: [textArray(filterKeys(filter)), query, textArray(params.values)],
  };
}

/**
 * A batch of guarded appends in one call (see `fitsBatch` for which appends may share one). The result
 * is one bigint[] as text: each append's max (-1 for an append whose event ids an earlier append stored),
 * then the positions of the appends whose max was the expected one, then the stored positions of the
 * replayed ones, each in batch order; and `lsn`, the WAL position after the inserts (for the token).
 */
export function appendStatement(names: TableNames, batch: readonly AppendRequest[]): Statement {
  const exclusive = new Set<string>();
  const shared = new Set<string>();
  for (const request of batch) {
    for (const key of request.exclusiveKeys) exclusive.add(key);
    for (const key of request.sharedKeys) shared.add(key);
  }
  const { guard, params } = batchGuard(names, batch);
  const events = batch.map((request) =>
    request.events.map((event) => ({
      type: event.type,
      occurredAt: event.occurredAt.toISOString(),
      payload: event.payload,
      metadata: event.metadata,
      ...(event.id === undefined ? {} : { id: event.id }),
    })),
  );
  return {
    ...reusable(
      'es.append',
      // The WAL position after the inserts, read in the same statement for the append's token.
      `WITH appended AS MATERIALIZED (
  SELECT ${names.derived('_append')}($1::text::text[], $2::text::text[], $3::text::boolean, $4::text, $5::text::text[], $6::text::bigint[], $7::text::jsonb, $8::text::boolean)::text AS result)
SELECT result, pg_current_wal_insert_lsn()::text AS lsn FROM appended`,
    ),
    values: [
      textArray([...exclusive]),
      textArray([...shared]),
      String(batch.some((request) => request.escalate)),
      guard,
      textArray(params),
      `{${batch.map((request) => request.expected.toString()).join(',')}}`,
      JSON.stringify(events),
      String(batch.some((request) => request.identified)),
    ],
  };
}

/**
 * The guard of a batch: when every filter is made of payload containments, none (NULL) and the
 * containments as (append ordinal, payload, event types) triples, for the function's static statement;
 * otherwise a `SELECT ARRAY[...]` of one max per append (see `guardExpression`) and its values.
 */
function batchGuard(
  names: TableNames,
  batch: readonly AppendRequest[],
): { guard: string | null; params: string[] } {
  const branches = batch.map((request) => containments(request.filter));
  if (branches.every((list) => list !== undefined)) {
    const params = branches.flatMap((list, index) =>
      list.flatMap(({ payload, eventTypes }) => [
        String(index + 1),
        JSON.stringify(payload),
        JSON.stringify(eventTypes),
      ]),
    );
    return { guard: null, params };
  }
  const params = new Params((position) => `$1[${position}]`);
  const guards = batch.map((request) => guardExpression(request.filter, names.table, params));
  return { guard: `SELECT ARRAY[${guards.join(', ')}]::bigint[]`, params: params.values };
}

/**
 * Whether a replica has reached a consistency token: it has replayed the token's WAL position and, for an
 * append's token, the append's last event is visible there (so its commit was replayed too).
 */
export function tokenReachedStatement(
  names: TableNames,
  lsn: string,
  position: bigint | undefined,
): Statement {
  return {
    ...reusable(
      'es.token',
      `SELECT coalesce(pg_last_wal_replay_lsn() >= $1::text::pg_lsn AND ($2::text IS NULL OR EXISTS (
  SELECT 1 FROM ${names.table} WHERE sequence_number = $2::text::bigint)), false)::text AS reached`,
    ),
    values: [lsn, position === undefined ? null : position.toString()],
  };
}

/**
 * A statement a driver may prepare: its name carries a hash of its text (the text names the table), so
 * that one name always means one text on a connection, as drivers that prepare by name require.
 */
function reusable(name: string, text: string): Pick<Statement, 'name' | 'text' | 'reusablePlan'> {
  const known = REUSABLE.get(text);
  if (known?.name.startsWith(`${name}.`)) return known;
  // Two FNV-1a hashes with different offsets: 64 bits, as 16 hex digits.
  let [low, high] = [0x811c9dc5, 0x2b992ddf];
  for (let index = 0; index < text.length; index++) {
    const unit = text.charCodeAt(index);
    low = Math.imul(low ^ unit, 0x01000193) >>> 0;
    high = Math.imul(high ^ unit, 0x01000193) >>> 0;
  }
  const hex = (value: number) => value.toString(16).padStart(8, '0');
  const statement = Object.freeze({ name: `${name}.${hex(high)}${hex(low)}`, text, reusablePlan: true });
  // The texts are a few per table (their values are parameters): the hash is computed once for each.
  if (REUSABLE.size >= 1024) REUSABLE.clear();
  REUSABLE.set(text, statement);
  return statement;
}

const REUSABLE = new Map<string, Pick<Statement, 'name' | 'text' | 'reusablePlan'>>();

/** The first statement of the explicit transaction a call runs in when the session is not READ COMMITTED. */
export const READ_COMMITTED_STATEMENT: Statement = Object.freeze({
  name: 'es.read_committed',
  text: 'SET TRANSACTION ISOLATION LEVEL READ COMMITTED',
  values: [],
});

/** A PostgreSQL text[] literal: every element quoted, `"` and `\` escaped. */
export function textArray(values: readonly string[]): string {
  const quoted = (value: string) =>
    value.includes('"') || value.includes('\\') ? value.replace(/["\\]/g, '\\$&') : value;
  return `{${values.map((value) => `"${quoted(value)}"`).join(',')}}`;
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
