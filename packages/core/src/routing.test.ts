import { describe, expect, it } from 'vitest';
import { ConsistencyViolationError } from './errors.js';
import { routeOperation } from './routing.js';

describe('routeOperation', () => {
  it.each([
    ['query', 'strong', true, 'primary'],
    ['query', 'strong', false, 'primary'],
    ['query', 'eventual', true, 'replica'],
    ['query', 'eventual', false, 'primary'],
    ['append', 'strong', true, 'primary'],
    ['append', 'strong', false, 'primary'],
    ['migrate', 'strong', true, 'primary'],
    ['migrate', 'eventual', true, 'primary'],
    ['migrate', 'eventual', false, 'primary'],
  ] as const)(
    '%s with %s consistency (replica configured: %s) goes to the %s',
    (operation, consistency, hasReplica, server) => {
      expect(routeOperation(operation, consistency, hasReplica)).toBe(server);
    },
  );

  it.each([true, false])(
    'refuses an append with eventual consistency, naming the rule (replica: %s)',
    (hasReplica) => {
      expect(() => routeOperation('append', 'eventual', hasReplica)).toThrow(ConsistencyViolationError);
      expect(() => routeOperation('append', 'eventual', hasReplica)).toThrow(/withStrongConsistency/);
    },
  );
});
