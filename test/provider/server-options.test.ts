import { describe, expect, it } from 'vitest';
import { Server, silentLogger, type ServerOptions } from '../../src/index.js';
import { resolveServerOptions, SERVER_DEFAULTS } from '../../src/provider/server-options.js';
import { DEFAULT_MAX_FRAME_SIZE } from '../../src/protocol/constants.js';
import { expectThrowCode } from '../helpers/server.js';

/**
 * For each option, values that must be refused with INVALID_CONFIG naming it,
 * and values that must be accepted as given.
 */
const TABLE: Array<{ option: keyof ServerOptions; bad: unknown[]; good: unknown[] }> = [
  { option: 'host', bad: [1, '', true, {}], good: ['127.0.0.1', '::1'] },
  { option: 'port', bad: [NaN, Infinity, -Infinity, -1, 65536, 1.5, '80', null, true], good: [0, 80, 65535] },
  { option: 'backlog', bad: [NaN, Infinity, -1, 0, 1.5, 2 ** 31, '511', null], good: [1, 511, 2 ** 31 - 1] },
  { option: 'idleTimeout', bad: [NaN, Infinity, -1, 1, 299, 2 ** 31, '6000', null], good: [0, 300, 60_000, 2 ** 31 - 1] },
  { option: 'minHeartbeat', bad: [NaN, Infinity, -1, 2 ** 31, '1000', null], good: [0, 1, 1000] },
  { option: 'accepts', bad: [NaN, -Infinity, 0, -1, 1.5, '10', null], good: [1, 100, Infinity] },
  { option: 'callbackTimeout', bad: [NaN, Infinity, -1, 2 ** 31, '3000', null], good: [0, 1, 3000] },
  { option: 'maxFrameSize', bad: [NaN, Infinity, -1, 0, 1023, 2 ** 32, 4096.5, '8388608', null], good: [1024, 65536, 2 ** 32 - 1] },
  { option: 'maxQueuedBytes', bad: [NaN, Infinity, -1, 0, 1.5, '100', null], good: [1, 1 << 20] },
  { option: 'fragmentSize', bad: [NaN, Infinity, -1, 1, 1023, 1024.5, '65536', null], good: [0, 1024, 65536, 16 * 1024 * 1024] },
  { option: 'keepAliveDelay', bad: [NaN, Infinity, -1, 2 ** 31, '60000', null], good: [0, 60_000] },
  { option: 'exposeStack', bad: [1, 'true', null, {}], good: [true, false] },
  { option: 'callScope', bad: [0, 'false', null, {}], good: [true, false] },
  { option: 'builtinServices', bad: [0, 'false', null, {}], good: [true, false] },
  { option: 'closeGracePeriod', bad: [NaN, Infinity, -1, 2 ** 31, '10000', null], good: [0, 100, 10_000] },
  { option: 'maxConcurrentCalls', bad: [NaN, Infinity, -1, 0, 2.5, '100', null], good: [1, 10_000] },
  { option: 'maxCallbacks', bad: [NaN, Infinity, -1, 0, 2.5, '100', null], good: [1, 1000] },
  { option: 'handshakeTimeout', bad: [NaN, Infinity, -1, 0, 2 ** 31, '10000', null], good: [1, 10_000] },
  { option: 'logger', bad: [1, 'stderr', null, {}, { warn() {} }, { warn: 1, error() {} }], good: [silentLogger] },
  { option: 'registry', bad: [1, 'etcd', null, {}, { publish: 1 }], good: [{ publish: () => ({ first: Promise.resolve(), update() {}, withdraw: async () => {} }) }] },
  { option: 'advertise', bad: [1, '', ':80', 'h:0', 'h:70000', 'h:x', '[::1]:0', null], good: ['10.0.0.5', '10.0.0.5:20880', 'host.example', '::1', '[::1]:80'] },
  { option: 'deregisterDelay', bad: [NaN, Infinity, -1, 2 ** 31, '1000', null], good: [0, 1000] },
  // Accepted values come back as a checked, frozen copy: test/transport/tls-options.test.ts.
  { option: 'tls', bad: [1, 'pem', null, [], true], good: [] },
  { option: 'authenticate', bad: [1, 'token', null, {}, true], good: [() => ({ principal: 'p' })] },
  { option: 'authorize', bad: [1, 'admin', null, {}, false], good: [() => true] },
  { option: 'maxPendingHandshakes', bad: [NaN, Infinity, -1, 0, 1.5, '128', null], good: [1, 128, 100_000] },
];

describe('server options', () => {
  for (const { option, bad, good } of TABLE) {
    for (const value of bad) {
      it(`${option}: ${describeValue(value)} is refused with INVALID_CONFIG naming ${option}`, () => {
        const options = { [option]: value } as ServerOptions;
        const err = expectThrowCode(() => resolveServerOptions(options), 'INVALID_CONFIG');
        expect(err.message.startsWith(`${option} must be`), err.message).toBe(true);
        // The constructor goes through the same check.
        expectThrowCode(() => new Server(options), 'INVALID_CONFIG');
      });
    }
    it(`${option}: ${good.map(describeValue).join(', ')} accepted as given`, () => {
      for (const value of good) expect(resolveServerOptions({ [option]: value } as ServerOptions)[option]).toBe(value);
    });
  }

  it('every option appears in the table', () => {
    const resolved = resolveServerOptions({});
    expect(TABLE.map((r) => r.option).sort()).toEqual(Object.keys(resolved).sort());
  });

  it('resolves the documented defaults', () => {
    const resolved = resolveServerOptions();
    expect(resolved).toMatchObject({
      host: undefined,
      port: 20880,
      backlog: 511,
      idleTimeout: 60_000,
      minHeartbeat: 1000,
      accepts: Infinity,
      callbackTimeout: 3000,
      maxFrameSize: DEFAULT_MAX_FRAME_SIZE,
      maxQueuedBytes: 4 * DEFAULT_MAX_FRAME_SIZE,
      fragmentSize: 65536,
      keepAliveDelay: 60_000,
      exposeStack: false,
      callScope: true,
      builtinServices: true,
      closeGracePeriod: 10_000,
      maxConcurrentCalls: 10_000,
      maxCallbacks: 1000,
      handshakeTimeout: 10_000,
      registry: undefined,
      advertise: undefined,
      deregisterDelay: 1000,
      authenticate: undefined,
      authorize: undefined,
      maxPendingHandshakes: 128,
    });
    expect(typeof resolved.logger.warn).toBe('function');
    expect(resolved).toMatchObject(SERVER_DEFAULTS);
  });

  it('maxQueuedBytes defaults to 4 × maxFrameSize', () => {
    expect(resolveServerOptions({ maxFrameSize: 4096 }).maxQueuedBytes).toBe(16_384);
  });

  it('undefined means the default; the options object is not mutated', () => {
    const options: ServerOptions = { idleTimeout: undefined, port: 0 };
    const frozen = Object.freeze({ ...options });
    expect(resolveServerOptions(frozen).idleTimeout).toBe(60_000);
    expect(frozen).toEqual({ idleTimeout: undefined, port: 0 });
  });

  it('options that are not an object are refused', () => {
    expectThrowCode(() => resolveServerOptions(null as unknown as ServerOptions), 'INVALID_CONFIG');
    expectThrowCode(() => resolveServerOptions(5 as unknown as ServerOptions), 'INVALID_CONFIG');
  });
});

function describeValue(value: unknown): string {
  if (typeof value === 'object' && value !== null) return value === silentLogger ? 'silentLogger' : JSON.stringify(value) ?? 'object';
  if (typeof value === 'string') return JSON.stringify(value);
  return String(value);
}
