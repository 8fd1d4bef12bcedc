/**
 * Where Heartline reports what it cannot throw to a caller: protocol errors and
 * dead or misbehaving peers (`warn`); handlers that throw or reject, one-way ones
 * included, each logged once by the server (`error`, test/integration/handler-errors-log.test.ts);
 * event and `onRelease` listeners that throw; failsafe failures.
 */
export interface Logger {
  warn(message: string, meta?: Record<string, unknown>): void;
  error(message: string, meta?: Record<string, unknown>): void;
}

/** The default logger: one line per event on stderr. */
export const consoleLogger: Logger = {
  warn(message, meta) {
    console.warn(`[heartline] ${message}`, meta ?? '');
  },
  error(message, meta) {
    console.error(`[heartline] ${message}`, meta ?? '');
  },
};

/** A logger that drops everything, for tests and benchmarks. */
export const silentLogger: Logger = {
  warn() {},
  error() {},
};
