import { describe, expect, it } from 'vitest';
import { HeartlineError } from '../../src/errors/heartline-error.js';
import { encodeBody } from '../../src/protocol/codec.js';
import { ERROR_CODES, type ErrorCode } from '../../src/errors/codes.js';
import { decodeBody } from '../../src/protocol/codec.js';
import { asVersion1Request, BUDGET_PLACEHOLDER, errorBody, hasBudgetSlot, readDrainBody, readErrorResponse, readHandshakeRequest, readHandshakeResponse, readRequest, requestTuple, writeBudget, encodeRequest, requestPrefix } from '../../src/protocol/messages.js';

/** A drain body is acceptable: empty, or a map (its fields are ignored). */
const isDrainBody = (body: Buffer): boolean => readDrainBody(body) !== undefined;

describe('request bodies', () => {
  it('encoded with a cached prefix are the bytes of the whole tuple encoded', () => {
    const long = 'x'.repeat(40);
    const cases: Array<[string, string, string, string, unknown[], Record<string, string> | undefined, boolean, boolean]> = [
      ['demo.Greeter', '1.0.0', '', 'sayHello', ['Ann'], undefined, true, false],
      ['demo.Greeter', '', 'g', 'sayHello', ['Ann', { a: 1, b: undefined }], { traceId: 't' }, false, true],
      [long, 'ä', long, 'm', [2 ** 40, -(2 ** 40), 1.5, Buffer.from([0xcb])], undefined, true, false],
      ['s', '', '', 'm', [], { k: 'v' }, true, false],
    ];
    for (const [service, version, group, method, args, attachments, deadline, omit] of cases) {
      const prefix = requestPrefix(service, version, group, method)!;
      const whole = Buffer.from(encodeBody(requestTuple(service, version, group, method, args, attachments, deadline), omit));
      expect(Buffer.from(encodeRequest(prefix, args, attachments, deadline, omit))).toEqual(whole);
    }
    expect(requestPrefix('s'.repeat(300), '', '', 'm')).toBeUndefined();
  });

  it('round-trip through the positional array', () => {
    const tuple = requestTuple('demo.Greeter', '1.0.0', '', 'sayHello', ['Ann'], { traceId: 't' }, false);
    expect(readRequest(tuple)).toEqual({ service: 'demo.Greeter', version: '1.0.0', group: '', method: 'sayHello', args: ['Ann'], attachments: { traceId: 't' }, budget: undefined });
  });

  it('read six items (protocol version 1) as a call with no budget', () => {
    expect(readRequest(['s', '', '', 'm', [], null])).toMatchObject({ method: 'm', budget: undefined });
  });

  it('carry the budget as the seventh item, set in place at write time', () => {
    const body = encodeBody(requestTuple('demo.Greeter', '', '', 'sayHello', ['Ann'], undefined, true));
    expect(hasBudgetSlot(body)).toBe(true);
    expect(body.subarray(body.length - 5).toString('hex')).toBe('ceffffffff');
    expect((readRequest(decodeBody(body)) as { budget: number }).budget).toBe(BUDGET_PLACEHOLDER);
    writeBudget(body, 2999.2);
    expect(body.subarray(body.length - 5).toString('hex')).toBe('ce00000bb8');
    expect(readRequest(decodeBody(body))).toMatchObject({ budget: 3000 });
    writeBudget(body, -5);
    expect(readRequest(decodeBody(body))).toMatchObject({ budget: 0 });
    writeBudget(body, 2 ** 40);
    expect(readRequest(decodeBody(body))).toMatchObject({ budget: 0xffffffff });
  });

  it('encode nil as the budget of a call without a deadline', () => {
    const body = encodeBody(requestTuple('s', '', '', 'm', [1], undefined, false));
    expect(hasBudgetSlot(body)).toBe(false);
    expect(body[body.length - 1]).toBe(0xc0);
    expect(readRequest(decodeBody(body))).toMatchObject({ budget: undefined });
  });

  it('drop the budget for a connection that agreed protocol version 1', () => {
    for (const deadline of [true, false]) {
      const body = encodeBody(requestTuple('s', '1', 'g', 'm', ['x', { a: 1 }], { t: 'v' }, deadline));
      if (deadline) writeBudget(body, 10);
      const before = Buffer.from(body);
      const v1 = asVersion1Request(body);
      expect(decodeBody(v1)).toEqual(['s', '1', 'g', 'm', ['x', { a: 1 }], { t: 'v' }]);
      expect(body.equals(before)).toBe(true); // the original is untouched
    }
  });

  it('a nil budget after attachments ending in a 0xce byte and three more: sniffing is fooled, the caller\'s knowledge is not', () => {
    // 'Ωab' is ce a9 61 62: with the nil budget (c0) after it, the byte five from the end is 0xce.
    const body = encodeBody(requestTuple('s', '1', 'g', 'm', [], { k: 'xΩab' }, false));
    expect(hasBudgetSlot(body)).toBe(true); // the byte test alone cannot tell
    expect(decodeBody(asVersion1Request(body, false))).toEqual(['s', '1', 'g', 'm', [], { k: 'xΩab' }]);
  });

  it('refuse a budget that is not a non-negative integer or nil', () => {
    for (const budget of [-1, 1.5, 'x', true, [], {}]) {
      const r = readRequest(['s', '', '', 'm', [], null, budget]);
      expect(r).toBeInstanceOf(HeartlineError);
      expect((r as HeartlineError).code).toBe('BAD_REQUEST');
    }
  });

  const bad: unknown[] = [
    null,
    'x',
    ['s', 'v', 'g', 'm', []],
    ['s', 'v', 'g', 1, [], null],
    ['s', 'v', 'g', 'm', 'args', null],
    ['s', 'v', 'g', 'm', [], { a: 1 }],
    ['s', 'v', 'g', 'm', [], [1]],
    [1, 'v', 'g', 'm', [], null],
  ];
  for (const value of bad) {
    it(`rejects ${JSON.stringify(value)} as BAD_REQUEST`, () => {
      const result = readRequest(value);
      expect(result).toBeInstanceOf(HeartlineError);
      expect((result as HeartlineError).code).toBe('BAD_REQUEST');
    });
  }
});

