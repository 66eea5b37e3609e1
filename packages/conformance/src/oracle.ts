import {
  buildEventFilter,
  buildStorableEvent,
  type EmptyFilterItemBuilder,
  type EventFilter,
  type JsonObject,
  matchesFilter,
  P,
  type Predicate,
  type StorableEvent,
} from '@es/core';
import { LIBRARY_TYPES } from './fixtures.js';
import type { RawEvent } from './raw-database.js';

/**
 * The concurrency oracle of SPEC §3.6: a random workload of read-decide-append cycles on heavily
 * overlapping boundaries, and the check every successful append must pass.
 */

/** A small, seedable PRNG (mulberry32), so that a failing run can be replayed with its seed. */
export function createRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Random choices over the small universe the workload draws from. */
export class Workload {
  readonly #random: () => number;

  constructor(random: () => number) {
    this.#random = random;
  }

  #pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.#random() * items.length)] as T;
  }

  #some<T>(items: readonly T[], max: number): [T, ...T[]] {
    const count = 1 + Math.floor(this.#random() * max);
    return [this.#pick(items), ...Array.from({ length: count - 1 }, () => this.#pick(items))];
  }

  #predicate(): Predicate {
    const roll = this.#random();
    if (roll < 0.5) return P('BookID', this.#pick(['b1', 'b2', 'b3']));
    if (roll < 0.85) return P('ReaderID', this.#pick(['r1', 'r2']));
    return P('Copies', this.#pick([1, 2]));
  }

  /** An event: a random library type, a book, maybe a reader, maybe a copy count. */
  event(occurredAt: Date): StorableEvent {
    const payload: Record<string, string | number> = { BookID: this.#pick(['b1', 'b2', 'b3']) };
    if (this.#random() < 0.6) payload.ReaderID = this.#pick(['r1', 'r2']);
    if (this.#random() < 0.3) payload.Copies = this.#pick([1, 2]);
    return buildStorableEvent({ type: this.#pick(LIBRARY_TYPES), occurredAt, payload });
  }

  /** One to three items of types only, predicates only (AND or OR), or both; rarely every event. */
  filter(): EventFilter {
    if (this.#random() < 0.03) return buildEventFilter().matchingAnyEvent();
    const roll = this.#random();
    const items = roll < 0.75 ? 1 : roll < 0.95 ? 2 : 3;
    let builder = buildEventFilter().matching();
    for (let index = 0; ; index++) {
      const item = this.#item(builder);
      if (index === items - 1) return item.finalize();
      builder = item.orMatching();
    }
  }

  #item(builder: EmptyFilterItemBuilder) {
    const kind = this.#random();
    const all = this.#random() < 0.5;
    if (kind < 0.3) return builder.anyEventTypeOf(...this.#some(LIBRARY_TYPES, 2));
    if (kind < 0.6) {
      const predicates = this.#some([this.#predicate(), this.#predicate()], 2);
      return all ? builder.allPredicatesOf(...predicates) : builder.anyPredicateOf(...predicates);
    }
    const typed = builder.anyEventTypeOf(...this.#some(LIBRARY_TYPES, 2));
    const predicates: [Predicate, ...Predicate[]] =
      this.#random() < 0.5 ? [this.#predicate()] : [this.#predicate(), this.#predicate()];
    return all ? typed.andAllPredicatesOf(...predicates) : typed.andAnyPredicateOf(...predicates);
  }

  /** One event (80 %) or two. */
  events(occurredAt: Date): StorableEvent[] {
    return this.#random() < 0.8 ? [this.event(occurredAt)] : [this.event(occurredAt), this.event(occurredAt)];
  }
}

/** A successful append, as the worker saw it. */
export interface RecordedAppend {
  readonly filter: EventFilter;
  /** The max the decision read, passed as expected. */
  readonly expected: bigint;
  /** The positions the decision read. */
  readonly read: readonly bigint[];
  readonly positions: readonly bigint[];
  readonly events: readonly StorableEvent[];
}

/**
 * Checks every recorded append against the events finally stored:
 * - the largest position of an event matching its filter, below its first new position, equals the
 *   expected max (the SPEC's oracle);
 * - stronger, the events matching its filter below its first new position are exactly those its decision
 *   read (no event that was still uncommitted during the read slipped in below: the late-commit case);
 * - its events are stored at the returned positions, as given.
 * Returns one line per violation.
 */
export function oracleViolations(appends: readonly RecordedAppend[], stored: readonly RawEvent[]): string[] {
  const byPosition = new Map(stored.map((event) => [event.sequenceNumber, event]));
  const violations: string[] = [];
  for (const append of appends) {
    const first = append.positions[0];
    if (first === undefined) continue;
    const below = stored.filter(
      (event) => event.sequenceNumber < first && matchesFilter(append.filter, event),
    );
    const max = below.at(-1)?.sequenceNumber ?? 0n;
    const label = `append at [${append.positions.join(', ')}] with expected ${append.expected}`;
    if (max !== append.expected) {
      violations.push(`${label}: the largest matching position below it is ${max}`);
    }
    const missed = below
      .filter((event) => !append.read.includes(event.sequenceNumber))
      .map((event) => event.sequenceNumber);
    if (missed.length > 0) {
      violations.push(
        `${label}: its decision did not see matching events [${missed.join(', ')}] positioned below it`,
      );
    }
    append.positions.forEach((position, index) => {
      const event = byPosition.get(position);
      const given = append.events[index];
      if (!event || !given || event.type !== given.type || !sameJson(event.payload, given.payload)) {
        violations.push(`${label}: position ${position} does not hold event #${index + 1} of the append`);
      }
    });
  }
  return violations;
}

function sameJson(a: JsonObject, b: JsonObject): boolean {
  const canonical = (value: unknown): string =>
    JSON.stringify(value, (_key, inner: unknown) =>
      inner && typeof inner === 'object' && !Array.isArray(inner)
        ? Object.fromEntries(Object.entries(inner).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)))
        : inner,
    );
  return canonical(a) === canonical(b);
}
