import type { Statement } from '../driver.js';
import type { TableNames } from '../table-name.js';
import { expectedFunctions } from './index.js';

/**
 * What `migrate()` checks after applying its steps: that the installed schema is the one the steps
 * produce. Columns, indexes (method, columns, options, validity), the store's functions (arguments,
 * settings and exact bodies), the trigger and the sequence. A database whose functions were edited by
 * hand, or created by an edition of a step that was changed later, is reported instead of used.
 * Objects the store does not own (extra columns, indexes, functions) are left alone.
 */

/** One statement that reads the installed state of the table's schema objects, as JSON. */
export function schemaStateStatement(names: TableNames): Statement {
  const target = `(SELECT $1::text::regclass)`;
  return {
    name: 'es.migrate.check',
    text: `SELECT json_build_object(
  'columns', (SELECT coalesce(json_agg(json_build_object('name', a.attname, 'type', format_type(a.atttypid, a.atttypmod),
      'notNull', a.attnotnull, 'default', pg_get_expr(d.adbin, d.adrelid))), '[]')
    FROM pg_attribute AS a LEFT JOIN pg_attrdef AS d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE a.attrelid = ${target} AND a.attnum > 0 AND NOT a.attisdropped),
  'indexes', (SELECT coalesce(json_agg(json_build_object('name', c.relname, 'definition', pg_get_indexdef(i.indexrelid),
      'options', c.reloptions, 'valid', i.indisvalid AND i.indisready)), '[]')
    FROM pg_index AS i JOIN pg_class AS c ON c.oid = i.indexrelid WHERE i.indrelid = ${target}),
  'functions', (SELECT coalesce(json_agg(json_build_object('name', p.proname, 'args', pg_get_function_identity_arguments(p.oid),
      'body', p.prosrc, 'settings', p.proconfig)), '[]')
    FROM pg_proc AS p
    WHERE p.pronamespace = (SELECT relnamespace FROM pg_class WHERE oid = ${target}) AND p.proname = ANY ($2::text::text[])),
  'triggers', (SELECT coalesce(json_agg(json_build_object('name', t.tgname, 'function', p.proname, 'type', t.tgtype,
      'enabled', t.tgenabled)), '[]')
    FROM pg_trigger AS t JOIN pg_proc AS p ON p.oid = t.tgfoid WHERE t.tgrelid = ${target} AND NOT t.tgisinternal),
  'sequence', (SELECT json_build_object('increment', s.seqincrement, 'cache', s.seqcache,
      'named', s.seqrelid = to_regclass($3::text)) FROM pg_sequence AS s
    WHERE s.seqrelid = pg_get_serial_sequence($1::text, 'sequence_number')::regclass),
  'snapshots', (SELECT pg_get_indexdef(i.indexrelid) FROM pg_index AS i
    WHERE i.indrelid = to_regclass($4::text) AND i.indisprimary)
)::text AS state`,
    values: [
      names.table,
      `{${expectedFunctions(names)
        .map((fn) => identifier(`${names.bare}${fn.suffix}`))
        .join(',')}}`,
      names.derived('_position_seq'),
      names.derived('_snapshots'),
    ],
  };
}

interface InstalledState {
  columns: { name: string; type: string; notNull: boolean; default: string | null }[];
  indexes: { name: string; definition: string; options: string[] | null; valid: boolean }[];
  functions: { name: string; args: string; body: string; settings: string[] | null }[];
  triggers: { name: string; function: string; type: number; enabled: string }[];
  sequence: { increment: number; cache: number; named: boolean } | null;
  /** The definition of the snapshots table's primary key; null when the table (or its key) is missing. */
  snapshots: string | null;
}

