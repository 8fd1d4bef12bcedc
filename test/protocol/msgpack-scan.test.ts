import fc from 'fast-check';
import { Unpackr } from 'msgpackr';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { HeartlineError } from '../../src/errors/heartline-error.js';
import { decodeBody, encodeBody } from '../../src/protocol/codec.js';
import { MAX_DEPTH } from '../../src/protocol/constants.js';
import { scanBody } from '../../src/protocol/msgpack-scan.js';
import { dagBomb, nestedArrays } from '../helpers/msgpack-bombs.js';

const hex = (h: string): Buffer => Buffer.from(h.replace(/\s+/g, ''), 'hex');

/** The scan's verdict: 'ok' or the refusal's code. */
function verdict(bytes: Uint8Array): string {
  const refusal = scanBody(bytes);
  return refusal === undefined ? 'ok' : refusal.code;
}

/** One valid sample of every MessagePack format. */
const VALID: Record<string, string> = {
  'positive fixint': '7f',
  'negative fixint': 'e0',
  nil: 'c0',
  false: 'c2',
  true: 'c3',
  'bin 8': 'c403010203',
  'bin 16': 'c50003010203',
  'bin 32': 'c600000003010203',
  'float 32': 'ca3fc00000',
  'float 64': 'cb3ff8000000000000',
  'uint 8': 'ccff',
  'uint 16': 'cdffff',
  'uint 32': 'ceffffffff',
  'uint 64': 'cf0000000100000000',
  'int 8': 'd080',
  'int 16': 'd18000',
  'int 32': 'd280000000',
  'int 64': 'd3ffffffff7fffffff',
  fixstr: 'a3616263',
  'str 8': 'd903616263',
  'str 16': 'da0003616263',
  'str 32': 'db00000003616263',
  fixarray: '9201a161',
  'array 16': 'dc00020102',
  'array 32': 'dd000000020102',
  fixmap: '82a16101a162c0',
  'map 16': 'de0001a16101',
  'map 32': 'df00000001a16101',
  'empty containers': '9380de0000dd00000000',
  'timestamp 32 (fixext 4)': 'd6ff00000001',
  'timestamp 64 (fixext 8)': 'd7ff0000000000000001',
  'timestamp 96 (ext 8)': 'c70cff000000000000000000000001',
  'timestamp 32 (ext 8)': 'c704ff00000001',
  'timestamp 64 (ext 16)': 'c80008ff0000000000000001',
  'timestamp 96 (ext 32)': 'c90000000cff000000000000000000000001',
  'str 8 key': '81d90161c0',
  'str 16 key': '81da000161c0',
  'str 32 key': '81db0000000161c0',
  '"__proto__" as a value': '81a161a95f5f70726f746f5f5f',
  '"__proto_" and "__proto__x" as keys': '82a85f5f70726f746f5f01aa5f5f70726f746f5f5f7801',
};

describe('scanBody: what it accepts', () => {
  for (const [name, h] of Object.entries(VALID)) {
    it(`accepts ${name}`, () => {
      expect(verdict(hex(h))).toBe('ok');
      expect(() => decodeBody(hex(h))).not.toThrow();
    });
  }
});

describe('scanBody: malformed is PROTOCOL_ERROR', () => {
  it('an empty body', () => {
    expect(verdict(Buffer.alloc(0))).toBe('PROTOCOL_ERROR');
  });

  it('every proper prefix of every sample (truncated)', () => {
    for (const [name, h] of Object.entries(VALID)) {
      const bytes = hex(h);
      for (let n = 0; n < bytes.length; n++) expect(verdict(bytes.subarray(0, n)), `${name} cut at ${n}`).toBe('PROTOCOL_ERROR');
    }
  });

  it('every sample followed by a byte (trailing)', () => {
    for (const [name, h] of Object.entries(VALID)) expect(verdict(hex(`${h}c0`)), name).toBe('PROTOCOL_ERROR');
  });

  it('0xc1 anywhere: alone, in an array, as a map value, as a map key', () => {
    for (const h of ['c1', '91c1', '81a161c1', '81c1c0', '93c0c0c1']) expect(verdict(hex(h)), h).toBe('PROTOCOL_ERROR');
  });

  it('a length or count that runs past the end', () => {
    for (const h of ['dbffffffff61', 'c6ffffffff00', 'c9ffffffffff00', 'ddffffffff01', 'dfffffffffa16101', 'daffff61', '9f01', '8fa16101']) {
      expect(verdict(hex(h)), h).toBe('PROTOCOL_ERROR');
    }
  });

  it('an extension cut short is malformed even when its type is refused', () => {
    expect(verdict(hex('d769000000'))).toBe('PROTOCOL_ERROR');
    expect(verdict(hex('c7ff6900'))).toBe('PROTOCOL_ERROR');
  });
});

