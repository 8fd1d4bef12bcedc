/**
 * The typed JSON form of a MessagePack body used by test/vectors/frames.json
 * (protocol.md 9.1). Plain JSON cannot tell an integer from a float, nor a str
 * from a bin, so those travel as one-key tag objects:
 *
 * | JSON                                   | MessagePack                                  |
 * |----------------------------------------|----------------------------------------------|
 * | null, true, false, "text"              | nil, bool, str                               |
 * | a number (an integer in ±(2^53-1))     | an int (any int format)                      |
 * | {"$int": "-9223372036854775808"}       | an int outside ±(2^53-1), decimal            |
 * | {"$float": 1.5}                        | a float (float 32 or float 64)               |
 * | {"$float": "NaN" / "Infinity" / "-Infinity" / "-0"} | those floats                    |
 * | {"$bin": "00ff"}                       | a bin, its bytes in hex                      |
 * | {"$timestamp": [seconds, nanoseconds]} | extension -1 (timestamp), any of its 3 forms |
 * | [ ... ]                                | an array                                     |
 * | { ... }                                | a map with str keys, in the order written    |
 * | {"$map": { ... }}                      | a map whose only key starts with `$`         |
 *
 * `typedFromMsgpack` reads bytes into this form without msgpackr, so the
 * vectors check the exact MessagePack types independently of the codec under
 * test; `fromTyped` gives the JavaScript value Heartline's codec decodes to.
 */

export type Typed =
  | null
  | boolean
  | number
  | string
  | Typed[]
  | { $int: string }
  | { $float: number | 'NaN' | 'Infinity' | '-Infinity' | '-0' }
  | { $bin: string }
  | { $timestamp: [number, number] }
  | { $map: { [key: string]: Typed } }
  | { [key: string]: Typed };

function isTag(value: object): string | undefined {
  const keys = Object.keys(value);
  return keys.length === 1 && keys[0]!.startsWith('$') ? keys[0] : undefined;
}

/** The JavaScript value Heartline's codec decodes the typed body to. */
export function fromTyped(t: Typed): unknown {
  if (t === null || typeof t !== 'object') {
    if (typeof t === 'number' && !Number.isSafeInteger(t)) throw new Error(`untagged number ${t} must be a safe integer`);
    return t;
  }
  if (Array.isArray(t)) return t.map(fromTyped);
  const tag = isTag(t);
  const o = t as Record<string, unknown>;
  switch (tag) {
    case undefined:
      break;
    case '$int': {
      const big = BigInt(o.$int as string);
      if (big >= -(2n ** 53n - 1n) && big <= 2n ** 53n - 1n) throw new Error(`$int ${big} is a safe integer: write it as a number`);
      return big;
    }
    case '$float': {
      const f = o.$float;
      return f === 'NaN' ? NaN : f === 'Infinity' ? Infinity : f === '-Infinity' ? -Infinity : f === '-0' ? -0 : (f as number);
    }
    case '$bin':
      return Buffer.from(o.$bin as string, 'hex');
    case '$timestamp': {
      const [sec, nsec] = o.$timestamp as [number, number];
      return new Date(sec * 1000 + nsec / 1e6); // the Node receiver's rule: double sum, Date truncates toward zero (protocol.md 4.8)
    }
    case '$map':
      return fromTyped(o.$map as Typed) as object;
    default:
      throw new Error(`unknown tag ${tag}`);
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(t)) out[k] = fromTyped(v as Typed);
  return out;
}

