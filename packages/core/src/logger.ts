/**
 * The store's logger: what it did and why (routing decisions, fallbacks, circuit changes, conflicts), never
 * payloads, parameter values or credentials. Shaped like `console`: `logger.warn(message, fields)`, so
 * `logger: console` works. For pino, whose methods take the fields first, wrap it with `pinoLogger`.
 */

/** Structured context of a log line: names, codes, counts; never values from the caller's data. */
export type LogFields = Readonly<Record<string, string | number | boolean | undefined>>;

/** Any of the four methods may be missing: that level is then not logged. */
export interface Logger {
  debug?(message: string, fields?: LogFields): void;
  info?(message: string, fields?: LogFields): void;
  warn?(message: string, fields?: LogFields): void;
  error?(message: string, fields?: LogFields): void;
}

/** The store's own view of a logger: every level present, none that throws. */
export type StoreLog = Required<Logger>;

/** `logger` made safe to call anywhere: a missing method is a no-op and a throwing one is ignored. */
export function storeLog(logger: Logger | undefined): StoreLog {
  const level =
    (name: keyof Logger) =>
    (message: string, fields?: LogFields): void => {
      try {
        logger?.[name]?.(message, fields);
      } catch {
        // Logging never breaks a call.
      }
    };
  return { debug: level('debug'), info: level('info'), warn: level('warn'), error: level('error') };
}

/** The methods of a pino logger the store uses: fields first, then the message. */
export interface PinoLike {
  debug(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/** A `Logger` over a pino logger (or a child of one): `pinoLogger(pino())`. */
export function pinoLogger(pino: PinoLike): Logger {
  return {
    debug: (message, fields) => pino.debug({ ...fields }, message),
    info: (message, fields) => pino.info({ ...fields }, message),
    warn: (message, fields) => pino.warn({ ...fields }, message),
    error: (message, fields) => pino.error({ ...fields }, message),
  };
}
