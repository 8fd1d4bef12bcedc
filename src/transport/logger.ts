/**
 * Where Heartline reports what it cannot throw to a caller: protocol errors and
 * dead or misbehaving peers (`warn`); handlers that throw or reject, one-way ones
 * included, each logged once by the server (`error`, test/integration/handler-errors-log.test.ts);
 * event and `onRelease` listeners that throw; failsafe failures.
 */
export interface Logger {
  warn(message: string, meta?: Record<string, unknown>): void;
  error(message: string, meta?: Record<string, unknown>): void;
  /**
   * Optional: routine events, for example a successful call logged by the
   * `callLogger` interceptor. Heartline itself never requires it; where it
   * is missing, those events go to `warn`.
   */
  info?(message: string, meta?: Record<string, unknown>): void;
}

/** The default logger: one line per event, on stderr (`info` on stdout). */
export const consoleLogger: Logger = {
  info(message, meta) {
    console.info(`[heartline] ${message}`, meta ?? '');
  },
  warn(message, meta) {
    console.warn(`[heartline] ${message}`, meta ?? '');
  },
  error(message, meta) {
    console.error(`[heartline] ${message}`, meta ?? '');
  },
};

/** A logger that drops everything, for tests and benchmarks. */
export const silentLogger: Logger = {
  info() {},
  warn() {},
  error() {},
};
