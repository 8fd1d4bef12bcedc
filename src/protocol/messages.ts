import { codeForStatus, ERROR_CODES, isErrorCode, type ErrorCode } from '../errors/codes.js';
import { HeartlineError } from '../errors/heartline-error.js';
import { decodeBody, encodeAfter, encodeBody, MAX_PREFIX } from './codec.js';
import { MAX_CREDENTIALS_BYTES } from './constants.js';

/** Attachments: a string-to-string map carried with a request (trace ids, auth tokens). */
export type Attachments = Record<string, string>;

/** The body of a Call request: `[service, version, group, method, args, attachments, budget]` (protocol.md 4.1). */
export interface RequestMessage {
  service: string;
  version: string;
  group: string;
  method: string;
  args: unknown[];
  attachments: Attachments | null;
  /** The caller's time budget left when the request was written, in ms; undefined for none (nil, or a six-item request). */
  budget: number | undefined;
}

/**
 * A request body as decoded, once `checkRequest` passed it: the
 * `RequestMessage` items in wire order, read in place (no object per request).
 * `budget` is absent in a six-item (version 1) request, null when nil.
 */
export type RequestBody = readonly [
  service: string,
  version: string,
  group: string,
  method: string,
  args: unknown[],
  attachments: Attachments | null,
  budget?: number | null,
];

/**
 * What an error was caused by, in an error map's `cause` (protocol.md 4.2):
 * the failure of a downstream Heartline call (with its `call`), or the
 * provider's own error when its code could not be answered as it is. Nested
 * at most `MAX_CAUSE_DEPTH` levels deep.
 */
export interface ErrorCause {
  code: string;
  message: string;
  /** `service#method` of the downstream call that failed. */
  call?: string;
  details?: unknown;
  cause?: ErrorCause;
}

/** The body of an error response: a MessagePack map. */
export interface ErrorBody {
  code: string;
  message: string;
  name?: string;
  details?: unknown;
  stack?: string;
  cause?: ErrorCause;
}

/** Most `cause` levels a provider sends, and a consumer reads, in one error map. */
export const MAX_CAUSE_DEPTH = 8;

/** Handshake request body (consumer to provider). */
export interface HandshakeRequest {
  /** Highest protocol version the consumer speaks. */
  version: number;
  /** Largest frame the consumer accepts, in bytes. */
  maxFrameSize: number;
  /** Ping interval the consumer proposes, in ms; 0 for none. */
  heartbeat: number;
  /** Free-form name of the consumer software, for logs. */
  agent?: string;
  /** What the consumer proves its identity with (a token), at most MAX_CREDENTIALS_BYTES of UTF-8; never logged. */
  credentials?: string;
  /** The consumer sends and reads fragment frames (protocol.md 4.9); absent means false. */
  fragments?: boolean;
}

/** Handshake response body (provider to consumer). */
export interface HandshakeResponse {
  /** Protocol version both sides now speak. */
  version: number;
  /** Largest frame the provider accepts, in bytes. */
  maxFrameSize: number;
  /** Ping interval the consumer must keep to when idle, in ms; 0 for none. */
  heartbeat: number;
  /** The provider closes a connection it has heard nothing from for this long, in ms; 0 for never. */
  idleTimeout: number;
  /** Both sides may send fragment frames (protocol.md 4.9); present only as `true`, only when the request had it. */
  fragments?: boolean;
}

/**
 * Placeholder for the budget item of a request encoded before it is written:
 * msgpackr writes it as uint32 (`ce ff ff ff ff`), the last five bytes of the
 * body, which `writeBudget` overwrites with the budget left at write time.
 */
export const BUDGET_PLACEHOLDER = 0xffffffff;
/** Largest budget on the wire, in ms: a uint32. */
const MAX_BUDGET = 0xffffffff;

/**
 * The positional array a request body encodes: seven items, the last being
 * the budget placeholder when the call has a deadline (`writeBudget` sets it
 * per attempt) and nil when it has none.
 */
