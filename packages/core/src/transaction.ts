import type { Executor } from './driver.js';
import { TRANSACTION_STATEMENTS } from './statements.js';

/**
 * Runs `fn` between BEGIN and COMMIT on `connection` (one connection), rolling back when it throws: the
 * `Driver.transaction` of drivers that have no transaction helper of their own.
 */
export async function inTransaction<T>(connection: Executor, fn: (tx: Executor) => Promise<T>): Promise<T> {
  await connection.query(TRANSACTION_STATEMENTS.begin);
  try {
    const result = await fn(connection);
    await connection.query(TRANSACTION_STATEMENTS.commit);
    return result;
  } catch (error) {
    await connection.query(TRANSACTION_STATEMENTS.rollback).catch(() => {});
    throw error;
  }
}
