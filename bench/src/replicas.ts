/**
 * The replica routing benchmark: es on a primary and TWO streaming replicas, through every adapter (one
 * cluster for the whole run, a table per adapter).
 *
 * 1. read distribution: 1,000 eventual reads of a 5-event boundary, counted per `serverName`;
 * 2. fail fast: both replicas stopped and both circuits open, 500 eventual reads (`replicaFallback`
 *    'none') must each reject with REPLICA_UNAVAILABLE: their p50 / p99; then both replicas are started
 *    again: the ms from `startReplica` resolving until both circuits are closed;
 * 3. a stalled replica (SIGSTOP), `replicaTimeoutMs` 500: the duration of the first read that fails and the
 *    reads the other replica served meanwhile; after `unstallReplica`, the ms until its circuit is closed;
 * 4. token oracle: 1,000 pairs of (append one event, eventual read with the append's token), replay paused
 *    on a random replica for 25 pairs every 50: stale reads (must be 0), reads per server, p50 / p99.
 *
 *   pnpm --filter @es/bench bench:replicas
 */
import { setTimeout as delay } from 'node:timers/promises';
import {
  buildStorableEvent,
  type EventFilter,
  type EventStore,
  isEventStoreError,
  type StoreOptions,
  withConsistencyToken,
  withEventualConsistency,
} from '@es/core';
import { type Cluster, startCluster, startWebSocketRelay, type WebSocketRelay } from '@es/testing';
import { neonConfig } from '@neondatabase/serverless';
import { FLAVOURS, type Flavour } from './adapters.js';
import { load, percentile } from './measure.js';
import { boundary, EVENT_TYPE, payload } from './mechanisms.js';
import { printTable } from './table.js';

const REPLICA_NAMES = ['replica-1', 'replica-2'];
const DISTRIBUTION_READS = 1_000;
const FAIL_FAST_READS = 500;
const STALL_TIMEOUT_MS = 500;
const TOKEN_PAIRS = 1_000;
const PAUSE_EVERY = 50;
const PAUSE_FOR = 25;
const POLL_MS = 20;
/** Bound of every wait: an adapter that never gets there fails its cells instead of hanging the run. */
const GIVE_UP_MS = 30_000;
const HEADER = (
  'adapter | reads replica-1 / replica-2 | fail-fast p50 ms | fail-fast p99 ms | recover ms | ' +
  'stall detect ms | unstall recover ms | token pairs | stale reads | token read p50 ms | ' +
  'token read p99 ms | token reads replica-1 / replica-2 / primary'
).split(' | ');

const eventual = withEventualConsistency();
const ms = (value: number) => value.toFixed(2);
const show = (served: Map<string, number>) => JSON.stringify(Object.fromEntries(served));
const perServer = (served: Map<string, number>, names: readonly string[]) =>
  names.map((name) => served.get(name) ?? 0).join(' / ');
const event = (book: string) =>
  buildStorableEvent({ type: EVENT_TYPE, occurredAt: new Date(), payload: payload(book) });
const circuits = async (store: EventStore) =>
  (await store.replicationStatus()).map((status) => status.circuit);

/** Polls `done` every POLL_MS until it holds and returns the ms that took; throws after GIVE_UP_MS. */
async function until(what: string, done: () => Promise<boolean>): Promise<number> {
  const started = performance.now();
  while (!(await done())) {
    if (performance.now() - started > GIVE_UP_MS) throw new Error(`gave up waiting for ${what}`);
    await delay(POLL_MS);
  }
  return performance.now() - started;
}

/** Runs `call` once: its duration in ms, and `ok` or the code of the error it rejected with. */
async function timed(call: () => Promise<unknown>): Promise<{ ms: number; code: string }> {
  const started = performance.now();
  const code = await call().then(
    () => 'ok',
    (error: unknown) => (isEventStoreError(error) ? error.code : String(error)),
  );
  return { ms: performance.now() - started, code };
}

/** What the steps of one adapter share. */
interface Bench {
  readonly cluster: Cluster;
  /** A store through the adapter on its table, counting eventual reads per server; closed at the end. */
  open(options?: StoreOptions): EventStore;
  /** The eventual reads that succeeded, per `serverName`, since the last call. */
  takeServed(): Map<string, number>;
  /** A 5-event boundary, replayed on both replicas. */
  readonly small: EventFilter;
  /** A unique book name for the run. */
  readonly book: string;
  say(line: string): void;
}

/** 1. Eventual reads of the small boundary: how many each replica served. */
async function readDistribution({ open, takeServed, small, say }: Bench): Promise<string[]> {
  const store = open();
  takeServed();
  for (let read = 0; read < DISTRIBUTION_READS; read++) await store.query(eventual, small);
  const spread = takeServed();
  say(`read distribution over ${DISTRIBUTION_READS} eventual reads: ${show(spread)}`);
  return [perServer(spread, REPLICA_NAMES)];
}

