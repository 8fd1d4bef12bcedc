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
