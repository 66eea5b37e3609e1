import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { migrationStepStatements, migrationsTableStatements } from '../statements.js';
import { parseTableName } from '../table-name.js';
import { expectedFunctions, MIGRATIONS } from './index.js';
import { schemaProblems } from './schema-check.js';

const fixture = JSON.parse(
  readFileSync(new URL('../../fixtures/step1-legacy.events.json', import.meta.url), 'utf8'),
) as { text: string; values: string[] }[];

describe('migrations', () => {
  it('step 1 is frozen: it produces exactly what databases were created with (the recorded fixture)', () => {
    const names = parseTableName('legacy.events');
    const now = [...migrationsTableStatements(names), ...migrationStepStatements(names, 1)];
    expect(now.map(({ text, values }) => ({ text, values }))).toEqual(fixture);
  });

  it('numbers the steps 1, 2, ... without gaps, and each step holds statements', () => {
    expect(MIGRATIONS.map((step) => step.version)).toEqual(MIGRATIONS.map((_, index) => index + 1));
    for (const step of MIGRATIONS)
      expect(step.statements(parseTableName('events')).length).toBeGreaterThan(0);
  });

  it('installs every function it expects with the exact body it will check', () => {
    const names = parseTableName('app.events');
    const ddl = MIGRATIONS.flatMap((step) => migrationStepStatements(names, step.version)).map(
      (statement) => statement.text,
    );
    for (const fn of expectedFunctions(names)) {
      const created = ddl.findLast((text) =>
        text.startsWith(`CREATE OR REPLACE FUNCTION "app"."events${fn.suffix}"(`),
      );
      expect(created, fn.suffix).toBeDefined();
      expect(created).toContain(`AS $fn$${fn.body}$fn$`);
    }
  });

  describe('schema check', () => {
    const names = parseTableName('events');
    const healthy = () => ({
      columns: [
        {
          name: 'sequence_number',
          type: 'bigint',
          notNull: true,
          default: "nextval('events_position_seq'::regclass)",
        },
        { name: 'event_type', type: 'text', notNull: true, default: null },
        { name: 'occurred_at', type: 'timestamp with time zone', notNull: true, default: null },
        { name: 'payload', type: 'jsonb', notNull: true, default: null },
        { name: 'metadata', type: 'jsonb', notNull: true, default: "'{}'::jsonb" },
        { name: 'id', type: 'uuid', notNull: false, default: null },
        { name: 'extra', type: 'text', notNull: false, default: null },
      ],
      indexes: [
        ['events_pkey', 'btree (sequence_number)', null, 'UNIQUE '],
        ['events_event_type_idx', 'btree (event_type, sequence_number)', null, ''],
        ['events_occurred_at_idx', 'btree (occurred_at)', null, ''],
        ['events_payload_idx', 'gin (payload jsonb_path_ops)', ['fastupdate=off'], ''],
        ['events_id_idx', 'btree (id)', null, 'UNIQUE ', ' WHERE (id IS NOT NULL)'],
      ].map(([name, using, options, unique, where]) => ({
        name,
        definition: `CREATE ${unique}INDEX ${name} ON public.events USING ${using}${options ? ` WITH (${options})` : ''}${where ?? ''}`,
        options,
        valid: true,
      })),
      functions: expectedFunctions(names).map((fn) => ({
        name: `events${fn.suffix}`,
        args: fn.args,
        body: fn.body,
        settings: fn.settings.length > 0 ? fn.settings : null,
      })),
      triggers: [{ name: 'events_lock_inserted', function: 'events_lock_inserted', type: 7, enabled: 'O' }],
      sequence: { increment: 1, cache: 1, named: true },
      snapshots:
        'CREATE UNIQUE INDEX events_snapshots_pkey ON public.events_snapshots USING btree (projection_type, filter_hash)' as
          | string
          | null,
    });
    const problems = (change: (state: ReturnType<typeof healthy>) => void) => {
      const state = healthy();
      change(state);
      return schemaProblems(names, JSON.stringify(state));
    };

    it('accepts the schema the steps produce, with objects of its own beside it', () => {
      expect(problems(() => {})).toEqual([]);
    });

    it('reports each difference by name', () => {
      const edited = (state: ReturnType<typeof healthy>) => {
        const append = state.functions.find((fn) => fn.name === 'events_append');
        if (append) append.body += ' ';
      };
      expect(problems(edited)).toEqual([
        'function events_append differs from the one the migration steps install',
      ]);
      expect(problems((state) => state.functions.pop())).toEqual([
        'function events_read_matching(exclusive_keys text[], params text[]) is missing',
      ]);
      expect(problems((state) => state.indexes.splice(3, 1))).toEqual([
        'index events_payload_idx is missing',
      ]);
      expect(
        problems((state) => {
          const gin = state.indexes[3];
          if (gin) gin.options = null;
        }),
      ).toEqual([
        'index events_payload_idx is not an index USING gin (payload jsonb_path_ops) WITH (fastupdate=off)',
      ]);
      expect(
        problems((state) => {
          const ids = state.indexes[4];
          if (ids)
            ids.definition =
              'CREATE INDEX events_id_idx ON public.events USING btree (id) WHERE (id IS NOT NULL)';
        }),
      ).toEqual(['index events_id_idx is not a UNIQUE index USING btree (id) WHERE (id IS NOT NULL)']);
      expect(
        problems((state) => {
          const id = state.columns.find((column) => column.name === 'id');
          if (id) id.notNull = true;
        }),
      ).toEqual(['column id is not uuid NULL, no default']);
      expect(
        problems((state) => {
          const gin = state.indexes[3];
          if (gin) gin.definition = 'CREATE INDEX events_payload_idx ON public.events USING btree (payload)';
        }),
      ).toHaveLength(1);
      const disabled = (state: ReturnType<typeof healthy>) => {
        for (const trigger of state.triggers) trigger.enabled = 'D';
      };
      expect(problems(disabled)).toHaveLength(1);
      expect(problems((state) => (state.sequence.cache = 20))).toHaveLength(1);
      expect(problems((state) => state.columns.splice(3, 1))).toEqual(['column payload is missing']);
      expect(problems((state) => (state.snapshots = null))).toEqual([
        'table events_snapshots is missing or its primary key is not (projection_type, filter_hash)',
      ]);
    });
  });
});
