import { describe, expect, it } from 'vitest';
import { codeForStatus } from '../../src/errors/codes.js';
import { HeartlineError } from '../../src/errors/heartline-error.js';
import { failureResponse, runHandler, type EncodedResponse, type HandlerFailure, type Outcome } from '../../src/exchange/responder.js';
import { decodeBody } from '../../src/protocol/codec.js';

interface Report {
  response: EncodedResponse;
  failure: HandlerFailure | undefined;
}

/** Runs `fn` through runHandler; returns every report (there must be exactly one) and whether runHandler threw. */
function run(fn: Function): { reports: Report[]; threw: unknown } {
  const reports: Report[] = [];
  let threw: unknown;
  try {
    runHandler(fn, undefined, [], false, (outcome: Outcome, failure?: HandlerFailure) => {
      reports.push({ response: typeof outcome === 'function' ? outcome(1 << 20) : outcome, failure });
    });
  } catch (err) {
    threw = err;
  }
  return { reports, threw };
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function bodyOf(r: Report): Record<string, unknown> {
  return decodeBody(r.response.body) as Record<string, unknown>;
}

describe('runHandler', () => {
  it('a thenable whose then throws is a failure, reported once; runHandler does not throw', () => {
    const boom = new Error('then exploded');
    const { reports, threw } = run(() => ({ then: () => { throw boom; } }));
    expect(threw).toBeUndefined();
    expect(reports).toHaveLength(1);
    expect(codeForStatus(reports[0]!.response.status)).toBe('HANDLER_ERROR');
    expect(bodyOf(reports[0]!).message).toBe('then exploded');
    expect(reports[0]!.failure?.error).toBe(boom);
  });

  it('a result whose then getter throws is a failure, reported once', () => {
    const result = Object.defineProperty({}, 'then', { get: () => { throw new Error('getter exploded'); } });
    const { reports, threw } = run(() => result);
    expect(threw).toBeUndefined();
    expect(reports).toHaveLength(1);
    expect(codeForStatus(reports[0]!.response.status)).toBe('HANDLER_ERROR');
    expect(bodyOf(reports[0]!).message).toBe('getter exploded');
  });

  it('a function result with a throwing then is handled the same way', () => {
    const fnResult = Object.assign(() => 1, { then: () => { throw new Error('fn then'); } });
    const { reports, threw } = run(() => fnResult);
    expect(threw).toBeUndefined();
    expect(reports).toHaveLength(1);
    expect(bodyOf(reports[0]!).message).toBe('fn then');
  });

  it('a thenable that settles twice (resolve, resolve, reject) is heard once: the first', () => {
    const { reports } = run(() => ({
      then(ok: (v: unknown) => void, fail: (e: unknown) => void) {
        ok('first');
        ok('second');
        fail(new Error('third'));
      },
    }));
    expect(reports).toHaveLength(1);
    expect(reports[0]!.response.status).toBe(0);
    expect(decodeBody(reports[0]!.response.body)).toBe('first');
    expect(reports[0]!.failure).toBeUndefined();
  });

  it('a thenable that rejects, then resolves, is heard once as a failure', () => {
    const { reports } = run(() => ({
      then(ok: (v: unknown) => void, fail: (e: unknown) => void) {
        fail(new Error('no'));
        ok('yes');
      },
    }));
    expect(reports).toHaveLength(1);
    expect(codeForStatus(reports[0]!.response.status)).toBe('HANDLER_ERROR');
  });

  it('a thenable that resolves and then throws from then is heard once, as a success', () => {
    const { reports, threw } = run(() => ({
      then(ok: (v: unknown) => void) {
        ok(42);
        throw new Error('after');
      },
    }));
    expect(threw).toBeUndefined();
    expect(reports).toHaveLength(1);
    expect(decodeBody(reports[0]!.response.body)).toBe(42);
  });

  it('a thenable that settles twice asynchronously is heard once', async () => {
    const { reports } = run(() => ({
      then(ok: (v: unknown) => void, fail: (e: unknown) => void) {
        setImmediate(() => {
          ok(1);
          fail(new Error('late'));
          ok(2);
        });
      },
    }));
    expect(reports).toHaveLength(0);
    await tick();
    expect(reports).toHaveLength(1);
    expect(decodeBody(reports[0]!.response.body)).toBe(1);
  });

  it('an error whose message getter throws still gives a HANDLER_ERROR response', () => {
    const evil = Object.defineProperty(new Error('x'), 'message', { get: () => { throw new Error('no message for you'); } });
    const { reports, threw } = run(() => { throw evil; });
    expect(threw).toBeUndefined();
    expect(reports).toHaveLength(1);
    expect(codeForStatus(reports[0]!.response.status)).toBe('HANDLER_ERROR');
    expect(reports[0]!.failure?.error).toBe(evil);
  });

  it('a thrown value whose toString throws still gives a HANDLER_ERROR response', () => {
    const response = failureResponse({ toString() { throw new Error('nope'); } }, false);
    expect(codeForStatus(response.status)).toBe('HANDLER_ERROR');
  });

  it('plain values, promises and rejections as before', async () => {
    expect(decodeBody(run(() => 'v').reports[0]!.response.body)).toBe('v');
    const resolved = run(async () => 'p');
    await tick();
    expect(decodeBody(resolved.reports[0]!.response.body)).toBe('p');
    const rejected = run(async () => { throw new HeartlineError('BAD_REQUEST', 'bad'); });
    await tick();
    expect(rejected.reports).toHaveLength(1);
    expect(codeForStatus(rejected.reports[0]!.response.status)).toBe('BAD_REQUEST');
    expect(rejected.reports[0]!.failure?.error).toBeInstanceOf(HeartlineError);
  });
});
