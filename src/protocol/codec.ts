import { C1, Packr } from 'msgpackr';

/**
 * The one MessagePack codec every Heartline body goes through, set for
 * standard MessagePack so that other languages can read what we write:
 *
 * - `useRecords: false`: msgpackr's record extension is not standard;
 * - `mapsAsObjects: true`: a map decodes to a plain object, not a `Map`;
 * - `encodeUndefinedAsNil: true`: `undefined` travels as nil;
 * - `int64AsType: 'auto'`: a 64-bit integer decodes to a `number` when it fits
 *   in ±2^53 and to a `bigint` otherwise, so nothing is silently rounded; a
 *   `bigint` encodes as int64/uint64 and one beyond 64 bits fails to encode.
 * - `moreTypes: false`: no msgpackr-only extensions.
 */
const packr = new Packr({
  useRecords: false,
  mapsAsObjects: true,
  encodeUndefinedAsNil: true,
  int64AsType: 'auto' as 'bigint', // the typings lack 'auto', which msgpackr supports
  moreTypes: false,
  variableMapSize: true,
  useBigIntExtension: false,
  largeBigIntToFloat: false,
});

/**
 * Encodes one value. The returned buffer may share memory with later encodes'
 * slab but is never overwritten, so it can be queued as is. Throws on values
 * MessagePack cannot carry (symbols, bigints over 64 bits).
 */
export function encodeBody(value: unknown): Buffer {
  return packr.pack(value);
}

/**
 * Decodes exactly one value that must fill `body` to its last byte. Throws on
 * truncated data, trailing bytes and the never-used byte 0xc1 anywhere in it
 * (msgpackr returns a marker object for 0xc1 instead of failing).
 */
export function decodeBody(body: Uint8Array): unknown {
  const value: unknown = packr.unpack(body);
  if (typeof value === 'object' && value !== null && hasC1(value)) throw new Error('MessagePack byte 0xc1 is never used');
  return value;
}

function hasC1(value: object): boolean {
  if (value === C1) return true;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      if (typeof item === 'object' && item !== null && hasC1(item)) return true;
    }
    return false;
  }
  if (ArrayBuffer.isView(value) || value instanceof Date) return false;
  for (const key in value) {
    const item: unknown = (value as Record<string, unknown>)[key];
    if (typeof item === 'object' && item !== null && hasC1(item)) return true;
  }
  return false;
}
