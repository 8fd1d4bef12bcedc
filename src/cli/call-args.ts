import type { Attachments } from '../index.js';
import { UsageError } from './cli-error.js';

/**
 * `service.method` (the last dot splits: `demo.Greeter.sayHello`) or
 * `service#method`, as Heartline labels a call.
 */
export function parseTarget(text: string): { service: string; method: string } {
  const at = text.includes('#') ? text.indexOf('#') : text.lastIndexOf('.');
  const service = text.slice(0, at);
  const method = text.slice(at + 1);
  if (at <= 0 || method === '') throw new UsageError(`expected <service>.<method> (or <service>#<method>), got ${JSON.stringify(text)}`);
  return { service, method };
}

/**
 * The call's arguments: a JSON array is the argument list; any other JSON
 * value is the one argument; nothing at all is no argument.
 */
export function parseArgs(text: string | undefined): unknown[] {
  if (text === undefined || text.trim() === '') return [];
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`the arguments are not JSON (${(err as Error).message}); pass a JSON array of arguments, e.g. '["Ann", 2]', or one JSON value`);
  }
  return Array.isArray(value) ? value : [value];
}

/** `--attachment k=v`, repeatable, into attachments; the first `=` splits. */
export function parseAttachments(pairs: readonly string[]): Attachments {
  const out: Attachments = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--attachment expects key=value, got ${JSON.stringify(pair)}`);
    const key = pair.slice(0, eq);
    if (Object.hasOwn(out, key)) throw new UsageError(`--attachment ${key} is given twice`);
    Object.defineProperty(out, key, { value: pair.slice(eq + 1), enumerable: true, writable: true, configurable: true });
  }
  return out;
}
