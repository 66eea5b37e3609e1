import { type ConsistencyToken, decodeToken, tableTag } from './consistency-token.js';
import type { Context } from './context.js';
import type { Driver, Row, Statement } from './driver.js';
import { InvalidArgumentError, InvalidConfigurationError } from './errors.js';
import type { StoreOptions } from './event-store.js';
import { LagMonitor } from './lag-monitor.js';
import type { StoreLog } from './logger.js';
import { type Replica, ReplicaSet } from './replica-set.js';
import { lsnPosition, PRIMARY_LSN_STATEMENT, REPLICA_STATE_STATEMENT } from './replication-status.js';
import { tokenReachedStatement } from './statements.js';
import type { TableNames } from './table-name.js';

/** The first row of a statement on a replica (the primary when undefined); undefined when it fails. */
export type FirstRow = (replica: Replica | undefined, statement: Statement) => Promise<Row | undefined>;

/** Why an eventual read found no replica fresh enough. */
export type StaleReason = { readonly maxLagMs: number } | { readonly tokenWaitMs: number };

/** How often a replica whose circuit is open is asked whether it answers again. */
const PROBE_INTERVAL_MS = 500;
/** How often the lag of each replica is measured, once a read needs it. */
const LAG_INTERVAL_MS = 200;
/** How often, at most, eventual reads on a replica that answers as a standby ask whether it still is one. */
export const RECOVERY_CHECK_MS = 1_000;

/** How often replicas are asked whether they reached a read's token. */
const TOKEN_POLL_MS = 10;
/** The default of `StoreOptions.tokenWaitMs`. */
const DEFAULT_TOKEN_WAIT_MS = 1_000;

/**
 * Which replicas an eventual read may use, in order: the healthy ones (`ReplicaSet`), in turn or by least
 * lag, within the read's staleness bound (lag measured by a `LagMonitor`), and, for a read given a
 * consistency token, that have reached it.
 */
export class ReplicaRouter {
  readonly set: ReplicaSet;
  readonly onStaleRead: 'primary' | 'error';
  readonly #names: TableNames;
  readonly #firstRow: FirstRow;
  readonly #lag: LagMonitor;
  readonly #maxReplicaLagMs: number | undefined;
  readonly #leastLag: boolean;
  readonly #tokenWaitMs: number;
  readonly #log: StoreLog;
  readonly #notStandby = new Set<Replica>();
  readonly #recoveryCheckedAt = new Map<Replica, number>();

  constructor(
    drivers: readonly Driver[],
    options: StoreOptions,
    names: TableNames,
    firstRow: FirstRow,
    log: StoreLog,
  ) {
    const {
      maxReplicaLagMs,
      onStaleRead = 'primary',
      replicaSelection = 'round-robin',
      tokenWaitMs,
    } = options;
    if (
      maxReplicaLagMs !== undefined &&
      (typeof maxReplicaLagMs !== 'number' || !Number.isFinite(maxReplicaLagMs) || maxReplicaLagMs < 0)
    ) {
      throw new InvalidConfigurationError('maxReplicaLagMs must be a finite number of ms, 0 or more');
    }
    if (onStaleRead !== 'primary' && onStaleRead !== 'error') {
      throw new InvalidConfigurationError("onStaleRead must be 'primary' or 'error'");
    }
    if (replicaSelection !== 'round-robin' && replicaSelection !== 'least-lag') {
      throw new InvalidConfigurationError("replicaSelection must be 'round-robin' or 'least-lag'");
    }
    if (
      tokenWaitMs !== undefined &&
      (!Number.isSafeInteger(tokenWaitMs) || tokenWaitMs < 0 || tokenWaitMs > 2 ** 30)
    ) {
      throw new InvalidConfigurationError(
        'tokenWaitMs must be a whole number of milliseconds from 0 to 2^30',
      );
    }
    this.#names = names;
    this.#firstRow = firstRow;
    this.#maxReplicaLagMs = maxReplicaLagMs;
    this.#leastLag = replicaSelection === 'least-lag';
    this.#tokenWaitMs = tokenWaitMs ?? DEFAULT_TOKEN_WAIT_MS;
    this.onStaleRead = onStaleRead;
    this.#log = log;
    this.set = new ReplicaSet(
      drivers,
      options.replicaNames,
      (replica) =>
        firstRow(replica, REPLICA_STATE_STATEMENT).then((row) => {
          this.#answered(replica, row);
          return row !== undefined;
        }),
      PROBE_INTERVAL_MS,
      (replica, circuit) =>
        circuit === 'open'
          ? log.warn('replica circuit opened: eventual reads skip it until a probe finds it answering', {
              replica: replica.name,
            })
          : log.info('replica circuit closed: it answers again', { replica: replica.name }),
    );
    this.#lag = new LagMonitor(() => this.#measureLag(), LAG_INTERVAL_MS);
  }

