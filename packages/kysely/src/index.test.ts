import {
  backendPidStatement,
  cancelBackendStatement,
  InvalidConfigurationError,
  type Statement,
} from '@es/core';
import { CamelCasePlugin, CompiledQuery, Kysely, PostgresDialect, type PostgresPool } from 'kysely';
import { describe, expect, it } from 'vitest';
import { fromKysely, kyselyDriver } from './index.js';

/**
 * The adapter against Kysely's real `PostgresDialect` over a recording stand-in for a `pg.Pool`: what reaches
 * the "server", on which session, and in which order. The conformance suite covers real servers.
 */

type Sent = { session: number; text: string; values: unknown[] };

class FakeClient {
  constructor(
    readonly session: number,
    readonly pool: FakePool,
  ) {}
  async query(text: string, values: unknown[]) {
    this.pool.sent.push({ session: this.session, text, values });
    const rows = (row: Record<string, string>) => ({ command: 'SELECT', rowCount: 1, rows: [row] });
    if (text === backendPidStatement().text) return rows({ pid: String(this.session) });
    if (text === cancelBackendStatement('0').text) {
      this.pool.clients.get(Number(values[0]))?.cancelRunning?.();
      return rows({ cancelled: 'true' });
    }
    if (text === 'SLOW') {
      await new Promise<void>((_, reject) => {
        this.cancelRunning = () => reject(Object.assign(new Error('canceling statement'), { code: '57014' }));
      });
    }
    return rows({ sequence_number: '1', event_type: 'Added' });
  }
  cancelRunning?: () => void;
  release() {
    this.pool.released.push(this.session);
    this.pool.idle.push(this);
  }
}

class FakePool {
  sent: Sent[] = [];
  released: number[] = [];
  idle: FakeClient[] = [];
  clients = new Map<number, FakeClient>();
  gate: Promise<void> | undefined;
  async connect() {
    await this.gate;
    const client = this.idle.pop() ?? new FakeClient(this.clients.size + 1, this);
    this.clients.set(client.session, client);
    return client;
  }
  async end() {}
}

const setup = () => {
  const pool = new FakePool();
  const db = new Kysely<Record<string, never>>({
    // The stand-in has no cursor overload of `query`: the adapter never streams.
    dialect: new PostgresDialect({ pool: pool as unknown as PostgresPool }),
    plugins: [new CamelCasePlugin()],
  });
  return { pool, db, driver: kyselyDriver(db) };
};
const statement = (text: string): Statement => ({ name: 'es.test', text, values: ['a', null] });
const texts = (sent: Sent[]) => sent.map(({ session, text }) => `${session}: ${text}`);

describe('kyselyDriver', () => {
  it('runs the statement verbatim, and no plugin renames its result columns', async () => {
    const { pool, db, driver } = setup();
    // The plugin is live on the user's instance: it renames the columns of raw queries too.
    const viaUserInstance = await db.executeQuery(CompiledQuery.raw('SELECT'));
    expect(Object.keys(viaUserInstance.rows[0] as object)).toEqual(['sequenceNumber', 'eventType']);
    const { rows } = await driver.query(statement('SELECT'));
    expect(rows).toEqual([{ sequence_number: '1', event_type: 'Added' }]);
    expect(pool.sent.at(-1)).toEqual({ session: 1, text: 'SELECT', values: ['a', null] });
  });

  it('with a signal: pins a connection and reads its pid once per connection', async () => {
    const { pool, driver } = setup();
    const { signal } = new AbortController();
    await driver.query(statement('SELECT'), { signal });
    await driver.query(statement('SELECT'), { signal });
    expect(texts(pool.sent)).toEqual([`1: ${backendPidStatement().text}`, '1: SELECT', '1: SELECT']);
    expect(pool.released).toEqual([1, 1]);
  });

  it('an abort cancels the running statement from another connection, then releases its connection', async () => {
    const { pool, driver } = setup();
    const controller = new AbortController();
    const running = driver.query(statement('SLOW'), { signal: controller.signal });
    await expect.poll(() => pool.sent.some((sent) => sent.text === 'SLOW')).toBe(true);
    controller.abort();
    await expect(running).rejects.toMatchObject({ code: '57014' });
    expect(texts(pool.sent)).toEqual([
      `1: ${backendPidStatement().text}`,
      '1: SLOW',
      `2: ${cancelBackendStatement('1').text}`,
    ]);
    expect(pool.sent.at(-1)?.values).toEqual(['1']);
    expect(pool.released.sort()).toEqual([1, 2]);
  });

  it('an abort while waiting for a connection rejects at once; the late connection runs nothing', async () => {
    const { pool, driver } = setup();
    let open = () => {};
    pool.gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const controller = new AbortController();
    const waiting = driver.query(statement('SELECT'), { signal: controller.signal });
    controller.abort(new Error('gave up'));
    await expect(waiting).rejects.toThrow('gave up');
    open();
    await expect.poll(() => pool.released).toEqual([1]);
    expect(pool.sent).toEqual([]);
  });

  it("runs a transaction through Kysely's own, on one connection, rolling back on error", async () => {
    const { pool, driver } = setup();
    await driver.transaction(async (tx) => tx.query(statement('SELECT')));
    await expect(
      driver.transaction(async (tx) => {
        await tx.query(statement('SELECT'));
        throw new Error('no');
      }),
    ).rejects.toThrow('no');
    expect(texts(pool.sent)).toEqual([
      '1: begin',
      '1: SELECT',
      '1: commit',
      '1: begin',
      '1: SELECT',
      '1: rollback',
    ]);
  });

  it('refuses a Kysely transaction in place of an instance', async () => {
    const { db } = setup();
    await db.transaction().execute(async (trx) => {
      expect(() => fromKysely(trx)).toThrow(InvalidConfigurationError);
    });
  });
});
