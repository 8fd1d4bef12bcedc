import { hasCode, HeartlineError } from '../errors/heartline-error.js';
import { decodeBody, decodeRange } from '../protocol/codec.js';
import { checkRequest, type Attachments, type RequestBody } from '../protocol/messages.js';
import { scanBody, topItemEnd } from '../protocol/msgpack-scan.js';
import { MAX_NAME_BYTES, type RequestName, type RequestNames } from './request-names.js';
import type { ServerCall } from './server-interceptor.js';
import type { ExportedMethod, ServiceRegistry } from './service-registry.js';

/**
 * The decode stage, part one: a request frame's body, checked (the context
 * stage reads its items in place: no RequestMessage per call), or
 * the error it is answered with. BAD_REQUEST (valid MessagePack of the wrong
 * shape, or one the codec refuses) is answered and the connection stays;
 * PROTOCOL_ERROR (malformed MessagePack) closes the connection.
 */
export function decodeRequest(body: Buffer, names?: RequestNames): RequestBody | HeartlineError {
  if (names !== undefined) {
    names.lastHit = undefined;
    let fast: RequestBody | undefined;
    try {
      fast = body.length === 0 || scanBody(body) !== undefined ? undefined : readScanned(body, names);
    } catch {
      fast = undefined; // not expected after a clean scan: the general path answers it
    }
    if (fast !== undefined) return fast;
    names.lastHit = undefined;
  }
  let decoded: unknown;
  try {
    decoded = body.length === 0 ? null : decodeBody(body); // an empty body is nil: BAD_REQUEST below
  } catch (err) {
    if (hasCode(err, 'BAD_REQUEST')) return new HeartlineError('BAD_REQUEST', `malformed request body: ${err.message}`);
    return new HeartlineError('PROTOCOL_ERROR', `undecodable request body: ${(err as Error).message}`);
  }
  return checkRequest(decoded) ?? (decoded as RequestBody);
}

/**
 * A request body `scanBody` just accepted, read item by item: the names from
 * `names` when their bytes are those of a recent request (else decoded and
 * kept there), then args, attachments and budget decoded in place (no array
 * of seven decoded first). Undefined for anything this does not read exactly
 * as `decodeBody` and `checkRequest` would (not a six- or seven-item array,
 * an item of the wrong type): the general path then answers it.
 */
function readScanned(body: Buffer, names: RequestNames): RequestBody | undefined {
  const head = body[0];
  const items = head === 0x97 ? 7 : head === 0x96 ? 6 : 0;
  if (items === 0) return undefined;
  const namesEnd = topItemEnd(3);
  const argsEnd = topItemEnd(4);
  const attachmentsEnd = topItemEnd(5);
  if (!isStr(body[1]!) || !isStr(body[topItemEnd(0)]!) || !isStr(body[topItemEnd(1)]!) || !isStr(body[topItemEnd(2)]!)) return undefined;
  const a = body[namesEnd]!;
  if (!((a >= 0x90 && a <= 0x9f) || a === 0xdc || a === 0xdd)) return undefined;
  if (namesEnd - 1 > MAX_NAME_BYTES) return undefined; // long names are not kept: the general path, before any is decoded
  let name = names.find(body, 1, namesEnd);
  if (name === undefined) {
    const service = decodeRange(body, 1, topItemEnd(0)) as string;
    const version = decodeRange(body, topItemEnd(0), topItemEnd(1)) as string;
    const group = decodeRange(body, topItemEnd(1), topItemEnd(2)) as string;
    const method = decodeRange(body, topItemEnd(2), namesEnd) as string;
    name = names.add(body, 1, namesEnd, service, version, group, method);
  }
  const args = decodeRange(body, namesEnd, argsEnd) as unknown[];
  let attachments: Attachments | null = null;
  if (body[argsEnd] !== 0xc0) {
    const value = decodeRange(body, argsEnd, attachmentsEnd);
    if (typeof value !== 'object' || value === null || Array.isArray(value) || ArrayBuffer.isView(value) || value instanceof Date) return undefined;
    for (const key of Object.keys(value)) if (typeof (value as Record<string, unknown>)[key] !== 'string') return undefined;
    attachments = value as Attachments;
  }
  names.lastHit = name;
  if (items === 6) return [name.service, name.version, name.group, name.name, args, attachments];
  const budget = readBudget(body, attachmentsEnd);
  if (budget === undefined) {
    names.lastHit = undefined;
    return undefined;
  }
  return [name.service, name.version, name.group, name.name, args, attachments, budget];
}

/**
 * The budget item at `at` (the body's last): nil, or a non-negative safe
 * integer; read in place for the forms a uint32 takes (no decode), else
 * decoded. Undefined for anything else (the general path refuses it).
 */
function readBudget(body: Buffer, at: number): number | null | undefined {
  const b = body[at]!;
  if (b === 0xc0) return null;
  if (b <= 0x7f) return b;
  if (b === 0xce) return body.readUInt32BE(at + 1);
  if (b === 0xcc) return body[at + 1]!;
  if (b === 0xcd) return body.readUInt16BE(at + 1);
  const value = decodeRange(body, at, body.length);
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}

/** A MessagePack str header (fixstr, str 8/16/32). */
function isStr(b: number): boolean {
  return (b >= 0xa0 && b <= 0xbf) || b === 0xd9 || b === 0xda || b === 0xdb;
}

/**
 * The decode stage, part two: the declared method a request names (a Map
 * lookup, so `constructor`, `__proto__` and prototype members are never
 * found), or SERVICE_NOT_FOUND / METHOD_NOT_FOUND, or BAD_REQUEST when an
 * argument declared as a callback is not a callback id.
 */
export function findMethod(registry: ServiceRegistry, request: Pick<ServerCall, 'service' | 'version' | 'group' | 'method' | 'args'>, name?: RequestName): ExportedMethod | HeartlineError {
  let method = name?.method;
  if (method === undefined) {
    const service = registry.lookup(request.service, request.version, request.group);
    if (service === undefined) return new HeartlineError('SERVICE_NOT_FOUND', `no service ${request.service} version '${request.version}' group '${request.group}'`);
    method = service.methods.get(request.method);
    if (method === undefined) return new HeartlineError('METHOD_NOT_FOUND', `${request.service} has no method '${request.method}'`);
    if (name !== undefined) name.method = method; // found: it stays (nothing is unregistered)
  }
  const positions = method.callbacks;
  if (positions !== undefined) {
    for (const i of positions) {
      const id = request.args[i];
      if (typeof id !== 'number' || !Number.isInteger(id) || id < 1) return new HeartlineError('BAD_REQUEST', `argument ${i} of ${request.method} must be a callback id`);
    }
  }
  return method;
}
