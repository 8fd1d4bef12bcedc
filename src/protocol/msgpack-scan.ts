import { HeartlineError } from '../errors/heartline-error.js';
import { MAX_DEPTH } from './constants.js';

/**
 * Walkers over raw MessagePack bytes, without decoding them (protocol.md 4).
 *
 * `scanBody` runs on every received body before msgpackr sees it. It reads
 * the bytes once, front to back (O(body bytes), no recursion, no allocation
 * unless it refuses), and stops at the first fault it meets:
 *
 * - malformed (PROTOCOL_ERROR): empty or truncated data, a length that runs
 *   past the end, trailing bytes, the never-used byte 0xc1;
 * - valid MessagePack that Heartline does not accept (BAD_REQUEST): an
 *   extension other than the timestamp (type -1 with 4, 8 or 12 data bytes),
 *   a map key that is not a str, a map key "__proto__", arrays and maps nested
 *   deeper than MAX_DEPTH.
 *
 * Refusing every extension but the timestamp is what keeps msgpackr's private
 * extensions (0x69/0x70 references, which decode to a DAG that is
 * exponentially large as a tree, 0x65 errors, 0x73 sets, 0x78 regexps, 0x74
 * typed arrays, 0x42 bigints, 0x62 bundled strings, 0x72 records) away from it.
 *
 * `integersInPlace` rewrites the float64 items of our own encoder's output
 * whose values are safe integers as int64/uint64, in place.
 */

const enum Fault {
  Truncated,
  Trailing,
  NeverUsed,
  Extension,
  KeyNotString,
  ProtoKey,
  TooDeep,
}

const MESSAGES: Record<Fault, string> = {
  [Fault.Truncated]: 'truncated MessagePack data',
  [Fault.Trailing]: 'trailing bytes after the MessagePack value',
  [Fault.NeverUsed]: 'MessagePack byte 0xc1 is never used',
  [Fault.Extension]: 'MessagePack extension not allowed (only the timestamp, type -1 with 4, 8 or 12 bytes)',
  [Fault.KeyNotString]: 'map key is not a string',
  [Fault.ProtoKey]: 'map key "__proto__" is not allowed',
  [Fault.TooDeep]: `arrays and maps nested deeper than ${MAX_DEPTH}`,
};

function refuse(fault: Fault, offset: number): HeartlineError {
  const code = fault <= Fault.NeverUsed ? 'PROTOCOL_ERROR' : 'BAD_REQUEST';
  return new HeartlineError(code, `${MESSAGES[fault]} (at byte ${offset})`);
}

// Scratch stack of the enclosing containers, indexed by depth (0..MAX_DEPTH-1). Shared
// by every call: scanBody is synchronous, never re-entered, and never reads an
// entry it has not written in the same call. Counts fit: each item is at least
// one byte, and a count over the bytes left is refused as truncated first.
const remaining = new Uint32Array(MAX_DEPTH + 1);
const isMap = new Uint8Array(MAX_DEPTH + 1);

/** How many items of a top-level array or map `scanBody` records the end of. */
const MAX_TOP_ITEMS = 8;
/** Where each of the first MAX_TOP_ITEMS items at depth 1 of the body last scanned ends (byte offset after it). */
const topEnds = new Uint32Array(MAX_TOP_ITEMS);
let topItems = 0;

/**
 * After a `scanBody` that accepted the body: where item `i` of its top-level
 * array (or map: keys and values counted apart) ends, the byte offset after
 * it; -1 when there is no such item or it is past the first MAX_TOP_ITEMS.
 * Valid until the next `scanBody`.
 */
export function topItemEnd(i: number): number {
  return i < topItems ? topEnds[i]! : -1;
}

/** Bytes of "__proto__" after its fixstr header 0xa9. */
const PROTO = [0x5f, 0x5f, 0x70, 0x72, 0x6f, 0x74, 0x6f, 0x5f, 0x5f];

/**
 * Checks that `bytes` is exactly one MessagePack value Heartline accepts.
 * Returns undefined when it is, else the refusal (PROTOCOL_ERROR or
 * BAD_REQUEST; never thrown here).
 */
