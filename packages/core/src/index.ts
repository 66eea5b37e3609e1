export { type AppendRequest, appendRequest } from './append-request.js';
export { acquireUnlessAborted, runCancellable } from './cancellation.js';
export {
  type ConsistencyLevel,
  type Context,
  getConsistencyLevel,
  withConsistencyToken,
  withEventualConsistency,
  withSignal,
  withStrongConsistency,
  withTimeout,
} from './context.js';
export { createEventStore, DEFAULT_CONNECT_TIMEOUT_MS } from './create-event-store.js';
export {
  type DeploymentCheck,
  type DeploymentCheckOptions,
  type DeploymentServer,
  deploymentChecks,
  deploymentStatus,
  type ReplicationSlot,
  type ServerState,
  type StreamingStandby,
} from './deployment.js';
export type { Driver, Executor, Row, Statement } from './driver.js';
export { isConnectionFailure, sqlStateOf, toEventStoreError } from './error-mapper.js';
export * from './errors.js';
export type {
  AppendResult,
  EventStore,
  ObservabilityHooks,
  OperationName,
  OperationReport,
  QueryResult,
  QueryStreamOptions,
  ServerRole,
  StoreOptions,
  TracedOperation,
} from './event-store.js';
export { type EventFilter, type FilterItem, type JsonValue, P, type Predicate } from './filter.js';
export * from './filter-builder.js';
export { jsonContains, matchesFilter } from './filter-match.js';
export { canonicalJson, MAX_JSON_DEPTH } from './json-value.js';
export { ESCALATE_AFTER, eventKeys, filterKeys } from './lock-keys.js';
export { type LogFields, type Logger, type PinoLike, pinoLogger } from './logger.js';
export { type CircuitState, replicaDrivers } from './replica-set.js';
export { lsnPosition, type ReplicaStatus } from './replication-status.js';
export { type RoutedOperation, routeOperation } from './routing.js';
export { filterHash, type Snapshot, type SnapshotInput } from './snapshots.js';
export {
  appendStatement,
  backendPidStatement,
  cancelBackendStatement,
  queryStatement,
} from './statements.js';
export {
  buildStorableEvent,
  type JsonObject,
  MAX_EVENT_TYPE_BYTES,
  OCCURRED_AT_RANGE,
  type StorableEvent,
  type StorableEventInput,
  type StoredEvent,
} from './storable-event.js';
export { DEFAULT_TABLE_NAME, parseTableName, type TableNames } from './table-name.js';
export { inTransaction } from './transaction.js';