  /**
   * The replicas an eventual read in `ctx` may try, in order, or why none is fresh enough. Empty when every
   * circuit is open. A token that names an event of another table is refused (`InvalidArgumentError`).
   */
  async route(ctx: Context | undefined): Promise<Replica[] | { stale: StaleReason }> {
    const token = ctx?.token === undefined ? undefined : this.#tokenFor(ctx.token);
    const maxLagMs = ctx?.maxLagMs ?? this.#maxReplicaLagMs;
    const fresh =
      maxLagMs === undefined && !this.#leastLag ? this.set.candidates() : await this.#fresh(maxLagMs);
    if (fresh === 'stale') return { stale: { maxLagMs: maxLagMs as number } };
    if (!token || fresh.length === 0) return fresh;
    const reached = await this.#reaching(fresh, token);
    return reached.length > 0 ? reached : { stale: { tokenWaitMs: this.#tokenWaitMs } };
  }

  /**
   * Resolves once every replica has replayed the primary's current WAL position, or at `deadline`; a replica
   * that does not answer or is no standby is not waited for: the reads that reach it report it.
   */
  async caughtUp(deadline: number): Promise<void> {
    const lsn = (await this.#firstRow(undefined, PRIMARY_LSN_STATEMENT))?.lsn;
    if (!lsn) return;
    const caughtUp = async (replica: Replica) => {
      while (Date.now() < deadline) {
        const state = await this.#firstRow(replica, REPLICA_STATE_STATEMENT);
        if (!this.#answered(replica, state) || !state?.replay_lsn) return;
        if (lsnPosition(state.replay_lsn) >= lsnPosition(lsn)) return;
        await pause(TOKEN_POLL_MS);
      }
    };
    await Promise.all(this.set.all.map(caughtUp));
  }

  /**
   * Whether `replica` answered with its state as a standby. One that answers but is not in recovery is a
   * primary (a misconfiguration, or a promotion): warned about once, and not used to judge lag.
   */
  #answered(replica: Replica, state: Row | undefined): boolean {
    if (state?.in_recovery === 'false') this.#sawPrimary(replica);
    return state !== undefined && state.in_recovery === 'true';
  }

  /**
   * Whether an eventual read on `replica` asks the server whether it is in recovery, with its rows: every
   * read while the replica was last seen as a primary, else at most once per {@link RECOVERY_CHECK_MS}.
   */
  recoveryCheckDue(replica: Replica): boolean {
    const checkedAt = this.#recoveryCheckedAt.get(replica);
    return (
      this.#notStandby.has(replica) ||
      checkedAt === undefined ||
      performance.now() - checkedAt >= RECOVERY_CHECK_MS
    );
  }

  /** What a read that asked saw: `replica` is a standby (`inRecovery`) or, misconfigured, a primary. */
  sawRecovery(replica: Replica, inRecovery: boolean): void {
    this.#recoveryCheckedAt.set(replica, performance.now());
    if (!inRecovery) this.#sawPrimary(replica);
    else this.#notStandby.delete(replica);
  }

  /**
   * Notes that `replica` answered as a primary (not in recovery): a misconfiguration, or a promotion. It is
   * warned about once each time it is seen to become one.
   */
  #sawPrimary(replica: Replica): void {
    if (!this.#notStandby.has(replica)) {
      this.#notStandby.add(replica);
      this.#log.warn(
        'a replica is not in recovery: it is a primary, and eventual reads it serves bypass replication; check the configuration',
        { replica: replica.name },
      );
    }
  }

  /** Stops the probe and the lag measurement for good. */
  close(): void {
    this.set.close();
    this.#lag.close();
  }

  /**
   * The healthy replicas in turn (or by least lag), within `maxLagMs` when given; `'stale'` when some are
   * healthy but none is known to be fresh enough, even after a measurement made for this read.
   */
  async #fresh(maxLagMs: number | undefined): Promise<Replica[] | 'stale'> {
    this.#lag.start();
    const ordered = () => {
      const now = performance.now();
      const list = this.set.candidates();
      if (this.#leastLag) list.sort((a, b) => this.set.lagBound(a, now) - this.set.lagBound(b, now));
      return maxLagMs === undefined
        ? list
        : list.filter((replica) => this.set.lagBound(replica, now) <= maxLagMs);
    };
    let list = ordered();
    if (list.length === 0 && maxLagMs !== undefined && this.set.candidates().length > 0) {
      await this.#lag.refresh();
      list = ordered();
      if (list.length === 0 && this.set.candidates().length > 0) return 'stale';
    }
    return list;
  }

  /** `text` decoded, refused when it names an event of another table (its position means nothing here). */
  #tokenFor(text: string): ConsistencyToken {
    const token = decodeToken(text, 'query');
    if (token.event && token.event.tableTag !== tableTag(this.#names.table)) {
      throw new InvalidArgumentError(
        `query: the consistency token was issued for another table than ${this.#names.table}`,
      );
    }
    return token;
  }

  /** The replicas among `candidates` that have reached `token`, asking them until `tokenWaitMs` has passed. */
  async #reaching(candidates: readonly Replica[], token: ConsistencyToken): Promise<Replica[]> {
    const statement = tokenReachedStatement(this.#names, token.lsn, token.event?.position);
    const deadline = performance.now() + this.#tokenWaitMs;
    for (;;) {
      const reached = await Promise.all(
        candidates.map((replica) =>
          this.#firstRow(replica, statement).then((row) => row?.reached === 'true'),
        ),
      );
      const ready = candidates.filter((_, index) => reached[index]);
      if (ready.length > 0 || performance.now() >= deadline) return ready;
      await pause(TOKEN_POLL_MS);
    }
  }

  /**
   * One lag measurement: the primary's WAL position, then each healthy replica's. A replica that has
   * replayed it holds everything committed when it was asked; one behind holds everything up to its last
   * replayed commit (its age on the replica). A replica that does not answer is left as known.
   */
  async #measureLag(): Promise<void> {
    const sent = performance.now();
    const lsn = (await this.#firstRow(undefined, PRIMARY_LSN_STATEMENT))?.lsn;
    if (!lsn) return;
    const closed = this.set.all.filter((replica) => replica.circuit === 'closed');
    await Promise.all(
      closed.map(async (replica) => {
        const asked = performance.now();
        const state = await this.#firstRow(replica, REPLICA_STATE_STATEMENT);
        if (!this.#answered(replica, state) || !state?.replay_lsn) return;
        if (lsnPosition(state.replay_lsn) >= lsnPosition(lsn)) this.set.observed(replica, sent);
        else if (state.replay_age_ms != null) this.set.observed(replica, asked - Number(state.replay_age_ms));
      }),
    );
  }
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
