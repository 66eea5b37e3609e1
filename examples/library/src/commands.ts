import { setTimeout as sleep } from 'node:timers/promises';
import {
  buildEventFilter,
  type Context,
  type EventFilter,
  type EventStore,
  isEventStoreError,
  P,
  withStrongConsistency,
} from '@es/core';
import {
  BOOK_COPY_ADDED,
  BOOK_COPY_LENT,
  BOOK_COPY_REMOVED,
  BOOK_COPY_RETURNED,
  bookCopyAddedToCirculation,
  bookCopyLentToReader,
  bookCopyRemovedFromCirculation,
  bookCopyReturnedByReader,
  type LibraryEvent,
  toLibraryEvent,
  toStorableEvent,
} from './events.js';

/**
 * Command handlers. Each one reads its dynamic consistency boundary (the events its decision depends on)
 * with strong consistency, so from the primary; decides with the business rules; and appends with the
 * maximum sequence number it read. If another writer appended into the boundary in between, the append
 * throws a ConcurrencyConflictError and nothing is written: the handler reads again and decides again, a
 * bounded number of times.
 */

/** A reader may have at most this many copies at a time (small, so the demo reaches it). */
export const MAX_BOOKS_PER_READER = 2;

export interface CommandOptions {
  /** Carries a signal or timeout if you have one; the handler always makes it strongly consistent. */
  readonly ctx?: Context;
  /** Read-decide-append attempts before a conflict is given up on. Default 3. */
  readonly maxAttempts?: number;
  /** The clock for `occurredAt`. */
  readonly now?: () => Date;
}

export type CommandResult =
  | { readonly outcome: 'appended'; readonly sequenceNumbers: readonly bigint[]; readonly attempts: number }
  | { readonly outcome: 'unchanged' | 'refused'; readonly reason: string; readonly attempts: number };

type Decision =
  | { readonly kind: 'append'; readonly events: readonly [LibraryEvent, ...LibraryEvent[]] }
  | { readonly kind: 'unchanged' | 'refused'; readonly reason: string };

const append = (...events: [LibraryEvent, ...LibraryEvent[]]): Decision => ({ kind: 'append', events });
const unchanged = (reason: string): Decision => ({ kind: 'unchanged', reason });
const refused = (reason: string): Decision => ({ kind: 'refused', reason });

export function addBookCopy(
  store: EventStore,
  command: { bookId: string; title: string },
  options?: CommandOptions,
): Promise<CommandResult> {
  const { bookId, title } = command;
  const boundary = buildEventFilter()
    .matching()
    .anyEventTypeOf(BOOK_COPY_ADDED, BOOK_COPY_REMOVED)
    .andAllPredicatesOf(P('BookID', bookId))
    .finalize();
  return handle(store, boundary, options, (history) =>
    copyState(bookId, history).inCirculation
      ? unchanged(`${bookId} is already in circulation`)
      : append(bookCopyAddedToCirculation(bookId, title)),
  );
}

export function removeBookCopy(
  store: EventStore,
  command: { bookId: string },
  options?: CommandOptions,
): Promise<CommandResult> {
  const { bookId } = command;
  return handle(store, copyBoundary(bookId), options, (history) => {
    const copy = copyState(bookId, history);
    if (!copy.inCirculation) return unchanged(`${bookId} is not in circulation`);
    if (copy.lentTo !== undefined)
      return refused(`${bookId} is lent to ${copy.lentTo}; it must come back first`);
    return append(bookCopyRemovedFromCirculation(bookId));
  });
}

