import {
  buildEventFilter,
  buildStorableEvent,
  type EventStore,
  type JsonObject,
  type OperationReport,
  P,
  type StoredEvent,
  withEventualConsistency,
  withStrongConsistency,
} from '@es/core';
import { fromDrizzleAndReplica } from '@es/drizzle';
import { fromKyselyAndReplica } from '@es/kysely';
import { fromNeonPoolAndReplica } from '@es/neon';
import { fromPgPoolAndReplica } from '@es/pg';
import { fromPostgresJsAndReplica } from '@es/postgresjs';
import { startWebSocketRelay, type WebSocketRelay } from '@es/testing';
import { Pool as NeonPool, neonConfig } from '@neondatabase/serverless';
import { drizzle } from 'drizzle-orm/node-postgres';
import { Kysely, PostgresDialect } from 'kysely';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshTable, pool, useCluster } from './helpers.js';

/** One adapter's store on the shared primary + replica, the servers that answered, and how to close it. */
interface Opened {
  readonly name: string;
  readonly store: EventStore;
  readonly servers: OperationReport['server'][];
  close(): Promise<unknown>;
}

type Open = (
  primaryUrl: string,
  replicaUrl: string,
  options: Parameters<typeof fromPgPoolAndReplica>[2],
) => {
  store: EventStore;
  close(): Promise<unknown>;
};

const ADAPTERS: Record<string, Open> = {
  pg: (primaryUrl, replicaUrl, options) => {
    const [primary, replica] = [pool(primaryUrl), pool(replicaUrl)];
    return {
      store: fromPgPoolAndReplica(primary, replica, options),
      close: () => Promise.all([primary.end(), replica.end()]),
    };
  },
  'postgres.js': (primaryUrl, replicaUrl, options) => {
    const connect = (url: string) => postgres(url, { max: 5, connect_timeout: 5, onnotice: () => {} });
    const [primary, replica] = [connect(primaryUrl), connect(replicaUrl)];
    return {
      store: fromPostgresJsAndReplica(primary, replica, options),
      close: () => Promise.all([primary.end({ timeout: 5 }), replica.end({ timeout: 5 })]),
    };
  },
  neon: (primaryUrl, replicaUrl, options) => {
    const connect = (url: string) => {
      const created = new NeonPool({ connectionString: url, max: 5, connectionTimeoutMillis: 5_000 });
      created.on('error', () => {});
      return created;
    };
    const [primary, replica] = [connect(primaryUrl), connect(replicaUrl)];
    return {
      store: fromNeonPoolAndReplica(primary, replica, options),
      close: () => Promise.all([primary.end(), replica.end()]),
    };
  },
  kysely: (primaryUrl, replicaUrl, options) => {
    const connect = (url: string) =>
      new Kysely<unknown>({ dialect: new PostgresDialect({ pool: pool(url) }) });
    const [primary, replica] = [connect(primaryUrl), connect(replicaUrl)];
    return {
      store: fromKyselyAndReplica(primary, replica, options),
      close: () => Promise.all([primary.destroy(), replica.destroy()]),
    };
  },
  drizzle: (primaryUrl, replicaUrl, options) => {
    const [primary, replica] = [drizzle({ client: pool(primaryUrl) }), drizzle({ client: pool(replicaUrl) })];
    return {
      store: fromDrizzleAndReplica(primary, replica, options),
      close: () => Promise.all([primary.$client.end(), replica.$client.end()]),
    };
  },
};

/** Values that tend to change on the way through a driver: unicode, escapes, big and small numbers, nesting. */
function payloadOf(bookId: string): JsonObject {
  return {
    BookID: bookId,
    Title: 'Ünïcødé 📚 "quoted" \\ back\nslash\t\u2028',
    Pages: 9_007_199_254_740_991,
    Price: 0.1,
    Loss: -12.5e-7,
    Available: true,
    Missing: null,
    Empty: '',
    Authors: [{ name: 'A', born: 1900 }, ['nested', 2], []],
    Nested: { deeper: { deepest: [false, 0, 'x'] } },
  };
}

describe('adapters interoperate on one table', () => {
  const cluster = useCluster();
  let relay: WebSocketRelay | undefined;
  const opened: Opened[] = [];
  const table = freshTable('interop');

  beforeAll(async () => {
    relay = await startWebSocketRelay();
    Object.assign(neonConfig, relay.neonConfig);
    for (const [name, open] of Object.entries(ADAPTERS)) {
      const servers: OperationReport['server'][] = [];
      const hooks = { onOperation: (report: OperationReport) => servers.push(report.server) };
      const { store, close } = open(cluster().primaryUrl, cluster().replicaUrl, { tableName: table, hooks });
      opened.push({ name, store, servers, close });
    }
  });

  afterAll(async () => {
    await Promise.allSettled(opened.map((adapter) => adapter.close()));
    await relay?.close();
  });

  it('events appended through each adapter read back identically through every other one', async () => {
    await opened[0]?.store.migrate();
    const appended = new Map<bigint, { adapter: string; payload: JsonObject; occurredAt: Date }>();
    for (const [index, { name, store }] of opened.entries()) {
      const bookId = `interop-${name}`;
      const payload = payloadOf(bookId);
      const occurredAt = new Date(Date.UTC(2024, 1, 29, 23, 59, 59, 100 + index));
      const boundary = buildEventFilter().matching().anyPredicateOf(P('BookID', bookId)).finalize();
      const { sequenceNumbers } = await store.append(
        withStrongConsistency(),
        boundary,
        0n,
        buildStorableEvent({
          type: 'BookCopyAddedToCirculation',
          occurredAt,
          payload,
          metadata: { by: name },
        }),
        buildStorableEvent({ type: 'BookCopyLentToReader', occurredAt, payload: { BookID: bookId } }),
      );
      expect(sequenceNumbers).toHaveLength(2);
      for (const position of sequenceNumbers) expect(typeof position).toBe('bigint');
      appended.set(sequenceNumbers[0] as bigint, { adapter: name, payload, occurredAt });
    }

    const everything = buildEventFilter().matchingAnyEvent();
    const reads = new Map<string, readonly StoredEvent[]>();
    for (const { name, store } of opened) {
      reads.set(name, (await store.query(withStrongConsistency(), everything)).events);
    }
    const reference = reads.get('pg') ?? [];
    expect(reference).toHaveLength(2 * opened.length);
    for (const [position, { adapter, payload, occurredAt }] of appended) {
      const event = reference.find((candidate) => candidate.sequenceNumber === position);
      expect(event, `the first event ${adapter} appended`).toBeDefined();
      expect(event?.type).toBe('BookCopyAddedToCirculation');
      expect(event?.payload).toEqual(payload);
      expect(event?.metadata).toEqual({ by: adapter });
      expect(event?.occurredAt).toBeInstanceOf(Date);
      expect(event?.occurredAt.getTime()).toBe(occurredAt.getTime());
    }
    for (const [name, events] of reads) expect(events, `${name} strong read`).toEqual(reference);

    // The same through every adapter's replica, once it has replayed the primary's WAL.
    await cluster().waitForReplay();
    for (const adapter of opened) {
      adapter.servers.length = 0;
      const { events } = await adapter.store.query(withEventualConsistency(), everything);
      expect(events, `${adapter.name} eventual read`).toEqual(reference);
      expect(adapter.servers).toEqual(['replica']);
    }
  });
});
