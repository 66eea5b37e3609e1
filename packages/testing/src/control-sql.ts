import pg from 'pg';

/** Connect timeout of every control connection. */
const CONNECT_TIMEOUT_MS = 5000;

function newClient(url: string): pg.Client {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  // A server that stops under an idle client must not crash the process.
  client.on('error', () => {});
  return client;
}

/** Runs `fn` with a fresh client on `url`, then closes it. */
export async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = newClient(url);
  try {
    await client.connect();
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** The first row of one statement, run on a fresh client. */
export async function queryRow<Row extends pg.QueryResultRow>(
  url: string,
  sql: string,
  params: unknown[] = [],
): Promise<Row | undefined> {
  return withClient(url, async (client) => (await client.query<Row>(sql, params)).rows[0]);
}

/** What {@link pollRow} waits for. */
export interface PollOptions<Row> {
  /** The statement whose first row is checked. */
  sql: string;
  /** Its parameters. */
  params?: unknown[];
  /** true when the wait is over. */
  done: (row: Row | undefined) => boolean;
  /** Gives up after this long. */
  timeoutMs: number;
  /** Pause between two polls. */
  intervalMs: number;
  /** Says what was awaited, for the timeout error (the last error, if any, is appended). */
  describe: (row: Row | undefined) => string;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs a statement repeatedly on one client (reconnecting after errors) until `done(row)`, or rejects after
 * the timeout with `describe(lastRow, lastError)`.
 */
export async function pollRow<Row extends pg.QueryResultRow>(
  url: string,
  options: PollOptions<Row>,
): Promise<Row> {
  const deadline = Date.now() + options.timeoutMs;
  let client: pg.Client | undefined;
  let lastRow: Row | undefined;
  let lastError: unknown;
  try {
    for (;;) {
      try {
        if (!client) {
          client = newClient(url);
          await client.connect();
        }
        lastRow = (await client.query<Row>(options.sql, options.params ?? [])).rows[0];
        lastError = undefined;
        if (options.done(lastRow)) return lastRow as Row;
      } catch (error) {
        lastError = error;
        await client?.end().catch(() => {});
        client = undefined;
      }
      if (Date.now() >= deadline) {
        const cause = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
        throw new Error(`timed out after ${options.timeoutMs} ms: ${options.describe(lastRow)}${cause}`);
      }
      await pause(options.intervalMs);
    }
  } finally {
    await client?.end().catch(() => {});
  }
}

/** A double-quoted SQL identifier. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** A URL with its password (if any) replaced, for messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '<unparsable url>';
  }
}
