import { buildStorableEvent, eventKeys, parseTableName } from '@es/core';
import { describe, expect, it } from 'vitest';
import { freshTable, instance, useCluster } from './helpers.js';

/**
 * The lock keys of an event are computed on two sides: by core (TypeScript) for appends, and by the SQL
 * function `<table>_event_keys` for rows inserted without the store (the trigger). A decision locks its
 * filter's keys as core computes them, so both sides must give the same texts, or a plain INSERT could
 * slip past a decision. The soundness of the keys themselves is a unit test in core (lock-keys.test.ts).
 */
describe('lock keys: the SQL function agrees with core', () => {
  const cluster = useCluster();

  it('for values of every kind, awkward text and numbers written in every JSON form', async () => {
    const table = freshTable('keys');
    const app = instance(cluster(), table);
    try {
      await app.store.migrate();
      // Payloads as JSON text, inserted as is: the server reads 1.50 and 1e2 as numerics, core reads the
      // text with JSON.parse. Both must land on the same keys.
      const payloads = [
        '{"n": 1, "m": 1.0, "o": 1.50, "p": 1e2, "q": -0.0, "r": 1.5e-7, "s": 1e21, "t": -12.340e1}',
        '{"big": 123456789012345, "tiny": 0.001, "exp": 2E-3}',
        `{"quote": "a\\"b", "backslash": "c\\\\d", "newline": "e\\nf", "unicode": "ünï 😀", "colon:key": "v:w"}`,
        '{"empty": "", "true": true, "false": false, "null": null, "object": {"a": 1}, "array": [1, 2], "nested": {}}',
        '{"BookID": "b-1", "ReaderID": "r-1"}',
        '{}',
      ];
      const types = ['Lent', 'Type with spaces', 'ünïcode:type'];
      const rows = payloads.flatMap((payload) => types.map((type) => ({ type, payload })));
      const { rows: sqlKeys } = await app.primary.query(
        `SELECT ${parseTableName(table).derived('_event_keys')}(input.row->>'type', (input.row->>'payload')::jsonb) AS keys
         FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS input (row, position)
         ORDER BY position`,
        [JSON.stringify(rows)],
      );
      expect(sqlKeys).toHaveLength(rows.length);
      rows.forEach((row, index) => {
        const event = buildStorableEvent({ type: row.type, occurredAt: new Date(0), payload: row.payload });
        expect(new Set(sqlKeys[index].keys), `${row.type} ${row.payload}`).toEqual(new Set(eventKeys(event)));
      });
    } finally {
      await app.close();
    }
  });
});
