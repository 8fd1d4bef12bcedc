import { createHash, timingSafeEqual } from 'node:crypto';
import { HeartlineError } from '../errors/heartline-error.js';
import { AUTHENTICATION_FAILED, type Authenticated, type AuthenticationHello, type AuthenticationPeer } from './authentication.js';

/**
 * A ready-made `authenticate` (synchronous, so usable in an interceptor too) for one shared token (Dubbo's `token`): a
 * consumer whose `credentials` equal `secret` is accepted with `principal`
 * (default `'shared-secret'`); any other (or none) is refused with
 * UNAUTHENTICATED. The comparison is constant-time over the SHA-256 digests
 * of both strings, so neither the content nor the length of the secret leaks
 * through timing. An empty `secret` throws INVALID_CONFIG.
 *
 * ```ts
 * new Server({ authenticate: sharedSecret(process.env.HEARTLINE_TOKEN!), tls });
 * new Client({ credentials: process.env.HEARTLINE_TOKEN, tls });
 * ```
 */
export function sharedSecret(secret: string, principal: unknown = 'shared-secret'): (hello: AuthenticationHello, peer?: AuthenticationPeer) => Authenticated {
  if (typeof secret !== 'string' || secret === '') throw new HeartlineError('INVALID_CONFIG', 'sharedSecret(secret): secret must be a non-empty string');
  const expected = digest(secret);
  const accepted: Authenticated = Object.freeze({ principal });
  return (hello: AuthenticationHello): Authenticated => {
    const given = hello.credentials;
    // Digest whatever came (even nothing), so a missing token takes as long as a wrong one.
    const ok = timingSafeEqual(digest(typeof given === 'string' ? given : ''), expected) && typeof given === 'string';
    if (!ok) throw new HeartlineError('UNAUTHENTICATED', AUTHENTICATION_FAILED);
    return accepted;
  };
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
