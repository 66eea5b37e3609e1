import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { freePort } from '../src/free-port.js';
import { startWebSocketRelay, type WebSocketRelay } from '../src/index.js';

/** A TCP server on 127.0.0.1 that handles each connection with `handle`. */
async function tcpServer(handle: (socket: Socket) => void): Promise<{ server: Server; port: number }> {
  const server = createServer((socket) => {
    socket.on('error', () => {});
    handle(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('no address');
  return { server, port: address.port };
}

/** Opens a WebSocket; resolves when open, rejects with the HTTP status when the upgrade is refused. */
function open(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.on('open', () => resolve(ws));
    ws.on('unexpected-response', (_request, response) => reject(new Error(`HTTP ${response.statusCode}`)));
    ws.on('error', reject);
  });
}

/** Resolves with the close code once `ws` is closed. */
async function closed(ws: WebSocket): Promise<number> {
  if (ws.readyState === WebSocket.CLOSED) return -1;
  const [code] = (await once(ws, 'close')) as [number];
  return code;
}

describe('startWebSocketRelay', () => {
  let relay: WebSocketRelay;
  let echo: { server: Server; port: number };
  const sockets = new Set<Socket>();

  beforeAll(async () => {
    relay = await startWebSocketRelay();
    echo = await tcpServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.pipe(socket);
    });
  });

  afterAll(async () => {
    await relay?.close();
    for (const socket of sockets) socket.destroy();
    echo?.server.close();
  });

  const to = (address: string) => `${relay.url}?address=${address}`;

  it('describes itself for neonConfig', () => {
    expect(relay.url).toBe(`ws://127.0.0.1:${relay.port}/v2`);
    expect(relay.wsProxy('127.0.0.1', 5432)).toBe(`127.0.0.1:${relay.port}/v2?address=127.0.0.1:5432`);
    expect(relay.neonConfig).toMatchObject({
      webSocketConstructor: WebSocket,
      useSecureWebSocket: false,
      pipelineTLS: false,
      pipelineConnect: false,
    });
    expect(relay.neonConfig.wsProxy('localhost', '6543')).toBe(relay.wsProxy('localhost', '6543'));
  });

  it('pipes bytes both ways, in binary frames', async () => {
    const ws = await open(to(`127.0.0.1:${echo.port}`));
    const sent = [Buffer.from([0, 1, 2, 255]), Buffer.alloc(200_000, 7), Buffer.from('tail')];
    const expected = Buffer.concat(sent);
    const received: Buffer[] = [];
    const done = new Promise<void>((resolve) => {
      ws.on('message', (data, isBinary) => {
        expect(isBinary).toBe(true);
        received.push(data as Buffer);
        if (Buffer.concat(received).length >= expected.length) resolve();
      });
    });
    for (const chunk of sent) ws.send(chunk);
    await done;
    expect(Buffer.concat(received).equals(expected)).toBe(true);
    ws.close();
    await closed(ws);
  });

  it('closes the WebSocket at once (1011) when the TCP target refuses the connection', async () => {
    const nobody = await freePort();
    const started = Date.now();
    const ws = await open(to(`127.0.0.1:${nobody}`));
    expect(await closed(ws)).toBe(1011);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('closes the WebSocket (1000) after the data when the TCP server ends the connection', async () => {
    const bye = await tcpServer((socket) => socket.end('bye'));
    try {
      const ws = await open(to(`127.0.0.1:${bye.port}`));
      const messages: string[] = [];
      ws.on('message', (data) => messages.push(String(data)));
      expect(await closed(ws)).toBe(1000);
      expect(messages.join('')).toBe('bye');
    } finally {
      bye.server.close();
    }
  });

  it('closes the TCP connection when the WebSocket client goes away', async () => {
    let connected: (socket: Socket) => void = () => {};
    const accepted = new Promise<Socket>((resolve) => {
      connected = resolve;
    });
    const target = await tcpServer((socket) => connected(socket));
    try {
      const ws = await open(to(`127.0.0.1:${target.port}`));
      const socket = await accepted;
      const gone = once(socket, 'close');
      ws.terminate();
      await gone;
    } finally {
      target.server.close();
    }
  });

  it('refuses (403) targets that are not loopback, and malformed requests', async () => {
    const refused = [
      '10.0.0.1:5432',
      '192.168.1.10:5432',
      'example.com:443',
      '128.0.0.1:5432',
      '[2001:db8::1]:5432',
      '127.0.0.1',
      '127.0.0.1:0',
      '127.0.0.1:70000',
      '127.0.0.1:54x',
      '',
    ];
    for (const address of refused) {
      await expect(open(to(encodeURIComponent(address))), address).rejects.toThrow('HTTP 403');
    }
    await expect(open(`ws://127.0.0.1:${relay.port}/v1?address=127.0.0.1:${echo.port}`)).rejects.toThrow(
      'HTTP 403',
    );
    // Loopback names are accepted (whether something listens there is another matter).
    for (const address of [`localhost:${echo.port}`, `[::1]:${echo.port}`, `127.1.2.3:${echo.port}`]) {
      const ws = await open(to(address));
      ws.terminate();
    }
  });

  it('close() terminates open connections and is idempotent', async () => {
    const own = await startWebSocketRelay();
    const ws = await open(`${own.url}?address=127.0.0.1:${echo.port}`);
    const closing = closed(ws);
    await Promise.all([own.close(), own.close()]);
    await closing;
    await own.close();
    await expect(open(`${own.url}?address=127.0.0.1:${echo.port}`)).rejects.toThrow();
  });
});
