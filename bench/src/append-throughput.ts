/**
 * Append throughput with 16 concurrent writers, on disjoint boundaries (one per writer, append only: each
 * writer knows its boundary's max) and on one hot boundary (read, decide, append), for: a plain INSERT (the floor), the Go original's single-statement guard, the es store
 * through @es/pg, and the raw driver sending the es SQL. Every mechanism runs against the same server
 * in the same run; compare the ratios, not the absolute numbers (shared, noisy machines).
 * The oracle column counts successful guarded appends whose expected max was wrong when they committed.
 *
 *   pnpm bench                      # local primary started by @es/testing
 *   BENCH_SECONDS=10 BENCH_WRITERS=16 pnpm bench
 */
import { fromPgPool } from '@es/pg';

import pg from 'pg';
import {
  type Attempt,
  esStore,
  type Mechanism,
  pgSend,
  plainInsert,
  rawSameSql,
  singleStatementGuard,
} from './mechanisms.js';
import { printTable } from './table.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const WRITERS = Number(process.env.BENCH_WRITERS ?? 16);

type Scenario = 'disjoint' | 'hot';
interface Measured {
  mechanism: string;
  scenario: Scenario;
  appended: number;
  conflicts: number;
  violations: number | undefined;
}

async function measure(mechanism: Mechanism, scenario: Scenario, run: string): Promise<Measured> {
  const successes: { boundary: string; attempt: Extract<Attempt, { ok: true }> }[] = [];
  let conflicts = 0;
  const deadline = performance.now() + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: WRITERS }, async (_, writer) => {
      const boundary = scenario === 'hot' ? `${run}-hot` : `${run}-${writer}`;
      // On its own boundary a writer knows the max (its last append): append only. On the hot boundary
      // every writer reads, decides and appends, as a command handler does.
      let knownMax: bigint | undefined = scenario === 'hot' ? undefined : 0n;
      while (performance.now() < deadline) {
        const attempt = await mechanism.append(boundary, knownMax);
        if (attempt.ok) successes.push({ boundary, attempt });
        else conflicts++;
        if (attempt.ok && knownMax !== undefined) knownMax = attempt.position;
      }
    }),
  );
  const guarded = successes.every(({ attempt }) => attempt.expected >= 0n);
  return {
    mechanism: mechanism.name,
    scenario,
    appended: successes.length,
    conflicts,
    violations: guarded ? countViolations(successes) : undefined,
  };
}

/** For each success: the largest position of its boundary below its own must be the max it expected. */
function countViolations(
  successes: { boundary: string; attempt: { expected: bigint; position: bigint } }[],
): number {
  const byBoundary = new Map<string, bigint[]>();
  for (const { boundary, attempt } of successes)
    byBoundary.set(boundary, [...(byBoundary.get(boundary) ?? []), attempt.position]);
  for (const positions of byBoundary.values()) positions.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  let violations = 0;
  for (const { boundary, attempt } of successes) {
    const positions = byBoundary.get(boundary) as bigint[];
    const index = positions.indexOf(attempt.position);
    const previous = index > 0 ? (positions[index - 1] as bigint) : 0n;
    if (previous !== attempt.expected) violations++;
  }
  return violations;
}

async function main() {
  const external = process.env.BENCH_DATABASE_URL;
  const cluster = external ? undefined : await (await import('@es/testing')).startCluster();
  const url = external ?? (cluster?.primaryUrl as string);
  const pool = new pg.Pool({ connectionString: url, max: WRITERS + 4 });
  pool.on('error', () => {});
  const results: Measured[] = [];
  try {
    let tableIndex = 0;
    const freshStore = async () => {
      const tableName = `bench_${process.pid}_${tableIndex++}`;
      const store = fromPgPool(pool, { tableName });
      await store.migrate();
      return { tableName, store };
    };
    const mechanisms: (() => Promise<Mechanism>)[] = [
      async () => plainInsert(pool, (await freshStore()).tableName),
      async () => singleStatementGuard(pool, (await freshStore()).tableName),
      async () => esStore((await freshStore()).store, 'es store via @es/pg'),
      async () => rawSameSql(pgSend(pool), (await freshStore()).tableName),
    ];
    for (const scenario of ['disjoint', 'hot'] as const) {
      for (const make of mechanisms) {
        const mechanism = await make();
        results.push(await measure(mechanism, scenario, `${scenario}-${tableIndex}`));
      }
    }
    await dropBenchTables(pool);
  } finally {
    await pool.end();
    await cluster?.stop();
  }
  printResults(results);
}

async function dropBenchTables(pool: pg.Pool) {
  const { rows } = await pool.query(
    `SELECT tablename FROM pg_tables WHERE tablename LIKE 'bench\\_${process.pid}\\_%'`,
  );
  for (const { tablename } of rows) await pool.query(`DROP TABLE "${tablename}" CASCADE`);
}

function printResults(results: Measured[]) {
  const floor = (scenario: Scenario) => results.find((r) => r.scenario === scenario)?.appended ?? 1;
  const rows = results.map((r) => [
    r.scenario,
    r.mechanism,
    (r.appended / SECONDS).toFixed(0),
    (r.conflicts / SECONDS).toFixed(0),
    `${(r.appended / floor(r.scenario)).toFixed(2)}x`,
    r.violations === undefined ? 'n/a' : String(r.violations),
  ]);
  const header = ['boundary', 'mechanism', 'appends/s', 'conflicts/s', 'vs floor', 'oracle violations'];
  printTable(`\n${WRITERS} writers, ${SECONDS} s per row, node ${process.version}`, header, rows);
}

await main();