export function requestTuple(
  service: string,
  version: string,
  group: string,
  method: string,
  args: unknown[],
  attachments: Attachments | undefined,
  hasDeadline: boolean,
): unknown[] {
  return [service, version, group, method, args, attachments ?? null, hasDeadline ? BUDGET_PLACEHOLDER : null];
}

/**
 * The encoded start of every request to one method: the header of a
 * seven-item array and the four names, as `requestTuple` encodes them; made
 * once per method (`encodeRequest`). Undefined when longer than MAX_PREFIX
 * bytes (then `encodeRequest` encodes the whole tuple).
 */
export function requestPrefix(service: string, version: string, group: string, method: string): Uint8Array | undefined {
  const names = encodeBody([service, version, group, method]);
  if (names.length > MAX_PREFIX) return undefined;
  const prefix = new Uint8Array(names); // a copy: the slab is msgpackr's
  prefix[0] = 0x97; // fixarray of 7 (the four names were a fixarray of 4)
  return prefix;
}

/**
 * A request body: the same bytes as `encodeBody(requestTuple(...))`, with the
 * method's `prefix` (`requestPrefix`) copied in rather than its four names
 * encoded again, in one buffer and one encode.
 */
export function encodeRequest(
  prefix: Uint8Array,
  args: unknown[],
  attachments: Attachments | undefined,
  hasDeadline: boolean,
  omitUndefined: boolean,
): Buffer {
  return encodeAfter(prefix, [args, attachments ?? null, hasDeadline ? BUDGET_PLACEHOLDER : null], omitUndefined);
}

/** True when `body` (from `requestTuple`) ends with a budget placeholder that `writeBudget` may set. */
export function hasBudgetSlot(body: Uint8Array): boolean {
  return body.length >= 6 && body[body.length - 5] === 0xce;
}

/**
 * Sets the budget of a request encoded with a deadline (`hasBudgetSlot`), in
 * place: `ms` rounded up, at least 0, at most 2^32-1. Only for a body that no
 * frame queued for writing still holds.
 */
export function writeBudget(body: Uint8Array, ms: number): void {
  const v = ms >= MAX_BUDGET ? MAX_BUDGET : ms > 0 ? Math.ceil(ms) : 0;
  const at = body.length - 4;
  body[at] = v >>> 24;
  body[at + 1] = (v >>> 16) & 0xff;
  body[at + 2] = (v >>> 8) & 0xff;
  body[at + 3] = v & 0xff;
}

/**
 * The same request for a connection that agreed protocol version 1: a copy
 * with six items (fixarray `0x96`), the budget item dropped (five bytes when
 * it is a placeholder, one when nil). Pass `hasBudget` when the caller knows
 * how the body was encoded: sniffing the bytes cannot tell a nil budget after
 * attachments whose last string ends in a 0xce byte and three more bytes.
 */
export function asVersion1Request(body: Uint8Array, hasBudget = hasBudgetSlot(body)): Buffer {
  const drop = hasBudget ? 5 : 1;
  const copy = Buffer.from(body.subarray(0, body.length - drop));
  copy[0] = 0x96;
  return copy;
}

function badRequest(what: string): HeartlineError {
  return new HeartlineError('BAD_REQUEST', `malformed request body: ${what}`);
}

/**
 * Checks a request body that already decoded as MessagePack: undefined when
 * it is a `RequestBody`, else the BAD_REQUEST it is answered with (the call
 * fails, the connection stays).
 */
