import type { Cluster } from './cluster.js';
import { queryRow, redactUrl } from './control-sql.js';
import { UrlCluster } from './url-cluster.js';

/** true when ES_PRIMARY_URL or ES_REPLICA_URL is set. */
export function hasExternalUrls(): boolean {
  return Boolean(process.env.ES_PRIMARY_URL || process.env.ES_REPLICA_URL);
}

/** Uses running servers named by ES_PRIMARY_URL and ES_REPLICA_URL (both required). */
export async function startExternalCluster(log: (line: string) => void): Promise<Cluster> {
  const primaryUrl = process.env.ES_PRIMARY_URL;
  const replicaUrl = process.env.ES_REPLICA_URL;
  if (!primaryUrl || !replicaUrl) {
    const missing = primaryUrl ? 'ES_REPLICA_URL' : 'ES_PRIMARY_URL';
    throw new Error(`external mode needs both ES_PRIMARY_URL and ES_REPLICA_URL: ${missing} is not set`);
  }
  const row = await queryRow<{ recovery: boolean }>(replicaUrl, 'SELECT pg_is_in_recovery() AS recovery');
  if (row?.recovery !== true) {
    throw new Error('ES_REPLICA_URL does not point at a hot standby: pg_is_in_recovery() is false there');
  }
  log(`external mode: primary ${redactUrl(primaryUrl)}, replica ${redactUrl(replicaUrl)}`);
  return new UrlCluster('external', primaryUrl, replicaUrl);
}
