import { decodeBody } from '../protocol/codec.js';
import { HEARTBEAT_FLOOR, MAX_TIMER_MS, MIN_MAX_FRAME_SIZE, MIN_PROTOCOL_VERSION, PROTOCOL_VERSION } from '../protocol/constants.js';
import { readHandshakeRequest, type HandshakeRequest, type HandshakeResponse } from '../protocol/messages.js';

/**
 * The handshake that opens every connection (protocol.md 4.3), both sides:
 * what the consumer proposes, how the provider answers, and how each reads
 * the other. Pure functions; the connections send and act on the results.
 */

/** Largest value of a u32 field: `maxFrameSize` is one. */
const MAX_U32 = 0xffffffff;

/**
 * The consumer's hello; `credentials` only when given (a nil would make the
 * handshake malformed), `fragments: true` only when offered (protocol.md 4.9).
 */
export function hello(maxFrameSize: number, heartbeat: number, credentials?: string, fragments = false): HandshakeRequest {
  const request: HandshakeRequest = { version: PROTOCOL_VERSION, maxFrameSize, heartbeat, agent: 'heartline-node' };
  if (credentials !== undefined) request.credentials = credentials;
  if (fragments) request.fragments = true;
  return request;
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
  /** Bodies over this many bytes are sent as fragments; 0: the provider neither offers nor accepts fragments. */
  fragmentSize: number;
}

/** The provider's answer to an acceptable hello. */
export function answer(request: HandshakeRequest, terms: ProviderTerms): HandshakeResponse {
  const response: HandshakeResponse = {
    version: Math.min(request.version, PROTOCOL_VERSION),
    maxFrameSize: terms.maxFrameSize,
    heartbeat: agreeHeartbeat(request.heartbeat, terms.idleTimeout, terms.minHeartbeat),
    idleTimeout: terms.idleTimeout,
  };
  // Fragments only when both want them: the consumer asked, this provider has them on.
  if (request.fragments === true && terms.fragmentSize > 0) response.fragments = true;
  return response;
}

/**
 * The provider's answer as the consumer reads it, strictly, or what is wrong
 * with it: a map whose `version` is one this consumer speaks (1 or 2, never
 * above what it offered), whose `maxFrameSize` is a uint in
 * [1024, 2^32-1], and whose `heartbeat` and `idleTimeout`, when present, are
 * uints (default 0), and whose `fragments`, when present, is a boolean
 * (protocol.md 4.9; `true` only if the consumer offered it, which the
 * caller checks). The heartbeat returned is the one the consumer keeps to:
 * a value above 0 is clamped to [HEARTBEAT_FLOOR, MAX_TIMER_MS], so a provider
 * can neither make it ping in a busy loop nor overflow a Node timer.
 */
export function readAnswer(body: Buffer): HandshakeResponse | string {
  let value: unknown;
  try {
    value = decodeBody(body);
  } catch {
    return 'undecodable handshake response';
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'handshake response is not a map';
  const map = value as Record<string, unknown>;
  const version = map.version;
  if (!isUint(version) || version < MIN_PROTOCOL_VERSION || version > PROTOCOL_VERSION) return `handshake response: unsupported version ${String(version)}`;
  const maxFrameSize = map.maxFrameSize;
  if (!isUint(maxFrameSize) || maxFrameSize < MIN_MAX_FRAME_SIZE || maxFrameSize > MAX_U32) {
    return `handshake response: maxFrameSize ${String(maxFrameSize)} is not in [${MIN_MAX_FRAME_SIZE}, ${MAX_U32}]`;
  }
  const heartbeat = map.heartbeat ?? 0;
  const idleTimeout = map.idleTimeout ?? 0;
  if (!isUint(heartbeat)) return `handshake response: heartbeat ${String(heartbeat)} is not a uint`;
  if (!isUint(idleTimeout)) return `handshake response: idleTimeout ${String(idleTimeout)} is not a uint`;
  const fragments = map.fragments;
  if (fragments !== undefined && typeof fragments !== 'boolean') return `handshake response: fragments ${String(fragments)} is not a boolean`;
  const response: HandshakeResponse = { version, maxFrameSize, heartbeat: clampHeartbeat(heartbeat), idleTimeout };
  if (fragments === true) response.fragments = true;
  return response;
}

/** A safe unsigned integer (a float with an integral value passes: JS cannot tell them apart). */
function isUint(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** The ping interval a consumer keeps to for an answer of `heartbeat` ms: 0 stays 0, else [HEARTBEAT_FLOOR, MAX_TIMER_MS]. */
export function clampHeartbeat(heartbeat: number): number {
  return heartbeat === 0 ? 0 : Math.min(MAX_TIMER_MS, Math.max(HEARTBEAT_FLOOR, heartbeat));
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
