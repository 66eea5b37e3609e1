import { describe, expect, it } from 'vitest';
import { appendRequest } from './append-request.js';
import { InvalidEventError } from './errors.js';
import { buildEventFilter } from './filter-builder.js';
import { buildStorableEvent } from './storable-event.js';

const at = new Date('2024-01-02T03:04:05.678Z');

describe('buildStorableEvent', () => {
  it('copies and freezes a valid event, with metadata defaulting to {}', () => {
    const payload = { BookID: 'b-1', nested: { list: [1, 'two', null, true] } };
    const event = buildStorableEvent({ type: 'BookCopyLentToReader', occurredAt: at, payload });
    payload.BookID = 'changed';
    expect(event.payload.BookID).toBe('b-1');
    expect(event.metadata).toEqual({});
    expect(Object.isFrozen(event)).toBe(true);
    expect(event.occurredAt).not.toBe(at);
    expect(event.occurredAt.getTime()).toBe(at.getTime());
  });

  it.each([
    ['an empty type', { type: '', occurredAt: at, payload: {} }],
    ['a blank type', { type: '  ', occurredAt: at, payload: {} }],
    ['a type with NUL', { type: 'a\u0000b', occurredAt: at, payload: {} }],
    ['an invalid date', { type: 'T', occurredAt: new Date(Number.NaN), payload: {} }],
    ['a string date', { type: 'T', occurredAt: '2024-01-01', payload: {} }],
    ['an array payload', { type: 'T', occurredAt: at, payload: [1] }],
    ['a null payload', { type: 'T', occurredAt: at, payload: null }],
    ['a bigint in the payload', { type: 'T', occurredAt: at, payload: { n: 1n } }],
    ['NaN in the payload', { type: 'T', occurredAt: at, payload: { n: Number.NaN } }],
    ['undefined in the payload', { type: 'T', occurredAt: at, payload: { n: undefined } }],
    ['a function in the payload', { type: 'T', occurredAt: at, payload: { f: () => 1 } }],
    ['a Date in the payload', { type: 'T', occurredAt: at, payload: { d: new Date() } }],
    ['NUL in a payload string', { type: 'T', occurredAt: at, payload: { s: 'a\u0000' } }],
    ['NUL in a payload key', { type: 'T', occurredAt: at, payload: { 'a\u0000': 1 } }],
    ['a lone surrogate', { type: 'T', occurredAt: at, payload: { s: '\ud800' } }],
    ['an array metadata', { type: 'T', occurredAt: at, payload: {}, metadata: [] }],
  ])('rejects %s with InvalidEventError', (_, input) => {
    expect(() => buildStorableEvent(input as never)).toThrow(InvalidEventError);
  });

  it('takes an optional UUID id, in lower case, and refuses anything else without echoing it', () => {
    const id = '0B7E6F5A-1C2D-4E3F-8A9B-0C1D2E3F4A5B';
    expect(buildStorableEvent({ type: 'T', occurredAt: at, payload: {}, id }).id).toBe(id.toLowerCase());
    expect('id' in buildStorableEvent({ type: 'T', occurredAt: at, payload: {} })).toBe(false);
    for (const bad of ['secret-not-a-uuid', `${id}0`, '', 42]) {
      const build = () => buildStorableEvent({ type: 'T', occurredAt: at, payload: {}, id: bad as string });
      expect(build).toThrow(InvalidEventError);
      expect(build).toThrow(/id must be a UUID/);
      expect(build).not.toThrow(/secret/);
    }
  });

  it('refuses an append whose events have ids in part, or the same id twice', () => {
    const id = '0b7e6f5a-1c2d-4e3f-8a9b-0c1d2e3f4a5b';
    const withId = buildStorableEvent({ type: 'T', occurredAt: at, payload: {}, id });
    const without = buildStorableEvent({ type: 'T', occurredAt: at, payload: {} });
    const filter = buildEventFilter().matching().anyEventTypeOf('T').finalize();
    expect(() => appendRequest(filter, 0n, [withId, without])).toThrow(
      /every event of an append has an id or none/,
    );
    expect(() => appendRequest(filter, 0n, [withId, withId])).toThrow(/the same id/);
    expect(appendRequest(filter, 0n, [withId]).events).toHaveLength(1);
  });

  it('accepts JSON text of an object for payload and metadata, and rejects other text', () => {
    const event = buildStorableEvent({
      type: 'T',
      occurredAt: at,
      payload: '{"BookID":"b-1"}',
      metadata: '{"by":"x"}',
    });
    expect(event.payload).toEqual({ BookID: 'b-1' });
    expect(event.metadata).toEqual({ by: 'x' });
    expect(() => buildStorableEvent({ type: 'T', occurredAt: at, payload: '[1]' })).toThrow(
      InvalidEventError,
    );
    expect(() => buildStorableEvent({ type: 'T', occurredAt: at, payload: '{oops' })).toThrow(
      InvalidEventError,
    );
  });

  it('rejects a cycle without looping', () => {
    const payload: Record<string, unknown> = {};
    payload.self = payload;
    expect(() => buildStorableEvent({ type: 'T', occurredAt: at, payload: payload as never })).toThrow(
      /cycle/,
    );
  });

  it('never puts payload values into its messages', () => {
    expect(() =>
      buildStorableEvent({ type: 'T', occurredAt: at, payload: { secret: 'hunter2\u0000' } }),
    ).toThrow(expect.objectContaining({ message: expect.not.stringContaining('hunter2') }));
  });
});
