import type { TableNames } from '../table-name.js';
import type { SqlFunction } from './sql-function.js';
import { step1Statements } from './v1.js';
import { step2Functions, step2Statements } from './v2.js';
import { step3Functions, step3Statements } from './v3.js';
import { step4Statements } from './v4.js';
import { step5Functions, step5Statements } from './v5.js';
import { step6Functions, step6Statements } from './v6.js';

/**
 * The schema as versioned migration steps. Each step is a list of statements run in one transaction
 * with the rest of `migrate()`; `es_migrations` (beside the events table) records the steps applied per
 * table. Every name comes from a validated `TableNames`, never from a caller's value.
 *
 * A step, once released, is never edited: a change goes into a new step. `migrate()` checks after the
 * steps that the installed schema is exactly what they produce (see schema-check.ts).
 */
export interface Migration {
  readonly version: number;
  readonly description: string;
  statements(names: TableNames): string[];
  /** The functions the step defines (replacing those of earlier steps with the same suffix). */
  functions?(names: TableNames): SqlFunction[];
}

/** The migrations, in order. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'events table, indexes, lock protocol, query and append functions',
    statements: step1Statements,
  },
  {
    version: 2,
    description: 'statements and lock keys built by the client; static append, read and trigger functions',
    statements: step2Statements,
    functions: step2Functions,
  },
  {
    version: 3,
    description: 'event ids for idempotent appends; strong reads refused on a standby',
    statements: step3Statements,
    functions: step3Functions,
  },
  {
    version: 4,
    description: 'snapshots table',
    statements: step4Statements,
  },
  {
    version: 5,
    description: 'a static guard, with a plan of its own, for filters of payload containments',
    statements: step5Statements,
    functions: step5Functions,
  },
  {
    version: 6,
    description: 'a static strong read, with a plan of its own, for filters of payload containments',
    statements: step6Statements,
    functions: step6Functions,
  },
];

/** The functions the latest steps define, by suffix: what an up-to-date database must have. */
export function expectedFunctions(names: TableNames): SqlFunction[] {
  const bySuffix = new Map<string, SqlFunction>();
  for (const migration of MIGRATIONS) {
    for (const fn of migration.functions?.(names) ?? []) bySuffix.set(fn.suffix, fn);
  }
  return [...bySuffix.values()];
}

/** The bookkeeping table, in the events table's schema. */
export function migrationsTable(names: TableNames): string {
  return names.schema ? `${names.schema}."es_migrations"` : '"es_migrations"';
}

export { NEEDS_READ_COMMITTED } from './v2.js';
export { EVENT_IDS_TAKEN } from './v3.js';
