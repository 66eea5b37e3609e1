import { describe, expect, it } from 'vitest';
import { lsnPosition, replicaStatus } from './replication-status.js';

describe('replication status', () => {
  it('reads an LSN as a byte position (two 32-bit hex halves)', () => {
    expect(lsnPosition('0/0')).toBe(0n);
    expect(lsnPosition('0/3000148')).toBe(0x3000148n);
    expect(lsnPosition('1/0')).toBe(2n ** 32n);
    expect(lsnPosition('16/B374D848')).toBe(0x16n * 2n ** 32n + 0xb374d848n);
  });

  it('measures lag from the servers: bytes behind the primary, and the age of the last replayed commit', () => {
    const caughtUp = replicaStatus('replica-1', '0/3000148', {
      in_recovery: 'true',
      replay_lsn: '0/3000148',
      replay_age_ms: '86400000', // an idle primary: the last commit is old, but nothing is missing
    });
    expect(caughtUp).toEqual({
      name: 'replica-1',
      reachable: true,
      inRecovery: true,
      replayLsn: '0/3000148',
      lagBytes: 0n,
      lagMs: 0,
      circuit: 'closed',
    });
    const behind = replicaStatus('replica-1', '1/10', {
      in_recovery: 'true',
      replay_lsn: '0/FFFFFFF0',
      replay_age_ms: '250',
    });
    expect(behind).toMatchObject({ lagBytes: 0x20n, lagMs: 250 });
    // A replica that is ahead of the primary LSN read a moment earlier is not behind.
    expect(
      replicaStatus('r', '0/10', { in_recovery: 'true', replay_lsn: '0/20', replay_age_ms: '5' }).lagBytes,
    ).toBe(0n);
  });

  it('reports a replica that did not answer as unreachable, and one that is not in recovery as such', () => {
    expect(replicaStatus('replica-1', '0/10', undefined)).toMatchObject({
      reachable: false,
      lagBytes: undefined,
    });
    expect(
      replicaStatus('replica-1', undefined, { in_recovery: 'false', replay_lsn: null, replay_age_ms: null }),
    ).toMatchObject({
      reachable: true,
      inRecovery: false,
      replayLsn: undefined,
      lagBytes: undefined,
      lagMs: undefined,
    });
  });
});
