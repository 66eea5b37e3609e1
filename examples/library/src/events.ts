import { buildStorableEvent, type StorableEvent, type StoredEvent } from '@es/core';

/**
 * The library's events. Payload keys are PascalCase (`BookID`, `ReaderID`) because the filters of the
 * command and query handlers match on them: `P('BookID', 'copy-1')` means `payload @> {"BookID": "copy-1"}`.
 */

export const BOOK_COPY_ADDED = 'BookCopyAddedToCirculation';
export const BOOK_COPY_REMOVED = 'BookCopyRemovedFromCirculation';
export const BOOK_COPY_LENT = 'BookCopyLentToReader';
export const BOOK_COPY_RETURNED = 'BookCopyReturnedByReader';

export interface BookCopyAddedToCirculation {
  readonly type: typeof BOOK_COPY_ADDED;
  readonly payload: { readonly BookID: string; readonly Title: string };
}

export interface BookCopyRemovedFromCirculation {
  readonly type: typeof BOOK_COPY_REMOVED;
  readonly payload: { readonly BookID: string };
}

export interface BookCopyLentToReader {
  readonly type: typeof BOOK_COPY_LENT;
  readonly payload: { readonly BookID: string; readonly ReaderID: string };
}

export interface BookCopyReturnedByReader {
  readonly type: typeof BOOK_COPY_RETURNED;
  readonly payload: { readonly BookID: string; readonly ReaderID: string };
}

export type LibraryEvent =
  | BookCopyAddedToCirculation
  | BookCopyRemovedFromCirculation
  | BookCopyLentToReader
  | BookCopyReturnedByReader;

export type LibraryEventType = LibraryEvent['type'];

export const bookCopyAddedToCirculation = (BookID: string, Title: string): BookCopyAddedToCirculation => ({
  type: BOOK_COPY_ADDED,
  payload: { BookID, Title },
});

export const bookCopyRemovedFromCirculation = (BookID: string): BookCopyRemovedFromCirculation => ({
  type: BOOK_COPY_REMOVED,
  payload: { BookID },
});

export const bookCopyLentToReader = (BookID: string, ReaderID: string): BookCopyLentToReader => ({
  type: BOOK_COPY_LENT,
  payload: { BookID, ReaderID },
});

export const bookCopyReturnedByReader = (BookID: string, ReaderID: string): BookCopyReturnedByReader => ({
  type: BOOK_COPY_RETURNED,
  payload: { BookID, ReaderID },
});

/** Turns a domain event into what `store.append` takes (validated by the library). */
export function toStorableEvent(event: LibraryEvent, occurredAt: Date): StorableEvent {
  return buildStorableEvent({ type: event.type, occurredAt, payload: event.payload });
}

/** Reads a stored event back as a domain event; throws on a type or payload this app does not know. */
export function toLibraryEvent(stored: StoredEvent): LibraryEvent {
  const text = (key: string): string => {
    const value = stored.payload[key];
    if (typeof value !== 'string') {
      throw new Error(`event #${stored.sequenceNumber} (${stored.type}): payload key ${key} is not a string`);
    }
    return value;
  };
  switch (stored.type) {
    case BOOK_COPY_ADDED:
      return bookCopyAddedToCirculation(text('BookID'), text('Title'));
    case BOOK_COPY_REMOVED:
      return bookCopyRemovedFromCirculation(text('BookID'));
    case BOOK_COPY_LENT:
      return bookCopyLentToReader(text('BookID'), text('ReaderID'));
    case BOOK_COPY_RETURNED:
      return bookCopyReturnedByReader(text('BookID'), text('ReaderID'));
    default:
      throw new Error(`event #${stored.sequenceNumber}: unknown event type ${stored.type}`);
  }
}
