import type { OperationName, OperationReport } from '@es/core';
import type { Attributes, Meter } from '@opentelemetry/api';

/** The metrics `openTelemetryHooks` records, named like the Go original's `eventstore_*` family. */
export const METRIC_NAMES = {
  /** Histogram, seconds: a whole query, routing and fallbacks included. */
  queryDuration: 'eventstore_query_method_duration_seconds',
  /** Histogram, seconds: a whole append. */
  appendDuration: 'eventstore_append_method_duration_seconds',
  /** Histogram, seconds: `migrate()` and the snapshot calls (label `operation`). */
  otherDuration: 'eventstore_method_duration_seconds',
  queryCalls: 'eventstore_query_method_calls_total',
  appendCalls: 'eventstore_append_method_calls_total',
  eventsQueried: 'eventstore_events_queried_total',
  eventsAppended: 'eventstore_events_appended_total',
  conflicts: 'eventstore_concurrency_conflicts_total',
  /** Counter: failed attempts on a server (each replica an eventual read failed on counts). */
  databaseErrors: 'eventstore_database_errors_total',
  queryCanceled: 'eventstore_query_canceled_total',
  appendCanceled: 'eventstore_append_canceled_total',
  queryTimeouts: 'eventstore_query_timeout_total',
  appendTimeouts: 'eventstore_append_timeout_total',
  /** Counter: eventual reads answered by the primary (failed replica, none fresh enough, token not reached). */
  fallbacks: 'eventstore_replica_fallbacks_total',
  /** Histogram, seconds: how long token reads waited for a replica that reached their token. */
  tokenWait: 'eventstore_token_wait_seconds',
  /** Histogram, seconds: the known lag of the replica that answered an eventual read. */
  replicaLag: 'eventstore_replica_lag_seconds',
} as const;

/** The instruments of one meter, and how a finished call is recorded on them. */
export function storeInstruments(meter: Meter) {
  const histogram = (name: string, description: string) =>
    meter.createHistogram(name, { description, unit: 's' });
  const counter = (name: string, description: string) => meter.createCounter(name, { description });
  const m = METRIC_NAMES;
  const durations = {
    query: histogram(m.queryDuration, 'Duration of store queries, routing included'),
    append: histogram(m.appendDuration, 'Duration of store appends'),
    other: histogram(m.otherDuration, 'Duration of migrate and snapshot calls'),
  };
  const calls = {
    query: counter(m.queryCalls, 'Store queries'),
    append: counter(m.appendCalls, 'Store appends'),
  };
  const canceled = {
    query: counter(m.queryCanceled, 'Queries cancelled by their signal'),
    append: counter(m.appendCanceled, 'Appends cancelled by their signal'),
  };
  const timeouts = {
    query: counter(m.queryTimeouts, 'Queries past their time bound'),
    append: counter(m.appendTimeouts, 'Appends past their time bound'),
  };
  const eventsQueried = counter(m.eventsQueried, 'Events returned by queries');
  const eventsAppended = counter(m.eventsAppended, 'Events appended');
  const conflicts = counter(m.conflicts, 'Appends refused by the consistency guard');
  const errors = counter(m.databaseErrors, 'Failed attempts on a server');
  const fallbacks = counter(m.fallbacks, 'Eventual reads answered by the primary');
  const tokenWait = histogram(m.tokenWait, 'Wait for a replica that reached the read token');
  const replicaLag = histogram(m.replicaLag, 'Known lag of the replica that answered');

  return {
    /** Records a finished call: its status, duration in seconds, answering server and every attempt. */
    record(
      operation: OperationName,
      status: string,
      seconds: number,
      last: OperationReport | undefined,
      reports: readonly OperationReport[],
    ): void {
      const kind = kindOf(operation);
      const labels: Attributes = {
        operation: operation.replace(/^eventstore\./, ''),
        status,
        ...(last && {
          server: last.server,
          server_name: last.serverName,
          consistency: last.consistency,
          fell_back: last.fellBack,
        }),
      };
      (kind === 'other' ? durations.other : durations[kind]).record(seconds, labels);
      if (kind !== 'other') {
        calls[kind].add(1, labels);
        if (status === 'canceled') canceled[kind].add(1, labels);
        if (status === 'timeout') timeouts[kind].add(1, labels);
      }
      if (status === 'conflict') conflicts.add(1, labels);
      if (last?.outcome === 'ok' && kind === 'query') eventsQueried.add(last.eventCount, labels);
      if (last?.outcome === 'ok' && kind === 'append') eventsAppended.add(last.eventCount, labels);
      if (last?.fellBack) fallbacks.add(1, labels);
      if (last?.tokenWaitMs !== undefined) tokenWait.record(last.tokenWaitMs / 1000, labels);
      if (last?.replicaLagMs !== undefined && last.server === 'replica') {
        replicaLag.record(last.replicaLagMs / 1000, { server_name: last.serverName });
      }
      for (const report of reports) {
        if (report.outcome !== 'error') continue;
        errors.add(1, {
          operation: labels.operation,
          server: report.server,
          server_name: report.serverName,
          error_code: report.errorCode ?? 'UNKNOWN',
        });
      }
    },
  };
}

function kindOf(operation: OperationName): 'query' | 'append' | 'other' {
  if (operation === 'eventstore.query' || operation === 'eventstore.queryStream') return 'query';
  return operation === 'eventstore.append' ? 'append' : 'other';
}
