import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { isMainThread } from 'node:worker_threads';

const runningDataDirs = new Set<string>();
const tempDirs = new Set<string>();
let installed = false;

/** The postmaster PID from `<dataDir>/postmaster.pid`, if the file exists and names this data dir. */
export function postmasterPid(dataDir: string): number | undefined {
  try {
    const [pid, dir] = readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n');
    const value = Number(pid);
    return Number.isInteger(value) && value > 0 && dir === dataDir ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Whether a process with this PID still runs (a zombie, which a blocked handler cannot reap, does not). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    // Linux: the state follows the command name in parentheses.
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

/** Blocks the thread for `ms` (exit and signal handlers cannot wait asynchronously). */
function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** How long an exit waits for SIGQUIT'ed servers to be gone before it removes their directories. */
const SERVER_EXIT_WAIT_MS = 5_000;

/**
 * Immediate shutdown (SIGQUIT, by PID) of every tracked server; once they are gone (a dying server still
 * writes into its data directory, which made removing it fail), removal of the tracked temp dirs.
 */
function killEverything(): void {
  const pids: number[] = [];
  for (const dataDir of runningDataDirs) {
    const pid = postmasterPid(dataDir);
    if (pid === undefined) continue;
    try {
      process.kill(pid, 'SIGCONT'); // a stalled server (stallReplica) handles no signal until it runs again
      process.kill(pid, 'SIGQUIT');
      pids.push(pid);
    } catch {
      // already gone
    }
  }
  runningDataDirs.clear();
  const deadline = Date.now() + SERVER_EXIT_WAIT_MS;
  while (pids.some(alive) && Date.now() < deadline) sleepSync(20);
  for (const dir of tempDirs) {
    try {
      rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
    } catch {
      // nothing more to do at exit
    }
  }
  tempDirs.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  // Another listener owns shutdown (the CLI, a test runner): let it stop the cluster; 'exit' still catches leftovers.
  if (process.listenerCount(signal) > 1) return;
  killEverything();
  process.removeListener(signal, onSignal);
  process.kill(process.pid, signal);
}

/** Registers (once per process) the 'exit' and signal handlers that kill servers still running. */
function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', killEverything);
  if (isMainThread) {
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onSignal);
  }
}

/** Tracks a server whose postmaster must not outlive this process. */
export function trackServer(dataDir: string): void {
  install();
  runningDataDirs.add(dataDir);
}

/** Stops tracking a server that was stopped. */
export function untrackServer(dataDir: string): void {
  runningDataDirs.delete(dataDir);
}

/** Tracks a temp dir to remove at exit if the cluster was not stopped. */
export function trackTempDir(dir: string): void {
  install();
  tempDirs.add(dir);
}

/** Stops tracking a temp dir that was removed. */
export function untrackTempDir(dir: string): void {
  tempDirs.delete(dir);
}
