// The error map's `cause` (protocol.md 4.2): what failureResponse writes and
// readErrorResponse reads back, the depth bound, and leniency on malformed input.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, type ErrorCode } from '../../src/errors/codes.js';
import { HeartlineError } from '../../src/errors/heartline-error.js';
import { failureResponse } from '../../src/exchange/responder.js';
import { decodeBody, encodeBody } from '../../src/protocol/codec.js';
import { MAX_CAUSE_DEPTH, readCause, readErrorResponse } from '../../src/protocol/messages.js';
import { MAX_VALUE_DEPTH } from '../../src/protocol/value-check.js';

const CODES = Object.keys(ERROR_CODES) as ErrorCode[];

/** Sends `error` as a handler failure and reads it back as the consumer does. */
function roundTrip(error: unknown, handlerRan = true): HeartlineError {
  const r = failureResponse(error, false, handlerRan);
  return readErrorResponse(r.status, r.body);
}

function depthOf(err: unknown): number {
  let n = 0;
  for (let e = err; e instanceof HeartlineError; e = e.cause) n++;
  return n;
}

describe('failureResponse: errors across hops', () => {
  it('a downstream failure (it has `call`) is HANDLER_ERROR, not retry-safe, with its code, message, call and details in cause', () => {
    const downstream = new HeartlineError('UNAVAILABLE', 'provider is draining', { call: 'test.C#work', details: { region: 'eu' }, remote: true });
    const err = roundTrip(downstream);
    expect(err.code).toBe('HANDLER_ERROR');
    expect(err.retrySafe).toBe(false);
    expect(err.message).toBe('provider is draining');
    expect(err.details).toEqual({ region: 'eu' });
    const cause = err.cause as HeartlineError;
    expect(cause).toBeInstanceOf(HeartlineError);
    expect(cause).toMatchObject({ code: 'UNAVAILABLE', message: 'provider is draining', call: 'test.C#work', details: { region: 'eu' }, remote: true });
  });

  it('a downstream HANDLER_ERROR keeps its chain: the caller sees every hop', () => {
    const c = new HeartlineError('TIMEOUT', 'no answer within 100 ms', { call: 'test.D#deep' });
    const b = new HeartlineError('HANDLER_ERROR', 'no answer within 100 ms', { call: 'test.C#work', cause: c, remote: true });
    const err = roundTrip(b);
    expect(err.code).toBe('HANDLER_ERROR');
    expect(err.cause).toMatchObject({ code: 'HANDLER_ERROR', call: 'test.C#work' });
    expect((err.cause as HeartlineError).cause).toMatchObject({ code: 'TIMEOUT', call: 'test.D#deep' });
  });

  it("the handler's own HeartlineError: an on-wire, non-retry-safe code is kept (no cause); a retry-safe or local one becomes HANDLER_ERROR with it in cause", () => {
    for (const code of CODES) {
      const err = roundTrip(new HeartlineError(code, `own ${code}`, { details: { n: 1 } }));
      const info = ERROR_CODES[code];
      if (info.onWire && !info.retrySafe) {
        expect(err.code, code).toBe(code);
        expect(err.cause, code).toBeUndefined();
      } else {
        expect(err.code, code).toBe('HANDLER_ERROR');
        expect(err.cause, code).toMatchObject({ code, message: `own ${code}`, details: { n: 1 } });
        expect((err.cause as HeartlineError).call).toBeUndefined();
      }
      expect(err.details, code).toEqual({ n: 1 });
    }
  });

  it('before the handler ran, an on-wire code is kept even when retry-safe', () => {
    expect(roundTrip(new HeartlineError('UNAVAILABLE', 'not now'), false).code).toBe('UNAVAILABLE');
    expect(roundTrip(new HeartlineError('TIMEOUT', 'local'), false).code).toBe('HANDLER_ERROR');
    // A downstream failure is the downstream's, whenever it happened.
    expect(roundTrip(new HeartlineError('UNAVAILABLE', 'x', { call: 'a.B#c' }), false).code).toBe('HANDLER_ERROR');
  });

  it('other errors are answered as before: HANDLER_ERROR with name and details or { code }, no cause', () => {
    const err = roundTrip(Object.assign(new RangeError('bad range'), { code: 'ERANGE' }));
    expect(err).toMatchObject({ code: 'HANDLER_ERROR', message: 'bad range', remoteName: 'RangeError', details: { code: 'ERANGE' } });
    expect(err.cause).toBeUndefined();
  });

  it(`the sender writes at most ${MAX_CAUSE_DEPTH} cause levels`, () => {
    let e = new HeartlineError('TIMEOUT', 'level 20', { call: 'x.Y#z' });
    for (let i = 19; i >= 1; i--) e = new HeartlineError('HANDLER_ERROR', `level ${i}`, { call: 'x.Y#z', cause: e });
    const body = decodeBody(failureResponse(e, false).body) as { cause?: unknown };
    let levels = 0;
    for (let c = body.cause as { cause?: unknown } | undefined; c !== undefined; c = c.cause as { cause?: unknown } | undefined) levels++;
    expect(levels).toBe(MAX_CAUSE_DEPTH);
    expect(depthOf(roundTrip(e).cause)).toBe(MAX_CAUSE_DEPTH);
  });

  it('details a receiver would refuse are left out of a cause; the rest goes', () => {
    const err = roundTrip(new HeartlineError('UNAVAILABLE', 'x', { call: 'a.B#c', details: { f: () => 1 } }));
    expect(err.cause).toMatchObject({ code: 'UNAVAILABLE', call: 'a.B#c' });
    expect((err.cause as HeartlineError).details).toBeUndefined();
  });

  it('details as deep as a value may be, at every cause level: the body always decodes (deeper details are left out of that cause)', () => {
    let deep: Record<string, unknown> = {};
    for (let i = 1; i < MAX_VALUE_DEPTH; i++) deep = { d: deep };
    for (let level = 1; level <= MAX_CAUSE_DEPTH; level++) {
      let e: HeartlineError | undefined;
      for (let i = MAX_CAUSE_DEPTH; i >= 1; i--) e = new HeartlineError('HANDLER_ERROR', `level ${i}`, { call: 'a.B#c', cause: e, details: i === level ? deep : undefined });
      const err = roundTrip(e); // throws PROTOCOL_ERROR if the receiver refuses the body
      let cause = err.cause as HeartlineError;
      for (let i = 1; i < level; i++) cause = cause.cause as HeartlineError;
      expect(cause.message).toBe(`level ${level}`);
      // What fits where it sits still goes: one level less deep.
      const fits = (deep as { d: Record<string, unknown> }).d;
      let f: HeartlineError | undefined;
      for (let i = MAX_CAUSE_DEPTH; i >= 1; i--) f = new HeartlineError('HANDLER_ERROR', `level ${i}`, { call: 'a.B#c', cause: f, details: i === level ? fits : undefined });
      let c2 = roundTrip(f).cause as HeartlineError;
      for (let i = 1; i < level; i++) c2 = c2.cause as HeartlineError;
      if (level <= 2) expect(c2.details, `level ${level}`).toEqual(fits);
    }
  });

  it("a HeartlineError's default name is not sent (no remoteName 'HeartlineError'); a subclass's own name is", () => {
    expect(roundTrip(new HeartlineError('UNAVAILABLE', 'x', { call: 'a.B#c' })).remoteName).toBeUndefined();
    expect(roundTrip(new HeartlineError('BAD_REQUEST', 'mine')).remoteName).toBeUndefined();
    class QuotaError extends HeartlineError {
      override name = 'QuotaError';
    }
    expect(roundTrip(new QuotaError('BAD_REQUEST', 'over quota')).remoteName).toBe('QuotaError');
    expect(roundTrip(new TypeError('t')).remoteName).toBe('TypeError');
  });

  it('a cause whose getters throw does not break the response', () => {
    const hostile = new HeartlineError('UNAVAILABLE', 'x', { call: 'a.B#c' });
    Object.defineProperty(hostile, 'details', { get: () => { throw new Error('getter'); } });
    const r = failureResponse(hostile, false);
    expect(readErrorResponse(r.status, r.body).code).toBe('HANDLER_ERROR');
  });
});

