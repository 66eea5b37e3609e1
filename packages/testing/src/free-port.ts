import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';

/** Resolves with `port` if it can be listened on at 127.0.0.1 now, else with 0. */
function tryListen(port: number): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(0));
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      const bound = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(bound));
    });
  });
}

/** The first port of the kernel's ephemeral range (Linux), 32768 where it cannot be read. */
async function ephemeralStart(): Promise<number> {
  const range = await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').catch(() => '');
  const first = Number.parseInt(range, 10);
  return Number.isInteger(first) && first > 2_048 ? first : 32_768;
}

/**
 * A free TCP port on 127.0.0.1 for a server that tests stop and start, chosen below the ephemeral range:
 * a client reconnecting to a port in that range while its server is down can be given that very port as
 * its own local port, connect to itself, and keep the server from starting again ("Address already in
 * use"). Random ports from 10000 up are tried; the OS's choice (port 0) is the last resort.
 */
export async function freePort(): Promise<number> {
  const span = (await ephemeralStart()) - 10_000;
  for (let attempt = 0; span > 1_000 && attempt < 50; attempt++) {
    const port = await tryListen(10_000 + Math.floor(Math.random() * span));
    if (port > 0) return port;
  }
  const port = await tryListen(0);
  if (port > 0) return port;
  throw new Error('could not get a free port');
}
