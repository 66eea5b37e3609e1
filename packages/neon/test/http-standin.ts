import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { isIPv4 } from 'node:net';
import pg from 'pg';

/**
 * A SMALL stand-in for the SQL-over-HTTP endpoint of Neon's proxy, for tests only: nothing on npm serves
 * that protocol. It answers what `neon()` of `@neondatabase/serverless` 1.2.0 sends (read from its
 * source): `POST /sql` with the target in the `Neon-Connection-String` header and a JSON body
 * `{ query, params }`. It runs the query through `pg` on that (loopback) server and answers as the
 * proxy's open-source code does: 200 with `{ command, rowCount, rowAsArray, fields, rows }` (raw text
 * values, rows as arrays), 400 with PostgreSQL's error fields (`message`, `code`, ...), 500 when the
 * database cannot be reached. When the client goes away before the answer, the running statement is
 * cancelled on the server, as the proxy does. An approximation of the service, not the service.
 * Batches (`sql.transaction([...])`) are not served: the adapter does not send them.
 */
export interface NeonHttpStandIn {
  /** For `neonConfig.fetchEndpoint`: `http://127.0.0.1:<port>/sql`. */
  readonly fetchEndpoint: string;
  /** Ends every database pool and closes the server. */
  close(): Promise<void>;
}

/** Error fields the proxy copies from PostgreSQL's error (and the client copies onto `NeonDbError`). */
const ERROR_FIELDS = [
  'code',
  'severity',
  'detail',
  'hint',
  'position',
  'internalPosition',
  'internalQuery',
  'where',
  'schema',
  'table',
  'column',
  'dataType',
  'constraint',
  'file',
  'line',
  'routine',
] as const;

/** Every value comes back as PostgreSQL's text, as with the `Neon-Raw-Text-Output: true` header. */
const rawText = { getTypeParser: () => (value: string) => value };

/**
 * A database the proxy cannot reach: it answers 500 with its Postgres client's error text, `error
 * connecting to server: <cause>`, the cause being Rust's `io::Error` text; modelled here for a refused
 * or reset connection. Other causes (a server that accepts TCP and never answers) keep node-postgres's
 * text: what the service says then is not known here.
 */
const IO_TEXT: Record<string, string> = {
  ECONNREFUSED: 'Connection refused (os error 111)',
  ECONNRESET: 'Connection reset by peer (os error 104)',
};

const isLoopback = (host: string) => host === 'localhost' || (isIPv4(host) && host.startsWith('127.'));

function answer(response: ServerResponse, status: number, body: unknown): void {
  if (response.destroyed) return;
  response.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
}

async function readJson(request: IncomingMessage): Promise<{ query?: unknown; params?: unknown }> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

/** Starts the stand-in on a free 127.0.0.1 port. `connectTimeoutMs` bounds each connect to a database. */
export async function startNeonHttpStandIn(
  options: { connectTimeoutMs?: number } = {},
): Promise<NeonHttpStandIn> {
  const pools = new Map<string, pg.Pool>();
  const poolFor = (connectionString: string) => {
    let pool = pools.get(connectionString);
    if (!pool) {
      pool = new pg.Pool({
        connectionString,
        max: 30,
        connectionTimeoutMillis: options.connectTimeoutMs ?? 2000,
        types: rawText,
      });
      pool.on('error', () => {});
      pool.on('connect', (client) => client.on('error', () => {})); // a broken checked-out client too
      pools.set(connectionString, pool);
    }
    return pool;
  };

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    if (request.method !== 'POST' || request.url !== '/sql')
      return answer(response, 400, 'query is not supported');
    const target = String(request.headers['neon-connection-string'] ?? '');
    const url = URL.canParse(target) ? new URL(target) : undefined;
    if (!url || !isLoopback(url.hostname))
      return answer(response, 400, { message: 'invalid connection string' });
    const body = await readJson(request);
    if (typeof body.query !== 'string')
      return answer(response, 400, { message: 'only single queries are served' });
    const pool = poolFor(target);
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (error) {
      const { code, message } = error as { code?: string; message: string };
      return answer(response, 500, {
        message: `error connecting to server: ${IO_TEXT[code ?? ''] ?? message}`,
      });
    }
    // The client went away before its answer: cancel the statement on the server, as the proxy does, and
    // never reuse that connection (a late cancel must not hit a later statement).
    let cancelled = false;
    const cancel = () => {
      cancelled = true;
      pool
        .query('SELECT pg_cancel_backend($1)', [(client as unknown as { processID: number }).processID])
        .catch(() => {});
    };
    response.once('close', cancel);
    try {
      const result = await client.query({
        text: body.query,
        values: Array.isArray(body.params) ? body.params : [],
        rowMode: 'array',
      });
      response.off('close', cancel);
      client.release(cancelled);
      answer(response, 200, {
        command: result.command,
        rowCount: result.rowCount,
        rowAsArray: true,
        fields: result.fields.map(
          ({ name, dataTypeID, tableID, columnID, dataTypeSize, dataTypeModifier }) => ({
            name,
            dataTypeID,
            tableID,
            columnID,
            dataTypeSize,
            dataTypeModifier,
            format: 'text',
          }),
        ),
        rows: result.rows,
      });
    } catch (error) {
      response.off('close', cancel);
      const fields = error as Record<string, unknown>;
      client.release(cancelled || typeof fields.code !== 'string');
      const details = Object.fromEntries(
        ERROR_FIELDS.map((key) => [key, fields[key] ?? (key === 'code' ? '' : null)]),
      );
      answer(response, 400, { message: (error as Error).message, ...details });
    }
  };

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => answer(response, 500, { message: String(error) }));
  });
  server.listen(0, '127.0.0.1');
  await new Promise((resolve, reject) => server.once('listening', resolve).once('error', reject));
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('Neon HTTP stand-in: no address');
  let closing: Promise<void> | undefined;
  return {
    fetchEndpoint: `http://127.0.0.1:${address.port}/sql`,
    close: () => {
      closing ??= (async () => {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
        await Promise.allSettled([...pools.values()].map((pool) => pool.end()));
      })();
      return closing;
    },
  };
}
