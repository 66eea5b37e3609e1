import { afterEach, describe, expect, it } from 'vitest';
import { withEventualConsistency } from './context.js';
import { createEventStore } from './create-event-store.js';
import type { Driver, Row, Statement } from './driver.js';
import type { EventStore, OperationReport } from './event-store.js';
import { buildEventFilter } from './filter-builder.js';

/**
 * A driver answering reads with no rows and status queries with a caught-up standby's, failing while `down`
 * is set and never answering while `hang` is: replica routing without a database.
 */
function fakeReplica(name: string) {
  const state = { down: false, hang: false, sent: 0, lsn: '0/10', ageMs: '0' };
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
  const driver: Driver = {
    name,
    async query(statement: Statement): Promise<{ rows: readonly Row[] }> {
      state.sent++;
      if (state.hang) return new Promise(() => {});
      if (state.down) throw refused;
      const status = statement.name.startsWith('es.status');
      const row = { lsn: state.lsn, in_recovery: 'true', replay_lsn: state.lsn, replay_age_ms: state.ageMs };
      return { rows: status ? [row] : [] };
    },
    transaction: (fn) => fn(driver),
  };
  return Object.assign(state, { driver });
}

const everything = buildEventFilter().matching().anyEventTypeOf('Lent').finalize();
const eventual = withEventualConsistency();
const primary = fakeReplica('primary-driver');
const stores: EventStore[] = [];
const storeOf = (replicas: Driver[], options: Parameters<typeof createEventStore>[2] = {}) => {
  const reports: OperationReport[] = [];
  const store = createEventStore(primary.driver, replicas, {
    ...options,
    hooks: { onOperation: (report) => reports.push(report) },
  });
  stores.push(store);
  return { store, reports };
};
const served = (reports: readonly OperationReport[]) => reports.map((report) => report.serverName);

afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
});

