import {
  buildEventFilter,
  buildStorableEvent,
  P,
  withEventualConsistency,
  withStrongConsistency,
} from '@es/core';
import type { Cluster } from '@es/testing';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { freshTable, instance, useCluster } from './helpers.js';

/** Applies WAL on the replica `delay` late (recovery_min_apply_delay), through SQL on the replica. */
async function setApplyDelay(cluster: Cluster, delay: string) {
  const client = new pg.Client({ connectionString: cluster.replicaUrl, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    await client.query(`ALTER SYSTEM SET recovery_min_apply_delay = '${delay}'`);
    await client.query('SELECT pg_reload_conf()');
  } finally {
    await client.end();
  }
}

describe('a lagging replica', () => {
  const cluster = useCluster();

  it('serves stale eventual reads while strong reads are current; waiting on the replay LSN makes them agree', async () => {
    const app = instance(cluster(), freshTable('lag'));
    try {
      await app.store.migrate();
      await cluster().waitForReplay();
      await setApplyDelay(cluster(), '3s');
      const boundary = buildEventFilter()
        .matching()
        .anyEventTypeOf('BookCopyLentToReader')
        .andAllPredicatesOf(P('BookID', 'b-1'))
        .finalize();
      const lent = buildStorableEvent({
        type: 'BookCopyLentToReader',
        occurredAt: new Date(),
        payload: { BookID: 'b-1' },
      });

      const { sequenceNumbers } = await app.store.append(withStrongConsistency(), boundary, 0n, lent);
      const afterCommit = await cluster().primaryLsn();

      // The replica received the commit but applies it 3 s late: an eventual read right now is stale.
      const stale = await app.store.query(withEventualConsistency(), boundary);
      const current = await app.store.query(withStrongConsistency(), boundary);
      expect(stale.events).toHaveLength(0);
      expect(current.events.map((event) => event.sequenceNumber)).toEqual(sequenceNumbers);

      // Read-your-writes the honest way: wait until the replica has replayed the primary's LSN.
      await cluster().waitForReplay(afterCommit, 20_000);
      const caughtUp = await app.store.query(withEventualConsistency(), boundary);
      expect(caughtUp.maxSequenceNumber).toBe(current.maxSequenceNumber);
    } finally {
      await setApplyDelay(cluster(), '0');
      await app.close();
    }
  });
});
