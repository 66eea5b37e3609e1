import { describe, expect, it } from 'vitest';
import type { Driver, Statement } from './driver.js';
import { P } from './filter.js';
import { buildEventFilter } from './filter-builder.js';
import { consumeEvents, Handoff, pumpEvents } from './query-stream.js';
import type { StoredEvent } from './storable-event.js';
import {
  streamBoundStatement,
  streamCursorStatement,
  streamFetchStatement,
  streamPageStatement,
} from './stream-statements.js';
import { parseTableName } from './table-name.js';

const names = parseTableName('events');
const filter = buildEventFilter()
  .matching()
  .anyEventTypeOf('Lent')
  .andAllPredicatesOf(P('BookID', "b'; DROP"))
  .finalize();
const event = (n: number) => ({ sequenceNumber: BigInt(n) }) as StoredEvent;

describe('queryStream statements', () => {
  it('keep every value a bind parameter: the cursor, the pages and the bound', () => {
    const cursor = streamCursorStatement(names, filter, 42n);
    expect(cursor.text).toMatch(/^DECLARE es_stream NO SCROLL CURSOR FOR SELECT /);
    expect(cursor.text).toMatch(/sequence_number <= \$\d+::text::bigint ORDER BY/);
    expect(cursor.values).toContain('42');
    const page = streamPageStatement(names, filter, 7n, 100);
    expect(page.text).toMatch(/sequence_number > \$\d+::text::bigint ORDER BY .* LIMIT 100$/s);
    expect(page.text).not.toMatch(/<=/);
    for (const statement of [cursor, page, streamBoundStatement(names, filter)]) {
      expect(statement.text).not.toContain('DROP');
      expect(JSON.stringify(statement.values)).toContain('DROP');
    }
    expect(streamFetchStatement(500).text).toBe('FETCH FORWARD 500 FROM es_stream');
    expect(() => streamFetchStatement(1.5)).toThrow(RangeError);
  });
});

describe('Handoff and consumeEvents', () => {
  it('hands batches over one at a time: put waits until the batch was taken', async () => {
    const handoff = new Handoff<number[]>();
    let taken = false;
    const put = handoff.put([1, 2]).then((took) => {
      taken = took;
    });
    await Promise.resolve();
    expect(taken).toBe(false);
    expect(await handoff.take()).toEqual([1, 2]);
    await put;
    expect(taken).toBe(true);
    handoff.finish();
    expect(await handoff.take()).toBeUndefined();
  });

  it('a consumer that leaves makes the producer stop; a producer error reaches the consumer', async () => {
    let producerSaw: boolean[] = [];
    const stream = consumeEvents(async (handoff) => {
      producerSaw = [await handoff.put([event(1), event(2)]), await handoff.put([event(3)])];
    });
    for await (const item of stream) {
      expect(item.sequenceNumber).toBe(1n);
      break;
    }
    // The loop exits only after the producer has finished.
    expect(producerSaw).toEqual([true, false]);
    const failing = consumeEvents(async (handoff) => {
      await handoff.put([event(1)]);
      throw new Error('server gone');
    });
    const seen: bigint[] = [];
    await expect(
      (async () => {
        for await (const item of failing) seen.push(item.sequenceNumber);
      })(),
    ).rejects.toThrow('server gone');
    expect(seen).toEqual([1n]);
  });
});

describe('pumpEvents', () => {
  /** A driver that answers every page or FETCH with `rows` rows, and records each statement's first word. */
  function recording(flags: Partial<Driver>, rows = 0) {
    const sent: string[] = [];
    const executor = {
      query: async ({ text }: Statement) => {
        sent.push(text.split(' ')[0] ?? '');
        return { rows: /^(SELECT|FETCH)/.test(text) ? Array.from({ length: rows }, () => ({})) : [] };
      },
    };
    const driver: Driver = {
      name: 'recording',
      ...executor,
      transaction: async (fn) => {
        sent.push('BEGIN');
        return fn(executor);
      },
      ...flags,
    };
    return { driver, sent };
  }
  const plan = { names, filter, strong: false, batchSize: 10 };
  const run = (driver: Driver) =>
    pumpEvents(driver, plan, (on, statement) => on.query(statement), new Handoff());

  it('holds a cursor in a transaction, unless the driver says it must not: then it reads keyset pages', async () => {
    const cursor = recording({});
    await run(cursor.driver);
    expect(cursor.sent).toEqual(['BEGIN', 'DECLARE', 'FETCH']);
    for (const flags of [{ cursorStreams: false }, { interactiveTransactions: false }]) {
      const pages = recording(flags);
      await run(pages.driver);
      expect(pages.sent).toEqual(['SELECT']);
    }
  });
});
