import { runConformance } from '@es/conformance';
import { startWebSocketRelay, type WebSocketRelay } from '@es/testing';
import { neonConfig, Pool } from '@neondatabase/serverless';
import { afterAll } from 'vitest';
import { fromNeonPool, fromNeonPoolAndReplica, fromNeonPoolAndReplicas } from '../src/index.js';

/**
 * The full suite over Neon's WebSocket `Pool`, for real: every connection goes through a local
 * WebSocket relay (what Neon's proxy does in the cloud) to the harness's primary and replica.
 */
let relay: WebSocketRelay | undefined;
afterAll(() => relay?.close());

runConformance<Pool>({
  name: 'neon (WebSocket Pool)',
  setup: async () => {
    relay = await startWebSocketRelay();
    // Global in the driver's module: every Pool of this file goes through the relay.
    Object.assign(neonConfig, relay.neonConfig);
    return {
      connect: (url, options) => {
        // Neon's URLs carry sslmode=require; the driver leaves TLS to the WebSocket (forceDisablePgSSL).
        const neonUrl = new URL(url);
        neonUrl.searchParams.set('sslmode', 'require');
        const pool = new Pool({
          connectionString: neonUrl.toString(),
          max: 20,
          connectionTimeoutMillis: options?.connectTimeoutMs ?? 5000,
        });
        // Idle clients emit 'error' when their server stops; unhandled, that would crash the process.
        pool.on('error', () => {});
        return pool;
      },
      disconnect: (pool) => pool.end(),
      fromSingle: fromNeonPool,
      fromPrimaryAndReplica: fromNeonPoolAndReplica,
      fromPrimaryAndReplicas: fromNeonPoolAndReplicas,
    };
  },
});
