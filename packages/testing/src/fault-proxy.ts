import { connect, createServer, type Socket } from 'node:net';

/** A TCP proxy in front of a PostgreSQL server that can lose a reply on purpose. */
export interface FaultProxy {
  /** Its port on 127.0.0.1. */
  readonly port: number;
  /** The target's URL with the proxy's host and port instead. */
  readonly url: string;
  /**
   * Arms the proxy: on the connection on which a client sends its next message, the server's replies
   * pass until the ReadyForQuery that follows a completed statement (CommandComplete); the data holding
   * it is dropped and the connection cut on both sides. The server has then run the statement and ended
   * its transaction (an autocommit statement has committed) while the client never learns the outcome.
   * Resolves once a reply was cut.
   */
  cutNextReply(): Promise<void>;
  /** Cuts every open connection at once, as a server restart or a network blip does; new ones get through. */
  dropConnections(): void;
  /** Destroys the open connections and closes the proxy. */
  close(): Promise<void>;
}

/** Starts a `FaultProxy` on 127.0.0.1 in front of the server `targetUrl` names. */
export function startFaultProxy(targetUrl: string): Promise<FaultProxy> {
  const target = new URL(targetUrl);
  const sockets = new Set<Socket>();
  let armed: { victim: Socket | undefined; replies: BackendMessages; done: () => void } | undefined;
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  };
  const server = createServer((client) => {
    const upstream = connect(Number(target.port || 5432), target.hostname);
    track(client);
    track(upstream);
    const cut = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', cut);
    upstream.on('close', cut);
    client.on('data', (chunk) => {
      if (armed && !armed.victim) armed.victim = client;
      upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      if (armed?.victim === client && armed.replies.endsCompletedStatement(chunk)) {
        const { done } = armed;
        armed = undefined;
        cut();
        done();
        return;
      }
      client.write(chunk);
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (typeof address !== 'object' || address === null) {
        reject(new Error('fault proxy: no address'));
        return;
      }
      const url = new URL(targetUrl);
      url.hostname = '127.0.0.1';
      url.port = String(address.port);
      resolve({
        port: address.port,
        url: url.toString(),
        cutNextReply: () =>
          new Promise<void>((done) => (armed = { victim: undefined, replies: new BackendMessages(), done })),
        dropConnections: () => {
          for (const socket of sockets) socket.destroy();
        },
        close: () =>
          new Promise<void>((done) => {
            for (const socket of sockets) socket.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}

/** Follows the message framing of a server's stream (a type byte, then a length that counts itself). */
class BackendMessages {
  /** Bytes left of the message the last chunk ended in. */
  #remaining = 0;
  #header = Buffer.alloc(0);
  #completed = false;

  /** Whether `chunk` holds a ReadyForQuery ('Z') after a CommandComplete ('C') in this chunk or before. */
  endsCompletedStatement(chunk: Buffer): boolean {
    let found = false;
    let at = 0;
    while (at < chunk.length) {
      if (this.#remaining > 0) {
        const skipped = Math.min(this.#remaining, chunk.length - at);
        at += skipped;
        this.#remaining -= skipped;
        continue;
      }
      const part = chunk.subarray(at, at + 5 - this.#header.length);
      this.#header = Buffer.concat([this.#header, part]);
      at += part.length;
      if (this.#header.length < 5) break;
      if (this.#header[0] === 0x43) this.#completed = true;
      if (this.#header[0] === 0x5a && this.#completed) found = true;
      this.#remaining = this.#header.readUInt32BE(1) - 4;
      this.#header = Buffer.alloc(0);
    }
    return found;
  }
}
