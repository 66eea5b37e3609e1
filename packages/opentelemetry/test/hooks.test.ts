import {
  buildEventFilter,
  buildStorableEvent,
  type EventStore,
  isEventStoreError,
  P,
  withConsistencyToken,
  withEventualConsistency,
} from '@es/core';
import { fromPgPool, fromPgPoolAndReplicas } from '@es/pg';
import { type Cluster, startCluster } from '@es/testing';
import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { METRIC_NAMES, openTelemetryHooks } from '../src/index.js';

/**
 * `openTelemetryHooks` against a real primary and two streaming replicas, with OpenTelemetry's in-memory
 * exporters: spans nest under the caller's span and above the driver's, and carry the routing; the
 * `eventstore_*` metrics count what happened.
 */
let cluster: Cluster;
let pools: pg.Pool[];
let store: EventStore;
const spans = new InMemorySpanExporter();
const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
const reader = new PeriodicExportingMetricReader({
  exporter: metricExporter,
  exportIntervalMillis: 3_600_000,
});
const meterProvider = new MeterProvider({ readers: [reader] });
const contextManager = new AsyncLocalStorageContextManager();
const appTracer = tracerProvider.getTracer('app');

/**
 * A pool whose clients' queries make a span under the active one, the way driver instrumentations do
 * (`@opentelemetry/instrumentation-pg` patches `Client.prototype.query`).
 */
function tracedPool(url: string): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max: 4, connectionTimeoutMillis: 5_000 });
  pool.on('error', () => {});
  pool.on('connect', (client) => {
    const query = client.query.bind(client) as (config: unknown) => Promise<unknown>;
    (client as { query: unknown }).query = (config: unknown) =>
      appTracer.startActiveSpan('pg.query', (span) => query(config).finally(() => span.end()));
  });
  return pool;
}

const event = (n: number) =>
  buildStorableEvent({ type: 'Tick', occurredAt: new Date(), payload: { clock: 'c1', n } });
const ticks = buildEventFilter()
  .matching()
  .anyEventTypeOf('Tick')
  .andAnyPredicateOf(P('clock', 'c1'))
  .finalize();

/** The points of a metric, by name. */
async function points(name: string) {
  await reader.forceFlush();
  const last = metricExporter.getMetrics().at(-1);
  const metric = last?.scopeMetrics.flatMap((scope) => scope.metrics).find((m) => m.descriptor.name === name);
  return metric?.dataPoints ?? [];
}

beforeAll(async () => {
  context.setGlobalContextManager(contextManager.enable());
  cluster = await startCluster({ replicas: 2 });
  pools = [cluster.primaryUrl, ...cluster.replicaUrls].map(tracedPool);
  store = fromPgPoolAndReplicas(pools[0] as pg.Pool, pools.slice(1), {
    tableName: 'otel_events',
    hooks: openTelemetryHooks({ tracerProvider, meterProvider }),
  });
  await store.migrate();
});

afterAll(async () => {
  await store?.close();
  await Promise.all((pools ?? []).map((pool) => pool.end()));
  await cluster?.stop();
  await meterProvider.shutdown();
  context.disable();
});

beforeEach(() => spans.reset());

