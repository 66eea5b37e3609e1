import { randomBytes } from 'node:crypto';
import { buildEventFilter, P, withEventualConsistency, withStrongConsistency } from '@es/core';
import { expect } from 'vitest';
import { BOOK_1, bookEvent, LENT } from '../fixtures.js';
import { RawDatabase } from '../raw-database.js';
import type { ConformanceSuite, RegisterTest } from '../suite-context.js';
import { raceOnOneBoundary } from './concurrency.js';

/**
 * The guard at every isolation level. The lock-then-read protocol needs each statement to see what was
 * committed before its locks were granted: READ COMMITTED. A team may set REPEATABLE READ or SERIALIZABLE
 * as the default of a role, a database or a session; the store must still let exactly one of many
 * concurrent appends on one boundary through (or refuse with a typed error that says why).
 */

type Scope = 'role' | 'database' | 'session';

/** `url` with another user, database, or startup options. */
function variant(url: string, change: { user?: string; database?: string; options?: string }): string {
  const next = new URL(url);
  if (change.user) next.username = change.user;
  if (change.database) next.pathname = `/${change.database}`;
  if (change.options) next.searchParams.set('options', change.options);
  return next.toString();
}

export function isolation<H>(suite: ConformanceSuite<H>, test: RegisterTest): void {
  /** A URL whose sessions default to `level`, set at `scope`. */
  const urlWithDefault = async (scope: Scope, level: string): Promise<string> => {
    const name = `es_iso_${randomBytes(4).toString('hex')}`;
    const base = suite.cluster.primaryUrl;
    if (scope === 'role') {
      await suite.raw.query(`CREATE ROLE ${name} LOGIN SUPERUSER`);
      await suite.raw.query(`ALTER ROLE ${name} SET default_transaction_isolation = '${level}'`);
      return variant(base, { user: name });
    }
    if (scope === 'database') {
      await suite.raw.query(`CREATE DATABASE ${name}`);
      await suite.raw.query(`ALTER DATABASE ${name} SET default_transaction_isolation = '${level}'`);
      return variant(base, { database: name });
    }
    return variant(base, { options: `-c default_transaction_isolation=${level.replace(' ', '\\ ')}` });
  };

  const cases: [Scope, string][] = [
    ['role', 'repeatable read'],
    ['database', 'serializable'],
    ['session', 'repeatable read'],
    ['session', 'serializable'],
  ];
  for (const [scope, level] of cases) {
    test(`default isolation ${level} set per ${scope}: 20 concurrent appends on one boundary, exactly one wins; reads work`, async () => {
      const url = await urlWithDefault(scope, level);
      const raw = new RawDatabase(url);
      try {
        const [shown] = await raw.query<{ transaction_isolation: string }>('SHOW transaction_isolation');
        expect(shown?.transaction_isolation, 'the sessions really default to that level').toBe(level);
        await suite.withHandle(url, { connectTimeoutMs: 10_000 }, async (handle) => {
          const under = await suite.newStore('single', { primary: handle });
          await raceOnOneBoundary(under, raw, true);
          const boundary = buildEventFilter()
            .matching()
            .anyEventTypeOf(LENT)
            .andAllPredicatesOf(P('BookID', BOOK_1))
            .finalize();
          const strong = await under.store.query(withStrongConsistency(), boundary);
          const eventual = await under.store.query(withEventualConsistency(), boundary);
          expect(strong.events).toHaveLength(2);
          expect(eventual.events).toEqual(strong.events);
          const appended = await under.store.append(
            withStrongConsistency(),
            boundary,
            strong.maxSequenceNumber,
            bookEvent(LENT, { BookID: BOOK_1 }),
          );
          expect(appended.sequenceNumbers).toHaveLength(1);
        });
      } finally {
        await raw.end();
      }
    });
  }
}
