import { hasCode, HeartlineError } from '../errors/heartline-error.js';
import type { Logger } from '../transport/logger.js';
import type { PeerTls } from '../transport/secure-socket.js';

/**
 * The provider's authentication stage (protocol.md 4.3): what the server's
 * `authenticate` hook is given, what it must answer, and the one guarded path
 * that calls it. Credentials are never put in a message or a log line here.
 */

/** What the consumer said of itself in its handshake request. */
export interface AuthenticationHello {
  /** The consumer's `credentials` (a token), as sent; undefined when it sent none. */
  readonly credentials?: string | undefined;
  /** The consumer software's name (`heartline-node`), for logs; not proof of anything. */
  readonly agent?: string | undefined;
}

/** Where the handshake came from. */
export interface AuthenticationPeer {
  /** The consumer's address, `host:port`. */
  readonly address: string;
  /** Over TLS, what the TLS handshake said of the consumer: under mutual TLS `subject` is its certificate's subject. Undefined over plain TCP. */
  readonly tls?: PeerTls | undefined;
}

/** `authenticate`'s answer when it accepts a consumer. */
export interface Authenticated {
  /** Who the consumer is: every call on the connection carries it (`currentCall().principal`). Never sent anywhere nor listed. */
  principal: unknown;
  /**
   * When the credentials stop being valid, in epoch ms (`Date.now()` time).
   * The connection is drained then (reason 'credentials expired'): the
   * consumer opens a new one with fresh credentials for new calls. Default
   * none: the connection lives as long as it is used. A time already past
   * refuses the handshake.
   */
  expiresAt?: number;
}

/**
 * The server's `authenticate` hook: accepts a consumer's handshake by
 * returning (or resolving to) an `Authenticated`, refuses it by throwing or
 * rejecting (or returning anything else). A refusal is answered
 * UNAUTHENTICATED with a generic message; a HeartlineError thrown with code
 * UNAUTHENTICATED keeps its own message (never put the credentials in it).
 */
export type Authenticate = (hello: AuthenticationHello, peer: AuthenticationPeer) => Authenticated | Promise<Authenticated>;

/** The generic refusal: it says nothing of what was wrong with the credentials. */
export const AUTHENTICATION_FAILED = 'authentication failed';

/**
 * Calls `authenticate` once, guarded, and reports exactly once to `done`: the
 * accepted `Authenticated` (a fresh object, `expiresAt` checked), or the
 * UNAUTHENTICATED error to answer with. A synchronous answer is reported
 * synchronously. A refusal is logged at warn with the peer and the kind of
 * what was thrown (its class and code, never its message: it may quote the
 * credentials). Never throws.
 */
export function runAuthenticate(
  authenticate: Authenticate,
  hello: AuthenticationHello,
  peer: AuthenticationPeer,
  logger: Logger,
  done: (outcome: Authenticated | HeartlineError) => void,
): void {
  let result: unknown;
  let then: unknown;
  try {
    result = authenticate(hello, peer);
    // Read inside the guard: a hostile answer's `then` getter may throw.
    then = (typeof result === 'object' && result !== null) || typeof result === 'function' ? (result as { then?: unknown }).then : undefined;
  } catch (err) {
    done(refusal(err, peer, logger));
    return;
  }
  if (typeof then !== 'function') {
    done(accepted(result, peer, logger));
    return;
  }
  // Promise.resolve: a hostile thenable's `then` that throws becomes a rejection.
  Promise.resolve()
    .then(() => result)
    .then(
      (value) => done(accepted(value, peer, logger)),
      (err: unknown) => done(refusal(err, peer, logger)),
    );
}

/** `value` as an accepted `Authenticated`, or the refusal when it is not one (or its time is past). */
function accepted(value: unknown, peer: AuthenticationPeer, logger: Logger): Authenticated | HeartlineError {
  let principal: unknown;
  let expiresAt: unknown;
  try {
    if (typeof value !== 'object' || value === null || !Object.hasOwn(value, 'principal')) {
      return refused(peer, logger, 'authenticate returned no { principal }');
    }
    principal = (value as Authenticated).principal;
    expiresAt = (value as Authenticated).expiresAt;
  } catch {
    return refused(peer, logger, 'authenticate returned an unreadable answer');
  }
  if (expiresAt === undefined) return { principal };
  if (typeof expiresAt !== 'number' || Number.isNaN(expiresAt)) return refused(peer, logger, 'authenticate returned an expiresAt that is not a number of epoch ms');
  if (expiresAt <= Date.now()) return refused(peer, logger, 'its credentials have expired', 'credentials expired');
  return { principal, expiresAt };
}

function refusal(err: unknown, peer: AuthenticationPeer, logger: Logger): HeartlineError {
  let deliberate: boolean;
  try {
    deliberate = hasCode(err, 'UNAUTHENTICATED');
  } catch {
    deliberate = false; // `instanceof` itself threw (a Proxy): kindOf says so
  }
  // The hook's own deliberate refusal keeps its message (a HeartlineError is made by code that knows the rule).
  if (deliberate) {
    const message = safeMessage(err as HeartlineError);
    log(logger, peer, 'authenticate refused it (UNAUTHENTICATED)');
    return new HeartlineError('UNAUTHENTICATED', message);
  }
  return refused(peer, logger, `authenticate threw ${kindOf(err)}`);
}

function refused(peer: AuthenticationPeer, logger: Logger, why: string, message = AUTHENTICATION_FAILED): HeartlineError {
  log(logger, peer, why);
  return new HeartlineError('UNAUTHENTICATED', message);
}

function log(logger: Logger, peer: AuthenticationPeer, why: string): void {
  try {
    logger.warn({ code: 'UNAUTHENTICATED' }, `consumer ${peer.address} refused in its handshake: ${why}`);
  } catch {
    // a throwing logger must not leave the handshake unanswered
  }
}

/** What was thrown, by kind only: `an Error`, `a TypeError (code E_X)`, `a string`. */
function kindOf(err: unknown): string {
  try {
    if (err instanceof Error) {
      const code = (err as { code?: unknown }).code;
      return `a${/^[AEIOU]/.test(err.name) ? 'n' : ''} ${err.name}${typeof code === 'string' ? ` (code ${code})` : ''}`;
    }
    return err === null ? 'null' : `a${typeof err === 'object' || typeof err === 'undefined' ? 'n' : ''} ${typeof err}`;
  } catch {
    return 'an unreadable value';
  }
}

function safeMessage(err: HeartlineError): string {
  try {
    return typeof err.message === 'string' && err.message !== '' ? err.message : AUTHENTICATION_FAILED;
  } catch {
    return AUTHENTICATION_FAILED;
  }
}
