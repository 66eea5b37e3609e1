import { ConcurrencyConflictError, type EventStore } from '@es/core';
import type { CommandResult } from '@es/example-library';

/**
 * Makes a race happen on purpose, for the demo: wraps a store so that a competing command (as if from
 * another process) runs and commits after the handler has read its boundary and decided, but before its
 * append. The competing command uses the unwrapped store. What each step saw is recorded.
 */
export interface RaceRecord {
  /** The max sequence number of each boundary read, one per attempt. */
  readonly reads: bigint[];
  /** The conflicts the handler's appends ran into. */
  readonly conflicts: { readonly expected: bigint; readonly actual: bigint }[];
  /** What the competing command did. */
  competing: CommandResult | undefined;
}

export function raceBeforeFirstAppend(
  store: EventStore,
  competingCommand: (store: EventStore) => Promise<CommandResult>,
): { store: EventStore; record: RaceRecord } {
  const record: RaceRecord = { reads: [], conflicts: [], competing: undefined };
  let raced = false;
  const racing: EventStore = {
    ...store, // every other method as it is
    async query(ctx, filter) {
      const result = await store.query(ctx, filter);
      record.reads.push(result.maxSequenceNumber);
      return result;
    },
    async append(ctx, filter, expectedMaxSequenceNumber, ...events) {
      if (!raced) {
        raced = true;
        record.competing = await competingCommand(store);
      }
      try {
        return await store.append(ctx, filter, expectedMaxSequenceNumber, ...events);
      } catch (error) {
        if (error instanceof ConcurrencyConflictError) {
          record.conflicts.push({
            expected: error.expectedMaxSequenceNumber,
            actual: error.actualMaxSequenceNumber,
          });
        }
        throw error;
      }
    },
  };
  return { store: racing, record };
}
