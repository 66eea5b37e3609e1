import { buildEventFilter, P, withEventualConsistency, withStrongConsistency } from '@es/core';
import { expect } from 'vitest';
import { expectThrowsNow, positionsOf } from '../expectations.js';
import { ADDED, BOOK_1, bookEvent } from '../fixtures.js';
import { type ConformanceSuite, freshTableName, type RegisterTest } from '../suite-context.js';

/** SPEC §3.1: constructors validate their arguments at construction. */
export function constructors<H>(suite: ConformanceSuite<H>, test: RegisterTest): void {
  const missing = [undefined, null];

  test('a missing primary (undefined or null) fails at construction with InvalidConfigurationError', async () => {
    const { adapter, primary, replica } = suite;
    for (const nothing of missing) {
      const absent = nothing as unknown as H;
      expectThrowsNow(() => adapter.fromSingle(absent), 'INVALID_CONFIGURATION');
      expectThrowsNow(() => adapter.fromSingle(absent, { tableName: 'events' }), 'INVALID_CONFIGURATION');
      expectThrowsNow(() => adapter.fromPrimaryAndReplica(absent, replica), 'INVALID_CONFIGURATION');
      expectThrowsNow(() => adapter.fromPrimaryAndReplica(absent, undefined), 'INVALID_CONFIGURATION');
    }
    // The control: the same calls with a primary construct a store.
    expect(adapter.fromSingle(primary).tableName).toContain('events');
    expect(adapter.fromPrimaryAndReplica(primary, replica).tableName).toContain('events');
  });

  test('fromPrimaryAndReplica(primary, undefined) sends every operation to the primary', async () => {
    const { store, table, reports } = await suite.newStore('primary-only');
    const filter = buildEventFilter().matching().allPredicatesOf(P('BookID', BOOK_1)).finalize();
    await suite.cluster.waitForReplay();
    await suite.cluster.pauseReplay();
    try {
      // Written while the replica cannot replay it: only the primary has it.
      const { sequenceNumbers } = await store.append(
        undefined,
        filter,
        0n,
        bookEvent(ADDED, { BookID: BOOK_1 }),
      );
      const eventual = await store.query(withEventualConsistency(), filter);
      expect(positionsOf(eventual)).toEqual(sequenceNumbers);
      const strong = await store.query(withStrongConsistency(), filter);
      expect(positionsOf(strong)).toEqual(sequenceNumbers);
      await store.migrate(withEventualConsistency());
    } finally {
      await suite.cluster.resumeReplay();
    }
    expect(await suite.raw.count(table)).toBe(1);
    expect(reports.length).toBeGreaterThanOrEqual(5);
    expect(reports.map((report) => report.server)).toEqual(reports.map(() => 'primary'));
    expect(reports.every((report) => !report.fellBack && report.outcome === 'ok')).toBe(true);
  });

  test('an empty, invalid or injection-like table name fails at construction with InvalidConfigurationError', async () => {
    const { adapter, primary, replica } = suite;
    const names = [
      '',
      '1abc',
      'a-b',
      'events; drop table x',
      'a.b.c',
      '"x"',
      'events"; DROP TABLE events; --',
      ' events',
      'events ',
      '.events',
      'app.',
      'ev ents',
      "ev'ents",
      'événements',
    ];
    for (const tableName of names) {
      expectThrowsNow(() => adapter.fromSingle(primary, { tableName }), 'INVALID_CONFIGURATION');
      expectThrowsNow(
        () => adapter.fromPrimaryAndReplica(primary, replica, { tableName }),
        'INVALID_CONFIGURATION',
      );
      expectThrowsNow(
        () => adapter.fromPrimaryAndReplica(primary, undefined, { tableName }),
        'INVALID_CONFIGURATION',
      );
    }
  });

  test('a schema-qualified table name (schema.table) works; migrate() creates the schema', async () => {
    const schema = freshTableName('es_cs');
    const tableName = `${schema}.events`;
    const { store, table } = await suite.newStore('replicated', { tableName });
    expect(await suite.raw.relationExists(`"${schema}"."events"`)).toBe(true);
    expect(table).toContain(schema);
    const filter = buildEventFilter().matching().anyEventTypeOf(ADDED).finalize();
    const { sequenceNumbers } = await store.append(
      undefined,
      filter,
      0n,
      bookEvent(ADDED, { BookID: BOOK_1 }),
    );
    expect(positionsOf(await store.query(undefined, filter))).toEqual(sequenceNumbers);
    expect(await suite.raw.count(`"${schema}"."events"`)).toBe(1);
    await suite.cluster.waitForReplay();
    expect(positionsOf(await store.query(withEventualConsistency(), filter))).toEqual(sequenceNumbers);
    // migrate() is idempotent.
    await store.migrate();
    expect(await suite.raw.count(`"${schema}"."events"`)).toBe(1);
  });

  test('table names are quoted: mixed case and leading underscores are kept as given', async () => {
    for (const tableName of [`Es_Mixed_${freshTableName('C')}`, `_${freshTableName('es_under')}`]) {
      const { store } = await suite.newStore('single', { tableName });
      expect(await suite.raw.relationExists(`"${tableName}"`)).toBe(true);
      const filter = buildEventFilter().matchingAnyEvent();
      await store.append(undefined, filter, 0n, bookEvent(ADDED, { BookID: BOOK_1 }));
      expect(await suite.raw.count(`"${tableName}"`)).toBe(1);
      // The case-folded (unquoted) name was never created.
      expect(await suite.raw.relationExists(tableName.toLowerCase())).toBe(
        tableName === tableName.toLowerCase(),
      );
    }
  });
}
