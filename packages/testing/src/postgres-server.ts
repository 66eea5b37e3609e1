import { readdirSync, readFileSync } from 'node:fs';
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CommandRunner } from './command-runner.js';
import { postmasterPid, trackServer, untrackServer } from './exit-cleanup.js';

/** Values for postgresql.conf. */
export type Settings = Record<string, string | number | boolean>;

/** The postgresql.conf lines for `settings`, every value single-quoted. */
function settingsText(settings: Settings): string {
  const lines = Object.entries(settings).map(
    ([key, value]) => `${key} = '${String(value).replaceAll("'", "''")}'`,
  );
  return `\n# @es/testing\n${lines.join('\n')}\n`;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Sends `name` to `pid`; a process that has exited since it was listed (a backend ending) is skipped. */
function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

/** One PostgreSQL server process and its data directory, driven by pg_ctl. */
export class PostgresServer {
  /**
   * @param name 'primary', 'replica', 'replica-2', ..., for messages.
   * @param runner runs the programs as the right OS user.
   * @param binDir directory of pg_ctl and postgres.
   * @param dataDir the data directory.
   * @param logFile where the server writes its log.
   * @param port its TCP port on 127.0.0.1.
   */
  constructor(
    readonly name: string,
    private readonly runner: CommandRunner,
    private readonly binDir: string,
    readonly dataDir: string,
    readonly logFile: string,
    readonly port: number,
  ) {}

  /** Appends settings to postgresql.conf (later lines win). */
  async configure(settings: Settings): Promise<void> {
    await appendFile(join(this.dataDir, 'postgresql.conf'), settingsText(settings));
  }

  /** Writes a file in the data directory, owned by the server's user. */
  async writeDataFile(name: string, content: string): Promise<void> {
    const path = join(this.dataDir, name);
    await writeFile(path, content, { mode: 0o600 });
    await this.runner.own(path);
  }

  /** `pg_ctl start -w`: resolves once the server accepts connections. */
  async start(): Promise<void> {
    trackServer(this.dataDir);
    const pgCtl = join(this.binDir, 'pg_ctl');
    await this.runner.run(pgCtl, ['start', '-w', '-t', '60', '-s', '-D', this.dataDir, '-l', this.logFile]);
  }

  /**
   * Stops (SIGSTOP) the server's postmaster and every process under it: the port still accepts TCP
   * connections (the kernel queues them) but nothing answers, like a hung host. `unstall()` undoes it.
   */
  async stall(): Promise<void> {
    for (const pid of this.processes()) signal(pid, 'SIGSTOP');
  }

  /** Lets a stalled server run again (SIGCONT to the postmaster and every process under it). */
  async unstall(): Promise<void> {
    for (const pid of this.processes()) signal(pid, 'SIGCONT');
  }

  /**
   * The postmaster's PID and those of its descendants, from /proc; empty when it is not running. Read
   * synchronously, in a few ms: read through the event loop under a test's load, the scan took seconds, and a
   * stall or stop then began seconds later than the test meant.
   */
  private processes(): number[] {
    const root = postmasterPid(this.dataDir);
    if (root === undefined || !isAlive(root)) return [];
    const parents = new Map<number, number>();
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      let stat: string;
      try {
        stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      } catch {
        continue; // the process ended meanwhile
      }
      // pid (comm) state ppid ...: comm may hold spaces and parentheses, so read after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid) parents.set(Number(entry), ppid);
    }
    const found = [root];
    for (let index = 0; index < found.length; index++) {
      for (const [pid, ppid] of parents) if (ppid === found[index]) found.push(pid);
    }
    return found;
  }

  /**
   * `pg_ctl stop -m <mode> -w` (a stalled server is let run first); if that fails, immediate shutdown by PID.
   * @param mode 'fast' (default): sessions are ended cleanly; 'immediate': a crash, recovered at the next start.
   */
  async stop(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    await this.unstall();
    const pid = postmasterPid(this.dataDir);
    if (pid !== undefined) {
      try {
        const pgCtl = join(this.binDir, 'pg_ctl');
        await this.runner.run(pgCtl, ['stop', '-m', mode, '-w', '-t', '30', '-s', '-D', this.dataDir]);
      } catch {
        if (isAlive(pid)) process.kill(pid, 'SIGQUIT');
        const deadline = Date.now() + 10_000;
        while (isAlive(pid) && Date.now() < deadline) await pause(20);
      }
    }
    untrackServer(this.dataDir);
  }

  /** The last lines of the server log, or '' if there is none. */
  async logTail(lines = 20): Promise<string> {
    try {
      return (await readFile(this.logFile, 'utf8')).trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }
}