describe('scanBody: valid but not allowed is BAD_REQUEST', () => {
  it('every extension type but -1', () => {
    for (let type = 0; type < 0xff; type++) {
      for (const head of ['d4', 'd5', 'd6', 'd7', 'd8']) {
        const size = 1 << (parseInt(head, 16) - 0xd4);
        const body = Buffer.concat([hex(head), Buffer.from([type]), Buffer.alloc(size)]);
        expect(verdict(body), `${head} type ${type}`).toBe('BAD_REQUEST');
      }
      expect(verdict(Buffer.concat([hex('c704'), Buffer.from([type]), Buffer.alloc(4)]))).toBe('BAD_REQUEST');
    }
  });

  it('the timestamp type with a data length other than 4, 8 or 12', () => {
    for (const h of ['d4ff00', 'd5ff0000', 'd8ff00000000000000000000000000000000', 'c700ff', 'c703ff000000', 'c705ff0000000000', 'c80010ff00000000000000000000000000000000']) {
      expect(verdict(hex(h)), h).toBe('BAD_REQUEST');
    }
  });

  it("msgpackr's private extensions, and msgpackr never sees them", () => {
    const unpack = vi.spyOn(Unpackr.prototype, 'unpack');
    const bodies = {
      'structured clone id (0x69)': 'd6690000000191c0',
      'structured clone pointer (0x70)': 'd67000000001',
      'error (0x65)': 'd4650093a54572726f72a178c0',
      'set (0x73)': 'd473009101',
      'regexp (0x78)': 'd4780092a161a167',
      'typed array (0x74)': 'c70574010000803f',
      'bigint (0x42)': 'c7034201ffff',
      'bundled strings (0x62)': 'd66200000000',
      'record definition (0x72)': 'd4724091a161',
      'undefined (0)': 'd40000',
    };
    for (const [name, h] of Object.entries(bodies)) {
      expect(() => decodeBody(hex(h)), name).toThrow(expect.objectContaining({ code: 'BAD_REQUEST' }));
    }
    expect(unpack).not.toHaveBeenCalled();
  });

  it('map keys that are not str', () => {
    for (const h of ['810101', '81c001', '81c3c0', '819001', '8180c0', '81c4016101', '81cb3ff0000000000000c0', '81d6ff00000001c0']) {
      expect(verdict(hex(h)), h).toBe('BAD_REQUEST');
    }
    expect(verdict(encodeBody(new Map([[1, 'x']])))).toBe('BAD_REQUEST'); // {1: "x"}
  });

  it('a "__proto__" key, whatever its str format and however deep', () => {
    const proto = Buffer.from('__proto__').toString('hex');
    for (const h of [`81a9${proto}c0`, `81d909${proto}c0`, `81da0009${proto}c0`, `81db00000009${proto}c0`, `9181a1618181a9${proto}80`]) {
      expect(verdict(hex(h)), h).toBe('BAD_REQUEST');
    }
    expect(verdict(encodeBody(JSON.parse('{"a": {"__proto__": {"polluted": true}}}')))).toBe('BAD_REQUEST');
  });

  it(`nesting: ${MAX_DEPTH} levels pass, ${MAX_DEPTH + 1} are refused (empty containers count)`, () => {
    expect(MAX_DEPTH).toBe(100);
    expect(verdict(nestedArrays(100))).toBe('ok');
    expect(decodeBody(nestedArrays(100))).toBeInstanceOf(Array);
    expect(verdict(nestedArrays(101))).toBe('BAD_REQUEST');
    const maps = (n: number): Buffer => Buffer.concat([Buffer.from('81a161'.repeat(n - 1), 'hex'), hex('80')]);
    expect(verdict(maps(100))).toBe('ok');
    expect(verdict(maps(101))).toBe('BAD_REQUEST');
    // Depth is nesting, not the number of containers: 1000 siblings at depth 2 are fine.
    expect(verdict(encodeBody(Array.from({ length: 1000 }, () => [[]])))).toBe('ok');
  });

  it('stops at the first fault: a refused extension before a truncation is BAD_REQUEST', () => {
    expect(verdict(hex('92d4690001'))).toBe('BAD_REQUEST'); // second item missing
    expect(verdict(hex('92c1d46900'))).toBe('PROTOCOL_ERROR');
  });
});

