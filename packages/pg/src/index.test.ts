import type { Statement } from '@es/core';
import { describe, expect, it } from 'vitest';
import { type PgPoolClientLike, type PgPoolLike, type PgQueryConfig, pgDriver } from './index.js';

/** A pool that records what it is sent and refuses named statements `refusals` times, as PgBouncer can. */
function fakePool(refusals = 0, send?: PgPoolClientLike['query']) {
  const sent: PgQueryConfig[] = [];
  let left = refusals;
  const query =
    send ??
    (async (config: PgQueryConfig) => {
      sent.push(config);
      if (config.name && left > 0) {
        left--;
        throw Object.assign(new Error(`prepared statement "${config.name}" does not exist`), {
          code: '26000',
        });
      }
      return { rows: [] };
    });
  const client: PgPoolClientLike = {
    query,
    release: () => {},
    on: () => client,
    removeListener: () => client,
  };
  const pool: PgPoolLike = {
    options: {},
    connect: async () => client,
    on: () => undefined,
    listenerCount: () => 1,
  };
  return { pool, sent };
}

const call: Statement = {
  name: 'es.append.0123456789abcdef',
  text: 'SELECT f($1)',
  values: ['x'],
  reusablePlan: true,
};
const read: Statement = { name: 'es.query', text: 'SELECT * FROM t WHERE a = $1', values: ['y'] };

describe('pgDriver', () => {
  it("prepares calls of the store's functions under their name, and sends plain queries unnamed", async () => {
    const { pool, sent } = fakePool();
    const driver = pgDriver(pool);
    await driver.query(call);
    await driver.query(read);
    expect(sent).toEqual([
      { name: call.name, text: call.text, values: ['x'] },
      { text: read.text, values: ['y'] },
    ]);
  });

  it('runs a call unnamed, and every later one, when a pooler refuses a prepared statement', async () => {
    const { pool, sent } = fakePool(1);
    const driver = pgDriver(pool);
    await driver.query(call);
    await driver.query(call);
    expect(sent.map((config) => config.name)).toEqual([call.name, undefined, undefined]);
  });

  it('passes any other error through, and a refusal of an unnamed query too', async () => {
    const { pool: failing } = fakePool(0, async () => {
      throw Object.assign(new Error('syntax'), { code: '42601' });
    });
    await expect(pgDriver(failing).query(call)).rejects.toMatchObject({ code: '42601' });
  });
});
