import type { TableNames } from '../table-name.js';

/**
 * A server function the schema defines, as data: migration steps render it, and `migrate()` checks the
 * installed one against it (body, arguments, settings), so a database running other function bodies
 * is caught instead of used.
 */
export interface SqlFunction {
  /** The suffix after the table name (`_append` for `<table>_append`). */
  readonly suffix: string;
  /** Arguments as `pg_get_function_identity_arguments` prints them. */
  readonly args: string;
  readonly returns: string;
  /** Language and volatility, e.g. `LANGUAGE plpgsql VOLATILE`. */
  readonly kind: string;
  /** `SET` settings, as the catalog keeps them (`jit=off`). */
  readonly settings: readonly string[];
  readonly body: string;
}

/** The `CREATE OR REPLACE FUNCTION` statement of `fn`. */
export function createFunction(names: TableNames, fn: SqlFunction): string {
  const settings = fn.settings.map((setting) => ` SET ${setting.replace('=', ' = ')}`).join('');
  return `CREATE OR REPLACE FUNCTION ${names.derived(fn.suffix)}(${fn.args})
RETURNS ${fn.returns} ${fn.kind}${settings} AS $fn$${fn.body}$fn$`;
}
