/**
 * The logging surface the domain depends on: a structural subset of pino's `Logger`, so the domain
 * never imports pino and tests can pass a silent logger. Messages are constants; data goes in fields.
 */
export interface LogFn {
  (fields: Record<string, unknown>, message: string): void;
  (message: string): void;
}

export interface Logger {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  child(bindings: Record<string, unknown>): Logger;
  /** pino's: lets a hot path skip building a line that would be dropped. */
  isLevelEnabled?(level: string): boolean;
}
