import { createServer, type Socket } from 'node:net';

/** A TCP server that accepts connections and never answers. */
export interface SilentServer {
  /** Its port on 127.0.0.1. */
  readonly port: number;
  /** A postgres:// URL pointing at it. */
  readonly url: string;
  /** Destroys the open connections and closes the server. */
  close(): Promise<void>;
}

/** A TCP server on 127.0.0.1 that accepts connections and never answers (to test connect timeouts). */
export function startSilentServer(): Promise<SilentServer> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (typeof address !== 'object' || address === null) {
        reject(new Error('silent server: no address'));
        return;
      }
      const port = address.port;
      resolve({
        port,
        url: `postgres://postgres@127.0.0.1:${port}/postgres`,
        close: () =>
          new Promise<void>((done) => {
            for (const socket of sockets) socket.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}