describe('readErrorResponse / readCause: lenient on malformed causes', () => {
  const body = (cause: unknown) => encodeBody({ code: 'HANDLER_ERROR', message: 'm', cause });

  it('ignores a cause that is not a map with a string code; the call still fails with its status code', () => {
    for (const cause of ['text', 7, [1, 2], null, { message: 'no code' }, { code: 5 }, Buffer.from('x')]) {
      const err = readErrorResponse(8, body(cause));
      expect(err.code).toBe('HANDLER_ERROR');
      expect(err.message).toBe('m');
      expect(err.cause).toBeUndefined();
    }
  });

  it('an unknown code string reads as HANDLER_ERROR; a missing message falls back; wrong-typed call is dropped', () => {
    const err = readErrorResponse(8, body({ code: 'NO_SUCH_CODE', call: 42, cause: { code: 'TIMEOUT', message: 'deep' } }));
    expect(err.cause).toMatchObject({ code: 'HANDLER_ERROR', message: 'remote error NO_SUCH_CODE', call: undefined });
    expect((err.cause as HeartlineError).cause).toMatchObject({ code: 'TIMEOUT', message: 'deep' });
  });

  it(`reads at most ${MAX_CAUSE_DEPTH} levels of a deeper chain`, () => {
    let c: Record<string, unknown> = { code: 'TIMEOUT', message: 'bottom' };
    for (let i = 0; i < 30; i++) c = { code: 'HANDLER_ERROR', message: `l${i}`, cause: c };
    expect(depthOf(readErrorResponse(8, body(c)).cause)).toBe(MAX_CAUSE_DEPTH);
  });

  it('property: any decodable cause value reads without throwing, as undefined or a chain of at most 8 remote HeartlineErrors', () => {
    fc.assert(
      fc.property(fc.anything({ maxDepth: 12, withBoxedValues: false, withObjectString: false }), (cause) => {
        let encoded: Buffer;
        try {
          encoded = body(cause);
          decodeBody(encoded);
        } catch {
          return; // not encodable, or not decodable (an own "__proto__" key the codec refuses): not a decodable cause
        }
        const err = readErrorResponse(8, encoded);
        expect(err.code).toBe('HANDLER_ERROR');
        const chain = err.cause;
        if (chain === undefined) return;
        expect(depthOf(chain)).toBeLessThanOrEqual(MAX_CAUSE_DEPTH);
        for (let e: unknown = chain; e instanceof HeartlineError; e = e.cause) {
          expect(e.remote).toBe(true);
          expect(Object.hasOwn(ERROR_CODES, e.code)).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('property: random bytes as an error body give a HeartlineError or a PROTOCOL_ERROR throw, nothing else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.constantFrom(...CODES.filter((c) => ERROR_CODES[c].onWire).map((c) => ERROR_CODES[c].status)), (bytes, status) => {
        try {
          expect(readErrorResponse(status, Buffer.from(bytes))).toBeInstanceOf(HeartlineError);
        } catch (err) {
          expect(err).toBeInstanceOf(HeartlineError);
          expect((err as HeartlineError).code).toBe('PROTOCOL_ERROR');
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('property: random bytes spliced in as the cause item never fail the read', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 48 }), (bytes) => {
        // { code: 'HANDLER_ERROR', message: 'm', cause: <bytes> }: the body is valid only when the bytes are one value.
        const prefix = encodeBody({ code: 'HANDLER_ERROR', message: 'm', cause: null }).subarray(0, -1);
        let err: HeartlineError | undefined;
        try {
          err = readErrorResponse(8, Buffer.concat([prefix, bytes]));
        } catch (thrown) {
          expect((thrown as HeartlineError).code).toBe('PROTOCOL_ERROR');
          return;
        }
        expect(err.code).toBe('HANDLER_ERROR');
        expect(err.cause === undefined || err.cause instanceof HeartlineError).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('readCause of the round trip of any chain of codes keeps codes, messages and calls', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ code: fc.constantFrom(...CODES), message: fc.string(), call: fc.option(fc.string(), { nil: undefined }) }), { minLength: 1, maxLength: 10 }), (levels) => {
        let e: HeartlineError | undefined;
        for (const l of [...levels].reverse()) e = new HeartlineError(l.code, l.message, { call: l.call, cause: e });
        const map = (decodeBody(failureResponse(new HeartlineError('UNAVAILABLE', 'top', { call: 'a.B#c', cause: e }), false).body) as { cause: unknown }).cause;
        const read = readCause(map)!;
        let r: unknown = read.cause;
        for (const l of levels.slice(0, MAX_CAUSE_DEPTH - 1)) {
          expect(r).toMatchObject({ code: l.code, message: l.message, call: l.call });
          r = (r as HeartlineError).cause;
        }
      }),
      { numRuns: 300 },
    );
  });
});
