/**
 * The library domain shared by every example: the events, the command handlers (strong consistency, on
 * the primary) and the query handler (eventual consistency, may use the replica). Each example only
 * chooses its driver and builds the store; these handlers take any `EventStore`.
 */
export * from './commands.js';
export * from './events.js';
export * from './queries.js';
