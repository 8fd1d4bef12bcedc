import { describe, expect, it } from 'vitest';
import { HeartlineError } from '../../src/errors/heartline-error.js';
import { encodeBody } from '../../src/protocol/codec.js';
import { errorBody, readErrorResponse, readHandshakeRequest, readRequest, requestTuple } from '../../src/protocol/messages.js';

describe('request bodies', () => {
  it('round-trip through the positional array', () => {
    const tuple = requestTuple('demo.Greeter', '1.0.0', '', 'sayHello', ['Ann'], { traceId: 't' });
    expect(readRequest(tuple)).toEqual({ service: 'demo.Greeter', version: '1.0.0', group: '', method: 'sayHello', args: ['Ann'], attachments: { traceId: 't' } });
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

  it('an undecodable error body is a PROTOCOL_ERROR', () => {
    expect(readErrorResponse(8, Buffer.from('c1', 'hex')).code).toBe('PROTOCOL_ERROR');
  });
});

describe('handshake bodies', () => {
  it('need version and maxFrameSize', () => {
    expect(readHandshakeRequest({ version: 1, maxFrameSize: 2048 })).toEqual({ version: 1, maxFrameSize: 2048, heartbeat: 0 });
    expect(readHandshakeRequest({ version: 1 })).toBeUndefined();
    expect(readHandshakeRequest([1, 2])).toBeUndefined();
    expect(readHandshakeRequest({ version: -1, maxFrameSize: 2048 })).toBeUndefined();
  });
});