describe('error responses', () => {
  it('become a remote HeartlineError with the status code', () => {
    const err = readErrorResponse(8, encodeBody(errorBody('HANDLER_ERROR', 'nope', 'TypeError', { field: 'x' })));
    expect(err.code).toBe('HANDLER_ERROR');
    expect(err.message).toBe('nope');
    expect(err.remote).toBe(true);
    expect(err.remoteName).toBe('TypeError');
    expect(err.details).toEqual({ field: 'x' });
    expect(err.remoteStack).toBeUndefined();
  });

  it('an unknown status is a PROTOCOL_ERROR', () => {
    expect(readErrorResponse(200, encodeBody({ code: 'X', message: 'm' })).code).toBe('PROTOCOL_ERROR');
  });

  it('an undecodable error body throws PROTOCOL_ERROR (the caller closes the connection)', () => {
    for (const h of ['c1', '81a1', 'd4690000']) {
      expect(() => readErrorResponse(8, Buffer.from(h, 'hex')), h).toThrow(expect.objectContaining({ code: 'PROTOCOL_ERROR' }));
    }
  });

  it('a status of a local code (never sent on the wire) is treated as unknown: PROTOCOL_ERROR, not remote', () => {
    for (const code of Object.keys(ERROR_CODES) as ErrorCode[]) {
      const err = readErrorResponse(ERROR_CODES[code].status, encodeBody({ code, message: 'm' }));
      if (ERROR_CODES[code].onWire) {
        expect(err.code, code).toBe(code);
        expect(err.remote).toBe(true);
      } else {
        expect(err.code, code).toBe('PROTOCOL_ERROR');
        expect(err.remote).toBe(false);
      }
    }
    expect([1, 2, 3, 4, 13, 14, 16, 18].map((s) => readErrorResponse(s, Buffer.alloc(0)).code)).toEqual(Array(8).fill('PROTOCOL_ERROR'));
  });

  it('a decodable body that is not an error map: the status gives the code, the message falls back', () => {
    for (const body of [Buffer.alloc(0), encodeBody('text'), encodeBody([1]), encodeBody({ message: 3 })]) {
      const err = readErrorResponse(5, body);
      expect(err.code).toBe('SERVICE_NOT_FOUND');
      expect(err.message).toBe('remote error SERVICE_NOT_FOUND');
    }
  });
});

describe('handshake bodies', () => {
  it('need version and maxFrameSize', () => {
    expect(readHandshakeRequest({ version: 1, maxFrameSize: 2048 })).toEqual({ version: 1, maxFrameSize: 2048, heartbeat: 0 });
    expect(readHandshakeRequest({ version: 1 })).toBeUndefined();
    expect(readHandshakeRequest([1, 2])).toBeUndefined();
    expect(readHandshakeRequest({ version: -1, maxFrameSize: 2048 })).toBeUndefined();
  });

  it('read uint fields as safe integers only', () => {
    expect(readHandshakeRequest({ version: 1, maxFrameSize: 2 ** 53 - 1 })?.maxFrameSize).toBe(2 ** 53 - 1);
    expect(readHandshakeRequest({ version: 1, maxFrameSize: 2 ** 53 })).toBeUndefined();
    expect(readHandshakeRequest({ version: 1, maxFrameSize: 1e300 })).toBeUndefined();
    expect(readHandshakeRequest({ version: 1, maxFrameSize: 2048, heartbeat: 2 ** 64 })?.heartbeat).toBe(0);
    expect(readHandshakeResponse({ version: 1, maxFrameSize: 2048, heartbeat: 2 ** 60, idleTimeout: 2 ** 53 })).toEqual({ version: 1, maxFrameSize: 2048, heartbeat: 0, idleTimeout: 0 });
  });

  it('drain bodies: empty or a map', () => {
    expect(isDrainBody(Buffer.alloc(0))).toBe(true);
    expect(isDrainBody(encodeBody({ reason: 'shutting down', deadline: 10000 }))).toBe(true);
    expect(isDrainBody(encodeBody({}))).toBe(true);
    for (const body of [encodeBody([1]), encodeBody('x'), encodeBody(null), Buffer.from('c1', 'hex'), Buffer.from('d4690000', 'hex'), encodeBody(Buffer.from([1]))]) {
      expect(isDrainBody(body), body.toString('hex')).toBe(false);
    }
  });
});