export function scanBody(bytes: Uint8Array): HeartlineError | undefined {
  topItems = 0;
  const end = bytes.length;
  let pos = 0;
  let depth = 0;
  // The innermost open container, kept in locals (saved to the stack when another opens).
  let left = 1; // items still to read in it (the top level holds one)
  let inMap = false;
  for (;;) {
    if (pos >= end) return refuse(Fault.Truncated, pos);
    const start = pos;
    const b = bytes[pos++]!;
    // Item kinds: a scalar (pos moves past it), or a container of `count` items.
    let count = -1;
    let map = 0;
    if (inMap && (left & 1) === 0) {
      // A map key: str only, never "__proto__".
      let len: number;
      if (b >= 0xa0 && b <= 0xbf) len = b & 0x1f;
      else if (b === 0xd9) {
        if (pos + 1 > end) return refuse(Fault.Truncated, start);
        len = bytes[pos++]!;
      } else if (b === 0xda) {
        if (pos + 2 > end) return refuse(Fault.Truncated, start);
        len = (bytes[pos]! << 8) | bytes[pos + 1]!;
        pos += 2;
      } else if (b === 0xdb) {
        if (pos + 4 > end) return refuse(Fault.Truncated, start);
        len = bytes[pos]! * 0x1000000 + ((bytes[pos + 1]! << 16) | (bytes[pos + 2]! << 8) | bytes[pos + 3]!);
        pos += 4;
      } else {
        return refuse(b === 0xc1 ? Fault.NeverUsed : Fault.KeyNotString, start);
      }
      if (len > end - pos) return refuse(Fault.Truncated, start);
      if (len === 9 && bytes[pos] === 0x5f && isProto(bytes, pos)) return refuse(Fault.ProtoKey, start);
      pos += len;
    } else if (b <= 0x7f || b >= 0xe0) {
      // positive or negative fixint
    } else if (b <= 0x8f) {
      count = (b & 0x0f) * 2;
      map = 1;
    } else if (b <= 0x9f) {
      count = b & 0x0f;
    } else if (b <= 0xbf) {
      pos += b & 0x1f; // fixstr
    } else {
      switch (b) {
        case 0xc0: // nil
        case 0xc2: // false
        case 0xc3: // true
          break;
        case 0xc1:
          return refuse(Fault.NeverUsed, start);
        case 0xc4: // bin 8
        case 0xd9: // str 8
          if (pos + 1 > end) return refuse(Fault.Truncated, start);
          pos += 1 + bytes[pos]!;
          break;
        case 0xc5: // bin 16
        case 0xda: // str 16
          if (pos + 2 > end) return refuse(Fault.Truncated, start);
          pos += 2 + ((bytes[pos]! << 8) | bytes[pos + 1]!);
          break;
        case 0xc6: // bin 32
        case 0xdb: // str 32
          if (pos + 4 > end) return refuse(Fault.Truncated, start);
          pos += 4 + readUint32(bytes, pos);
          break;
        case 0xc7: // ext 8
          if (pos + 2 > end) return refuse(Fault.Truncated, start);
          pos = extension(bytes, bytes[pos]!, pos + 1, end);
          if (pos < 0) return refuse(-pos - 1, start);
          break;
        case 0xc8: // ext 16
          if (pos + 3 > end) return refuse(Fault.Truncated, start);
          pos = extension(bytes, (bytes[pos]! << 8) | bytes[pos + 1]!, pos + 2, end);
          if (pos < 0) return refuse(-pos - 1, start);
          break;
        case 0xc9: // ext 32
          if (pos + 5 > end) return refuse(Fault.Truncated, start);
          pos = extension(bytes, readUint32(bytes, pos), pos + 4, end);
          if (pos < 0) return refuse(-pos - 1, start);
          break;
        case 0xcc: // uint 8
        case 0xd0: // int 8
          pos += 1;
          break;
        case 0xcd: // uint 16
        case 0xd1: // int 16
          pos += 2;
          break;
        case 0xca: // float 32
        case 0xce: // uint 32
        case 0xd2: // int 32
          pos += 4;
          break;
        case 0xcb: // float 64
        case 0xcf: // uint 64
        case 0xd3: // int 64
          pos += 8;
          break;
        case 0xd4: // fixext 1
        case 0xd5: // fixext 2
        case 0xd6: // fixext 4
        case 0xd7: // fixext 8
        case 0xd8: // fixext 16
          pos = extension(bytes, 1 << (b - 0xd4), pos, end);
          if (pos < 0) return refuse(-pos - 1, start);
          break;
        case 0xdc: // array 16
          if (pos + 2 > end) return refuse(Fault.Truncated, start);
          count = (bytes[pos]! << 8) | bytes[pos + 1]!;
          pos += 2;
          break;
        case 0xdd: // array 32
          if (pos + 4 > end) return refuse(Fault.Truncated, start);
          count = readUint32(bytes, pos);
          pos += 4;
          break;
        case 0xde: // map 16
          if (pos + 2 > end) return refuse(Fault.Truncated, start);
          count = ((bytes[pos]! << 8) | bytes[pos + 1]!) * 2;
          map = 1;
          pos += 2;
          break;
        case 0xdf: // map 32
          if (pos + 4 > end) return refuse(Fault.Truncated, start);
          count = readUint32(bytes, pos) * 2;
          map = 1;
          pos += 4;
          break;
      }
    }
    if (pos > end) return refuse(Fault.Truncated, start);
    if (count >= 0) {
      // Nesting counts every container, empty ones too.
      if (depth === MAX_DEPTH) return refuse(Fault.TooDeep, start);
      if (count > end - pos) return refuse(Fault.Truncated, start);
      if (count > 0) {
        remaining[depth] = left;
        isMap[depth] = inMap ? 1 : 0;
        depth++;
        left = count;
        inMap = map === 1;
        continue;
      }
    }
    // One item is complete: close every container it completes.
    for (;;) {
      if (depth === 1 && topItems < MAX_TOP_ITEMS) topEnds[topItems++] = pos;
      if (--left !== 0) break;
      if (depth === 0) return pos === end ? undefined : refuse(Fault.Trailing, pos);
      depth--;
      left = remaining[depth]!;
      inMap = isMap[depth] === 1;
    }
  }
}

