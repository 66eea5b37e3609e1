import type { JsonObject } from '@es/core';
import pg from 'pg';

/** An event row read by raw SQL, independent of the store under test. */
export interface RawEvent {
  readonly sequenceNumber: bigint;
  readonly type: string;
  readonly occurredAt: Date;
  readonly payload: JsonObject;
  readonly metadata: JsonObject;
}

/** A connection with an open transaction, held by a test (a lock holder, a gate). */
export interface HeldTransaction {
  /** The backend's pid, to find who waits for it in `pg_locks` / `pg_stat_activity`. */
  readonly pid: number;
  query(text: string, values?: readonly unknown[]): Promise<pg.QueryResult>;
  /** Commits and closes the connection. */
  commit(): Promise<void>;
  /** Rolls back and closes the connection. */
  rollback(): Promise<void>;
}

const POLL_INTERVAL_MS = 5;

/** Waits, polling, until `check` resolves true; fails with `what` after `timeoutMs`. Observes, never orders by time. */
export async function waitUntil(
  check: () => Promise<boolean>,
  what: string,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
  }
}

/**
 * Raw SQL against one server of the cluster, through its own pool: assertions on persisted state never
 * go through the store under test.
 */
export class RawDatabase {
  readonly #url: string;
  readonly #pool: pg.Pool;

  constructor(url: string) {
    this.#url = url;
    this.#pool = new pg.Pool({ connectionString: url, max: 4, connectionTimeoutMillis: 10_000 });
    // Idle clients emit 'error' when the server stops (the replica-failure tests stop it).
    this.#pool.on('error', () => {});
  }

  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    text: string,
    values: readonly unknown[] = [],
  ): Promise<R[]> {
    const result = await this.#pool.query<R>(text, [...values]);
    return result.rows;
  }

  /** Number of rows in `table` (a quoted, possibly qualified name such as `store.tableName`). */
  async count(table: string): Promise<number> {
    const [row] = await this.query<{ count: string }>(`SELECT count(*)::text AS count FROM ${table}`);
    return Number(row?.count);
  }

  /** Every event of `table`, in position order. */
  async events(table: string): Promise<RawEvent[]> {
    const rows = await this.query<{
      position: string;
      event_type: string;
      occurred_at: Date;
      payload: JsonObject;
      metadata: JsonObject;
    }>(
      `SELECT sequence_number::text AS position, event_type, occurred_at, payload, metadata
       FROM ${table} ORDER BY ${table}.sequence_number`,
    );
    return rows.map((row) => ({
      sequenceNumber: BigInt(row.position),
      type: row.event_type,
      occurredAt: row.occurred_at,
      payload: row.payload,
      metadata: row.metadata,
    }));
  }

  /** Whether a relation of that (quoted, possibly qualified) name exists. */
  async relationExists(name: string): Promise<boolean> {
    const [row] = await this.query<{ exists: boolean }>('SELECT to_regclass($1) IS NOT NULL AS exists', [
      name,
    ]);
    return row?.exists === true;
  }

  /** Opens a dedicated connection and starts a transaction on it. */
  async begin(): Promise<HeldTransaction> {
    const client = new pg.Client({ connectionString: this.#url, connectionTimeoutMillis: 10_000 });
    client.on('error', () => {});
    await client.connect();
    const [row] = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows;
    await client.query('BEGIN');
    const finish = async (command: string) => {
      try {
        await client.query(command);
      } finally {
        await client.end();
      }
    };
    return {
      pid: Number(row?.pid),
      query: (text, values = []) => client.query(text, [...values]),
      commit: () => finish('COMMIT'),
      rollback: () => finish('ROLLBACK'),
    };
  }

  /** Backends of this database that wait for a lock held by `pid` (directly). */
  async waitingFor(pid: number): Promise<number[]> {
    const rows = await this.query<{ pid: number }>(
      'SELECT pid FROM pg_stat_activity WHERE $1::int = ANY (pg_blocking_pids(pid)) ORDER BY pid',
      [pid],
    );
    return rows.map((row) => Number(row.pid));
  }

  /** Backends of this database that wait for a lock held by anyone, except those in `known`. */
  async waitingBackends(known: readonly number[]): Promise<number[]> {
    const rows = await this.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity
       WHERE datname = current_database() AND pid <> pg_backend_pid() AND cardinality(pg_blocking_pids(pid)) > 0
         AND NOT (pid = ANY ($1::int[]))
       ORDER BY pid`,
      [[...known]],
    );
    return rows.map((row) => Number(row.pid));
  }

  /** Waits until none of `pids` is running a statement (idle, idle in transaction, or gone). */
  async waitUntilIdle(pids: readonly number[]): Promise<void> {
    if (pids.length === 0) return;
    await waitUntil(
      async () => {
        const rows = await this.query<{ count: string }>(
          "SELECT count(*)::text AS count FROM pg_stat_activity WHERE pid = ANY ($1::int[]) AND state = 'active'",
          [[...pids]],
        );
        return Number(rows[0]?.count) === 0;
      },
      `backends ${pids.join(', ')} finished their statements`,
    );
  }

  async end(): Promise<void> {
    await this.#pool.end();
  }
}