describe('openTelemetryHooks', () => {
  it('a span per call, child of the caller’s span and parent of the driver’s, with real times', async () => {
    await appTracer.startActiveSpan('handle-command', async (root) => {
      const { maxSequenceNumber } = await store.query(undefined, ticks);
      await store.append(undefined, ticks, maxSequenceNumber, event(1));
      root.end();
    });
    const finished = spans.getFinishedSpans();
    const byName = (name: string) => finished.filter((span) => span.name === name);
    const [root] = byName('handle-command');
    const [query] = byName('eventstore.query');
    const [append] = byName('eventstore.append');
    expect(root && query && append).toBeTruthy();
    for (const span of [query, append]) {
      expect(span?.parentSpanContext?.spanId).toBe(root?.spanContext().spanId);
      expect(span?.spanContext().traceId).toBe(root?.spanContext().traceId);
      const children = byName('pg.query').filter(
        (child) => child.parentSpanContext?.spanId === span?.spanContext().spanId,
      );
      expect(children.length).toBeGreaterThan(0);
      // The driver's span lies inside the store's span. The exporter receives spans as they end, so
      // the end order is exact. The end times are only as exact as the SDK's clock: it anchors each
      // span's start on `Date.now()` (whole milliseconds) and adds a `performance.now()` duration, so
      // the ends of two spans can be off by up to 1 ms.
      for (const child of children) {
        expect(finished.indexOf(child)).toBeLessThan(finished.findIndex((s) => s === span));
        expect(hrMs(child.startTime)).toBeGreaterThanOrEqual(hrMs(span?.startTime));
        expect(hrMs(child.endTime)).toBeLessThanOrEqual(hrMs(span?.endTime) + 1);
      }
    }
    expect(query?.attributes).toMatchObject({
      'eventstore.server': 'primary',
      'eventstore.server_name': 'primary',
      'eventstore.consistency': 'strong',
      'eventstore.status': 'success',
      'eventstore.fell_back': false,
    });
    expect(append?.attributes).toMatchObject({ 'eventstore.event_count': 1, 'eventstore.status': 'success' });
    // Never a payload or a parameter value.
    expect(JSON.stringify(finished.map((span) => span.attributes))).not.toContain('c1');
  });

  it('an eventual read names its replica, its lag and its token wait', async () => {
    const { token } = await store.append(
      undefined,
      ticks,
      (await store.query(undefined, ticks)).maxSequenceNumber,
      event(2),
    );
    spans.reset();
    const ctx = withEventualConsistency(undefined);
    await store.query(ctx, ticks);
    await store.query(withConsistencyToken(ctx, token as string), ticks);
    const reads = spans.getFinishedSpans().filter((span) => span.name === 'eventstore.query');
    expect(reads).toHaveLength(2);
    for (const read of reads) {
      expect(read.attributes['eventstore.consistency']).toBe('eventual');
      expect(['replica', 'primary']).toContain(read.attributes['eventstore.server']);
    }
    const names = reads.map((read) => read.attributes['eventstore.server_name']);
    expect(names.some((name) => name === 'replica-1' || name === 'replica-2')).toBe(true);
    expect(reads[1]?.attributes['eventstore.token_wait_ms']).toEqual(expect.any(Number));
  });

  it('a conflict: an error span, and the conflict and status in the metrics', async () => {
    const before = await points(METRIC_NAMES.conflicts);
    const count = (list: typeof before) => list.reduce((sum, point) => sum + Number(point.value), 0);
    const error = await store.append(undefined, ticks, 0n, event(3)).catch((failure: unknown) => failure);
    expect(isEventStoreError(error, 'CONCURRENCY_CONFLICT')).toBe(true);
    const [span] = spans.getFinishedSpans().filter((s) => s.name === 'eventstore.append');
    expect(span?.status.code).toBe(2); // SpanStatusCode.ERROR
    expect(span?.attributes).toMatchObject({
      'eventstore.status': 'conflict',
      'error.type': 'CONCURRENCY_CONFLICT',
    });
    expect(count(await points(METRIC_NAMES.conflicts))).toBe(count(before) + 1);
  });

  it('the eventstore_* metrics: durations, calls and events with the routing labels', async () => {
    const duration = await points(METRIC_NAMES.appendDuration);
    const success = duration.find((point) => point.attributes.status === 'success');
    expect(success?.attributes).toMatchObject({
      operation: 'append',
      server: 'primary',
      consistency: 'strong',
    });
    expect((success?.value as { count: number } | undefined)?.count).toBeGreaterThanOrEqual(2);
    const appended = await points(METRIC_NAMES.eventsAppended);
    expect(appended.reduce((sum, point) => sum + Number(point.value), 0)).toBe(2);
    const queries = await points(METRIC_NAMES.queryCalls);
    const eventual = queries.filter((point) => point.attributes.consistency === 'eventual');
    expect(eventual.reduce((sum, point) => sum + Number(point.value), 0)).toBe(2);
    expect(await points(METRIC_NAMES.queryDuration)).not.toHaveLength(0);
  });

  it('migrate has its span too, and a hook that throws never breaks a call', async () => {
    await store.migrate();
    expect(spans.getFinishedSpans().map((span) => span.name)).toContain('eventstore.migrate');
    const broken = fromPgPool(pools[0] as pg.Pool, {
      tableName: 'otel_events',
      hooks: {
        traceOperation: () => {
          throw new Error('hook bug');
        },
      },
    });
    await expect(broken.query(undefined, ticks)).resolves.toMatchObject({
      maxSequenceNumber: expect.any(BigInt),
    });
    const rejecting = fromPgPool(pools[0] as pg.Pool, {
      tableName: 'otel_events',
      hooks: {
        traceOperation: (operation) => operation.run().then(() => Promise.reject(new Error('late bug'))),
      },
    });
    await expect(rejecting.query(undefined, ticks)).resolves.toMatchObject({ events: expect.any(Array) });
  });
});

/** An OpenTelemetry time ([seconds, nanoseconds]) in ms. */
function hrMs(time: readonly [number, number] | undefined): number {
  return time ? time[0] * 1000 + time[1] / 1e6 : Number.NaN;
}
