import { describe, expect, it } from 'vitest';
import type { Executor, Statement } from './driver.js';
import { inTransaction } from './transaction.js';

function recorder(failOn?: string) {
  const sent: string[] = [];
  const connection: Executor = {
    async query(statement: Statement) {
      sent.push(statement.text);
      if (statement.text === failOn) throw new Error(`${failOn} failed`);
      return { rows: [] };
    },
  };
  return { connection, sent };
}

const work: Statement = { name: 'work', text: 'WORK', values: [] };

describe('inTransaction', () => {
  it('wraps the work in BEGIN and COMMIT', async () => {
    const { connection, sent } = recorder();
    const result = await inTransaction(connection, async (tx) => {
      await tx.query(work);
      return 'done';
    });
    expect(result).toBe('done');
    expect(sent).toEqual(['BEGIN', 'WORK', 'COMMIT']);
  });

  it('rolls back and rethrows when the work fails', async () => {
    const { connection, sent } = recorder('WORK');
    await expect(inTransaction(connection, (tx) => tx.query(work))).rejects.toThrow('WORK failed');
    expect(sent).toEqual(['BEGIN', 'WORK', 'ROLLBACK']);
  });
});
