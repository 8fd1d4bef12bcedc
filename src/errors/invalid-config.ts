import { HeartlineError } from './heartline-error.js';

/**
 * The checks every options module shares (client, server, registries): one
 * message shape, `<path> must be <rule> (got <value>)`, so a bad option always
 * reads the same and names itself (`reconnect.initialDelay`, `EtcdRegistry ttl`).
 */

/** INVALID_CONFIG for the option at `path`. */
export function invalidConfig(path: string, rule: string, value: unknown): HeartlineError {
  return new HeartlineError('INVALID_CONFIG', `${path} must be ${rule} (got ${describeValue(value)})`);
}

/** A short description of a bad option value for a message: its kind, never its contents (it may hold credentials). */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  return String(value);
}

/** What `checkNumber` accepts: a finite number in [min, max], an integer when `integer`. */
export interface NumberRule {
  readonly min: number;
  readonly max?: number | undefined;
  readonly integer?: boolean | undefined;
}

/** `value` when it is undefined (the caller's default applies) or a number `rule` accepts; else INVALID_CONFIG. */
export function checkNumber(path: string, value: unknown, rule: NumberRule): number | undefined {
  if (value === undefined) return undefined;
  const ok =
    typeof value === 'number' &&
    Number.isFinite(value) &&
    (rule.integer !== true || Number.isInteger(value)) &&
    value >= rule.min &&
    (rule.max === undefined || value <= rule.max);
  if (!ok) throw invalidConfig(path, `${rule.integer === true ? 'an integer' : 'a finite number'} >= ${rule.min}${rule.max === undefined ? '' : ` and <= ${rule.max}`}`, value);
  return value as number;
}

/** `value` when it is undefined (the default applies) or has `warn` and `error` functions; else INVALID_CONFIG. */
export function checkLogger<L extends object>(path: string, value: unknown): L | undefined {
  if (value === undefined) return undefined;
  const l = value as { warn?: unknown; error?: unknown } | null;
  if (typeof l !== 'object' || l === null || typeof l.warn !== 'function' || typeof l.error !== 'function') {
    throw invalidConfig(path, 'an object with warn and error functions', value);
  }
  return value as L;
}

/** `value` when it is undefined (the default applies) or a boolean; else INVALID_CONFIG. */
export function checkBoolean(path: string, value: unknown): boolean | undefined {
  if (value !== undefined && typeof value !== 'boolean') throw invalidConfig(path, 'true or false', value);
  return value;
}

/** `value` when it is a plain object (not null, not an array); else INVALID_CONFIG. */
export function checkObject(path: string, value: unknown): object {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalidConfig(path, 'an object', value);
  return value;
}
