import { InvalidConfigurationError } from './errors.js';

/** The default events table. */
export const DEFAULT_TABLE_NAME = 'events';

const PART = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Leaves room for the suffixes of the derived names (`_append`, `_payload_idx`, ...) within PostgreSQL's 63 bytes. */
const MAX_PART_LENGTH = 48;

/** A validated table name and the quoted SQL names derived from it. */
export interface TableNames {
  /** The name as configured, e.g. `app.events`. */
  readonly configured: string;
  /** The quoted, possibly schema-qualified table, e.g. `"app"."events"`. */
  readonly table: string;
  /** The quoted schema, or `undefined` for an unqualified name (resolved through `search_path`). */
  readonly schema: string | undefined;
  /** Quotes a name derived from the table name (`derived('_append')` -> `"app"."events_append"`). */
  derived(suffix: string): string;
  /** The unquoted table name without the schema, for index names. */
  readonly bare: string;
}

/**
 * Validates `name` as a plain or schema-qualified identifier and quotes it. Only letters, digits and
 * underscores are accepted, so no name can change the meaning of the SQL it is placed in.
 */
export function parseTableName(name: unknown = DEFAULT_TABLE_NAME): TableNames {
  if (typeof name !== 'string') throw new InvalidConfigurationError('tableName must be a string');
  const parts = name.split('.');
  const valid = parts.length <= 2 && parts.every((part) => PART.test(part) && part.length <= MAX_PART_LENGTH);
  if (!valid) {
    throw new InvalidConfigurationError(
      `tableName must be an identifier or schema.identifier of letters, digits and underscores, ` +
        `starting with a letter or underscore, at most ${MAX_PART_LENGTH} characters per part`,
    );
  }
  const quote = (part: string) => `"${part}"`;
  const bare = parts[parts.length - 1] as string;
  const schema = parts.length === 2 ? quote(parts[0] as string) : undefined;
  const qualify = (identifier: string) => (schema ? `${schema}.${quote(identifier)}` : quote(identifier));
  return Object.freeze({
    configured: name,
    table: qualify(bare),
    schema,
    bare,
    derived: (suffix: string) => qualify(`${bare}${suffix}`),
  });
}