/** Reads exactly one MessagePack value filling `bytes` into its typed form. Throws on anything else. */
export function typedFromMsgpack(bytes: Uint8Array): Typed {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  const need = (n: number): number => {
    if (at + n > buf.length) throw new Error('truncated');
    const start = at;
    at += n;
    return start;
  };
  const int = (v: bigint): Typed => (v >= -(2n ** 53n - 1n) && v <= 2n ** 53n - 1n ? Number(v) : { $int: v.toString() });
  const float = (f: number): Typed => ({ $float: Number.isNaN(f) ? 'NaN' : f === Infinity ? 'Infinity' : f === -Infinity ? '-Infinity' : Object.is(f, -0) ? '-0' : f });
  const str = (n: number): string => {
    const start = need(n);
    const s = buf.toString('utf8', start, start + n);
    if (!Buffer.from(s, 'utf8').equals(buf.subarray(start, start + n))) throw new Error('str is not valid UTF-8');
    return s;
  };
  const array = (n: number, depth: number): Typed[] => {
    const out: Typed[] = [];
    for (let i = 0; i < n; i++) out.push(item(depth + 1));
    return out;
  };
  const map = (n: number, depth: number): Typed => {
    const out: Record<string, Typed> = {};
    for (let i = 0; i < n; i++) {
      const key = item(depth + 1);
      if (typeof key !== 'string') throw new Error('map key is not a str');
      if (Object.hasOwn(out, key)) throw new Error(`duplicate map key ${key}`);
      Object.defineProperty(out, key, { value: item(depth + 1), enumerable: true, writable: true, configurable: true });
    }
    return isTag(out) !== undefined ? { $map: out } : out;
  };
  const ext = (type: number, n: number): Typed => {
    const start = need(n);
    if (type !== 0xff) throw new Error(`extension type ${(type << 24) >> 24} is not allowed`);
    if (n === 4) return { $timestamp: [buf.readUInt32BE(start), 0] };
    if (n === 8) {
      const v = buf.readBigUInt64BE(start);
      return { $timestamp: [Number(v & 0x3ffffffffn), Number(v >> 34n)] };
    }
    if (n === 12) return { $timestamp: [Number(buf.readBigInt64BE(start + 4)), buf.readUInt32BE(start)] };
    throw new Error(`timestamp of ${n} bytes`);
  };
  const item = (depth: number): Typed => {
    const b = buf[need(1)]!;
    if (b <= 0x7f) return b;
    if (b >= 0xe0) return b - 0x100;
    if (b >= 0x80 && b <= 0x8f) return map(b & 0x0f, depth);
    if (b >= 0x90 && b <= 0x9f) return array(b & 0x0f, depth);
    if (b >= 0xa0 && b <= 0xbf) return str(b & 0x1f);
    switch (b) {
      case 0xc0: return null;
      case 0xc2: return false;
      case 0xc3: return true;
      case 0xc4: { const n = buf.readUInt8(need(1)); const s = need(n); return { $bin: buf.toString('hex', s, s + n) }; }
      case 0xc5: { const n = buf.readUInt16BE(need(2)); const s = need(n); return { $bin: buf.toString('hex', s, s + n) }; }
      case 0xc6: { const n = buf.readUInt32BE(need(4)); const s = need(n); return { $bin: buf.toString('hex', s, s + n) }; }
      case 0xc7: { const n = buf.readUInt8(need(1)); return ext(buf.readUInt8(need(1)), n); }
      case 0xc8: { const n = buf.readUInt16BE(need(2)); return ext(buf.readUInt8(need(1)), n); }
      case 0xc9: { const n = buf.readUInt32BE(need(4)); return ext(buf.readUInt8(need(1)), n); }
      case 0xca: return float(buf.readFloatBE(need(4)));
      case 0xcb: return float(buf.readDoubleBE(need(8)));
      case 0xcc: return buf.readUInt8(need(1));
      case 0xcd: return buf.readUInt16BE(need(2));
      case 0xce: return buf.readUInt32BE(need(4));
      case 0xcf: return int(buf.readBigUInt64BE(need(8)));
      case 0xd0: return buf.readInt8(need(1));
      case 0xd1: return buf.readInt16BE(need(2));
      case 0xd2: return buf.readInt32BE(need(4));
      case 0xd3: return int(buf.readBigInt64BE(need(8)));
      case 0xd4: return ext(buf.readUInt8(need(1)), 1);
      case 0xd5: return ext(buf.readUInt8(need(1)), 2);
      case 0xd6: return ext(buf.readUInt8(need(1)), 4);
      case 0xd7: return ext(buf.readUInt8(need(1)), 8);
      case 0xd8: return ext(buf.readUInt8(need(1)), 16);
      case 0xd9: return str(buf.readUInt8(need(1)));
      case 0xda: return str(buf.readUInt16BE(need(2)));
      case 0xdb: return str(buf.readUInt32BE(need(4)));
      case 0xdc: return array(buf.readUInt16BE(need(2)), depth);
      case 0xdd: return array(buf.readUInt32BE(need(4)), depth);
      case 0xde: return map(buf.readUInt16BE(need(2)), depth);
      case 0xdf: return map(buf.readUInt32BE(need(4)), depth);
      default: throw new Error(`byte 0x${b.toString(16)} is never used`);
    }
  };
  const value = item(1);
  if (at !== buf.length) throw new Error(`${buf.length - at} trailing bytes`);
  return value;
}
