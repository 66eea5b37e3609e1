import type { AppendOutcome } from './append-batcher.js';
import type { Row } from './driver.js';
import { QueryFailedError } from './errors.js';
import type { JsonObject, StoredEvent } from './storable-event.js';

const decodeFailed = (what: string) => new QueryFailedError(`decode: ${what}`, undefined, undefined);

function column(row: Row, name: string): string {
  const value = row[name];
  if (typeof value !== 'string') throw decodeFailed(`column ${name} is missing`);
  return value;
}

/** A JSON object column; `{}` (most events' metadata) without a parse. */
const parseObject = (text: string): JsonObject => (text === '{}' ? {} : (JSON.parse(text) as JsonObject));

/** The event with its id when the row has one (a string); without the property otherwise. */
const withId = (event: StoredEvent, id: unknown): StoredEvent =>
  typeof id === 'string' ? { ...event, id } : event;

/** The first three digits of a seconds' fraction as milliseconds (`5` is 500, `123456` is 123). */
const fractionMilliseconds = (digits: string) => Number(digits.slice(0, 3).padEnd(3, '0'));

/**
 * Decodes a stored event: the `event` column (`eventJson`: one JSON array) or, from the strong read
 * function, the text columns of `eventColumns`.
 */
export function decodeEvent(row: Row): StoredEvent {
  const json = row.event;
  if (typeof json !== 'string') return decodeColumns(row);
  const [position, type, occurredAt, payload, metadata, id] = JSON.parse(json) as unknown[];
  if (typeof position !== 'string' || typeof type !== 'string' || typeof occurredAt !== 'string') {
    throw decodeFailed('column event is not a stored event');
  }
  const event = {
    sequenceNumber: BigInt(position),
    type,
    occurredAt: parseTimestamp(occurredAt),
    payload: payload as JsonObject,
    metadata: metadata as JsonObject,
  };
  return withId(event, id);
}

function decodeColumns(row: Row): StoredEvent {
  const event = {
    sequenceNumber: BigInt(column(row, 'sequence_number')),
    type: column(row, 'event_type'),
    occurredAt: new Date(Number(column(row, 'occurred_at_ms'))),
    payload: parseObject(column(row, 'payload')),
    metadata: parseObject(column(row, 'metadata')),
  };
  return withId(event, row.id);
}

/**
 * The instant of the form most stored times take, `YYYY-MM-DDTHH:MM:SS[.F]±HH:MM` with a year from 100
 * and up to 6 fraction digits, read in place (a third of the time of the regular expression below);
 * undefined for any other text.
 */
function commonInstant(text: string): number | undefined {
  const [offsetAt, milliseconds] = fractionAt(text);
  const sign = text.charCodeAt(offsetAt);
  if (text.length !== offsetAt + 6 || (sign !== PLUS && sign !== MINUS)) return undefined;
  const year = number(text, 0, 4);
  if (!hasSeparators(text, offsetAt) || !(year >= 100)) return undefined;
  const month = number(text, 5, 2) - 1;
  const time = Date.UTC(
    year,
    month,
    number(text, 8, 2),
    number(text, 11, 2),
    number(text, 14, 2),
    number(text, 17, 2),
    milliseconds,
  );
  const offset = (number(text, offsetAt + 1, 2) * 60 + number(text, offsetAt + 4, 2)) * 60_000;
  // A character that is not a digit made a number NaN, and so the instant.
  const instant = sign === MINUS ? time + offset : time - offset;
  return Number.isFinite(instant) ? instant : undefined;
}

const [PLUS, MINUS, COLON, T] = [43, 45, 58, 84];

/** Whether `text` has the separators of `YYYY-MM-DDTHH:MM:SS[.F]±HH:MM`, its offset's sign at `offsetAt`. */
const hasSeparators = (text: string, offsetAt: number) =>
  text.charCodeAt(4) === MINUS &&
  text.charCodeAt(7) === MINUS &&
  text.charCodeAt(10) === T &&
  text.charCodeAt(13) === COLON &&
  text.charCodeAt(16) === COLON &&
  text.charCodeAt(offsetAt + 3) === COLON;

