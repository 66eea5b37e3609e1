import { defineConfig } from 'vitest/config';

/**
 * Two projects: pure unit tests beside the code (parallel), and tests against real PostgreSQL servers
 * (the conformance suite, topology tests), run one file at a time: each starts its own primary + replica
 * and some pause or stop the replica.
 */
export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['packages/*/src/**/*.test.ts'] } },
      {
        test: {
          name: 'db',
          include: ['packages/*/test/**/*.test.ts', 'integration-tests/test/**/*.test.ts'],
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
