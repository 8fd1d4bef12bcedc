import { Packr, RESERVE_START_SPACE } from 'msgpackr';
import { HeartlineError } from '../errors/heartline-error.js';
import { integersInPlace, scanBody } from './msgpack-scan.js';

/**
 * The one MessagePack codec every Heartline body goes through, set for
 * standard MessagePack so that other languages can read what we write:
 *
 * - `useRecords: false`: msgpackr's record extension is not standard;
 * - `mapsAsObjects: true`: a map decodes to a plain object, not a `Map`;
 * - `encodeUndefinedAsNil: true`: `undefined` travels as nil (in an array;
 *   an object's undefined properties are omitted, see `omitUndefined`);
 * - `int64AsType: 'auto'`: a 64-bit integer decodes to a `number` when it fits
 *   in ±2^53 and to a `bigint` otherwise, so nothing is silently rounded; a
 *   `bigint` encodes as int64/uint64 and one beyond 64 bits fails to encode.
 * - `moreTypes: false`: no msgpackr-only extensions (the decoder still knows
 *   them; the scan keeps them away from it).
 * - `structuredClone: false`: msgpackr refuses its reference extensions.
 */
const options = {
  useRecords: false,
  mapsAsObjects: true,
  encodeUndefinedAsNil: true,
  int64AsType: 'auto' as 'bigint', // the typings lack 'auto', which msgpackr supports
  moreTypes: false,
  variableMapSize: true,
  useBigIntExtension: false,
  largeBigIntToFloat: false,
  structuredClone: false, // a second lock on the 0x69/0x70 reference extensions: msgpackr throws on them
};
const packr = new Packr(options);
/**
 * The same, except that object properties whose value is undefined are left
 * out (`skipValues`, missing from msgpackr's typings). Used only for values
 * value-check.ts found such properties in: its key loop is slower, and no copy
 * of the value is needed. msgpackr's output slab is module-wide, shared by both.
 */
const packrOmitting = new Packr({ ...options, skipValues: [undefined] } as typeof options);

/**
 * Encodes one value. Every number that is a safe integer goes out as a
 * MessagePack integer: msgpackr writes those outside the int32/uint32 range
 * as float64 (0xcb), so when the output holds a 0xcb byte at all, the float64
 * items holding safe integers are rewritten in place as uint64/int64 (same 9
 * bytes). The returned buffer is a view of msgpackr's slab that no later
 * encode writes to (pack() starts each value past the previous one), so it can
 * be rewritten here and queued as is. Throws on values MessagePack cannot
 * carry (symbols, bigints over 64 bits); application values are checked
 * before (value-check.ts), which also tells whether to `omitUndefined`
 * properties (else they go as nil).
 */
export function encodeBody(value: unknown, omitUndefined = false): Buffer {
  const bytes = (omitUndefined ? packrOmitting : packr).pack(value);
  if (bytes.indexOf(0xcb) !== -1) integersInPlace(bytes);
  return bytes;
}

/** Longest prefix `encodeAfter` takes, in bytes: msgpackr reserves at most 255 bytes before a value. */
export const MAX_PREFIX = 256;

/**
 * The bytes of `prefix` followed by the items of `tail` (an array of at most
 * 15 items, so that its header is the one byte 0x90 | length), in one buffer
 * and one encode: msgpackr reserves `prefix.length - 1` bytes before the
 * array (RESERVE_START_SPACE), and the prefix is written over them and the
 * array's header. The same bytes as `encodeBody` of the whole value when
 * `prefix` is that value's encoded start; a view of msgpackr's slab like
 * `encodeBody`'s. `prefix` holds 1 to MAX_PREFIX bytes.
 */
export function encodeAfter(prefix: Uint8Array, tail: readonly unknown[], omitUndefined = false): Buffer {
  const bytes = (omitUndefined ? packrOmitting : packr).pack(tail, RESERVE_START_SPACE | (prefix.length - 1));
  bytes.set(prefix, 0);
  if (bytes.indexOf(0xcb) !== -1) integersInPlace(bytes);
  return bytes;
}

/** The range `decodeRange` hands msgpackr: one object for every call (unpack reads it at once and keeps nothing). */
const range = { start: 0, end: 0 };

/**
 * Decodes the one value at `start` to `end` of `body`, a body `scanBody`
 * accepted as a whole (`topItemEnd` gives the ranges of its items): the same
 * value decoding the whole body gives at that place. Throws a
 * PROTOCOL_ERROR, as `decodeBody`, if msgpackr refuses it anyway.
 */
export function decodeRange(body: Uint8Array, start: number, end: number): unknown {
  range.start = start;
  range.end = end;
  try {
    return packr.unpack(body, range);
  } catch (err) {
    throw new HeartlineError('PROTOCOL_ERROR', `undecodable MessagePack: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Decodes exactly one value that must fill `body` to its last byte. The body
 * is scanned first (see msgpack-scan.ts); msgpackr never sees a refused body.
 * Throws only a HeartlineError: PROTOCOL_ERROR for malformed data (an empty
 * body included), BAD_REQUEST for valid MessagePack Heartline does not accept.
 */
export function decodeBody(body: Uint8Array): unknown {
  const refusal = scanBody(body);
  if (refusal !== undefined) throw refusal;
  try {
    return packr.unpack(body);
  } catch (err) {
    // Not expected after a clean scan; kept so that nothing else escapes.
    throw new HeartlineError('PROTOCOL_ERROR', `undecodable MessagePack: ${(err as Error).message}`, { cause: err });
  }
}