const COLUMNS: readonly [name: string, type: string, notNull: boolean, hasDefault: RegExp | null][] = [
  ['sequence_number', 'bigint', true, /^nextval\(/],
  ['event_type', 'text', true, null],
  ['occurred_at', 'timestamp with time zone', true, null],
  ['payload', 'jsonb', true, null],
  ['metadata', 'jsonb', true, /^'\{\}'::jsonb$/],
  ['id', 'uuid', false, null],
];

/** BEFORE (2) | ROW (1) | INSERT (4), as pg_trigger.tgtype encodes it. */
const BEFORE_INSERT_ROW = 7;

/**
 * The differences between the installed state (the JSON `schemaStateStatement` returns) and the one the
 * steps produce, one line each; empty when they agree. Lines name objects, never values.
 */
export function schemaProblems(names: TableNames, stateJson: string): string[] {
  const state = JSON.parse(stateJson) as InstalledState;
  const problems: string[] = [];
  for (const [name, type, notNull, hasDefault] of COLUMNS) {
    const column = state.columns.find((candidate) => candidate.name === name);
    if (!column) problems.push(`column ${name} is missing`);
    else if (
      column.type !== type ||
      column.notNull !== notNull ||
      (hasDefault ? hasDefault.test(column.default ?? '') : column.default === null) !== true
    ) {
      const shape = `${type}${notNull ? ' NOT NULL' : ' NULL'}${hasDefault ? ' with its default' : ', no default'}`;
      problems.push(`column ${name} is not ${shape}`);
    }
  }
  const indexes: readonly [suffix: string, definition: string, options: string | null, unique: boolean][] = [
    ['_pkey', 'btree (sequence_number)', null, true],
    ['_event_type_idx', 'btree (event_type, sequence_number)', null, false],
    ['_occurred_at_idx', 'btree (occurred_at)', null, false],
    ['_payload_idx', 'gin (payload jsonb_path_ops)', 'fastupdate=off', false],
    ['_id_idx', 'btree (id) WHERE (id IS NOT NULL)', null, true],
  ];
  for (const [suffix, definition, options, unique] of indexes) {
    const name = identifier(`${names.bare}${suffix}`);
    const index = state.indexes.find((candidate) => candidate.name === name);
    const found = index && / USING (.*?)(?: WITH \(.*?\))?( WHERE .*)?$/.exec(index.definition);
    const kind = `${unique ? 'a UNIQUE index' : 'an index'} USING ${definition}${options ? ` WITH (${options})` : ''}`;
    if (!index) problems.push(`index ${name} is missing`);
    else if (
      `${found?.[1]}${found?.[2] ?? ''}` !== definition ||
      index.definition.startsWith('CREATE UNIQUE INDEX') !== unique ||
      (index.options ?? []).join(',') !== (options ?? '')
    ) {
      problems.push(`index ${name} is not ${kind}`);
    } else if (!index.valid) problems.push(`index ${name} is not valid (a failed concurrent build?)`);
  }
  for (const fn of expectedFunctions(names)) {
    const name = identifier(`${names.bare}${fn.suffix}`);
    const installed = state.functions.filter((candidate) => candidate.name === name);
    const match = installed.find((candidate) => candidate.args === fn.args);
    if (!match) problems.push(`function ${name}(${fn.args}) is missing`);
    else if (match.body !== fn.body || (match.settings ?? []).join(',') !== fn.settings.join(',')) {
      problems.push(`function ${name} differs from the one the migration steps install`);
    }
    if (installed.length > 1) problems.push(`function ${name} has other overloads`);
  }
  const trigger = state.triggers.find(
    (candidate) => candidate.name === identifier(`${names.bare}_lock_inserted`),
  );
  if (!trigger) problems.push(`trigger ${names.bare}_lock_inserted is missing`);
  else if (
    trigger.function !== identifier(`${names.bare}_lock_inserted`) ||
    trigger.type !== BEFORE_INSERT_ROW ||
    trigger.enabled !== 'O'
  ) {
    problems.push(`trigger ${names.bare}_lock_inserted is not an enabled BEFORE INSERT row trigger`);
  }
  if (!state.sequence?.named) {
    problems.push(`the sequence of sequence_number is not ${names.bare}_position_seq`);
  } else if (state.sequence.increment !== 1 || state.sequence.cache !== 1) {
    problems.push(
      'the sequence of sequence_number must have INCREMENT 1 and CACHE 1 (positions in draw order)',
    );
  }
  if (!state.snapshots?.endsWith(' USING btree (projection_type, filter_hash)')) {
    problems.push(
      `table ${names.bare}_snapshots is missing or its primary key is not (projection_type, filter_hash)`,
    );
  }
  return problems;
}

/** A name as PostgreSQL stores it: identifiers are cut to 63 bytes (ours are ASCII). */
function identifier(name: string): string {
  return name.slice(0, 63);
}