describe('several replicas (fake drivers)', () => {
  it('spreads eventual reads round-robin and names the replicas', async () => {
    const [a, b, c] = [fakeReplica('a'), fakeReplica('b'), fakeReplica('c')];
    const { store, reports } = storeOf([a.driver, b.driver, c.driver], {
      replicaNames: ['east', 'west', 'north'],
    });
    for (let read = 0; read < 6; read++) await store.query(eventual, everything);
    expect(served(reports)).toEqual(['east', 'west', 'north', 'east', 'west', 'north']);
    expect(reports.every((report) => report.server === 'replica')).toBe(true);
  });

  it('opens the circuit of a failed replica: later reads skip it; a probe closes it once it answers', async () => {
    const [a, b] = [fakeReplica('a'), fakeReplica('b')];
    const { store, reports } = storeOf([a.driver, b.driver]);
    a.down = true;
    await expect(store.query(eventual, everything)).rejects.toMatchObject({
      code: 'REPLICA_UNAVAILABLE',
      replica: 'replica-1',
    });
    const sentToA = a.sent;
    for (let read = 0; read < 3; read++) await store.query(eventual, everything);
    expect(served(reports).slice(1)).toEqual(['replica-2', 'replica-2', 'replica-2']);
    expect((await store.replicationStatus()).map((status) => status.circuit)).toEqual(['open', 'closed']);
    expect(a.sent, 'reads skipped the open replica (only status asked it)').toBe(sentToA + 1);
    a.down = false;
    await waitFor(async () => (await store.replicationStatus())[0]?.circuit === 'closed');
    reports.length = 0;
    await store.query(eventual, everything);
    await store.query(eventual, everything);
    expect(served(reports).sort()).toEqual(['replica-1', 'replica-2']);
  });

  it("'next-replica' retries on the next replica; every circuit open fails at once without I/O", async () => {
    const [a, b] = [fakeReplica('a'), fakeReplica('b')];
    const { store, reports } = storeOf([a.driver, b.driver], { replicaFallback: 'next-replica' });
    a.down = true;
    await store.query(eventual, everything);
    expect(reports.map((report) => [report.serverName, report.outcome])).toEqual([
      ['replica-1', 'error'],
      ['replica-2', 'ok'],
    ]);
    b.down = true;
    await expect(store.query(eventual, everything)).rejects.toMatchObject({ code: 'REPLICA_UNAVAILABLE' });
    const sent = a.sent + b.sent;
    const error = await store.query(eventual, everything).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'REPLICA_UNAVAILABLE', replica: undefined, retryable: true });
    expect(a.sent + b.sent).toBe(sent);
  });

  it("'primary' falls back when every replica is open; a replica that does not answer in time opens too", async () => {
    const [a] = [fakeReplica('a')];
    const { store, reports } = storeOf([a.driver], { replicaFallback: 'primary', replicaTimeoutMs: 30 });
    a.hang = true;
    await store.query(eventual, everything);
    await store.query(eventual, everything);
    expect(reports.map((report) => [report.serverName, report.outcome, report.fellBack])).toEqual([
      ['replica-1', 'error', false],
      ['primary', 'ok', true],
      ['primary', 'ok', true],
    ]);
  });

  it('bounded staleness: skips a replica measured behind; with none fresh, reads the primary or fails', async () => {
    const [a, b] = [fakeReplica('a'), fakeReplica('b')];
    a.lsn = '0/8'; // behind the primary's 0/10, its last replayed commit 5 s old
    a.ageMs = '5000';
    const { store, reports } = storeOf([a.driver, b.driver], { maxReplicaLagMs: 1_000 });
    for (let read = 0; read < 3; read++) await store.query(eventual, everything);
    expect(served(reports)).toEqual(['replica-2', 'replica-2', 'replica-2']);
    reports.length = 0;
    await store.query(withEventualConsistency(undefined, { maxLagMs: 10_000 }), everything);
    await store.query(withEventualConsistency(undefined, { maxLagMs: 10_000 }), everything);
    expect(served(reports).sort(), "a read's own bound wins").toEqual(['replica-1', 'replica-2']);
    b.lsn = '0/8';
    b.ageMs = '5000';
    primary.lsn = '0/20';
    const stale = storeOf([a.driver, b.driver], { maxReplicaLagMs: 1_000 });
    await stale.store.query(eventual, everything);
    expect(stale.reports.map((report) => [report.serverName, report.fellBack])).toEqual([['primary', true]]);
    const failing = storeOf([a.driver, b.driver], { maxReplicaLagMs: 1_000, onStaleRead: 'error' });
    await expect(failing.store.query(eventual, everything)).rejects.toMatchObject({
      code: 'REPLICA_LAG',
      maxLagMs: 1_000,
      retryable: true,
    });
    primary.lsn = '0/10';
  });

  it("'least-lag' reads the replica with the smallest measured lag", async () => {
    const [a, b] = [fakeReplica('a'), fakeReplica('b')];
    a.lsn = '0/8';
    a.ageMs = '3000';
    const { store, reports } = storeOf([a.driver, b.driver], {
      replicaSelection: 'least-lag',
      maxReplicaLagMs: 60_000,
    });
    for (let read = 0; read < 4; read++) await store.query(eventual, everything);
    expect(served(reports)).toEqual(Array(4).fill('replica-2'));
  });

  it('refuses bad replica names, a missing replica and a bad fallback or timeout', () => {
    const [a, b] = [fakeReplica('a'), fakeReplica('b')];
    const bad = [
      () => createEventStore(primary.driver, [a.driver, b.driver], { replicaNames: ['x'] }),
      () => createEventStore(primary.driver, [a.driver, b.driver], { replicaNames: ['x', 'x'] }),
      () => createEventStore(primary.driver, [a.driver], { replicaNames: ['with space'] }),
      () => createEventStore(primary.driver, [a.driver, undefined as unknown as Driver]),
      () => createEventStore(primary.driver, [a.driver], { replicaFallback: 'sometimes' as 'none' }),
      () => createEventStore(primary.driver, [a.driver], { replicaTimeoutMs: 0 }),
      () => createEventStore(primary.driver, [a.driver], { maxReplicaLagMs: -1 }),
      () => createEventStore(primary.driver, [a.driver], { onStaleRead: 'wait' as 'error' }),
      () => createEventStore(primary.driver, [a.driver], { replicaSelection: 'random' as 'least-lag' }),
    ];
    for (const build of bad)
      expect(build).toThrow(expect.objectContaining({ code: 'INVALID_CONFIGURATION' }));
    expect(() => createEventStore(primary.driver, [])).not.toThrow();
    expect(() => withEventualConsistency(undefined, { maxLagMs: Number.NaN })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
  });
});

async function waitFor(check: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
