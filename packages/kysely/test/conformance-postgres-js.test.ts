import { runConformance } from '@es/conformance';
import { Kysely } from 'kysely';
import { PostgresJSDialect } from 'kysely-postgres-js';
import postgres from 'postgres';
import { fromKysely, fromKyselyAndReplica, fromKyselyAndReplicas } from '../src/index.js';

/** The postgres.js instance under each Kysely handle, to end it with a bound. */
const sqlOf = new WeakMap<object, postgres.Sql>();

/** Kysely on postgres.js through `kysely-postgres-js`. */
runConformance<Kysely<Record<string, never>>>({
  name: 'kysely (PostgresJSDialect, postgres.js)',
  skip: {
    'unknown-outcomes':
      'postgres.js 3.4.9 poisons its pool when a reserved connection whose socket closed is released ' +
      '(porsager/postgres#1199, #1208): the next query given that connection never settles, and a TypeError ' +
      'escapes from a timer. kysely-postgres-js reserves a connection for every query, so after a lost ' +
      'reply the retry hangs; the store cannot reach the pool to work around it (see the README)',
  },
  setup: () => ({
    connect: (url, options) => {
      const sql = postgres(url, {
        max: 20,
        // In seconds. postgres.js defaults to 30 s; a server that never answers fails after this.
        connect_timeout: (options?.connectTimeoutMs ?? 5000) / 1000,
        onnotice: () => {},
      });
      const db = new Kysely<Record<string, never>>({ dialect: new PostgresJSDialect({ postgres: sql }) });
      sqlOf.set(db, sql);
      return db;
    },
    // `db.destroy()` calls `sql.end()` without a bound, which can wait forever: postgres.js 3.4.9 retries a
    // failed `reserve()` in the background (here: against the silent server), and a connection that is
    // still connecting when `end()` is called never ends. `end({ timeout })` closes such a socket after 1 s.
    disconnect: async (db) => {
      await sqlOf.get(db)?.end({ timeout: 1 });
      await db.destroy();
    },
    fromSingle: fromKysely,
    fromPrimaryAndReplica: fromKyselyAndReplica,
    fromPrimaryAndReplicas: fromKyselyAndReplicas,
  }),
});
