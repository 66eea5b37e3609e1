import {
  buildEventFilter,
  buildStorableEvent,
  type EventStore,
  type JsonObject,
  type StorableEvent,
  type StoredEvent,
} from '@es/core';

/**
 * The library domain of SPEC §3: two books, two readers, nine events. Index `n` (1-based) is the n-th
 * event appended; event `n` occurred at `libraryTime(n)`, one hour after event `n - 1`.
 */

export const ADDED = 'BookCopyAddedToCirculation';
export const REMOVED = 'BookCopyRemovedFromCirculation';
export const LENT = 'BookCopyLentToReader';
export const RETURNED = 'BookCopyReturnedByReader';
export const LIBRARY_TYPES = [ADDED, REMOVED, LENT, RETURNED] as const;

export const BOOK_1 = 'book-1-0f3a';
export const BOOK_2 = 'book-2-7c1e';
export const READER_1 = 'reader-1-a9d2';
export const READER_2 = 'reader-2-5b60';

const BASE_TIME = Date.UTC(2024, 2, 1, 10, 0, 0, 0);
const HOUR_MS = 3_600_000;

/** When library event `n` (1-based) occurred. */
export function libraryTime(n: number): Date {
  return new Date(BASE_TIME + n * HOUR_MS);
}

/** One of the nine events, before it is stored. */
export interface LibraryEvent {
  /** 1-based: the order of appending. */
  readonly index: number;
  readonly type: string;
  readonly payload: JsonObject;
  readonly occurredAt: Date;
}

const copy = (bookId: string) => ({ BookID: bookId });
const loan = (bookId: string, readerId: string) => ({ BookID: bookId, ReaderID: readerId });

const DEFINITIONS: readonly [string, JsonObject][] = [
  [ADDED, copy(BOOK_1)], // 1
  [ADDED, copy(BOOK_2)], // 2
  [LENT, loan(BOOK_1, READER_1)], // 3
  [LENT, loan(BOOK_2, READER_2)], // 4
  [RETURNED, loan(BOOK_1, READER_1)], // 5
  [LENT, loan(BOOK_1, READER_2)], // 6
  [RETURNED, loan(BOOK_2, READER_2)], // 7
  [REMOVED, copy(BOOK_2)], // 8
  [RETURNED, loan(BOOK_1, READER_2)], // 9
];

/** The nine events in append order. */
export const LIBRARY_EVENTS: readonly LibraryEvent[] = DEFINITIONS.map(([type, payload], offset) => ({
  index: offset + 1,
  type,
  payload,
  occurredAt: libraryTime(offset + 1),
}));

/** The nine events as storable events (metadata names the fixture index). */
export function libraryStorableEvents(): StorableEvent[] {
  return LIBRARY_EVENTS.map((event) =>
    buildStorableEvent({
      type: event.type,
      occurredAt: event.occurredAt,
      payload: event.payload,
      metadata: { fixture: event.index },
    }),
  );
}

/**
 * Appends the nine events in one call on an empty table (filter: every event, expected 0) and returns
 * their positions: `positions[n - 1]` is the position of event `n`.
 */
export async function appendLibrary(store: EventStore): Promise<readonly bigint[]> {
  const { sequenceNumbers } = await store.append(
    undefined,
    buildEventFilter().matchingAnyEvent(),
    0n,
    ...libraryStorableEvents(),
  );
  if (sequenceNumbers.length !== LIBRARY_EVENTS.length) {
    throw new Error(`appending the library fixture returned ${sequenceNumbers.length} positions, expected 9`);
  }
  return sequenceNumbers;
}

/** A storable event of the library domain, for tests that need a few ad-hoc ones. */
export function bookEvent(
  type: string,
  payload: JsonObject,
  occurredAt: Date = new Date(Date.UTC(2024, 5, 1, 12)),
): StorableEvent {
  return buildStorableEvent({ type, occurredAt, payload });
}

/** Maps stored events back to fixture indices (1-based), given the positions `appendLibrary` returned; 0 for a stranger. */
export function fixtureIndices(
  positions: readonly bigint[],
  events: readonly { readonly sequenceNumber: bigint }[],
): number[] {
  return events.map((event) => positions.indexOf(event.sequenceNumber) + 1);
}

/** Every event of a stream, in order. */
export async function collect(events: AsyncIterable<StoredEvent>): Promise<StoredEvent[]> {
  const collected: StoredEvent[] = [];
  for await (const event of events) collected.push(event);
  return collected;
}
