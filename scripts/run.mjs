#!/usr/bin/env node
/**
 * The entry point behind `npm run demo`, `npm test` and `npm run bench`: it makes a fresh clone work with
 * nothing but Node 20 and npm. It finds pnpm (or installs the pinned version into .tools/), installs the
 * workspace from the lockfile when needed, builds, and runs the task with node_modules/.bin on PATH.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const PNPM = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).packageManager.split('@')[1];
const tools = join(root, '.tools');
const env = {
  ...process.env,
  PATH: [join(root, 'node_modules', '.bin'), join(tools, 'node_modules', '.bin'), process.env.PATH].join(
    delimiter,
  ),
};

function run(command, args) {
  const result = spawnSync(command, args, { cwd: root, env, stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

/** Runs a long step between two progress lines, so that a quiet step never looks like a hang. */
function step(what, command, args) {
  const started = Date.now();
  console.log(`[es] ${what}...`);
  run(command, args);
  console.log(`[es] ${what}: done in ${Math.round((Date.now() - started) / 1000)} s`);
}

function pnpmVersion() {
  try {
    return execFileSync('pnpm', ['--version'], { env, encoding: 'utf8' }).trim();
  } catch {
    return undefined;
  }
}

function ensurePnpm() {
  if (pnpmVersion() === PNPM) return;
  console.log(`[es] installing pnpm ${PNPM} into .tools/`);
  run('npm', ['install', '--no-save', '--no-audit', '--no-fund', '--prefix', tools, `pnpm@${PNPM}`]);
}

function ensureInstalled() {
  const marker = join(root, 'node_modules', '.modules.yaml');
  const lock = join(root, 'pnpm-lock.yaml');
  if (existsSync(marker) && statSync(marker).mtimeMs >= statSync(lock).mtimeMs) return;
  step('installing the workspace dependencies (pnpm, from the lockfile)', 'pnpm', [
    'install',
    '--frozen-lockfile',
  ]);
}

const EXAMPLES = ['pg', 'postgresjs', 'neon', 'kysely', 'drizzle'];

const tasks = {
  test: () => {
    step('building, type-checking and checking the packages (about a minute on a fresh clone)', 'turbo', [
      'run',
      'build',
      'typecheck',
      'check:package',
      '--output-logs=errors-only',
    ]);
    step('linting', 'biome', ['check', '.']);
    console.log('[es] running the tests (each database test file starts its own primary + replica)');
    run('vitest', [
      'run',
      '--reporter=default',
      '--reporter=json',
      '--outputFile.json=test-results.json',
      ...process.argv.slice(3),
    ]);
  },
  demo: () => {
    step('building the demo', 'turbo', [
      'run',
      'build',
      '--filter=@es/example-pg...',
      '--output-logs=errors-only',
    ]);
    run('pnpm', ['--filter', '@es/example-pg', 'start']);
  },
  // npm run example -- <pg|postgresjs|neon|kysely|drizzle> [script]: an example app (or its other script).
  example: () => {
    const [name = 'pg', script = 'start'] = process.argv.slice(3);
    if (!EXAMPLES.includes(name) || !/^[a-z-]+$/.test(script)) {
      console.error(`usage: npm run example -- <${EXAMPLES.join('|')}> [start|quick-start]`);
      process.exit(2);
    }
    step(`building the ${name} example`, 'turbo', [
      'run',
      'build',
      `--filter=@es/example-${name}...`,
      '--output-logs=errors-only',
    ]);
    run('pnpm', ['--filter', `@es/example-${name}`, script]);
  },
  // npm run docs: the API reference of every package, from its TSDoc, into docs/api (TypeDoc).
  docs: () => {
    step('building the packages', 'turbo', [
      'run',
      'build',
      '--filter=./packages/*',
      '--output-logs=errors-only',
    ]);
    step('writing the API reference to docs/api', 'typedoc', []);
  },
  bench: () => {
    run('turbo', ['run', 'build', '--filter=@es/bench...', '--output-logs=errors-only']);
    run('pnpm', ['--filter', '@es/bench', 'start']);
  },
};

const task = Object.hasOwn(tasks, process.argv[2] ?? '') ? tasks[process.argv[2]] : undefined;
if (!task) {
  console.error(`usage: node scripts/run.mjs ${Object.keys(tasks).join('|')}`);
  process.exit(2);
}
ensurePnpm();
ensureInstalled();
task();