export function checkRequest(value: unknown): HeartlineError | undefined {
  if (!Array.isArray(value) || (value.length !== 6 && value.length !== 7)) return badRequest('expected an array of 6 or 7 items');
  const [service, version, group, method, args, attachments, budget] = value as unknown[];
  if (typeof service !== 'string' || typeof version !== 'string' || typeof group !== 'string') {
    return badRequest('service, version and group must be strings');
  }
  if (typeof method !== 'string') return badRequest('method must be a string');
  if (!Array.isArray(args)) return badRequest('args must be an array');
  if (attachments !== null) {
    if (typeof attachments !== 'object' || Array.isArray(attachments)) return badRequest('attachments must be a map or nil');
    for (const key of Object.keys(attachments)) {
      if (typeof (attachments as Record<string, unknown>)[key] !== 'string') return badRequest('attachment values must be strings');
    }
  }
  if (budget !== undefined && budget !== null && !(typeof budget === 'number' && Number.isSafeInteger(budget) && budget >= 0)) {
    return badRequest('budget must be a non-negative integer or nil');
  }
  return undefined;
}

/**
 * Reads a request body that already decoded as MessagePack. A value of the wrong
 * shape is a BAD_REQUEST (the call fails, the connection stays).
 */
export function readRequest(value: unknown): RequestMessage | HeartlineError {
  const bad = checkRequest(value);
  if (bad !== undefined) return bad;
  const [service, version, group, method, args, attachments, budget] = value as RequestBody;
  return { service, version, group, method, args, attachments, budget: budget ?? undefined };
}

/** The body of an error response for `err`. The stack travels only when `withStack`. */
export function errorBody(code: ErrorCode, message: string, name?: string, details?: unknown, stack?: string, cause?: ErrorCause): ErrorBody {
  const body: ErrorBody = { code, message };
  if (name !== undefined) body.name = name;
  if (details !== undefined) body.details = details;
  if (stack !== undefined) body.stack = stack;
  if (cause !== undefined) body.cause = cause;
  return body;
}

/**
 * Reads an error map's `cause` as a HeartlineError chain (remote: true, with
 * `call` and `details`), at most `MAX_CAUSE_DEPTH` levels: deeper levels are
 * left out. Lenient: a cause that is not a map with a string `code` is
 * ignored (undefined), never a reason to fail the call; an unknown code
 * string reads as HANDLER_ERROR, a missing message as "remote error <CODE>".
 */
export function readCause(value: unknown, depth = 1): HeartlineError | undefined {
  if (depth > MAX_CAUSE_DEPTH || typeof value !== 'object' || value === null || Array.isArray(value) || ArrayBuffer.isView(value)) return undefined;
  const map = value as Record<string, unknown>;
  if (typeof map.code !== 'string') return undefined;
  const code: ErrorCode = isErrorCode(map.code) ? map.code : 'HANDLER_ERROR';
  const message = typeof map.message === 'string' ? map.message : `remote error ${map.code}`;
  return new HeartlineError(code, message, {
    remote: true,
    call: typeof map.call === 'string' ? map.call : undefined,
    details: map.details,
    cause: readCause(map.cause, depth + 1),
  });
}

/**
 * Turns an error response (status != 0) into a HeartlineError. The status byte
 * is authoritative; an unknown status, or one of a local code (never sent on
 * the wire), fails the call with PROTOCOL_ERROR and the connection stays. A
 * decodable body that is not an error map is accepted (the message falls back
 * to "remote error <CODE>"); its `cause`, if any, becomes `err.cause` (see
 * `readCause`). Throws a PROTOCOL_ERROR when the body is not
 * decodable (either refusal of the codec): the caller closes the connection.
 */
export function readErrorResponse(status: number, body: Buffer): HeartlineError {
  let value: unknown;
  try {
    value = body.length === 0 ? undefined : decodeBody(body);
  } catch (err) {
    throw new HeartlineError('PROTOCOL_ERROR', `undecodable error body: ${(err as Error).message}`, { cause: err });
  }
  const code = codeForStatus(status);
  if (code === undefined || !ERROR_CODES[code].onWire) {
    return new HeartlineError('PROTOCOL_ERROR', `unknown response status ${status}`, { details: value });
  }
  const map = typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
  const message = typeof map.message === 'string' ? map.message : `remote error ${code}`;
  const bodyCode = map.code;
  return new HeartlineError(code, message, {
    remote: true,
    details: map.details,
    remoteName: typeof map.name === 'string' ? map.name : undefined,
    remoteStack: typeof map.stack === 'string' ? map.stack : undefined,
    cause: readCause(map.cause) ?? (isErrorCode(bodyCode) && bodyCode !== code ? `body code ${bodyCode}` : undefined),
  });
}

