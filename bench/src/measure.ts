import { loadavg } from 'node:os';
import { printTable } from './table.js';

/**
 * How the benchmarks measure: variants of one workload run in rounds, each round in a rotated order
 * (A B C, then B C A, ...), so that a drift of the shared machine weighs on all of them alike; the table
 * shows each variant's median, its ratio to the row's reference variant, and every round.
 */

export type Workload = () => Promise<number>;

export interface Variant {
  readonly name: string;
  /** One measurement: an operation rate (higher is better) or a latency in ms (lower is better). */
  readonly run: Workload;
}

export const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
};

/** The `p`th percentile (0 to 100, nearest rank) of `values`; NaN when there are none. */
export const percentile = (values: readonly number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted.length ? (sorted[rank - 1] as number) : Number.NaN;
};

/**
 * Runs every variant `rounds` times, rotating the order each round, with `before` (if given) before each
 * run; returns the values per variant.
 */
export async function rounds(
  variants: readonly Variant[],
  count: number,
  before?: () => Promise<unknown>,
): Promise<Map<string, number[]>> {
  const results = new Map<string, number[]>(variants.map((variant) => [variant.name, []]));
  for (let round = 0; round < count; round++) {
    for (let index = 0; index < variants.length; index++) {
      const variant = variants[(index + round) % variants.length] as Variant;
      await before?.();
      results.get(variant.name)?.push(await variant.run());
    }
  }
  return results;
}

/**
 * Median latencies in ms of operations measured side by side: each round runs every operation `times`
 * times, one call of each in turn, the order rotating from call to call (A B C, B C A, ...), so that even
 * a drift of the machine within a round weighs on all of them alike. Returns each one's median per round.
 */
export async function interleavedLatencies(
  operations: readonly { readonly name: string; readonly run: () => Promise<unknown> }[],
  times: number,
  count: number,
): Promise<Map<string, number[]>> {
  const results = new Map<string, number[]>(operations.map((operation) => [operation.name, []]));
  for (const operation of operations) for (let warm = 0; warm < 20; warm++) await operation.run();
  for (let round = 0; round < count; round++) {
    const samples = operations.map((): number[] => []);
    for (let index = 0; index < times; index++) {
      for (let turn = 0; turn < operations.length; turn++) {
        const at = (turn + index) % operations.length;
        const started = performance.now();
        await operations[at]?.run();
        samples[at]?.push(performance.now() - started);
      }
    }
    operations.forEach((operation, at) => {
      results.get(operation.name)?.push(median(samples[at] ?? []));
    });
  }
  return results;
}

/** Operations per second of `callers` loops of `operation` for `seconds`. */
export async function rate(callers: readonly (() => Promise<unknown>)[], seconds: number): Promise<number> {
  let count = 0;
  const started = performance.now();
  const until = started + seconds * 1000;
  await Promise.all(
    callers.map(async (operation) => {
      while (performance.now() < until) {
        await operation();
        count++;
      }
    }),
  );
  return count / ((performance.now() - started) / 1000);
}

/** The median latency in ms of `operation` run `times` times in a row (after a few warm-up runs). */
export async function latency(operation: () => Promise<unknown>, times: number): Promise<number> {
  for (let warm = 0; warm < 20; warm++) await operation();
  const samples: number[] = [];
  for (let index = 0; index < times; index++) {
    const started = performance.now();
    await operation();
    samples.push(performance.now() - started);
  }
  return median(samples);
}

export const load = () =>
  loadavg()
    .map((value) => value.toFixed(2))
    .join(' ');

/**
 * Prints one section: a row per variant with its median, its ratio to `reference` (the first variant when
 * not given) and the raw rounds. `unit` says what the values are; `higherIsBetter` how to read the ratio.
 */
export function report(
  title: string,
  unit: string,
  results: Map<string, number[]>,
  options: { reference?: string; digits?: number; note?: string } = {},
): void {
  const digits = options.digits ?? 0;
  const reference = options.reference ?? [...results.keys()][0];
  const base = median(results.get(reference as string) ?? [1]);
  const rows = [...results.entries()].map(([name, values]) => [
    name,
    median(values).toFixed(digits),
    `${(median(values) / base).toFixed(2)}x`,
    values.map((value) => value.toFixed(digits)).join(' / '),
  ]);
  printTable(
    `\n${title} (load average ${load()})${options.note ? `\n${options.note}` : ''}`,
    ['variant', unit, `vs ${reference}`, 'rounds'],
    rows,
  );
}
