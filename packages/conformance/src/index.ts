/**
 * `@es/conformance`: the behavioural suite every `es` adapter runs (SPEC sections 3 and 4), published so
 * that a third-party adapter can certify itself:
 *
 * ```ts
 * import { runConformance } from '@es/conformance';
 * runConformance({ name: 'my-driver', setup: () => ({ connect, disconnect, fromSingle, fromPrimaryAndReplica }) });
 * ```
 *
 * It registers vitest `describe`/`it` blocks (vitest is a peer dependency) and runs them against a local
 * PostgreSQL primary + streaming replica from `@es/testing`.
 */
import { afterAll, beforeAll, describe } from 'vitest';
import { appendSemantics } from './groups/append-semantics.js';
import { cancellation } from './groups/cancellation.js';
import { concurrency } from './groups/concurrency.js';
import { consistencyTokens } from './groups/consistency-tokens.js';
import { constructors } from './groups/constructors.js';
import { filterSanitising } from './groups/filter-sanitising.js';
import { handMadeFilters } from './groups/hand-made-filters.js';
import { idempotentAppends } from './groups/idempotent-appends.js';
import { injectionAndInvalidEvents } from './groups/injection-and-invalid-events.js';
import { isolation } from './groups/isolation.js';
import { jsonAndTime } from './groups/json-and-time.js';
import { largeWrites } from './groups/large-writes.js';
import { lateCommit } from './groups/late-commit.js';
import { lateCommitPlainInserts } from './groups/late-commit-plain-inserts.js';
import { predicateValues } from './groups/predicate-values.js';
import { queryMatrix } from './groups/query-matrix.js';
import { queryStream } from './groups/query-stream.js';
import { readBarrier } from './groups/read-barrier.js';
import { replicaFailure } from './groups/replica-failure.js';
import { replicationStatus } from './groups/replication-status.js';
import { routing } from './groups/routing.js';
import { severalReplicas } from './groups/several-replicas.js';
import { snapshots } from './groups/snapshots.js';
import { unknownOutcomes } from './groups/unknown-outcomes.js';
import { wideEvents } from './groups/wide-events.js';
import { CONFORMANCE_GROUPS, type ConformanceGroup, type ConformanceOptions } from './options.js';
import { ConformanceSuite, type RegisterTest, testRegistrar } from './suite-context.js';

export {
  CONFORMANCE_GROUPS,
  type ConformanceAdapter,
  type ConformanceGroup,
  type ConformanceOptions,
} from './options.js';

type GroupRegistration = <H>(suite: ConformanceSuite<H>, test: RegisterTest) => void;

/** What each group registers, and the SPEC lines it covers (in its describe title). */
const GROUPS: Record<ConformanceGroup, { title: string; parts: readonly GroupRegistration[] }> = {
  constructors: { title: 'constructors (SPEC 3.1)', parts: [constructors] },
  'filter-sanitising': { title: 'filter sanitising through the store (SPEC 3.2)', parts: [filterSanitising] },
  'query-matrix': { title: 'query matrix over the library events (SPEC 3.3)', parts: [queryMatrix] },
  'values-and-injection': {
    title: 'values, injection and invalid events (SPEC 3.4)',
    parts: [predicateValues, injectionAndInvalidEvents],
  },
  'append-semantics': { title: 'append semantics (SPEC 3.5)', parts: [appendSemantics, largeWrites] },
  'idempotent-appends': {
    title: 'event ids, unknown outcomes and idempotent retries (SPEC 5)',
    parts: [idempotentAppends],
  },
  'unknown-outcomes': {
    title: 'a reply lost after COMMIT: unknown outcome, idempotent retry (SPEC 5)',
    parts: [unknownOutcomes],
  },
  concurrency: { title: 'concurrency (SPEC 3.6)', parts: [concurrency, lateCommit, lateCommitPlainInserts] },
  isolation: {
    title: 'the guard under REPEATABLE READ and SERIALIZABLE session defaults (SPEC 3.6)',
    parts: [isolation],
  },
  'hand-made-filters': {
    title: 'hand-made filters checked like built ones (SPEC 3.2)',
    parts: [handMadeFilters],
  },
  'wide-events': { title: 'events with many payload fields (SPEC 3.6)', parts: [wideEvents] },
  'read-barrier': {
    title: 'strong reads release their barrier before reading (SPEC 3.6)',
    parts: [readBarrier],
  },
  cancellation: { title: 'cancellation (SPEC 3.7)', parts: [cancellation] },
  'json-and-time': { title: 'JSON and time (SPEC 3.8)', parts: [jsonAndTime] },
  routing: { title: 'routing (SPEC 4)', parts: [routing] },
  'replica-failure': { title: 'replica failure and misconfiguration (SPEC 4)', parts: [replicaFailure] },
  'replication-status': { title: 'replication status and close (SPEC 5)', parts: [replicationStatus] },
  'several-replicas': {
    title: 'several replicas: spread, circuit breaker, next-replica (SPEC 5)',
    parts: [severalReplicas],
  },
  'consistency-tokens': {
    title: 'read-your-writes and monotonic reads through consistency tokens (SPEC 5)',
    parts: [consistencyTokens],
  },
  snapshots: { title: 'snapshots: save, load, delete (SPEC 5)', parts: [snapshots] },
  'query-stream': { title: 'bounded-memory reads: queryStream (SPEC 5)', parts: [queryStream] },
};

/** Time allowed to start the cluster and open the adapter's handles. */
const START_TIMEOUT_MS = 180_000;
const STOP_TIMEOUT_MS = 60_000;

/**
 * Registers the conformance suite for one adapter: one `describe` per group, all sharing one primary +
 * replica cluster, started in `beforeAll` and always stopped in `afterAll`. Call it at the top level of a
 * vitest test file. Test files that call it must not run in parallel with other database test files
 * that pause or stop the same cluster (each call starts its own cluster, so separate calls are safe).
 */
export function runConformance<H>(options: ConformanceOptions<H>): void {
  for (const [group, reason] of Object.entries(options.skip ?? {})) {
    if (!(CONFORMANCE_GROUPS as readonly string[]).includes(group)) {
      throw new Error(
        `runConformance: unknown group '${group}' in skip; groups are ${CONFORMANCE_GROUPS.join(', ')}`,
      );
    }
    if (typeof reason !== 'string' || reason.trim() === '') {
      throw new Error(`runConformance: skipping group '${group}' needs a reason (a non-empty string)`);
    }
  }
  const suite = new ConformanceSuite(options);
  const skipped = (group: ConformanceGroup) => options.skip?.[group];
  const anyGroupRuns = CONFORMANCE_GROUPS.some((group) => skipped(group) === undefined);

  describe(`@es/conformance: ${options.name}`, () => {
    if (anyGroupRuns) {
      beforeAll(() => suite.start(), START_TIMEOUT_MS);
      afterAll(() => suite.stop(), STOP_TIMEOUT_MS);
    }
    for (const group of CONFORMANCE_GROUPS) {
      const { title, parts } = GROUPS[group];
      const reason = skipped(group);
      const test = testRegistrar(reason);
      describe(reason === undefined ? title : `${title} [skipped: ${reason}]`, () => {
        for (const register of parts) register(suite, test);
      });
    }
  });
}