/**
 * Reads a response (a call's, or the answer to a push): the decoded value for
 * status 0 (undefined for an empty body), or the HeartlineError an error
 * response carries (decoded values are plain data, never a HeartlineError, so
 * `instanceof` tells them apart with no wrapper object). Throws, as
 * `readErrorResponse` does, when the body is not decodable: a protocol error.
 */
export function readResponse(status: number, body: Buffer): unknown {
  if (status !== 0) return readErrorResponse(status, body);
  return body.length === 0 ? undefined : decodeBody(body);
}

/** What a consumer acts on in a drain body (protocol.md 4.6). */
export interface DrainNotice {
  /**
   * Only this connection drains (`reconnect: true`, for example its
   * credentials expired): the provider still serves, and new calls go on a
   * new connection. False (absent, or any other value): the provider is
   * shutting down.
   */
  reconnect: boolean;
}

const PROVIDER_DRAIN: DrainNotice = Object.freeze({ reconnect: false });
const CONNECTION_DRAIN: DrainNotice = Object.freeze({ reconnect: true });

/** A drain body read: empty or any map; undefined for anything else. Other fields are ignored. Never throws. */
export function readDrainBody(body: Buffer): DrainNotice | undefined {
  if (body.length === 0) return PROVIDER_DRAIN;
  try {
    const value = decodeBody(body);
    if (typeof value !== 'object' || value === null || Array.isArray(value) || ArrayBuffer.isView(value) || value instanceof Date) return undefined;
    return Object.hasOwn(value, 'reconnect') && (value as Record<string, unknown>).reconnect === true ? CONNECTION_DRAIN : PROVIDER_DRAIN;
  } catch {
    return undefined;
  }
}

function readUint(map: Record<string, unknown>, key: string): number | undefined {
  const v = map[key];
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : undefined;
}

/** Validates a decoded handshake request; undefined when malformed. */
export function readHandshakeRequest(value: unknown): HandshakeRequest | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const map = value as Record<string, unknown>;
  const version = readUint(map, 'version');
  const maxFrameSize = readUint(map, 'maxFrameSize');
  const heartbeat = readUint(map, 'heartbeat') ?? 0;
  if (version === undefined || maxFrameSize === undefined) return undefined;
  const request: HandshakeRequest = { version, maxFrameSize, heartbeat };
  if (typeof map.agent === 'string') request.agent = map.agent;
  const credentials = map.credentials;
  if (credentials !== undefined) {
    // A credentials field must be a str of at most 8 KiB; anything else makes the handshake malformed.
    if (typeof credentials !== 'string' || Buffer.byteLength(credentials, 'utf8') > MAX_CREDENTIALS_BYTES) return undefined;
    request.credentials = credentials;
  }
  const fragments = map.fragments;
  if (fragments !== undefined) {
    // A boolean or nothing: any other type makes the handshake malformed.
    if (typeof fragments !== 'boolean') return undefined;
    if (fragments) request.fragments = true;
  }
  return request;
}

/** Validates a decoded handshake response; undefined when malformed. */
export function readHandshakeResponse(value: unknown): HandshakeResponse | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const map = value as Record<string, unknown>;
  const version = readUint(map, 'version');
  const maxFrameSize = readUint(map, 'maxFrameSize');
  if (version === undefined || maxFrameSize === undefined) return undefined;
  return { version, maxFrameSize, heartbeat: readUint(map, 'heartbeat') ?? 0, idleTimeout: readUint(map, 'idleTimeout') ?? 0 };
}
