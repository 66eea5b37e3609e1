import type { TableNames } from '../table-name.js';

/**
 * Migration step 4: the snapshots table `<table>_snapshots`, one row per (projection type, filter hash):
 * the state of a projection built from the events matching the filter up to `sequence_number`.
 */
export function step4Statements(names: TableNames): string[] {
  return [
    `CREATE TABLE IF NOT EXISTS ${names.derived('_snapshots')} (
      projection_type text NOT NULL,
      filter_hash text NOT NULL,
      sequence_number bigint NOT NULL,
      state jsonb NOT NULL,
      saved_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (projection_type, filter_hash)
    )`,
  ];
}
