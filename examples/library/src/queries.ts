import { buildEventFilter, type Context, type EventStore, withEventualConsistency } from '@es/core';
import {
  BOOK_COPY_ADDED,
  BOOK_COPY_LENT,
  BOOK_COPY_REMOVED,
  BOOK_COPY_RETURNED,
  toLibraryEvent,
} from './events.js';

/**
 * The query handler. It only reads, so it asks for eventual consistency and may be served by the replica:
 * the answer can be a few milliseconds behind the primary, which a list on a screen can live with.
 * (A command handler must never decide on such a read; see commands.ts.)
 */

export interface BookCopyView {
  readonly bookId: string;
  readonly title: string;
  /** The reader who has the copy, or `undefined` when it is on the shelf. */
  readonly lentTo: string | undefined;
}

export interface BooksInCirculation {
  readonly copies: readonly BookCopyView[];
  /** The last event the answer includes (`0n`: none); a stale answer shows a lower number. */
  readonly asOf: bigint;
}

const allLibraryEvents = buildEventFilter()
  .matching()
  .anyEventTypeOf(BOOK_COPY_ADDED, BOOK_COPY_REMOVED, BOOK_COPY_LENT, BOOK_COPY_RETURNED)
  .finalize();

/**
 * The copies in circulation, sorted by id, with whether and to whom each is lent. Eventual consistency by
 * default; pass `withStrongConsistency()` only where you must read your own latest writes.
 */
export async function booksInCirculation(
  store: EventStore,
  ctx: Context = withEventualConsistency(),
): Promise<BooksInCirculation> {
  const { events, maxSequenceNumber } = await store.query(ctx, allLibraryEvents);
  const copies = new Map<string, BookCopyView>();
  for (const event of events.map(toLibraryEvent)) {
    const { BookID } = event.payload;
    const copy = copies.get(BookID);
    switch (event.type) {
      case BOOK_COPY_ADDED:
        copies.set(BookID, { bookId: BookID, title: event.payload.Title, lentTo: undefined });
        break;
      case BOOK_COPY_REMOVED:
        copies.delete(BookID);
        break;
      case BOOK_COPY_LENT:
        if (copy) copies.set(BookID, { ...copy, lentTo: event.payload.ReaderID });
        break;
      case BOOK_COPY_RETURNED:
        if (copy) copies.set(BookID, { ...copy, lentTo: undefined });
        break;
    }
  }
  const sorted = [...copies.values()].sort((a, b) =>
    a.bookId < b.bookId ? -1 : a.bookId > b.bookId ? 1 : 0,
  );
  return { copies: sorted, asOf: maxSequenceNumber };
}
