import { checkNumber, checkObject, invalidConfig } from '../errors/invalid-config.js';
import type { Attachments } from '../protocol/messages.js';
import type { CallOptions, ClientCallChanges } from './client-interceptor.js';
import { checkAttachments, TIME } from './client-options.js';

/**
 * Checks the options of one call (`withOptions(stub, options)`) and the
 * changes an interceptor makes (`call.with(changes)`): a bad one fails with
 * INVALID_CONFIG naming it. Returns new frozen objects; the caller's are
 * never kept or mutated.
 */

/** `CallOptions` after validation: an undefined field keeps the reference's (or method's) value. */
export interface ValidCallOptions {
  readonly signal: AbortSignal | undefined;
  readonly timeout: number | undefined;
  readonly attachments: Readonly<Attachments> | undefined;
}

export function validateCallOptions(options: CallOptions): ValidCallOptions {
  const o = checkObject('options', options) as CallOptions;
  return Object.freeze({
    signal: checkSignal('signal', o.signal),
    timeout: checkNumber('timeout', o.timeout, TIME),
    attachments: o.attachments === undefined ? undefined : checkAttachments('attachments', o.attachments),
  });
}

/** `ClientCallChanges` after validation; `hasSignal` tells "no change" from "no signal". */
export interface ValidCallChanges {
  readonly args: readonly unknown[] | undefined;
  readonly attachments: Readonly<Attachments> | undefined;
  readonly timeout: number | undefined;
  readonly hasSignal: boolean;
  readonly signal: AbortSignal | undefined;
}

export function validateCallChanges(changes: ClientCallChanges): ValidCallChanges {
  const c = checkObject('call.with(changes)', changes) as ClientCallChanges;
  if (c.args !== undefined && !Array.isArray(c.args)) throw invalidConfig('call.with(changes).args', 'an array', c.args);
  return {
    args: c.args,
    attachments: c.attachments === undefined ? undefined : checkAttachments('call.with(changes).attachments', c.attachments),
    timeout: checkNumber('call.with(changes).timeout', c.timeout, TIME),
    hasSignal: Object.hasOwn(c, 'signal'),
    signal: checkSignal('call.with(changes).signal', c.signal),
  };
}

function checkSignal(path: string, value: unknown): AbortSignal | undefined {
  if (value !== undefined && !(value instanceof AbortSignal)) throw invalidConfig(path, 'an AbortSignal', value);
  return value;
}
