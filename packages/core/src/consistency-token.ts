import { InvalidArgumentError } from './errors.js';

/**
 * Read-your-writes tokens. A token names a state of the primary that a read must see at least:
 * - from a read: the WAL position its server had replayed (a replica) or written (the primary) when the
 *   read ran, which is past every commit the read saw; a server that has replayed that position sees it all;
 * - from an append: a WAL position inside the append's transaction (read in the same statement: no extra
 *   round trip) and the append's last position in its table. The commit record comes after that WAL
 *   position, so a server has the append when it has replayed the position and the event is visible there;
 *   with the append, it has everything committed before it.
 *
 * Text form, URL-safe and opaque to callers: `1.<lsn>` or `1.<lsn>.<table tag>.<position>`, the LSN as
 * 16 hex digits, the table tag 8 hex digits of a hash of the table's name.
 */
export interface ConsistencyToken {
  /** The WAL position, as PostgreSQL prints it (`X/Y`). */
  readonly lsn: string;
  /** An append's last position, with the tag of its table. */
  readonly event?: { readonly tableTag: string; readonly position: bigint };
}

const TOKEN = /^1\.([0-9a-f]{16})(?:\.([0-9a-f]{8})\.([1-9][0-9]{0,18}))?$/;

/** The text form of `token`. */
export function encodeToken(token: ConsistencyToken): string {
  // An LSN prints as two hex numbers of up to 8 digits: the token holds both, zero-padded.
  const [high = '', low = ''] = token.lsn.split('/');
  const lsn = `${high.padStart(8, '0')}${low.padStart(8, '0')}`.toLowerCase();
  return token.event ? `1.${lsn}.${token.event.tableTag}.${token.event.position}` : `1.${lsn}`;
}

/** Parses a token's text form; anything else is an `InvalidArgumentError` (the text is not repeated). */
export function decodeToken(text: unknown, what: string): ConsistencyToken {
  const match = typeof text === 'string' ? TOKEN.exec(text) : null;
  if (!match) throw new InvalidArgumentError(`${what}: not a consistency token (use one a store returned)`);
  const [, hex = '', tableTag, position] = match;
  const lsn =
    `${hex.slice(0, 8).replace(/^0+(?=.)/, '')}/${hex.slice(8).replace(/^0+(?=.)/, '')}`.toUpperCase();
  return tableTag && position ? { lsn, event: { tableTag, position: BigInt(position) } } : { lsn };
}

/** The tag of a table in tokens: 8 hex digits of an FNV-1a hash of its qualified, quoted name. */
export function tableTag(table: string): string {
  let hash = 0x811c9dc5;
  for (let index = 0; index < table.length; index++) {
    hash = Math.imul(hash ^ table.charCodeAt(index), 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, '0');
}
