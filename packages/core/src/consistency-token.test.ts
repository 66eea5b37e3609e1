import { describe, expect, it } from 'vitest';
import { decodeToken, encodeToken, tableTag } from './consistency-token.js';
import { withConsistencyToken, withEventualConsistency } from './context.js';

describe('consistency tokens', () => {
  it('round-trip as URL-safe text, with and without an event', () => {
    const plain = encodeToken({ lsn: '0/3000148' });
    expect(plain).toBe('1.0000000003000148');
    expect(decodeToken(plain, 't')).toEqual({ lsn: '0/3000148' });
    const withEvent = encodeToken({
      lsn: 'A1/FF',
      event: { tableTag: tableTag('"public"."events"'), position: 42n },
    });
    expect(withEvent).toMatch(/^[0-9A-Za-z._-]+$/);
    expect(encodeURIComponent(withEvent)).toBe(withEvent);
    expect(decodeToken(withEvent, 't')).toEqual({
      lsn: 'A1/FF',
      event: { tableTag: tableTag('"public"."events"'), position: 42n },
    });
  });

  it('refuses anything else with InvalidArgumentError, without repeating it', () => {
    for (const bad of ['', 'x', '1.123', '2.0000000003000148', '1.0000000003000148.zz.1', 42, undefined]) {
      const error = (() => {
        try {
          decodeToken(bad, 'withConsistencyToken');
        } catch (caught) {
          return caught as Error & { code?: string };
        }
      })();
      expect(error?.code).toBe('INVALID_ARGUMENT');
      if (typeof bad === 'string' && bad) expect(error?.message).not.toContain(bad);
    }
  });

  it('withConsistencyToken checks the token and keeps the rest of the context; undefined changes nothing', () => {
    const ctx = withEventualConsistency();
    expect(withConsistencyToken(ctx, undefined)).toBe(ctx);
    expect(withConsistencyToken(ctx, '1.0000000003000148')).toMatchObject({
      consistency: 'eventual',
      token: '1.0000000003000148',
    });
    expect(() => withConsistencyToken(ctx, 'not-a-token')).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
  });
});
