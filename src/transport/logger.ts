/** Where Heartline reports what it cannot throw to a caller (protocol errors, handler crashes). */
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