describe('the DAG bomb', () => {
  it('is refused (BAD_REQUEST) at depths 20 and 40 in well under 50 ms, before msgpackr sees it', () => {
    const unpack = vi.spyOn(Unpackr.prototype, 'unpack');
    const bombs = [dagBomb(20), dagBomb(40)];
    const t0 = performance.now();
    for (const bomb of bombs) expect(() => decodeBody(bomb)).toThrow(expect.objectContaining({ code: 'BAD_REQUEST' }));
    expect(performance.now() - t0).toBeLessThan(50);
    expect(unpack).not.toHaveBeenCalled();
  });
});

afterEach(() => {
  vi.restoreAllMocks();
});

/** JSON-like values without "__proto__" keys (which are refused on purpose). */
const jsonish = fc.jsonValue({ maxDepth: 8 }).filter((v) => !JSON.stringify(v).includes('"__proto__"'));

describe('scanBody: properties', () => {
  it('accepts anything msgpackr encodes from JSON-like data', () => {
    fc.assert(
      fc.property(jsonish, (value) => {
        expect(scanBody(encodeBody(value))).toBeUndefined();
      }),
      { numRuns: 1000 },
    );
  });

  it('on any bytes: ok, PROTOCOL_ERROR or BAD_REQUEST, nothing thrown; decodeBody throws only those', () => {
    const anyBytes = fc.uint8Array({ maxLength: 64 });
    // Encoded values with a few bytes changed, inserted or removed: most are near-valid.
    const mutated = fc
      .tuple(jsonish, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('set', 'insert', 'delete')), { minLength: 1, maxLength: 4 }))
      .map(([value, edits]) => {
        const bytes = [...encodeBody(value)];
        for (const [at, byte, op] of edits) {
          const i = bytes.length === 0 ? 0 : at % bytes.length;
          if (op === 'set') bytes[i] = byte;
          else if (op === 'insert') bytes.splice(i, 0, byte);
          else bytes.splice(i, 1);
        }
        return Uint8Array.from(bytes);
      });
    fc.assert(
      fc.property(fc.oneof(anyBytes, mutated), (bytes) => {
        let refusal: HeartlineError | undefined;
        expect(() => (refusal = scanBody(bytes))).not.toThrow();
        if (refusal !== undefined) expect(['PROTOCOL_ERROR', 'BAD_REQUEST']).toContain(refusal.code);
        try {
          decodeBody(bytes);
          expect(refusal).toBeUndefined();
        } catch (err) {
          expect(err).toBeInstanceOf(HeartlineError);
          // A body the scan let through never makes msgpackr fail.
          expect((err as HeartlineError).code).toBe(refusal?.code);
        }
      }),
      { numRuns: 5000 },
    );
  });

  it('costs time linear in the body size, whatever its shape', () => {
    const shapes: Record<string, (n: number) => Buffer> = {
      'flat fixints': (n) => Buffer.concat([hex('dd'), u32(n), Buffer.alloc(n, 0x01)]),
      'nested to the limit, repeated': (n) => {
        const chunk = Buffer.concat([Buffer.alloc(MAX_DEPTH - 2, 0x91), hex('90')]);
        const k = Math.floor(n / chunk.length);
        return Buffer.concat([hex('dd'), u32(k), ...Array.from({ length: k }, () => chunk)]);
      },
      'map of short keys': (n) => {
        const k = Math.floor(n / 3);
        return Buffer.concat([hex('df'), u32(k), Buffer.from('a161c0'.repeat(k), 'hex')]);
      },
      'arrays of one, closing at once': (n) => Buffer.concat([hex('dd'), u32(n / 2), Buffer.from('9101'.repeat(n / 2), 'hex')]),
    };
    for (const [name, make] of Object.entries(shapes)) {
      const small = make(1 << 14);
      const large = make(1 << 20);
      expect(scanBody(small), name).toBeUndefined();
      expect(scanBody(large), name).toBeUndefined();
      const perByteSmall = bestOf(() => scanBody(small), 20) / small.length;
      const perByteLarge = bestOf(() => scanBody(large), 5) / large.length;
      // Linear: the cost per byte does not grow with the size (4x slack for cache effects and noise).
      expect(perByteLarge, name).toBeLessThan(perByteSmall * 4 + 0.5);
    }
  });
});

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

/** The fastest of `runs` runs of `fn`, in ns. */
function bestOf(fn: () => void, runs: number): number {
  let best = Infinity;
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    fn();
    best = Math.min(best, Number(process.hrtime.bigint() - t0));
  }
  return best;
}
