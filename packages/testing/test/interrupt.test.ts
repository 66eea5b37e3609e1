import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

/**
 * Ctrl-C in a terminal sends SIGINT to the whole foreground process group: the node process and, with
 * them, the servers it started. Each test starts a process that runs a cluster in a group of its own, with
 * TMPDIR pointing at a fresh directory, interrupts the group, and checks that no server and no temp dir is
 * left behind.
 */
const dist = (file: string) => fileURLToPath(new URL(`../dist/${file}`, import.meta.url));

/** Every postmaster PID under `dir` (the servers' postmaster.pid files). */
function postmasterPids(dir: string): number[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((path) => path.endsWith('postmaster.pid'))
    .map((path) => Number(readFileSync(join(dir, path), 'utf8').split('\n')[0]));
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

/** Runs `args` with node in a process group of its own until it prints `ready` on stdout. */
function start(args: string[], scratch: string, ready: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, args, {
    detached: true,
    env: { ...process.env, TMPDIR: scratch, ES_PRIMARY_URL: '', ES_REPLICA_URL: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let output = '';
    child.stdout?.on('data', (chunk) => {
      output += chunk;
      if (output.includes(ready)) resolve(child);
    });
    child.stderr?.on('data', () => {});
    child.once('exit', (code) => reject(new Error(`exited with ${code} before it was ready: ${output}`)));
  });
}

const exited = (child: ChildProcess) =>
  new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );

describe('an interrupt (SIGINT to the process group, as Ctrl-C sends it)', () => {
  let scratch: string | undefined;
  afterEach(() => {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  const interrupt = async (args: string[], ready: string) => {
    scratch = mkdtempSync(join(tmpdir(), 'es-interrupt-'));
    chmodSync(scratch, 0o755); // servers run as the postgres OS user when the tests run as root
    const child = await start(args, scratch, ready);
    const pids = postmasterPids(scratch);
    expect(pids.length, 'a primary and a replica are running').toBe(2);
    const exit = exited(child);
    process.kill(-(child.pid as number), 'SIGINT');
    const outcome = await exit;
    expect(pids.filter(alive), 'servers left running').toEqual([]);
    expect(readdirSync(scratch), 'temp dirs left behind').toEqual([]);
    return outcome;
  };

  it('stops es-cluster cleanly: exit 0, no server, no temp dir', async () => {
    expect(await interrupt([dist('cli.js'), '--quiet'], 'ES_REPLICA_URL=')).toEqual({
      code: 0,
      signal: null,
    });
  }, 120_000);

  it('leaves nothing behind when a program using startCluster is interrupted (the demo, a test run)', async () => {
    const program = `import { startCluster } from ${JSON.stringify(dist('index.js'))};
await startCluster();
console.log('ready');
setInterval(() => {}, 1 << 30);`;
    const outcome = await interrupt(['--input-type=module', '-e', program], 'ready');
    expect(outcome.signal ?? outcome.code).toBeTruthy(); // it ends by the signal, as an interrupted program does
  }, 120_000);
});
