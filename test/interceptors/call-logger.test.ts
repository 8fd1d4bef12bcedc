import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ClientInterceptor } from '../../src/consumer/client-interceptor.js';
import { composeInterceptors } from '../../src/context/interceptor-chain.js';
import { HeartlineError } from '../../src/errors/heartline-error.js';
import { callLogger } from '../../src/interceptors/call-logger.js';
import type { ServerInterceptor } from '../../src/provider/server-interceptor.js';
import type { Logger } from '../../src/transport/logger.js';
import { fakeClientCall, fakeServerCall } from './fake-calls.js';

interface Line {
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  meta: Record<string, unknown> | undefined;
}

function recorder(withInfo = true): { logger: Logger; lines: Line[] } {
  const lines: Line[] = [];
  const push = (level: Line['level']) => (meta: Record<string, unknown>, message: string) => void lines.push({ level, message, meta });
  const logger: Logger = { warn: push('warn'), error: push('error') };
  if (withInfo) {
    logger.info = push('info');
    logger.debug = push('debug');
  }
  return { logger, lines };
}

/** A `next` that settles after `ms` on the fake clock. */
function after<T>(ms: number, outcome: { value: T } | { error: unknown }): () => Promise<unknown> {
  return () =>
    new Promise((resolve, reject) =>
      setTimeout(() => ('error' in outcome ? reject(outcome.error) : resolve(outcome.value)), ms),
    );
}

