/**
 * The library story on Neon's serverless driver: two WebSocket `Pool`s of `@neondatabase/serverless`
 * (primary and read replica), here pointed at a local primary + streaming replica through a local
 * WebSocket relay, which plays the part of Neon's proxy.
 *
 *   pnpm --filter @es/example-neon start
 *
 * Against Neon you would drop the relay and its `neonConfig` lines, and give the Pools your Neon URLs:
 * the primary's and a read replica's. Everything else stays as it is.
 */
import type { OperationReport } from '@es/core';
import {
  addBookCopy,
  booksInCirculation,
  type CommandResult,
  lendBookCopyToReader,
  returnBookCopyFromReader,
} from '@es/example-library';
import { fromNeonPoolAndReplica } from '@es/neon';
import { type Cluster, startCluster, startWebSocketRelay, type WebSocketRelay } from '@es/testing';
import { neonConfig, Pool } from '@neondatabase/serverless';

/** Every operation the store reports: which server and driver served it, for which consistency. */
const reports: OperationReport[] = [];

/** A Pool as you would configure one for Neon: bounded, with an explicit connect timeout. */
function newPool(connectionString: string): Pool {
  const pool = new Pool({ connectionString, max: 5, connectionTimeoutMillis: 5_000 });
  // Idle clients emit 'error' when their server goes away; without a listener that crashes the process.
  pool.on('error', (error: Error) => console.error(`  idle client error: ${error.message}`));
  return pool;
}

/** Runs one step and prints what it was, where it was served, and what came of it. */
async function step<T>(label: string, run: () => Promise<T>, show: (result: T) => string): Promise<T> {
  const before = reports.length;
  const result = await run();
  const served = [
    ...new Set(reports.slice(before).map((r) => `${r.consistency} -> ${r.server} (${r.driver})`)),
  ];
  console.log(`  ${label.padEnd(26)}${served.join(', ').padEnd(32)}${show(result)}`);
  return result;
}

const outcome = (result: CommandResult) =>
  result.outcome === 'appended'
    ? `appended ${result.sequenceNumbers.map((n) => `#${n}`).join(', ')}`
    : `${result.outcome}: ${result.reason}`;

let cluster: Cluster | undefined;
let relay: WebSocketRelay | undefined;
const pools: Pool[] = [];
try {
  console.log("es demo: a library on Neon's serverless driver (WebSocket Pools), primary + read replica");
  // ES_PRIMARY_URL / ES_REPLICA_URL (loopback servers) are used when set; otherwise local servers start.
  cluster = await startCluster({ database: 'library' });
  relay = await startWebSocketRelay();
  // Local only: send the driver's WebSockets through the relay, unencrypted. Against Neon, delete this.
  Object.assign(neonConfig, relay.neonConfig);
  const primary = newPool(cluster.primaryUrl);
  const replica = newPool(cluster.replicaUrl);
  pools.push(primary, replica);
  // A schema of its own, dropped at the end: nothing is left behind on servers you gave it.
  const schema = `library_neon_${Date.now().toString(36)}`;
  const store = fromNeonPoolAndReplica(primary, replica, {
    tableName: `${schema}.events`,
    hooks: { onOperation: (report) => reports.push(report) },
  });
  try {
    await step(
      'migrate',
      () => store.migrate(),
      () => `${store.tableName} is ready`,
    );
    await step('add copy-1 "Dune"', () => addBookCopy(store, { bookId: 'copy-1', title: 'Dune' }), outcome);
    await step('add copy-2 "Emma"', () => addBookCopy(store, { bookId: 'copy-2', title: 'Emma' }), outcome);
    const lend = (readerId: string) => () => lendBookCopyToReader(store, { bookId: 'copy-1', readerId });
    await step('lend copy-1 to ann', lend('ann'), outcome);
    await step('lend copy-1 to bob', lend('bob'), outcome);
    await step(
      'return copy-1 from ann',
      () => returnBookCopyFromReader(store, { bookId: 'copy-1', readerId: 'ann' }),
      outcome,
    );
    await cluster.waitForReplay();
    await step(
      'booksInCirculation',
      () => booksInCirculation(store),
      ({ copies, asOf }) =>
        `as of #${asOf}: ${copies.map((c) => `${c.bookId} ${c.lentTo ? `lent to ${c.lentTo}` : 'on the shelf'}`).join(', ')}`,
    );
  } finally {
    await primary.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => {});
  }
  console.log('done');
} catch (error) {
  console.error(`demo failed: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
  process.exitCode = 1;
} finally {
  await Promise.allSettled(pools.map((pool) => pool.end()));
  await relay?.close();
  await cluster?.stop();
}
