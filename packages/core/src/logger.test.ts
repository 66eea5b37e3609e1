import { describe, expect, it } from 'vitest';
import { withEventualConsistency, withStrongConsistency } from './context.js';
import { createEventStore } from './create-event-store.js';
import type { Driver, Row, Statement } from './driver.js';
import type { OperationReport } from './event-store.js';
import { P } from './filter.js';
import { buildEventFilter } from './filter-builder.js';
import { type LogFields, type Logger, pinoLogger } from './logger.js';
import { buildStorableEvent } from './storable-event.js';

/** A driver whose status rows and failures the test sets; every other statement answers `rows`. */
function fakeDriver(name: string, rows: () => Row[] = () => []) {
  const state = { down: false, inRecovery: 'true' };
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
  const driver: Driver = {
    name,
    async query(statement: Statement) {
      if (state.down) throw refused;
      if (statement.name.startsWith('es.status')) {
        return {
          rows: [{ lsn: '0/1', in_recovery: state.inRecovery, replay_lsn: '0/1', replay_age_ms: '0' }],
        };
      }
      return { rows: rows() };
    },
    transaction: (fn) => fn(driver),
  };
  return Object.assign(state, { driver });
}

function recordingLogger() {
  const lines: { level: string; message: string; fields: LogFields | undefined }[] = [];
  const at =
    (level: string) =>
    (message: string, fields?: LogFields): void => {
      lines.push({ level, message, fields });
    };
  const logger: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
  return { logger, lines };
}

const filter = buildEventFilter()
  .matching()
  .anyEventTypeOf('Lent')
  .andAllPredicatesOf(P('BookID', 'b'))
  .finalize();
const eventual = withEventualConsistency();

describe('the store logger', () => {
  it('logs a failed replica, its circuit opening and closing, and a fallback, with names and no values', async () => {
    const primary = fakeDriver('primary');
    const replica = fakeDriver('replica');
    const { logger, lines } = recordingLogger();
    const store = createEventStore(primary.driver, [replica.driver], {
      logger,
      replicaNames: ['east'],
      replicaFallback: 'primary',
    });
    replica.down = true;
    await store.query(eventual, filter);
    expect(lines.map(({ level, message, fields }) => [level, message, fields?.replica])).toEqual([
      ['warn', 'eventual read failed on a replica', 'east'],
      ['warn', 'replica circuit opened: eventual reads skip it until a probe finds it answering', 'east'],
      ['info', 'eventual read falls back to the primary', undefined],
    ]);
    replica.down = false;
    const deadline = Date.now() + 5_000;
    while (
      !lines.some((line) => line.message.startsWith('replica circuit closed')) &&
      Date.now() < deadline
    ) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(lines.at(-1)).toMatchObject({ level: 'info', fields: { replica: 'east' } });
    await store.close();
  });

  it('warns once about a replica that is not in recovery', async () => {
    const primary = fakeDriver('primary');
    const replica = fakeDriver('replica');
    replica.inRecovery = 'false';
    const { logger, lines } = recordingLogger();
    const store = createEventStore(primary.driver, [replica.driver], { logger });
    await store.migrate().catch(() => {});
    await store.query(withEventualConsistency(undefined, { maxLagMs: 1_000 }), filter);
    await store.query(withEventualConsistency(undefined, { maxLagMs: 1_000 }), filter);
    const warned = lines.filter((line) => line.message.startsWith('a replica is not in recovery'));
    expect(warned).toEqual([expect.objectContaining({ level: 'warn', fields: { replica: 'replica-1' } })]);
    await store.close();
  });

  it('never lets a logger or a hook that throws break a call; a refused eventual append is reported', async () => {
    const primary = fakeDriver('primary', () => [{ result: '{7}', lsn: '0/1' }]);
    const reports: OperationReport[] = [];
    const messages: string[] = [];
    const throwing: Logger = {
      warn: (message) => {
        messages.push(message);
        throw new Error('logger down');
      },
    };
    const store = createEventStore(primary.driver, undefined, {
      logger: throwing,
      hooks: {
        onOperation: (report) => {
          reports.push(report);
          throw new Error('hook down');
        },
      },
    });
    const secret = buildStorableEvent({
      type: 'Lent',
      occurredAt: new Date(0),
      payload: { BookID: 'b', note: 'secret-value' },
    });
    await expect(store.append(withStrongConsistency(), filter, 0n, secret)).rejects.toMatchObject({
      code: 'CONCURRENCY_CONFLICT',
    });
    await expect(store.append(eventual, filter, 0n, secret)).rejects.toMatchObject({
      code: 'CONSISTENCY_VIOLATION',
    });
    expect(reports.map(({ operation, outcome, errorCode }) => [operation, outcome, errorCode])).toEqual([
      ['eventstore.append', 'conflict', 'CONCURRENCY_CONFLICT'],
      ['eventstore.append', 'error', 'CONSISTENCY_VIOLATION'],
    ]);
    expect(messages).toEqual(Array(2).fill('hooks.onOperation threw; the call goes on'));
    expect(JSON.stringify(messages)).not.toContain('secret-value');
  });

  it('pinoLogger passes the fields first and the message second, as pino expects', () => {
    const calls: unknown[][] = [];
    const record = (...args: unknown[]) => calls.push(args);
    const logger = pinoLogger({ debug: record, info: record, warn: record, error: record });
    logger.warn?.('replica circuit opened', { replica: 'east' });
    logger.info?.('no fields');
    expect(calls).toEqual([
      [{ replica: 'east' }, 'replica circuit opened'],
      [{}, 'no fields'],
    ]);
  });
});
