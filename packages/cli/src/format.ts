import type { DeploymentCheck, ServerState } from '@es/core';

/** How `es status` and `es doctor` print for people (`--json` prints the same data for machines). */

const field = (label: string, value: string) => `  ${label.padEnd(11)} ${value}`;

function roleOf(state: ServerState): string {
  const actual = state.inRecovery ? 'standby (in recovery)' : 'primary (not in recovery)';
  const expected = state.role === 'primary' ? !state.inRecovery : state.inRecovery;
  return `${actual}, PostgreSQL ${state.serverVersion}${expected ? '' : `: expected a ${state.role}!`}`;
}

/** One server's block of `es status`. */
export function formatServer(state: ServerState, url: string): string {
  const lines = [`${state.name} (${url})`];
  if (!state.reachable) return [...lines, field('reachable', `no: ${state.error}`)].join('\n');
  lines.push(field('role', roleOf(state)));
  if (state.inRecovery) {
    lines.push(field('replay lsn', state.lsn ?? 'none'));
    lines.push(
      field('lag', state.lagBytes === undefined ? 'unknown' : `${state.lagBytes} bytes, ${state.lagMs} ms`),
    );
    const receiver = state.walReceiver;
    lines.push(
      field(
        'streaming',
        receiver ? `WAL receiver ${receiver.status}, slot ${receiver.slotName ?? 'none'}` : 'no WAL receiver',
      ),
    );
  } else {
    lines.push(field('lsn', state.lsn ?? 'none'));
    const standbys = state.standbys ?? [];
    if (standbys.length === 0) lines.push(field('standbys', 'none'));
    for (const standby of standbys) {
      const lag = standby.replayLagMs === null ? '' : `, replay lag ${standby.replayLagMs} ms`;
      const where = `${standby.applicationName} from ${standby.clientAddr ?? 'a local socket'}`;
      lines.push(
        field(
          'standby',
          `${where}: ${standby.state}, ${standby.syncState}, replayed ${standby.replayLsn}${lag}`,
        ),
      );
    }
  }
  const slots = state.slots ?? [];
  lines.push(
    field(
      'slots',
      slots.length === 0
        ? 'none'
        : slots
            .map((slot) => `${slot.name} (${slot.type}, ${slot.active ? 'active' : 'inactive'})`)
            .join(', '),
    ),
  );
  return lines.join('\n');
}

/** The lines of `es doctor`, then its count. */
export function formatChecks(checks: readonly DeploymentCheck[]): string {
  const width = Math.max(...checks.map((check) => check.server.length), 6);
  const lines = checks.map(
    (check) =>
      `${check.level.padEnd(8)} ${check.server.padEnd(width)}  ${check.check.padEnd(28)} ${check.message}`,
  );
  const count = (level: DeploymentCheck['level']) => checks.filter((check) => check.level === level).length;
  lines.push(`es doctor: ${count('error')} errors, ${count('warning')} warnings, ${count('ok')} ok`);
  return lines.join('\n');
}
