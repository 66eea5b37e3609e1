/**
 * Where the servers are: URLs from the flags or the environment, shown without their passwords, and an
 * output filter that masks every password given, wherever a driver's message might repeat one.
 */

/** The servers of a deployment, as the command line and the environment give them. */
export interface Servers {
  readonly primary: string | undefined;
  readonly replicas: readonly string[];
}

/** Flags win over `ES_PRIMARY_URL`, `ES_REPLICA_URLS` (comma- or space-separated) and `ES_REPLICA_URL`. */
export function serversFrom(
  flags: { primary?: string; replica?: readonly string[] },
  env: Readonly<Record<string, string | undefined>>,
): Servers {
  const listed = (env.ES_REPLICA_URLS ?? '').split(/[\s,]+/).filter(Boolean);
  const fromEnv = listed.length > 0 ? listed : env.ES_REPLICA_URL ? [env.ES_REPLICA_URL] : [];
  return {
    primary: flags.primary ?? (env.ES_PRIMARY_URL || undefined),
    replicas: flags.replica && flags.replica.length > 0 ? flags.replica : fromEnv,
  };
}

/** A URL as it may be shown: no password (in the authority or as a `password` parameter). */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.password = '';
    parsed.searchParams.delete('password');
    return parsed.toString();
  } catch {
    return '(a connection string that is not a URL)';
  }
}

/** The passwords in `urls` (and `PGPASSWORD`), longest first, for `masking`. */
export function secretsOf(
  urls: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): string[] {
  const secrets = new Set<string>();
  const add = (secret: string | null | undefined) => {
    if (secret) {
      secrets.add(secret);
      secrets.add(encodeURIComponent(secret));
    }
  };
  for (const url of urls) {
    try {
      const parsed = new URL(url);
      add(decodeURIComponent(parsed.password));
      add(parsed.password);
      add(parsed.searchParams.get('password'));
    } catch {
      add(/password\s*=\s*'?([^'\s]+)/i.exec(url)?.[1]);
    }
  }
  add(env.PGPASSWORD);
  return [...secrets].sort((a, b) => b.length - a.length);
}

/** Text with every secret replaced by `***`. */
export function masking(secrets: readonly string[]): (text: string) => string {
  return (text) => secrets.reduce((masked, secret) => masked.split(secret).join('***'), text);
}
