import { cp } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { CommandRunner } from './command-runner.js';

/**
 * The bin dir the server user can run. As root, servers run as `postgres`, which may not be able to read a
 * package under a private home: then the (relocatable) installation is copied into the temp dir.
 */
export async function runnableBinDir(
  runner: CommandRunner,
  binDir: string,
  tempDir: string,
  relocatable: boolean,
): Promise<string> {
  if (!runner.asPostgresUser) return binDir;
  try {
    await runner.run(join(binDir, 'postgres'), ['--version']);
    return binDir;
  } catch (error) {
    if (!relocatable) throw new Error(`the postgres OS user cannot run ${binDir}/postgres`, { cause: error });
  }
  const copy = join(tempDir, 'pgsql');
  await cp(dirname(binDir), copy, { recursive: true, verbatimSymlinks: true });
  await runner.ownTree(copy);
  return join(copy, 'bin');
}
