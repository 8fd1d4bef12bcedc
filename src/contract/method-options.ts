import { HeartlineError } from '../errors/heartline-error.js';
import { checkBoolean, checkNumber, checkObject, invalidConfig, type NumberRule } from '../errors/invalid-config.js';
import { MAX_TIMER_MS } from '../protocol/constants.js';

/** Per-method options, set on the contract (`@Service({ methods })`) or on a reference. */
export interface MethodOptions {
  /**
   * Call timeout in ms, covering every attempt and any wait for an `actives`
   * slot. Falls back to the reference's, then the client's (default 3000 ms). 0 means none.
   */
  timeout?: number;
  /** Fire-and-forget: the provider sends no response and the call resolves once written. Default false. */
  oneWay?: boolean;
  /**
   * The method may safely run twice: failover then also retries it after a
   * TIMEOUT or CONNECTION_LOST_WRITTEN. Default false.
   */
  idempotent?: boolean;
  /** Extra attempts on other providers (failover). Default: the reference's, then 2. */
  retries?: number;
  /** Cap on this method's calls in flight from this client to one provider. Default: the reference's, then none. */
  actives?: number;
  /**
   * Argument positions that are callbacks (functions the provider may call
   * back over the same connection). Default none.
   */
  callbacks?: number[];
}

const TIME: NumberRule = { min: 0, max: MAX_TIMER_MS };
/** A cap where 0 means "none" (`actives`). */
const CAP: NumberRule = { min: 0, integer: true };
const RETRIES: NumberRule = { min: 0, integer: true };

/** Validates one method's options (on a contract or a reference); `path` names it in messages (`methods.placeOrder`). */
export function validateMethodOptions(path: string, options: MethodOptions): Readonly<MethodOptions> {
  const m = checkObject(path, options) as MethodOptions;
  const out: MethodOptions = {};
  if (m.timeout !== undefined) out.timeout = checkNumber(`${path}.timeout`, m.timeout, TIME);
  if (m.oneWay !== undefined) out.oneWay = checkBoolean(`${path}.oneWay`, m.oneWay);
  if (m.idempotent !== undefined) out.idempotent = checkBoolean(`${path}.idempotent`, m.idempotent);
  if (m.retries !== undefined) out.retries = checkNumber(`${path}.retries`, m.retries, RETRIES);
  if (m.actives !== undefined) out.actives = checkNumber(`${path}.actives`, m.actives, CAP);
  if (m.callbacks !== undefined) {
    if (!Array.isArray(m.callbacks) || !m.callbacks.every((i) => Number.isSafeInteger(i) && i >= 0)) {
      throw invalidConfig(`${path}.callbacks`, 'an array of argument positions (integers >= 0)', m.callbacks);
    }
    out.callbacks = Object.freeze([...m.callbacks]) as number[];
  }
  if (out.oneWay === true && out.callbacks !== undefined && out.callbacks.length > 0) {
    throw new HeartlineError('INVALID_CONFIG', `${path} cannot be one-way and take callbacks`);
  }
  return Object.freeze(out);
}
