import { ERROR_CODES, type ErrorCode } from './codes.js';

export interface HeartlineErrorOptions {
  cause?: unknown;
  /** Extra data from the provider (`details` in the error body). */
  details?: unknown;
  /** True when the error came from the remote side as data. */
  remote?: boolean;
  /** The `name` of the error the remote handler threw. */
  remoteName?: string;
  /** The remote stack, only when the provider opted in (`exposeStack`). */
  remoteStack?: string;
  /** `service#method` of the Heartline call that failed with this error. */
  call?: string;
}

/**
 * The one error class of Heartline. Branch on `code` (see `ERROR_CODES` and
 * `protocol.md`), never on `message`.
 */
export class HeartlineError extends Error {
  override name = 'HeartlineError';
  readonly code: ErrorCode;
  readonly details: unknown;
  readonly remote: boolean;
  readonly remoteName: string | undefined;
  readonly remoteStack: string | undefined;
  /**
   * `service#method` of the Heartline call that failed with this error: set
   * by the consumer on every error a call rejects with, and carried in a
   * downstream failure's `cause` (protocol.md 4.2). A handler error with a
   * `call` came from a call the handler made, not from the handler itself.
   */
  call: string | undefined;

  constructor(code: ErrorCode, message: string, options: HeartlineErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details;
    this.remote = options.remote ?? false;
    this.remoteName = options.remoteName;
    this.remoteStack = options.remoteStack;
    this.call = options.call;
  }

  /** True when the provider certainly did not run the call, so sending it again is safe. */
  get retrySafe(): boolean {
    return ERROR_CODES[this.code].retrySafe;
  }

  /** The wire status of this error's code. */
  get status(): number {
    return ERROR_CODES[this.code].status;
  }
}

/** `err` when it is a HeartlineError with one of `codes`. */
export function hasCode(err: unknown, ...codes: ErrorCode[]): err is HeartlineError {
  return err instanceof HeartlineError && codes.includes(err.code);
}