export function lendBookCopyToReader(
  store: EventStore,
  command: { bookId: string; readerId: string },
  options?: CommandOptions,
): Promise<CommandResult> {
  const { bookId, readerId } = command;
  // Two rules, so two parts of the boundary: everything about the copy, and the reader's loans.
  const boundary = buildEventFilter()
    .matching()
    .anyEventTypeOf(BOOK_COPY_ADDED, BOOK_COPY_REMOVED, BOOK_COPY_LENT, BOOK_COPY_RETURNED)
    .andAllPredicatesOf(P('BookID', bookId))
    .orMatching()
    .anyEventTypeOf(BOOK_COPY_LENT, BOOK_COPY_RETURNED)
    .andAllPredicatesOf(P('ReaderID', readerId))
    .finalize();
  return handle(store, boundary, options, (history) => {
    const copy = copyState(bookId, history);
    if (!copy.inCirculation) return refused(`${bookId} is not in circulation`);
    if (copy.lentTo === readerId) return unchanged(`${bookId} is already lent to ${readerId}`);
    if (copy.lentTo !== undefined) return refused(`${bookId} is already lent to ${copy.lentTo}`);
    const loans = booksLentTo(readerId, history).size;
    if (loans >= MAX_BOOKS_PER_READER) return refused(`${readerId} already has ${loans} books (the limit)`);
    return append(bookCopyLentToReader(bookId, readerId));
  });
}

export function returnBookCopyFromReader(
  store: EventStore,
  command: { bookId: string; readerId: string },
  options?: CommandOptions,
): Promise<CommandResult> {
  const { bookId, readerId } = command;
  return handle(store, copyBoundary(bookId), options, (history) => {
    const copy = copyState(bookId, history);
    if (copy.lentTo !== readerId) return refused(`${bookId} is not lent to ${readerId}`);
    return append(bookCopyReturnedByReader(bookId, readerId));
  });
}

/** Every event about one copy. */
function copyBoundary(bookId: string): EventFilter {
  return buildEventFilter()
    .matching()
    .anyEventTypeOf(BOOK_COPY_ADDED, BOOK_COPY_REMOVED, BOOK_COPY_LENT, BOOK_COPY_RETURNED)
    .andAllPredicatesOf(P('BookID', bookId))
    .finalize();
}

/** Read (strong), decide, append with the max read; on a conflict read and decide again. */
async function handle(
  store: EventStore,
  boundary: EventFilter,
  options: CommandOptions | undefined,
  decide: (history: readonly LibraryEvent[]) => Decision,
): Promise<CommandResult> {
  const ctx = withStrongConsistency(options?.ctx);
  const maxAttempts = options?.maxAttempts ?? 3;
  const now = options?.now ?? (() => new Date());
  for (let attempt = 1; ; attempt++) {
    const { events, maxSequenceNumber } = await store.query(ctx, boundary);
    const decision = decide(events.map(toLibraryEvent));
    if (decision.kind !== 'append') {
      return { outcome: decision.kind, reason: decision.reason, attempts: attempt };
    }
    const occurredAt = now();
    try {
      const { sequenceNumbers } = await store.append(
        ctx,
        boundary,
        maxSequenceNumber,
        ...decision.events.map((event) => toStorableEvent(event, occurredAt)),
      );
      return { outcome: 'appended', sequenceNumbers, attempts: attempt };
    } catch (error) {
      if (!isEventStoreError(error, 'CONCURRENCY_CONFLICT') || attempt >= maxAttempts) throw error;
      await sleep(Math.random() * 10 * attempt); // a little jitter, so that competing writers spread out
    }
  }
}

interface CopyState {
  readonly inCirculation: boolean;
  readonly lentTo: string | undefined;
}

function copyState(bookId: string, history: readonly LibraryEvent[]): CopyState {
  let state: CopyState = { inCirculation: false, lentTo: undefined };
  for (const event of history) {
    if (event.payload.BookID !== bookId) continue;
    switch (event.type) {
      case BOOK_COPY_ADDED:
        state = { inCirculation: true, lentTo: undefined };
        break;
      case BOOK_COPY_REMOVED:
        state = { inCirculation: false, lentTo: undefined };
        break;
      case BOOK_COPY_LENT:
        state = { ...state, lentTo: event.payload.ReaderID };
        break;
      case BOOK_COPY_RETURNED:
        state = { ...state, lentTo: undefined };
        break;
    }
  }
  return state;
}

function booksLentTo(readerId: string, history: readonly LibraryEvent[]): Set<string> {
  const books = new Set<string>();
  for (const event of history) {
    if (event.type !== BOOK_COPY_LENT && event.type !== BOOK_COPY_RETURNED) continue;
    if (event.payload.ReaderID !== readerId) continue;
    if (event.type === BOOK_COPY_LENT) books.add(event.payload.BookID);
    else books.delete(event.payload.BookID);
  }
  return books;
}
