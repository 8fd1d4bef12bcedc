import fc from 'fast-check';
import { Unpackr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { decodeBody, encodeBody } from '../../src/protocol/codec.js';

describe('codec', () => {
  it('writes standard MessagePack: plain maps, no records', () => {
    expect(encodeBody({ a: 1 }).toString('hex')).toBe('81a16101');
    expect(encodeBody([{ a: 1 }, { a: 2 }]).toString('hex')).toBe('9281a1610181a16102');
  });

  it('decodes a map to a plain object', () => {
    const value = decodeBody(Buffer.from('81a16101', 'hex'));
    expect(value).toEqual({ a: 1 });
    expect(value instanceof Map).toBe(false);
  });

  it('encodes undefined as nil', () => {
    expect(encodeBody(undefined).toString('hex')).toBe('c0');
    expect(decodeBody(encodeBody({ u: undefined }))).toEqual({ u: null });
  });

  it('decodes 64-bit integers to number when safe and bigint otherwise', () => {
    expect(decodeBody(Buffer.from('cf0000000000000005', 'hex'))).toBe(5);
    expect(decodeBody(Buffer.from('cf0020000000000001', 'hex'))).toBe(2n ** 53n + 1n);
    expect(decodeBody(Buffer.from('d3ffffffffffffffff', 'hex'))).toBe(-1);
    expect(decodeBody(encodeBody(2n ** 63n - 1n))).toBe(2n ** 63n - 1n);
  });

  it('refuses a bigint over 64 bits', () => {
    expect(() => encodeBody(2n ** 70n)).toThrow();
  });

  it('rejects trailing bytes, truncation and 0xc1', () => {
    expect(() => decodeBody(Buffer.from('0102', 'hex'))).toThrow();
    expect(() => decodeBody(Buffer.from('92a3', 'hex'))).toThrow();
    expect(() => decodeBody(Buffer.from('c1', 'hex'))).toThrow();
  });

  it('refuses a __proto__ key before msgpackr sees it (BAD_REQUEST), so nothing reaches Object.prototype', () => {
    const hostile = encodeBody(JSON.parse('{"__proto__": {"polluted": true}}'));
    expect(() => decodeBody(hostile)).toThrow(expect.objectContaining({ code: 'BAD_REQUEST' }));
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('keeps earlier results intact across later encodes', () => {
    const first = encodeBody('first');
    for (let i = 0; i < 10_000; i++) encodeBody({ i, s: 'x'.repeat(100) });
    expect(decodeBody(first)).toBe('first');
  });
});

describe('integers on the wire (D21)', () => {
  const hexOf = (value: unknown): string => encodeBody(value).toString('hex');

  it('safe integers beyond 32 bits go out as uint64/int64, not float64, and decode back equal', () => {
    const cases: Array<[number, string]> = [
      [5_000_000_000, 'cf000000012a05f200'],
      [2 ** 53 - 1, 'cf001fffffffffffff'],
      [2 ** 32, 'cf0000000100000000'],
      [-5_000_000_000, 'd3fffffffed5fa0e00'],
      [-(2 ** 53 - 1), 'd3ffe0000000000001'],
      [-(2 ** 31) - 1, 'd3ffffffff7fffffff'],
    ];
    for (const [value, expected] of cases) {
      expect(hexOf(value), String(value)).toBe(expected);
      expect(decodeBody(encodeBody(value))).toBe(value);
    }
  });

  it('non-integral and unsafe numbers stay float64; -0 is integer 0; 32-bit ints keep their short forms', () => {
    expect(hexOf(2 ** 53 + 2)).toBe('cb4340000000000001');
    expect(hexOf(1.5)).toBe('cb3ff8000000000000');
    expect(hexOf(-0)).toBe('00');
    expect(hexOf(0xffffffff)).toBe('ceffffffff');
    expect(hexOf(-(2 ** 31))).toBe('d280000000');
    expect(decodeBody(encodeBody(2 ** 53 + 2))).toBe(2 ** 53 + 2);
  });

  it('rewrites items only: 0xcb bytes inside strings, bins, keys and other numbers are left alone', () => {
    const cbString = '\u02c0\u02cb'; // UTF-8 cb 80, cb 8b
    const value = {
      [cbString]: [cbString, Buffer.from([0xcb, 0xcb, 0x00, 0xcb]), 2 ** 40, -(2 ** 40), 1.5, 0xcb, new Date(1_700_000_000_123)],
      big: { deeper: [[[5_000_000_000]]] },
      unsafe: 2 ** 60,
    };
    const bytes = encodeBody(value);
    expect(bytes.toString('hex')).toContain('cf0000010000000000');
    expect(bytes.toString('hex')).toContain('d3ffffff0000000000');
    expect(decodeBody(bytes)).toEqual(value);
  });

  it("the rewrite touches only this body's bytes in msgpackr's shared slab", () => {
    const before = encodeBody('before');
    const big = encodeBody([2 ** 40, 2 ** 41]);
    const after = encodeBody('after');
    expect(big.buffer).toBe(after.buffer); // the slab is shared...
    expect(big.byteOffset + big.length).toBeLessThanOrEqual(after.byteOffset); // ...but the regions never overlap
    expect(decodeBody(before)).toBe('before');
    expect(decodeBody(after)).toBe('after');
    expect(decodeBody(big)).toEqual([2 ** 40, 2 ** 41]);
    for (let i = 0; i < 10_000; i++) encodeBody({ i: i * 2 ** 33 });
    expect(big.toString('hex')).toBe('92cf0000010000000000cf0000020000000000');
  });

  // Decodes int64/uint64 as strings and floats as numbers: a safe integer outside the
  // 32-bit range that comes back as a number was sent as float64.
  const int64AsText = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'string' });
  const safeInt = fc.oneof(fc.maxSafeInteger(), fc.integer(), fc.constantFrom(2 ** 53 - 1, -(2 ** 53 - 1), 2 ** 32, -(2 ** 31) - 1, 0xcb, 0xcbcbcbcbcb));
  const double = fc.double({ noNaN: true }).map((d) => (Object.is(d, -0) ? 0 : d)); // -0 is sent as integer 0, by design
  const leaf = fc.oneof(safeInt, double, fc.string({ unit: 'binary' }), fc.constant('\u02cb'), fc.uint8Array().map((u) => Buffer.from(u)), fc.boolean(), fc.constant(null));
  const tree = fc.letrec((tie) => ({
    value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, fc.array(tie('value'), { maxLength: 5 }), fc.dictionary(fc.string({ unit: 'binary' }).filter((k) => k !== '__proto__'), tie('value'), { maxKeys: 5 })),
  })).value;

  it('round-trips JSON-ish values with integers of any safe size, and never writes a safe integer as float64', () => {
    fc.assert(
      fc.property(tree, (value) => {
        const bytes = encodeBody(value);
        expect(decodeBody(bytes)).toEqual(value);
        (function check(v: unknown): void {
          if (typeof v === 'number') expect(Number.isSafeInteger(v) && (v >= 2 ** 32 || v < -(2 ** 31)), `${v} went out as float64`).toBe(false);
          else if (Array.isArray(v)) v.forEach(check);
          else if (typeof v === 'object' && v !== null && !Buffer.isBuffer(v) && !(v instanceof Uint8Array)) Object.values(v).forEach(check);
        })(int64AsText.unpack(bytes));
      }),
      { numRuns: 2000 },
    );
  });
});
