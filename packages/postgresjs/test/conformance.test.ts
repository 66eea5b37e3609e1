import { runConformance } from '@es/conformance';
import postgres from 'postgres';
import { fromPostgresJs, fromPostgresJsAndReplica, fromPostgresJsAndReplicas } from '../src/index.js';

runConformance<postgres.Sql>({
  name: 'postgres.js',
  setup: () => ({
    connect: (url, options) =>
      postgres(url, {
        max: 20,
        // Seconds; some tests point a handle at a server that accepts TCP and never answers.
        connect_timeout: (options?.connectTimeoutMs ?? 5000) / 1000,
        onnotice: () => {},
      }),
    // The timeout (seconds) destroys connections that do not close in time, so a test never hangs here.
    disconnect: (sql) => sql.end({ timeout: 5 }),
    fromSingle: fromPostgresJs,
    fromPrimaryAndReplica: fromPostgresJsAndReplica,
    fromPrimaryAndReplicas: fromPostgresJsAndReplicas,
  }),
});
