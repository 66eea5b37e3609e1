/**
 * The contract between `@es/core` and a driver adapter. Core builds every statement and maps every
 * error; an adapter only moves statements to its driver and rows back.
 */

/** One SQL statement with its bind parameters. Every value is a string or null, cast in the SQL. */
export interface Statement {
  /** SQL text with `$1..$n` placeholders. Never contains a caller's value. */
  readonly text: string;
  /** Bind parameters, in placeholder order. */
  readonly values: readonly (string | null)[];
  /** A stable name for the statement shape (e.g. `es.append`), for drivers that prepare or trace. */
  readonly name: string;
  /**
   * Whether a driver may prepare the statement and reuse its plan: true for calls of the store's
   * functions, whose plans cannot degrade (the SQL inside is planned with its values on every call).
   * Absent for plain queries, which a reused generic plan could turn into a walk of the whole table.
   */
  readonly reusablePlan?: boolean;
}

/** A row as core receives it: every column is selected as text, so all drivers return the same shape. */
export type Row = Readonly<Record<string, string | null>>;

/** Runs one statement. */
export interface Executor {
  /**
   * Runs `statement` and resolves with its rows. `signal`, when given, should abort the call; core
   * also races the call against the signal, so a driver that cannot cancel is still safe to use.
   */
  query(statement: Statement, options?: { readonly signal?: AbortSignal }): Promise<{ rows: readonly Row[] }>;
}

/** A database connection pool as core sees it. */
export interface Driver extends Executor {
  /** Short name of the driver (`pg`, `postgres.js`, ...), reported with every operation. */
  readonly name: string;
  /**
   * Whether a call aborted through its `signal` settles only once the server has cancelled or finished
   * the statement (default `true`). A driver that cannot wait for that (Neon's HTTP driver: aborting the
   * fetch settles at once, the server cancels later) sets `false`; core then never passes a signal to an
   * append, which runs to the end and reports what the database did.
   */
  readonly settlesAfterCancel?: boolean;
  /**
   * Whether `transaction` works (default `true`). Neon's HTTP driver sets `false`: `queryStream` then reads
   * keyset pages instead of a cursor.
   */
  readonly interactiveTransactions?: boolean;
  /**
   * Whether `queryStream` may keep a transaction (and its cursor) open while the caller handles a batch
   * (default `true`). A driver that loses a session the server ends while it is idle in a transaction
   * sets `false` (postgres.js 3.4 drops the server's error, and its next write to the closed socket throws
   * where no caller can catch it: porsager/postgres#1199); `queryStream` then reads keyset pages.
   */
  readonly cursorStreams?: boolean;
  /** Runs `fn` inside one transaction on one connection: commit when it resolves, roll back when it throws. */
  transaction<T>(fn: (tx: Executor) => Promise<T>): Promise<T>;
}