/** 2. Both replicas stopped: the latency of reads rejected with every circuit open; then the recovery. */
async function failFast({ cluster, open, small, say }: Bench): Promise<string[]> {
  const store = open({ replicaFallback: 'none' });
  const stopped: number[] = [];
  const rejections: number[] = [];
  let wrong = 0;
  try {
    for (const replica of REPLICA_NAMES.keys()) {
      await cluster.stopReplica(replica);
      stopped.push(replica);
    }
    const opening = await until('both circuits open', async () => {
      await store.query(eventual, small).catch(() => {});
      return (await circuits(store)).every((circuit) => circuit !== 'closed');
    });
    say(`both replicas stopped, both circuits open after ${ms(opening)} ms`);
    for (let read = 0; read < FAIL_FAST_READS; read++) {
      const attempt = await timed(() => store.query(eventual, small));
      rejections.push(attempt.ms);
      if (attempt.code !== 'REPLICA_UNAVAILABLE') wrong++;
    }
  } finally {
    await Promise.all(stopped.map((replica) => cluster.startReplica(replica)));
  }
  const recover = await until('both circuits closed', async () =>
    (await circuits(store)).every((circuit) => circuit === 'closed'),
  );
  await cluster.waitForReplay();
  const [p50, p99] = [ms(percentile(rejections, 50)), ms(percentile(rejections, 99))];
  const wrongNote = wrong ? ` (${wrong} of ${FAIL_FAST_READS} NOT REPLICA_UNAVAILABLE)` : '';
  if (wrong) process.exitCode = 1;
  say(
    `fail fast: ${FAIL_FAST_READS} reads, p50 ${p50} ms, p99 ${p99} ms, max ${ms(Math.max(...rejections))} ms${wrongNote}; circuits closed ${ms(recover)} ms after startReplica`,
  );
  return [p50 + wrongNote, p99, ms(recover)];
}

/** 3. Replica-2 stalled: how long the read that finds out takes, the reads served meanwhile, the recovery. */
async function stalledReplica({ cluster, open, takeServed, small, say }: Bench): Promise<string[]> {
  const store = open({ replicaTimeoutMs: STALL_TIMEOUT_MS });
  await cluster.stallReplica(1);
  let detect: number | undefined;
  try {
    takeServed();
    const started = performance.now();
    while (detect === undefined) {
      const attempt = await timed(() => store.query(eventual, small));
      if (attempt.code === 'REPLICA_UNAVAILABLE') detect = attempt.ms;
      else if (attempt.code !== 'ok') throw new Error(`a read failed with ${attempt.code}`);
      else if (performance.now() - started > GIVE_UP_MS) throw new Error('no read failed on replica-2');
    }
  } finally {
    await cluster.unstallReplica(1);
  }
  const meanwhile = takeServed();
  const unstall = await until('replica-2 closed', async () => (await circuits(store))[1] === 'closed');
  await cluster.waitForReplay();
  const succeeded = [...meanwhile.values()].reduce((sum, count) => sum + count, 0);
  say(
    `stall: the failing read took ${ms(detect)} ms, ${succeeded} reads succeeded before it ${show(meanwhile)}; circuit closed ${ms(unstall)} ms after unstall`,
  );
  return [ms(detect), ms(unstall)];
}

/** 4. Append, then read with the append's token, while replay is paused on one replica or the other. */
async function tokenOracle({ cluster, open, takeServed, book, say }: Bench): Promise<string[]> {
  const store = open();
  const filter = boundary(book);
  const latencies: number[] = [];
  let [known, appended, stale] = [0n, 0, 0];
  let paused: { replica: number; resumeAt: number } | undefined;
  takeServed();
  try {
    for (let pair = 0; pair < TOKEN_PAIRS; pair++) {
      if (paused?.resumeAt === pair) {
        await cluster.resumeReplay(paused.replica);
        paused = undefined;
      }
      if (pair % PAUSE_EVERY === 0) {
        paused = { replica: Math.floor(Math.random() * REPLICA_NAMES.length), resumeAt: pair + PAUSE_FOR };
        await cluster.pauseReplay(paused.replica);
      }
      const { sequenceNumbers, token } = await store.append(undefined, filter, known, event(book));
      [known, appended] = [sequenceNumbers[0] as bigint, appended + 1];
      const started = performance.now();
      const read = await store.query(withConsistencyToken(eventual, token), filter);
      latencies.push(performance.now() - started);
      if (read.events.length !== appended || read.maxSequenceNumber !== known) stale++;
      if ((pair + 1) % 250 === 0) say(`token pairs ${pair + 1}, stale reads ${stale}`);
    }
  } finally {
    if (paused) await cluster.resumeReplay(paused.replica);
  }
  const served = takeServed();
  if (stale) process.exitCode = 1;
  const [p50, p99] = [ms(percentile(latencies, 50)), ms(percentile(latencies, 99))];
  say(
    `token oracle: ${stale} stale of ${TOKEN_PAIRS}, reads ${show(served)}, p50 ${p50} ms, p99 ${p99} ms, max ${ms(Math.max(...latencies))} ms`,
  );
  return [String(TOKEN_PAIRS), String(stale), p50, p99, perServer(served, [...REPLICA_NAMES, 'primary'])];
}

