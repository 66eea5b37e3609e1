import type { ConsistencyLevel } from './context.js';
import { ConsistencyViolationError } from './errors.js';
import type { ServerRole } from './event-store.js';

/** What a store call does, for routing. */
export type RoutedOperation = 'query' | 'append' | 'migrate';

/**
 * The routing rules in one total function:
 * - appends and migrations go to the primary, always; an append with an eventual context is refused,
 *   because a decision read from a replica may be stale and the append would be checked against it;
 * - strong reads (the default) go to the primary;
 * - eventual reads go to the replica when one is configured, else to the primary.
 */
export function routeOperation(
  operation: RoutedOperation,
  consistency: ConsistencyLevel,
  hasReplica: boolean,
): ServerRole {
  if (operation === 'append' && consistency === 'eventual') {
    throw new ConsistencyViolationError(
      'append: refused an eventual-consistency context. Appends always run on the primary and must be decided ' +
        'on a strong read: use withStrongConsistency() in command handlers (read, decide, append)',
    );
  }
  return operation === 'query' && consistency === 'eventual' && hasReplica ? 'replica' : 'primary';
}
