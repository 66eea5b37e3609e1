import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { useCluster } from './helpers.js';

/**
 * The README's quick start is a file CI runs (examples/pg/src/quick-start.ts): every code block of that
 * README section must appear in it verbatim, so the docs cannot drift from code that type-checks and runs.
 */
const root = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url));
const QUICK_START = 'examples/pg/src/quick-start.ts';
const SNIPPETS = 'examples/pg/src/readme-snippets.ts';
/** Code with each line's indentation dropped: a README block may sit in a block of the file. */
const unindented = (code: string) =>
  code
    .split('\n')
    .map((line) => line.trimStart())
    .join('\n');

/** The ```ts blocks of the README section that starts with `heading`. */
function codeBlocks(heading: string): string[] {
  const readme = readFileSync(root('README.md'), 'utf8');
  const start = readme.indexOf(`\n${heading}\n`);
  expect(start, `README has a "${heading}" section`).toBeGreaterThanOrEqual(0);
  const end = readme.indexOf('\n## ', start + heading.length + 2);
  const section = readme.slice(start, end === -1 ? undefined : end);
  return [...section.matchAll(/```ts\n([\s\S]*?)\n```/g)].map((match) => match[1] as string);
}

describe('the README quick start', () => {
  const cluster = useCluster();

  it('shows only code that is in the runnable quick start, verbatim', () => {
    const file = readFileSync(root(QUICK_START), 'utf8');
    const blocks = codeBlocks('## Quick start');
    expect(blocks.length).toBeGreaterThanOrEqual(5);
    for (const block of blocks) expect(file, `README block:\n${block}`).toContain(block);
  });

  it('shows no other code than what the two runnable files hold, verbatim but for indentation', () => {
    const readme = readFileSync(root('README.md'), 'utf8');
    const blocks = [...readme.matchAll(/^```ts\n([\s\S]*?)\n```/gm)].map((match) => match[1] as string);
    const files = unindented(readFileSync(root(QUICK_START), 'utf8') + readFileSync(root(SNIPPETS), 'utf8'));
    expect(blocks.length).toBeGreaterThanOrEqual(7);
    for (const block of blocks) expect(files, `README block:\n${block}`).toContain(unindented(block));
  });

  it('runs the snippets outside the quick start: read your writes over HTTP, snapshots, a streamed read', async () => {
    const { stdout } = await promisify(execFile)(
      root('examples/pg/node_modules/.bin/tsx'),
      [root(SNIPPETS)],
      {
        env: { ...process.env, ES_PRIMARY_URL: cluster().primaryUrl, ES_REPLICA_URL: cluster().replicaUrl },
        timeout: 60_000,
      },
    );
    expect(stdout).toContain('read your writes: 2 events, token returned');
    expect(stdout).toMatch(/^snapshot at \d+: \{"lent":1\}$/m);
    expect(stdout).toMatch(/^streamed: [01] lent$/m); // eventual: the replica may not have replayed the loan yet
  });

  it('runs against a primary + replica: adds a copy at position 1, lends it once, reads it back', async () => {
    const { stdout } = await promisify(execFile)(
      root('examples/pg/node_modules/.bin/tsx'),
      [root(QUICK_START)],
      {
        env: { ...process.env, ES_PRIMARY_URL: cluster().primaryUrl, ES_REPLICA_URL: cluster().replicaUrl },
        timeout: 60_000,
      },
    );
    expect(stdout).toContain('added at position 1n');
    expect(stdout.match(/^lent$/gm)).toHaveLength(1);
    expect(stdout.match(/^refused/gm)).toHaveLength(1);
    expect(stdout).toMatch(/strong read on one database: 2/);
    expect(stdout).toContain('eventstore.append primary ok');
  });

  it('runs the demo (npm run demo): a streamed rebuild, a snapshot read on, and es status at the end', async () => {
    const { stdout } = await promisify(execFile)(
      root('examples/pg/node_modules/.bin/tsx'),
      [root('examples/pg/src/main.ts')],
      {
        env: { ...process.env, ES_PRIMARY_URL: cluster().primaryUrl, ES_REPLICA_URL: cluster().replicaUrl },
        timeout: 120_000,
      },
    );
    expect(stdout).toMatch(
      /rebuild loans per reader +eventual -> replica +streamed \d+ events, 2 per round trip/,
    );
    expect(stdout).toMatch(/save snapshot +strong +-> primary +'loans-per-reader' at #(\d+)/);
    expect(stdout).toMatch(
      /load snapshot, read on +eventual -> replica +snapshot at #\d+ \+ 1 later event: .*bob 1 book/,
    );
    expect(stdout).toMatch(/^ {2}replica-1 \(.*\)\n {4}role +standby \(in recovery\)/m);
    expect(stdout).toMatch(/streaming +WAL receiver streaming/);
    expect(stdout).toMatch(/append \(eventual context\) +refused: .*nothing sent; reported through the hook/);
    expect(stdout.trimEnd().endsWith('done')).toBe(true);
  });
});
