import { decodeBody } from '../protocol/codec.js';
import { MIN_MAX_FRAME_SIZE, PROTOCOL_VERSION } from '../protocol/constants.js';
import { readHandshakeRequest, readHandshakeResponse, type HandshakeRequest, type HandshakeResponse } from '../protocol/messages.js';

/**
 * The handshake that opens every connection (protocol.md 4.3), both sides:
 * what the consumer proposes, how the provider answers, and how each reads
 * the other. Pure functions; the connections send and act on the results.
 */

/** The consumer's hello. */
export function hello(maxFrameSize: number, heartbeat: number): HandshakeRequest {
  return { version: PROTOCOL_VERSION, maxFrameSize, heartbeat, agent: 'heartline-node' };
}

/** The consumer's hello as the provider reads it, or why it is unacceptable. */
export function readHello(body: Buffer): HandshakeRequest | string {
  let request: HandshakeRequest | undefined;
  try {
    request = readHandshakeRequest(decodeBody(body));
  } catch {
    request = undefined;
  }
  if (request === undefined) return 'malformed handshake';
  if (request.version < 1 || request.maxFrameSize < MIN_MAX_FRAME_SIZE) {
    return `unacceptable handshake (version ${request.version}, maxFrameSize ${request.maxFrameSize})`;
  }
  return request;
}

/** The provider's settings that go into its answer. */
export interface ProviderTerms {
  maxFrameSize: number;
  idleTimeout: number;
  minHeartbeat: number;
}

/** The provider's answer to an acceptable hello. */
export function answer(request: HandshakeRequest, terms: ProviderTerms): HandshakeResponse {
  return {
    version: Math.min(request.version, PROTOCOL_VERSION),
    maxFrameSize: terms.maxFrameSize,
    heartbeat: agreeHeartbeat(request.heartbeat, terms.idleTimeout, terms.minHeartbeat),
    idleTimeout: terms.idleTimeout,
  };
}

/** The provider's answer as the consumer reads it, or what is wrong with it. */
export function readAnswer(body: Buffer): HandshakeResponse | string {
  let value: unknown;
  try {
    value = decodeBody(body);
  } catch {
    return 'undecodable handshake response';
  }
  const response = readHandshakeResponse(value);
  if (response === undefined || response.version !== PROTOCOL_VERSION) return 'malformed handshake response';
  return response;
}

/**
 * The ping interval granted to a consumer that proposed `proposed` ms: never
 * more than a third of the idle timeout (so a consumer that follows it is never
 * cut off, the mistake of Dubbo #6630), never less than `minHeartbeat` unless
 * the idle timeout forces it. 0 only when the provider never closes idle
 * connections and the consumer proposed none.
 */
export function agreeHeartbeat(proposed: number, idleTimeout: number, minHeartbeat: number): number {
  if (idleTimeout > 0) {
    const max = Math.max(1, Math.floor(idleTimeout / 3));
    const wanted = proposed > 0 ? proposed : max;
    return Math.min(max, Math.max(Math.min(minHeartbeat, max), wanted));
  }
  return proposed > 0 ? Math.max(proposed, minHeartbeat) : 0;
}
