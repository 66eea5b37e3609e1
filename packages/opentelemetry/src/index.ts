import type { ObservabilityHooks, OperationReport, TracedOperation } from '@es/core';
import {
  type Attributes,
  type MeterProvider,
  metrics,
  SpanKind,
  SpanStatusCode,
  type TracerProvider,
  trace,
} from '@opentelemetry/api';
import { storeInstruments } from './instruments.js';

/** Options of `openTelemetryHooks`. */
export interface OpenTelemetryHooksOptions {
  /** Where spans go (default: the global tracer provider). */
  readonly tracerProvider?: TracerProvider;
  /** Where metrics go (default: the global meter provider). */
  readonly meterProvider?: MeterProvider;
}

/** The instrumentation scope of the spans and metrics. */
export const INSTRUMENTATION_SCOPE = '@es/opentelemetry';

/**
 * Store hooks (`StoreOptions.hooks`) that trace and measure every store call with OpenTelemetry:
 * - one span per call, named like the Go original's (`eventstore.query`, `eventstore.append`,
 *   `eventstore.migrate`, `eventstore.snapshot.save`, ...), a client span child of the caller's active
 *   span and active while the call runs, so that the driver's spans nest under it (with a context
 *   manager registered, as every Node.js OpenTelemetry setup has); its attributes say which server
 *   answered, the consistency asked, fallbacks, lag, token wait and the replica's circuit;
 * - the `eventstore_*` metrics (see `METRIC_NAMES`), labelled with the operation, the status and the
 *   routing (server, server name, consistency, fallback).
 * Never payloads, parameter values or credentials.
 */
export function openTelemetryHooks(options: OpenTelemetryHooksOptions = {}): ObservabilityHooks {
  const tracer = (options.tracerProvider ?? trace.getTracerProvider()).getTracer(INSTRUMENTATION_SCOPE);
  const instruments = storeInstruments(
    (options.meterProvider ?? metrics.getMeterProvider()).getMeter(INSTRUMENTATION_SCOPE),
  );
  return {
    traceOperation: (operation: TracedOperation) =>
      tracer.startActiveSpan(
        operation.operation,
        {
          kind: SpanKind.CLIENT,
          attributes: { 'db.system': 'postgresql', 'eventstore.consistency': operation.consistency },
        },
        async (span) => {
          const started = performance.now();
          let failure: unknown;
          try {
            return await operation.run();
          } catch (error) {
            failure = error;
            throw error;
          } finally {
            const seconds = (performance.now() - started) / 1000;
            const status = statusOf(failure);
            const last = operation.reports.at(-1);
            span.setAttributes({ ...spanAttributes(operation.reports), 'eventstore.status': status });
            if (failure !== undefined) {
              span.setStatus({ code: SpanStatusCode.ERROR, message: codeOf(failure) });
              span.setAttribute('error.type', codeOf(failure));
            }
            instruments.record(operation.operation, status, seconds, last, operation.reports);
            span.end();
          }
        },
      ),
  };
}

/** The span attributes of a finished call, from its reports (the last one is the server that answered). */
function spanAttributes(reports: readonly OperationReport[]): Attributes {
  const last = reports.at(-1);
  if (!last) return {};
  return {
    'eventstore.server': last.server,
    'eventstore.server_name': last.serverName,
    'eventstore.driver': last.driver,
    'eventstore.fell_back': last.fellBack,
    'eventstore.event_count': last.eventCount,
    'eventstore.attempts': reports.length,
    ...(reports.length > 1 && {
      'eventstore.failed_servers': reports.slice(0, -1).map((report) => report.serverName),
    }),
    ...(last.circuit && { 'eventstore.replica.circuit': last.circuit }),
    ...(last.replicaLagMs !== undefined && { 'eventstore.replica.lag_ms': last.replicaLagMs }),
    ...(last.tokenWaitMs !== undefined && { 'eventstore.token_wait_ms': last.tokenWaitMs }),
  };
}

/** The status label of a call, like the Go original's: success, conflict, canceled, timeout or error. */
export type CallStatus = 'success' | 'conflict' | 'canceled' | 'timeout' | 'error';

function statusOf(failure: unknown): CallStatus {
  if (failure === undefined) return 'success';
  const code = codeOf(failure);
  if (code === 'CONCURRENCY_CONFLICT') return 'conflict';
  if (code === 'ABORTED') return 'canceled';
  if (code === 'TIMEOUT') return 'timeout';
  return 'error';
}

function codeOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'UNKNOWN';
}

export { METRIC_NAMES } from './instruments.js';
