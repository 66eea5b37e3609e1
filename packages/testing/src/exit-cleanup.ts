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

/** Immediate shutdown (SIGQUIT, by PID) of every tracked server, then removal of the tracked temp dirs. */
function killEverything(): void {
  for (const dataDir of runningDataDirs) {
    const pid = postmasterPid(dataDir);
    if (pid !== undefined) {
      try {
        process.kill(pid, 'SIGQUIT');
      } catch {
        // already gone
      }
    }
  }
  runningDataDirs.clear();
  for (const dir of tempDirs) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // a dying server may still write there; nothing more to do at exit
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
