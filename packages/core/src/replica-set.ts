import type { Driver } from './driver.js';
import { InvalidConfigurationError } from './errors.js';

/**
 * The drivers of a `fromXAndReplicas` factory's `replicas` argument (an array, empty for none), each handle
 * mapped by the adapter's `toDriver`; `createEventStore` refuses a missing one.
 */
export function replicaDrivers<H>(
  replicas: readonly H[],
  toDriver: (handle: H) => Driver | undefined,
): (Driver | undefined)[] {
  if (!Array.isArray(replicas)) {
    throw new InvalidConfigurationError('replicas must be an array of driver handles (empty for none)');
  }
  return replicas.map(toDriver);
}

/** The state of a replica's circuit breaker, as `store.replicationStatus()` reports it. */
export type CircuitState = 'closed' | 'open' | 'half-open';

/** One replica of a store: its name (in reports and errors), its driver and its circuit. */
export interface Replica {
  readonly name: string;
  readonly driver: Driver;
  readonly circuit: CircuitState;
}

interface Member extends Replica {
  circuit: CircuitState;
  /** Local time (`performance.now()`) up to which the replica is known to hold all the primary committed. */
  knownUpTo: number | undefined;
}

/**
 * The replicas of a store and their health. Eventual reads spread over the replicas whose circuit is
 * closed, round-robin. A replica that fails with a connection-class error or does not answer in time is
 * opened (`open`): reads skip it, and a probe every `probeIntervalMs` asks it whether it answers again
 * (`half-open` while the probe runs); the first probe that succeeds closes it. The probe timer runs only
 * while a circuit is open, is unref'd, and `close()` stops it for good (circuits then stay closed).
 */
export class ReplicaSet {
  readonly #members: Member[];
  readonly #probe: (replica: Replica) => Promise<boolean>;
  readonly #probeIntervalMs: number;
  readonly #onChange: (replica: Replica, circuit: CircuitState) => void;
  #next = 0;
  #timer: ReturnType<typeof setInterval> | undefined;
  #closed = false;

  constructor(
    drivers: readonly Driver[],
    names: readonly string[] | undefined,
    probe: (replica: Replica) => Promise<boolean>,
    probeIntervalMs: number,
    onChange: (replica: Replica, circuit: CircuitState) => void = () => {},
  ) {
    const given = names ?? drivers.map((_, index) => `replica-${index + 1}`);
    if (
      given.length !== drivers.length ||
      given.some((name) => typeof name !== 'string' || !/^[\w.-]{1,64}$/.test(name)) ||
      new Set(given).size !== given.length
    ) {
      throw new InvalidConfigurationError(
        `replicaNames must name each of the ${drivers.length} replicas once: distinct names of 1 to 64 letters, digits, '_', '-' or '.'`,
      );
    }
    this.#members = drivers.map((driver, index) => ({
      name: given[index] as string,
      driver,
      circuit: 'closed',
      knownUpTo: undefined,
    }));
    this.#probe = probe;
    this.#probeIntervalMs = probeIntervalMs;
    this.#onChange = onChange;
  }

  /** Every replica, in configuration order. */
  get all(): readonly Replica[] {
    return this.#members;
  }

  /** The replicas one read may try, in order: those with a closed circuit, starting at the next in turn. */
  candidates(): Replica[] {
    const closed = this.#members.filter((member) => member.circuit === 'closed');
    if (closed.length === 0) return [];
    const start = this.#next++ % closed.length;
    return [...closed.slice(start), ...closed.slice(0, start)];
  }

  /**
   * Records that `replica` holds everything the primary had committed by local time `upTo`
   * (`performance.now()`). A replica's state only moves forward: an older observation changes nothing.
   */
  observed(replica: Replica, upTo: number): void {
    const member = this.#members.find((candidate) => candidate === replica);
    if (member && !(upTo <= (member.knownUpTo ?? Number.NEGATIVE_INFINITY))) member.knownUpTo = upTo;
  }

  /** At most how far behind the primary `replica` is now, in ms, by the last observation (Infinity without one). */
  lagBound(replica: Replica, now = performance.now()): number {
    const upTo = this.#members.find((candidate) => candidate === replica)?.knownUpTo;
    return upTo === undefined ? Number.POSITIVE_INFINITY : Math.max(0, now - upTo);
  }

  /** `replica` failed as a server (connection lost or refused, no answer in time): opens its circuit. */
  failed(replica: Replica): void {
    const member = this.#members.find((candidate) => candidate === replica);
    if (!member || this.#closed) return;
    if (member.circuit !== 'open') this.#onChange(member, 'open');
    member.circuit = 'open';
    this.#timer ??= setInterval(() => void this.#probeOpen(), this.#probeIntervalMs);
    this.#timer.unref?.();
  }

  /** Stops the probe timer for good; every circuit is closed again. Idempotent. */
  close(): void {
    this.#closed = true;
    this.#stopTimer();
    for (const member of this.#members) member.circuit = 'closed';
  }

  async #probeOpen(): Promise<void> {
    for (const member of this.#members.filter((candidate) => candidate.circuit === 'open')) {
      member.circuit = 'half-open';
      const answers = await this.#probe(member).catch(() => false);
      if (this.#closed) return;
      member.circuit = answers ? 'closed' : 'open';
      if (answers) this.#onChange(member, 'closed');
    }
    if (!this.#members.some((member) => member.circuit !== 'closed')) this.#stopTimer();
  }

  #stopTimer(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