/** The steps, each with the number of table cells it fills. */
const STEPS = [
  { cells: 1, run: readDistribution },
  { cells: 3, run: failFast },
  { cells: 2, run: stalledReplica },
  { cells: 5, run: tokenOracle },
];

/**
 * Runs every step through one adapter, on the table `bench_replicas_<index>`, and returns its row. A step
 * that fails fills its cells with FAILED (the cluster is restored) and the next one runs.
 */
async function benchAdapter<C>(cluster: Cluster, flavour: Flavour<C>, index: number): Promise<string[]> {
  const say = (line: string) => console.log(`  ${flavour.adapter}: ${line}`);
  const primary = flavour.connect(cluster.primaryUrl);
  const replicas = cluster.replicaUrls.map((url) => flavour.connect(url));
  const stores: EventStore[] = [];
  let served = new Map<string, number>();
  const open = (options: StoreOptions = {}) => {
    const store = flavour.storeWithReplicas(primary, replicas, {
      tableName: `bench_replicas_${index}`,
      hooks: {
        onOperation: ({ operation, consistency, outcome, serverName }) => {
          if (operation === 'eventstore.query' && consistency === 'eventual' && outcome === 'ok')
            served.set(serverName, (served.get(serverName) ?? 0) + 1);
        },
      },
      ...options,
    });
    stores.push(store);
    return store;
  };
  const takeServed = () => {
    const taken = served;
    served = new Map();
    return taken;
  };
  const row = [flavour.adapter];
  try {
    const store = open();
    await store.migrate();
    const book = `replicas-${process.pid}-${index}`;
    const small = boundary(`${book}-small`);
    await store.append(undefined, small, 0n, ...Array.from({ length: 5 }, () => event(`${book}-small`)));
    await cluster.waitForReplay();
    const bench: Bench = { cluster, open, takeServed, small, book, say };
    for (const step of STEPS) {
      const cells = await step.run(bench).catch((error: unknown) => {
        process.exitCode = 1;
        console.error(`  ${flavour.adapter}: ${step.run.name} FAILED:`, error);
        return Array<string>(step.cells).fill('FAILED');
      });
      row.push(...cells);
    }
    return row;
  } finally {
    for (const store of stores) await store.close();
    await Promise.all(
      [primary, ...replicas].map((handle) =>
        flavour.close(handle).catch((error: unknown) => say(`closing a handle failed: ${error}`)),
      ),
    );
  }
}

async function main() {
  const started = performance.now();
  console.log(`replica benchmark: node ${process.version}, 2 replicas, load average ${load()}`);
  const cluster = await startCluster({ replicas: 2, log: (line) => console.log(`  cluster: ${line}`) });
  let relay: WebSocketRelay | undefined;
  const rows: string[][] = [];
  try {
    relay = await startWebSocketRelay(); // Neon's Pool reaches the local servers through it
    Object.assign(neonConfig, relay.neonConfig);
    for (const [index, flavour] of FLAVOURS.entries()) {
      console.log(`\n== ${flavour.adapter}`);
      const row = await benchAdapter(cluster, flavour, index).catch((error: unknown) => {
        process.exitCode = 1;
        console.error(`  ${flavour.adapter}: FAILED:`, error);
        return [flavour.adapter];
      });
      rows.push(HEADER.map((_, column) => row[column] ?? 'FAILED'));
    }
  } finally {
    await relay?.close();
    await cluster.stop();
  }
  printTable(
    `\nreplica routing, 2 replicas (load average ${load()})\nfail fast: every circuit open, replicaFallback 'none'; stall: replicaTimeoutMs ${STALL_TIMEOUT_MS}; token reads: replay paused on a random replica for ${PAUSE_FOR} of every ${PAUSE_EVERY} pairs`,
    HEADER,
    rows,
  );
  console.log(`\ntotal ${((performance.now() - started) / 1000).toFixed(1)} s, load average ${load()}`);
}

await main();