describe('callLogger', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('is assignable to both ClientInterceptor and ServerInterceptor', () => {
    const client: ClientInterceptor = callLogger({ logger: recorder().logger });
    const server: ServerInterceptor = callLogger({ logger: recorder().logger });
    expect(typeof client).toBe('function');
    expect(typeof server).toBe('function');
  });

  it('logs a consumer call that succeeded to info: service#method, duration, outcome; the result passes through', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const { logger, lines } = recorder();
    const p = callLogger({ logger })(fakeClientCall(), after(120, { value: 'Hello, Ann!' }));
    await vi.advanceTimersByTimeAsync(120);
    await expect(p).resolves.toBe('Hello, Ann!');
    expect(lines).toEqual([
      {
        level: 'info',
        message: 'called demo.Greeter#sayHello: ok in 120 ms',
        meta: { side: 'client', service: 'demo.Greeter', method: 'sayHello', duration: 120, outcome: 'ok' },
      },
    ]);
  });

  it('logs a failure to warn with the error code, and rethrows the same error', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const { logger, lines } = recorder();
    const error = new HeartlineError('UNAVAILABLE', 'no provider available');
    const p = callLogger({ logger })(fakeClientCall(), after(30, { error }));
    const settled = p.catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(30);
    expect(await settled).toBe(error);
    expect(lines).toEqual([
      {
        level: 'warn',
        message: 'called demo.Greeter#sayHello: UNAVAILABLE in 30 ms: no provider available',
        meta: { side: 'client', service: 'demo.Greeter', method: 'sayHello', duration: 30, outcome: 'error', code: 'UNAVAILABLE', err: error },
      },
    ]);
  });

  it('on the provider side says "served", adds the peer and connection id, and names a plain error by its name (err: HANDLER_ERROR with its stack)', async () => {
    const { logger, lines } = recorder();
    const error = new TypeError('bad input');
    await expect(callLogger({ logger })(fakeServerCall(), () => Promise.reject(error))).rejects.toBe(error);
    expect(lines).toHaveLength(1);
    expect(lines[0]!.message).toMatch(/^served demo\.Greeter#sayHello: TypeError in [\d.]+ ms: bad input$/);
    expect(lines[0]!.meta).toMatchObject({ side: 'server', peer: '127.0.0.1:50000', connectionId: 1, outcome: 'error', code: 'TypeError' });
    const err = lines[0]!.meta!.err as HeartlineError;
    expect([err.code, err.message, err.stack]).toEqual(['HANDLER_ERROR', 'bad input', error.stack]);
  });

  it("calls: 'failures' logs failures only", async () => {
    const { logger, lines } = recorder();
    const log = callLogger({ logger, calls: 'failures' });
    await log(fakeClientCall(), () => Promise.resolve(1));
    await log(fakeClientCall(), () => Promise.reject(new HeartlineError('TIMEOUT', 't'))).catch(() => {});
    expect(lines.map((l) => l.meta?.code)).toEqual(['TIMEOUT']);
  });

  it('slowerThan logs successes that took at least that long, and every failure', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const { logger, lines } = recorder();
    const log = callLogger({ logger, slowerThan: 100 });
    const calls = [
      log(fakeClientCall({}, 'fast'), after(99, { value: 1 })),
      log(fakeClientCall({}, 'slow'), after(100, { value: 2 })),
      log(fakeClientCall({}, 'fastFailure'), after(1, { error: new HeartlineError('BAD_REQUEST', 'b') })).catch(() => {}),
    ];
    await vi.advanceTimersByTimeAsync(100);
    await Promise.all(calls);
    expect(lines.map((l) => l.meta?.method)).toEqual(['fastFailure', 'slow']);
  });

  it('sends successes to warn when the logger has no info', async () => {
    const { logger, lines } = recorder(false);
    await callLogger({ logger })(fakeClientCall(), () => Promise.resolve());
    expect(lines.map((l) => l.level)).toEqual(['warn']);
  });

  it("level: 'debug' sends successes to debug; failures stay on warn", async () => {
    const { logger, lines } = recorder();
    const log = callLogger({ logger, level: 'debug' });
    await log(fakeClientCall(), () => Promise.resolve());
    await log(fakeClientCall(), () => Promise.reject(new HeartlineError('TIMEOUT', 't'))).catch(() => {});
    expect(lines.map((l) => l.level)).toEqual(['debug', 'warn']);
  });

  it('logs the names of attachments, never their values, unless asked', async () => {
    const secret = { token: 'Bearer s3cr3t', tenant: 'acme' };
    const logged = async (options: Parameters<typeof callLogger>[0], fail: boolean): Promise<Line> => {
      const { logger, lines } = recorder();
      const log = callLogger({ logger, ...options });
      const next = fail ? () => Promise.reject(new HeartlineError('TIMEOUT', 't')) : () => Promise.resolve();
      await log(fakeServerCall(secret), next).catch(() => {});
      await log(fakeClientCall(secret), next).catch(() => {});
      expect(lines).toHaveLength(2);
      expect(lines[1]!.meta!.attachments).toEqual(lines[0]!.meta!.attachments); // both sides alike
      return lines[0]!;
    };
    for (const fail of [false, true]) {
      const byDefault = await logged({}, fail);
      expect(byDefault.meta!.attachments).toEqual(['token', 'tenant']);
      expect(JSON.stringify(byDefault)).not.toContain('s3cr3t');
      expect((await logged({ attachments: 'none' }, fail)).meta).not.toHaveProperty('attachments');
      expect((await logged({ attachments: 'values' }, fail)).meta!.attachments).toEqual(secret);
    }
    // No attachments: no field.
    const { logger, lines } = recorder();
    await callLogger({ logger })(fakeClientCall(), () => Promise.resolve());
    expect(lines[0]!.meta).not.toHaveProperty('attachments');
  });

  it('a logger that throws never changes the outcome of the call', async () => {
    const throwing: Logger = {
      info() {
        throw new Error('disk full');
      },
      warn() {
        throw new Error('disk full');
      },
      error() {},
    };
    const log = callLogger({ logger: throwing });
    await expect(log(fakeClientCall(), () => Promise.resolve('ok'))).resolves.toBe('ok');
    const error = new HeartlineError('TIMEOUT', 't');
    await expect(log(fakeClientCall(), () => Promise.reject(error))).rejects.toBe(error);
  });

  it('measures the interceptors inside it: in a chain it sees what the later ones return', async () => {
    const { logger, lines } = recorder();
    const shortCircuit: ClientInterceptor = async () => 'cached';
    const chain = composeInterceptors<ReturnType<typeof fakeClientCall>>([callLogger({ logger }), shortCircuit], () => Promise.resolve('remote'));
    await expect(chain(fakeClientCall())).resolves.toBe('cached');
    expect(lines.map((l) => l.meta?.outcome)).toEqual(['ok']);
  });

  it('checks its options at once (INVALID_CONFIG naming the option)', () => {
    const bad: unknown[] = [{ logger: {} }, { calls: 'some' }, { slowerThan: -1 }, { slowerThan: Number.NaN }, { slowerThan: '5' }, { level: 'warn' }, { attachments: true }, { attachments: 'all' }];
    for (const options of bad) {
      expect(() => callLogger(options as never), JSON.stringify(options)).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    }
    expect(() => callLogger({ slowerThan: 0, calls: 'all' })).not.toThrow();
  });
});
