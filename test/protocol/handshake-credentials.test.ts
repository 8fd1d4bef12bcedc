// The handshake's `credentials` field (protocol.md 4.3) and the drain's
// `reconnect` field (4.6), read from bytes: a str of at most 8 KiB of UTF-8,
// anything else a malformed handshake; never a throw, whatever the bytes.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hello, readHello } from '../../src/exchange/handshake.js';
import { encodeBody } from '../../src/protocol/codec.js';
import { MAX_CREDENTIALS_BYTES } from '../../src/protocol/constants.js';
import { readDrainBody, readHandshakeRequest } from '../../src/protocol/messages.js';

const BASE = { version: 2, maxFrameSize: 8 * 1024 * 1024, heartbeat: 0 };

describe('handshake credentials', () => {
  it('hello() carries credentials only when given (a nil would be malformed)', () => {
    expect(hello(4096, 0)).not.toHaveProperty('credentials');
    expect(hello(4096, 0, '')).toMatchObject({ credentials: '' });
    expect(readHello(encodeBody(hello(4096, 0, 'tok')))).toMatchObject({ credentials: 'tok', agent: 'heartline-node' });
  });

  it('a str up to 8 KiB of UTF-8 is read as given; one byte more is malformed', () => {
    expect(readHandshakeRequest({ ...BASE, credentials: 'a'.repeat(MAX_CREDENTIALS_BYTES) })?.credentials).toHaveLength(MAX_CREDENTIALS_BYTES);
    expect(readHandshakeRequest({ ...BASE, credentials: 'a'.repeat(MAX_CREDENTIALS_BYTES + 1) })).toBeUndefined();
    // 2-byte characters: 4096 of them are 8192 bytes.
    expect(readHandshakeRequest({ ...BASE, credentials: 'é'.repeat(4096) })).toBeDefined();
    expect(readHandshakeRequest({ ...BASE, credentials: 'é'.repeat(4096) + 'a' })).toBeUndefined();
  });

  it('anything but a str is malformed: nil, numbers, bins, arrays, maps, booleans', () => {
    for (const credentials of [null, 0, 1.5, true, Buffer.from('t'), new Uint8Array(2), ['t'], { t: 't' }]) {
      expect(readHello(encodeBody({ ...BASE, credentials }))).toBe('malformed handshake');
    }
  });

  it('property: any string is accepted exactly when its UTF-8 is at most 8 KiB, and arrives unchanged', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'grapheme', maxLength: 3000 }), fc.string({ unit: 'binary', maxLength: 9000 }), fc.string({ maxLength: 9000 })), (credentials) => {
        const read = readHello(encodeBody({ ...BASE, credentials }));
        if (Buffer.byteLength(credentials, 'utf8') <= MAX_CREDENTIALS_BYTES) {
          expect(typeof read).toBe('object');
          expect((read as { credentials: string }).credentials).toBe(credentials);
        } else {
          expect(read).toBe('malformed handshake');
        }
      }),
      { numRuns: 120 },
    );
  });

  it('property: arbitrary bytes never throw; what is accepted has credentials that are a str of at most 8 KiB, or none', () => {
    const valid = encodeBody({ ...BASE, credentials: 'tok' });
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 200 }),
          // A valid body with bytes flipped: mostly near-valid maps.
          fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }).map((edits) => {
            const b = Buffer.from(valid);
            for (const [i, v] of edits) b[i] = v;
            return b;
          }),
        ),
        (bytes) => {
          const read = readHello(Buffer.from(bytes));
          if (typeof read === 'string') return;
          if (read.credentials !== undefined) {
            expect(typeof read.credentials).toBe('string');
            expect(Buffer.byteLength(read.credentials, 'utf8')).toBeLessThanOrEqual(MAX_CREDENTIALS_BYTES);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe('drain notice', () => {
  it('reconnect only when the field is true; any map or an empty body is a drain of the provider', () => {
    expect(readDrainBody(Buffer.alloc(0))).toEqual({ reconnect: false });
    expect(readDrainBody(encodeBody({ reason: 'shutting down', deadline: 10000 }))).toEqual({ reconnect: false });
    expect(readDrainBody(encodeBody({ reason: 'credentials expired', deadline: 10000, reconnect: true }))).toEqual({ reconnect: true });
    for (const reconnect of [1, 'true', null, false, {}]) expect(readDrainBody(encodeBody({ reconnect }))).toEqual({ reconnect: false });
    for (const body of [encodeBody([1]), encodeBody('x'), encodeBody(null), Buffer.from([0xc1])]) expect(readDrainBody(body)).toBeUndefined();
  });

  it('property: arbitrary bytes never throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        const read = readDrainBody(Buffer.from(bytes));
        expect(read === undefined || typeof read.reconnect === 'boolean').toBe(true);
      }),
      { numRuns: 1000 },
    );
  });
});
