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
import { startWebSocketRelay, type WebSocketRelay } from '@es/testing';
import { neonConfig } from '@neondatabase/serverless';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADAPTERS } from './adapters.js';
import { freshTable, useCluster } from './helpers.js';

/** One adapter's store on the shared primary + replica, the servers that answered, and how to close it. */
interface Opened {
  readonly name: string;
  readonly store: EventStore;
  readonly servers: OperationReport['server'][];
  close(): Promise<unknown>;
}

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