/** Where the offset starts after the seconds' fraction (if any), and the fraction in whole milliseconds. */
function fractionAt(text: string): [number, number] {
  if (text[19] !== '.') return [19, 0];
  let end = 20;
  let milliseconds = 0;
  while (end < 26 && isDigit(text[end])) {
    // Only the first three digits count: the milliseconds, cut (not rounded) as fractionMilliseconds does.
    if (end < 23) milliseconds += (text.charCodeAt(end) - 48) * 10 ** (22 - end);
    end++;
  }
  return [end, end === 20 ? Number.NaN : milliseconds];
}

const isDigit = (char: string | undefined) => char !== undefined && char >= '0' && char <= '9';

/** The decimal number of `length` digits at `at`; NaN when one is not a digit. */
function number(text: string, at: number, length: number): number {
  let value = 0;
  for (let index = at; index < at + length; index++) {
    const digit = text.charCodeAt(index) - 48;
    if (digit < 0 || digit > 9) return Number.NaN;
    value = value * 10 + digit;
  }
  return value;
}

/** A timestamptz as PostgreSQL writes it in JSON: ISO 8601 with the session's offset; ` BC` before year 1. */
const JSON_TIMESTAMP =
  /^(\d{4,})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?([+-])(\d\d)(?::(\d\d))?(?::(\d\d))?( BC)?$/;

/**
 * The instant of a JSON timestamptz, to the millisecond below (a stored microsecond part is cut, as
 * `floor` would: the fields of a time are never negative). Any offset and year PostgreSQL writes are
 * read exactly; `infinity`, or a time outside JavaScript's range, is an error.
 */
export function parseTimestamp(text: string): Date {
  const common = commonInstant(text);
  if (common !== undefined) return new Date(common);
  const match = JSON_TIMESTAMP.exec(text);
  if (!match) throw decodeFailed('column occurred_at is not a finite timestamp');
  const field = (index: number) => Number(match[index] ?? 0);
  const year = match[12] ? 1 - field(1) : field(1);
  const [month, day, hour, minute, second] = [field(2) - 1, field(3), field(4), field(5), field(6)];
  const milliseconds = fractionMilliseconds(match[7] ?? '');
  let time: number;
  if (year >= 100) time = Date.UTC(year, month, day, hour, minute, second, milliseconds);
  else {
    // Date.UTC reads the years 0 to 99 as 1900 to 1999.
    const date = new Date(0);
    date.setUTCFullYear(year, month, day);
    time = date.setUTCHours(hour, minute, second, milliseconds);
  }
  const offset = (field(9) * 3600 + field(10) * 60 + field(11)) * 1000;
  time -= match[8] === '-' ? -offset : offset;
  if (!Number.isFinite(time) || Math.abs(time) > 8.64e15) {
    throw decodeFailed('column occurred_at is outside the range of a JavaScript Date');
  }
  return new Date(time);
}

/** The max the append function reports for an append whose event ids an earlier append stored. */
const REPLAYED = -1n;

/**
 * Decodes the result of the append statement for `batch` (see `appendStatement`): each append's max, then
 * the positions of the appends whose max was the expected one, then those of the replayed appends (an
 * earlier append stored their events: their positions, reported as a success with the expected max).
 */
export function decodeAppendOutcomes(
  rows: readonly Row[],
  batch: readonly { readonly expected: bigint; readonly events: readonly unknown[] }[],
): AppendOutcome[] {
  const numbers = decodeBigintArray(column(rows[0] ?? {}, 'result'));
  const lsn = rows[0]?.lsn ?? undefined;
  const maxima = numbers.slice(0, batch.length);
  let inserted = batch.length;
  let replayed =
    inserted +
    batch.reduce(
      (sum, { expected, events }, index) => sum + (maxima[index] === expected ? events.length : 0),
      0,
    );
  return batch.map(({ expected, events }, index) => {
    const max = maxima[index] as bigint;
    if (max !== expected && max !== REPLAYED) return { max, positions: undefined, lsn };
    const next = max === REPLAYED ? replayed : inserted;
    const positions = numbers.slice(next, next + events.length);
    if (max === REPLAYED) replayed += events.length;
    else inserted += events.length;
    if (positions.length !== events.length) {
      throw new QueryFailedError(
        'eventstore.append: the append function returned too few positions',
        undefined,
        undefined,
      );
    }
    return { max: expected, positions, lsn };
  });
}

/** Decodes a PostgreSQL bigint[] text literal such as `{1,2,3}`. */
export function decodeBigintArray(text: string): bigint[] {
  const inner = text.slice(1, -1);
  return inner === '' ? [] : inner.split(',').map((item) => BigInt(item));
}
