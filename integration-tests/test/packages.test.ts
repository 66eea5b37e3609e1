import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

/**
 * What `npm publish` would ship for every public package: the tarball holds the licence, the README and
 * the built entry points, and the manifest carries the metadata a registry page shows.
 */
const run = promisify(execFile);
const PACKAGES = fileURLToPath(new URL('../../packages', import.meta.url));
const publicPackages = readdirSync(PACKAGES)
  .map((dir) => ({
    dir: join(PACKAGES, dir),
    manifest: JSON.parse(readFileSync(join(PACKAGES, dir, 'package.json'), 'utf8')),
  }))
  .filter(({ manifest }) => manifest.private !== true);

describe('published packages', () => {
  it('there are the ten packages the README lists', () => {
    expect(publicPackages.map(({ manifest }) => manifest.name).sort()).toEqual([
      '@es/cli',
      '@es/conformance',
      '@es/core',
      '@es/drizzle',
      '@es/kysely',
      '@es/neon',
      '@es/opentelemetry',
      '@es/pg',
      '@es/postgresjs',
      '@es/testing',
    ]);
  });

  for (const { dir, manifest } of publicPackages) {
    it(`${manifest.name}: metadata, and a tarball with LICENSE, README and the built entry points`, async () => {
      expect(manifest.license).toBe('MIT');
      expect(manifest.description).toMatch(/\w{3,}/);
      expect(manifest.keywords).toEqual(expect.arrayContaining(['event-store', 'postgresql']));
      expect(manifest.author).toBeTruthy();
      expect(manifest.engines?.node).toBe('>=20.3');
      const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: dir });
      const files: string[] = JSON.parse(stdout)[0].files.map((file: { path: string }) => file.path);
      expect(files).toEqual(
        expect.arrayContaining([
          'LICENSE',
          'README.md',
          'package.json',
          'dist/index.js',
          'dist/index.cjs',
          'dist/index.d.ts',
        ]),
      );
      expect(readFileSync(join(dir, 'LICENSE'), 'utf8')).toMatch(/^MIT License/);
      expect(files.filter((file) => /(^|\/)(src|test)\/|\.test\./.test(file))).toEqual([]);
    });
  }
});
