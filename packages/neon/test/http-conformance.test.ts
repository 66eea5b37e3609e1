import { runConformance } from '@es/conformance';
import type { EventStore } from '@es/core';
import { startWebSocketRelay, type WebSocketRelay } from '@es/testing';
import { type NeonQueryFunction, neon, neonConfig, Pool } from '@neondatabase/serverless';
import { afterAll } from 'vitest';
import {
  fromNeonHttp,
  fromNeonHttpAndReplica,
  fromNeonHttpAndReplicas,
  fromNeonPool,
  fromNeonPoolAndReplica,
  fromNeonPoolAndReplicas,
} from '../src/index.js';
import { type NeonHttpStandIn, startNeonHttpStandIn } from './http-standin.js';

/**
 * The suite over Neon's HTTP query function `neon()`, against OUR stand-in for Neon's SQL-over-HTTP
 * endpoint (./http-standin.ts), not against Neon's service.
 *
 * An HTTP store cannot migrate (no interactive transactions): as a user would, each store under test is
 * migrated through a WebSocket Pool store on the same database (through the relay). Only `migrate()`
 * takes that path; every query and append of the suite goes over HTTP. The HTTP store's own migrate()
 * refusal is checked in src/index.test.ts. The cancellation group is skipped, with its reason below.
 */
interface HttpHandle {
  readonly sql: NeonQueryFunction<false, false>;
  /** Used only to migrate. */
  readonly pool: Pool;
}

/** The HTTP store, with `migrate()` run through the Pool store on the same database. */
const migratingThroughPool = (http: EventStore, pool: EventStore): EventStore => ({
  ...http,
  migrate: (ctx) => pool.migrate(ctx),
});

let relay: WebSocketRelay | undefined;
let standIn: NeonHttpStandIn | undefined;
afterAll(async () => {
  await standIn?.close();
  await relay?.close();
});

runConformance<HttpHandle>({
  name: 'neon (HTTP query function, against a local stand-in)',
  skip: {
    isolation:
      "over HTTP the store cannot open the READ COMMITTED transaction it runs a call in when the session's " +
      'default isolation is stricter: such calls are refused with InvalidConfigurationError, which says to ' +
      'set the role to READ COMMITTED (src/index.test.ts checks the refusal)',
    cancellation:
      "over HTTP an abort closes the request and Neon's proxy cancels the statement only after that, so a " +
      'call cannot wait for the cancel: appends are therefore not aborted (they report what the database ' +
      'did) and this group, which requires an aborted append to insert nothing, cannot hold. ' +
      'test/http-cancellation.test.ts checks what an abort does over HTTP instead',
  },
  setup: async () => {
    relay = await startWebSocketRelay();
    standIn = await startNeonHttpStandIn();
    Object.assign(neonConfig, relay.neonConfig);
    neonConfig.fetchEndpoint = standIn.fetchEndpoint;
    return {
      connect: (url, options) => {
        const pool = new Pool({
          connectionString: url,
          max: 4,
          connectionTimeoutMillis: options?.connectTimeoutMs ?? 5000,
        });
        pool.on('error', () => {});
        return { sql: neon(url), pool };
      },
      disconnect: (handle) => handle.pool.end(),
      fromSingle: (handle, options) =>
        migratingThroughPool(fromNeonHttp(handle?.sql, options), fromNeonPool(handle?.pool, options)),
      fromPrimaryAndReplica: (primary, replica, options) =>
        migratingThroughPool(
          fromNeonHttpAndReplica(primary?.sql, replica?.sql, options),
          fromNeonPoolAndReplica(primary?.pool, replica?.pool, options),
        ),
      fromPrimaryAndReplicas: (primary, replicas, options) =>
        migratingThroughPool(
          fromNeonHttpAndReplicas(
            primary?.sql,
            replicas.map((replica) => replica.sql),
            options,
          ),
          fromNeonPoolAndReplicas(
            primary?.pool,
            replicas.map((replica) => replica.pool),
            options,
          ),
        ),
    };
  },
});
