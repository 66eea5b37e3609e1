import { execFile } from 'node:child_process';
import { chown } from 'node:fs/promises';

/** Output of a finished command. */
export interface CommandOutput {
  /** What it wrote to stdout. */
  stdout: string;
  /** What it wrote to stderr. */
  stderr: string;
}

/**
 * Runs PostgreSQL server binaries as the right OS user: directly when not root, else as the `postgres` user
 * through `runuser` (initdb and postgres refuse to run as root).
 */
export interface CommandRunner {
  /** true when commands run as the `postgres` OS user through runuser. */
  readonly asPostgresUser: boolean;
  /** Runs a program with arguments (no shell); rejects with its stderr on a non-zero exit. */
  run(file: string, args: readonly string[]): Promise<CommandOutput>;
  /** Gives a path to the user the servers run as (no-op when not root). */
  own(path: string): Promise<void>;
  /** Gives a whole directory tree to the user the servers run as (no-op when not root). */
  ownTree(path: string): Promise<void>;
}

/** The environment for server binaries: PG* variables removed so they cannot redirect the tools. */
function serverEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('PG')) env[key] = value;
  }
  return env;
}

/** Runs a program without a shell; the error message carries the command line and its stderr. */
export function execCommand(file: string, args: readonly string[]): Promise<CommandOutput> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      [...args],
      { cwd: '/', env: serverEnv(), maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' },
      (error, stdout, stderr) => {
        if (error) {
          const detail = `${stderr}`.trim() || `${stdout}`.trim() || error.message;
          reject(new Error(`command failed: ${[file, ...args].join(' ')}\n${detail}`, { cause: error }));
        } else {
          resolve({ stdout: `${stdout}`, stderr: `${stderr}` });
        }
      },
    );
  });
}

let rootRunner: Promise<CommandRunner> | undefined;

/** The runner for this process: root gets one that creates (if needed) and uses the `postgres` OS user. */
export function commandRunner(): Promise<CommandRunner> {
  if (process.getuid?.() !== 0) {
    return Promise.resolve({
      asPostgresUser: false,
      run: execCommand,
      own: async () => {},
      ownTree: async () => {},
    });
  }
  rootRunner ??= createRootRunner();
  rootRunner.catch(() => {
    rootRunner = undefined;
  });
  return rootRunner;
}

async function createRootRunner(): Promise<CommandRunner> {
  const ids = async () => ({
    uid: Number((await execCommand('id', ['-u', 'postgres'])).stdout.trim()),
    gid: Number((await execCommand('id', ['-g', 'postgres'])).stdout.trim()),
  });
  let owner: { uid: number; gid: number };
  try {
    owner = await ids();
  } catch {
    await execCommand('useradd', ['--system', '--no-create-home', 'postgres']);
    owner = await ids();
  }
  return {
    asPostgresUser: true,
    run: (file, args) => execCommand('runuser', ['-u', 'postgres', '--', file, ...args]),
    own: (path) => chown(path, owner.uid, owner.gid),
    ownTree: async (path) => {
      await execCommand('chown', ['-R', `${owner.uid}:${owner.gid}`, path]);
    },
  };
}
