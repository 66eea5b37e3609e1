import { createServer, type IncomingMessage } from 'node:http';
import { isIPv4, type Socket, connect as tcpConnect } from 'node:net';
import { type RawData, WebSocket, WebSocketServer } from 'ws';

/** The `neonConfig` settings that send Neon's WebSocket driver through a relay (assign them all). */
export interface RelayNeonConfig {
  readonly webSocketConstructor: typeof WebSocket;
  readonly wsProxy: (host: string, port: number | string) => string;
  readonly useSecureWebSocket: false;
  readonly pipelineTLS: false;
  readonly pipelineConnect: false;
}

/** A running WebSocket-to-TCP relay; see `startWebSocketRelay`. */
export interface WebSocketRelay {
  /** Its port on 127.0.0.1. */
  readonly port: number;
  /** Its endpoint, `ws://127.0.0.1:<port>/v2`; connect to `<url>?address=<host>:<port>`. */
  readonly url: string;
  /** A `neonConfig.wsProxy` function: `(host, port) => '127.0.0.1:<relay port>/v2?address=<host>:<port>'`. */
  readonly wsProxy: (host: string, port: number | string) => string;
  /**
   * Everything Neon's `Pool`/`Client` need to use this relay, measured to work with
   * `@neondatabase/serverless` 1.x: `Object.assign(neonConfig, relay.neonConfig)`. The settings are
   * global in that module: one relay per process.
   */
  readonly neonConfig: RelayNeonConfig;
  /** Terminates every open connection and closes the server. Idempotent. */
  close(): Promise<void>;
}

/** Options of `startWebSocketRelay`. */
export interface WebSocketRelayOptions {
  /** Port to listen on, on 127.0.0.1. Default: a free one. */
  port?: number;
}

/** WebSocket close code for "the relay could not reach, or lost, the TCP target". */
const TARGET_FAILED = 1011;

/** A loopback host: `localhost`, 127.0.0.0/8, `::1` (bracketed or not). Anything else is refused. */
function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return bare === 'localhost' || bare === '::1' || (isIPv4(bare) && bare.startsWith('127.'));
}

/** The TCP target of a request to `/v2?address=<host>:<port>`, or undefined when it is not allowed. */
function targetOf(request: IncomingMessage): { host: string; port: number } | undefined {
  const url = new URL(request.url ?? '/', 'http://relay');
  const address = url.searchParams.get('address') ?? '';
  const colon = address.lastIndexOf(':');
  const host = address.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  const port = Number(address.slice(colon + 1));
  const valid = url.pathname === '/v2' && colon > 0 && Number.isInteger(port) && port > 0 && port < 65536;
  return valid && isLoopback(host) ? { host, port } : undefined;
}

/** Pipes one WebSocket to a new TCP connection, both ways; each side is closed when the other goes. */
function pipe(ws: WebSocket, target: { host: string; port: number }, sockets: Set<Socket>): void {
  // Writes made before the TCP connect completes are queued by the socket, so nothing is lost.
  const tcp = tcpConnect({ host: target.host, port: target.port, noDelay: true });
  sockets.add(tcp);
  let failed = false;
  tcp.on('data', (chunk) => ws.send(chunk, { binary: true }));
  tcp.on('error', () => {
    failed = true;
  });
  tcp.on('close', () => {
    sockets.delete(tcp);
    // Refused, reset or ended: the client learns it at once, as it would from a direct TCP connection.
    if (ws.readyState === WebSocket.OPEN) ws.close(failed ? TARGET_FAILED : 1000);
  });
  // binaryType 'nodebuffer' (the default): every message arrives as one Buffer.
  ws.on('message', (data: RawData) => {
    if (!tcp.write(data as Buffer)) ws.pause();
  });
  tcp.on('drain', () => ws.resume());
  ws.on('error', () => tcp.destroy());
  // Flush what the client sent last (a Terminate message), then let go of the socket even if the server
  // never closes its side (a silent server).
  ws.on('close', () => tcp.end(() => tcp.destroy()));
}

/**
 * Starts a WebSocket relay on 127.0.0.1, like Neon's proxy but for local servers: a WebSocket to
 * `/v2?address=<host>:<port>` is piped (binary frames) to a new TCP connection to that address, so
 * `@neondatabase/serverless`'s `Pool` and `Client` can reach a local PostgreSQL. Only loopback targets
 * are accepted (anything else gets HTTP 403), so the relay is never an open proxy. When the TCP connect
 * fails or the server closes, the WebSocket is closed at once (code 1011 after an error).
 *
 * ```ts
 * const relay = await startWebSocketRelay();
 * Object.assign(neonConfig, relay.neonConfig);
 * const pool = new Pool({ connectionString: cluster.primaryUrl, connectionTimeoutMillis: 5000 });
 * ```
 */
export function startWebSocketRelay(options: WebSocketRelayOptions = {}): Promise<WebSocketRelay> {
  const sockets = new Set<Socket>();
  const wss = new WebSocketServer({ noServer: true });
  const server = createServer((_request, response) => {
    response.writeHead(426, { Connection: 'close' }).end('WebSocket upgrade required\n');
  });
  server.on('upgrade', (request, socket, head) => {
    socket.on('error', () => {});
    const target = targetOf(request);
    if (!target) {
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => pipe(ws, target, sockets));
  });

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= new Promise<void>((resolve) => {
      for (const ws of wss.clients) ws.terminate();
      for (const socket of sockets) socket.destroy();
      wss.close();
      server.closeAllConnections();
      server.close(() => resolve());
    });
    return closing;
  };

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      const address = server.address();
      if (typeof address !== 'object' || address === null) {
        reject(new Error('WebSocket relay: no address'));
        return;
      }
      const port = address.port;
      const wsProxy = (host: string, targetPort: number | string) =>
        `127.0.0.1:${port}/v2?address=${host}:${targetPort}`;
      resolve({
        port,
        url: `ws://127.0.0.1:${port}/v2`,
        wsProxy,
        neonConfig: {
          webSocketConstructor: WebSocket,
          wsProxy,
          useSecureWebSocket: false,
          pipelineTLS: false,
          pipelineConnect: false,
        },
        close,
      });
    });
  });
}
