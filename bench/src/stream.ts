/**
 * The streaming benchmark: `queryStream` against `query` on one primary, through `@es/pg`.
 *
 * 1. memory: 1,000,000 events (one boundary) streamed with batchSize 1,000; RSS before the stream and its
 *    peak while streaming (sampled every 10,000 events; a GC before each round when exposed), and the heap's,
 *    per round, before any timed read;
 * 2. time: the same 200,000 matching events read by `query` and by `queryStream`, alternating, the order
 *    rotated each round (3 rounds), medians and the raw rounds. `query` holds every event in memory, which
 *    is why it is not run on the million.
 *
 *   pnpm --filter @es/bench bench:stream
 */
import { buildEventFilter, buildStorableEvent, type EventStore, P } from '@es/core';
import { fromPgPool } from '@es/pg';
import { startCluster } from '@es/testing';
import pg from 'pg';
import { load, median } from './measure.js';
import { printTable } from './table.js';

const TOTAL = 1_000_000;
const TIMED = 200_000;
const APPEND_BATCH = 5_000;
const ROUNDS = 3;
const NOTHING = buildEventFilter().matching().anyEventTypeOf('NeverWritten').finalize();
const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
const gc = () => (globalThis as { gc?: () => void }).gc?.();
const all = (stream: string) =>
  buildEventFilter().matching().anyEventTypeOf('Tick').andAnyPredicateOf(P('stream', stream)).finalize();

async function fill(store: EventStore, stream: string, count: number): Promise<void> {
  for (let done = 0; done < count; done += APPEND_BATCH) {
    const events = Array.from({ length: Math.min(APPEND_BATCH, count - done) }, (_, n) =>
      buildStorableEvent({
        type: 'Tick',
        occurredAt: new Date(),
        payload: { stream, n: done + n, note: 'a payload of a realistic size, 100 bytes or so, for memory' },
      }),
    );
    // Guarded by a boundary nothing matches: the bench measures reads.
    await store.append(undefined, NOTHING, 0n, ...events);
  }
}

/** Streams every event of `stream`; the RSS peak seen (sampled) and the count. */
async function streamPeak(store: EventStore, stream: string) {
  let count = 0;
  let peak = process.memoryUsage().rss;
  let heapPeak = process.memoryUsage().heapUsed;
  const started = performance.now();
  for await (const _ of store.queryStream(undefined, all(stream), { batchSize: 1_000 })) {
    if (++count % 10_000 === 0) {
      const now = process.memoryUsage();
      peak = Math.max(peak, now.rss);
      heapPeak = Math.max(heapPeak, now.heapUsed);
    }
  }
  return { count, peak, heapPeak, ms: performance.now() - started };
}

async function main(): Promise<void> {
  const cluster = await startCluster();
  const pool = new pg.Pool({ connectionString: cluster.primaryUrl, max: 4 });
  pool.on('error', () => {});
  try {
    const store = fromPgPool(pool, { tableName: 'stream_bench' });
    await store.migrate();
    console.log(`[bench] filling ${TOTAL} + ${TIMED} events (load ${load()})`);
    await fill(store, 'big', TOTAL);
    await fill(store, 'timed', TIMED);
    const memory: string[][] = [];
    const times: Record<'query' | 'queryStream', number[]> = { query: [], queryStream: [] };
    // The memory rounds first, on their own: a query() of 200,000 events in between would leave the heap
    // (and RSS, which V8 does not hand back at once) grown by what it held.
    for (let round = 0; round < ROUNDS; round++) {
      gc();
      const before = process.memoryUsage();
      const { count, peak, heapPeak, ms } = await streamPeak(store, 'big');
      memory.push([
        String(round + 1),
        String(count),
        mb(before.rss),
        mb(peak),
        mb(peak - before.rss),
        mb(heapPeak - before.heapUsed),
        (ms / 1000).toFixed(2),
      ]);
    }
    for (let round = 0; round < ROUNDS; round++) {
      const order =
        round % 2 === 0 ? (['query', 'queryStream'] as const) : (['queryStream', 'query'] as const);
      for (const variant of order) {
        gc();
        const started = performance.now();
        if (variant === 'query') {
          const { events } = await store.query(undefined, all('timed'));
          if (events.length !== TIMED) throw new Error(`query returned ${events.length}`);
        } else {
          let n = 0;
          for await (const _ of store.queryStream(undefined, all('timed'))) n++;
          if (n !== TIMED) throw new Error(`queryStream returned ${n}`);
        }
        times[variant].push(performance.now() - started);
      }
    }
    printTable(
      `queryStream of ${TOTAL} events, batchSize 1,000 (load ${load()})`,
      ['round', 'events', 'RSS before MB', 'RSS peak MB', 'RSS growth MB', 'heap growth MB', 'seconds'],
      memory,
    );
    const q = median(times.query);
    const s = median(times.queryStream);
    printTable(
      `${TIMED} events: query() vs queryStream() (strong, ${ROUNDS} rounds, alternating)`,
      ['variant', 'median ms', 'rounds ms', 'ratio to query()'],
      [
        ['query()', q.toFixed(0), times.query.map((v) => v.toFixed(0)).join(' / '), '1.00'],
        [
          'queryStream()',
          s.toFixed(0),
          times.queryStream.map((v) => v.toFixed(0)).join(' / '),
          (s / q).toFixed(2),
        ],
      ],
    );
  } finally {
    await pool.end();
    await cluster.stop();
  }
}

await main();