function readUint32(bytes: Uint8Array, pos: number): number {
  return bytes[pos]! * 0x1000000 + ((bytes[pos + 1]! << 16) | (bytes[pos + 2]! << 8) | bytes[pos + 3]!);
}

function isProto(bytes: Uint8Array, pos: number): boolean {
  for (let i = 0; i < 9; i++) if (bytes[pos + i] !== PROTO[i]) return false;
  return true;
}

/**
 * An extension of `length` data bytes whose type byte is at `typeAt`: the
 * position after it, or -(fault + 1). Only the timestamp passes; the length
 * is checked first, so a cut-off extension is malformed, not refused.
 */
function extension(bytes: Uint8Array, length: number, typeAt: number, end: number): number {
  if (typeAt + 1 + length > end) return -(Fault.Truncated + 1);
  if (bytes[typeAt] !== 0xff || (length !== 4 && length !== 8 && length !== 12)) return -(Fault.Extension + 1);
  return typeAt + 1 + length;
}

// Scratch for reading and writing a big-endian float64 without a DataView.
const f64 = new Float64Array(1);
const f64Bytes = new Uint8Array(f64.buffer);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Rewrites in place every float64 item (0xcb) of `bytes` whose value is a
 * safe integer as uint64 (0xcf) or int64 (0xd3): same 9 bytes. For our own
 * encoder's output only (trusted, complete MessagePack): it walks item
 * headers in order, which needs no stack, and allocates nothing.
 */
export function integersInPlace(bytes: Uint8Array): void {
  const end = bytes.length;
  let pos = 0;
  while (pos < end) {
    const b = bytes[pos]!;
    if (b <= 0x9f || b >= 0xe0) {
      pos += 1; // fixint, and fixmap/fixarray headers (their items follow)
    } else if (b <= 0xbf) {
      pos += 1 + (b & 0x1f);
    } else {
      switch (b) {
        case 0xcb: {
          for (let i = 0; i < 8; i++) f64Bytes[LITTLE_ENDIAN ? 7 - i : i] = bytes[pos + 1 + i]!;
          const v = f64[0]!;
          if (Number.isSafeInteger(v)) writeInt64(bytes, pos, v);
          pos += 9;
          break;
        }
        case 0xc4:
        case 0xd9:
          pos += 2 + bytes[pos + 1]!;
          break;
        case 0xc5:
        case 0xda:
          pos += 3 + ((bytes[pos + 1]! << 8) | bytes[pos + 2]!);
          break;
        case 0xc6:
        case 0xdb:
          pos += 5 + readUint32(bytes, pos + 1);
          break;
        case 0xc7:
          pos += 3 + bytes[pos + 1]!;
          break;
        case 0xc8:
          pos += 4 + ((bytes[pos + 1]! << 8) | bytes[pos + 2]!);
          break;
        case 0xc9:
          pos += 6 + readUint32(bytes, pos + 1);
          break;
        case 0xcc:
        case 0xd0:
          pos += 2;
          break;
        case 0xcd:
        case 0xd1:
          pos += 3;
          break;
        case 0xca:
        case 0xce:
        case 0xd2:
          pos += 5;
          break;
        case 0xcf:
        case 0xd3:
          pos += 9;
          break;
        case 0xd4:
        case 0xd5:
        case 0xd6:
        case 0xd7:
        case 0xd8:
          pos += 2 + (1 << (b - 0xd4));
          break;
        case 0xdc:
        case 0xde:
          pos += 3; // array/map 16 header; items follow
          break;
        case 0xdd:
        case 0xdf:
          pos += 5;
          break;
        default:
          pos += 1; // nil, booleans (0xc1 never comes out of an encoder)
      }
    }
  }
}

/** Writes the safe integer `v` at `pos` as 0xcf/0xd3 and 8 big-endian bytes. */
function writeInt64(bytes: Uint8Array, pos: number, v: number): void {
  // hi is the floor, so lo is in [0, 2^32): two's complement for negatives.
  const hi = Math.floor(v / 0x100000000);
  const lo = v - hi * 0x100000000;
  bytes[pos] = v < 0 ? 0xd3 : 0xcf;
  bytes[pos + 1] = (hi >>> 24) & 0xff;
  bytes[pos + 2] = (hi >>> 16) & 0xff;
  bytes[pos + 3] = (hi >>> 8) & 0xff;
  bytes[pos + 4] = hi & 0xff;
  bytes[pos + 5] = (lo >>> 24) & 0xff;
  bytes[pos + 6] = (lo >>> 16) & 0xff;
  bytes[pos + 7] = (lo >>> 8) & 0xff;
  bytes[pos + 8] = lo & 0xff;
}
