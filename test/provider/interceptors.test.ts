// Provider interceptors over real sockets: order, short-circuits, where they
// sit against the limits, and user code that throws or never settles.
import { describe, expect, it } from 'vitest';
import { currentCall, HeartlineError, Provider, Server, Service, silentLogger, traceContext, withOptions, type Callback, type ErrorCode, type Logger, type ServerCall, type ServerInterceptor } from '../../src/index.js';
import { callFrame, cancelFrame, RawConnection } from '../helpers/raw-socket.js';
import { expectCode, expectThrowCode, newClient, useCleanup, waitFor } from '../helpers/server.js';

@Service('test.Icpt', { methods: { run: {}, hold: {}, watch: { callbacks: [0] } } })
abstract class Icpt {
  abstract run(tag: string): Promise<string>;
  abstract hold(): Promise<string>;
  /** Calls `onTick` with the number of watch handler runs so far. */
  abstract watch(onTick: (n: number) => void): Promise<number>;
}

class IcptImpl {
  runs = 0;
  private releases: Array<() => void> = [];
  seen: Array<ServerCall | undefined> = [];
  async run(tag: string): Promise<string> {
    this.runs++;
    this.seen.push(currentCall());
    log.push('handler');
    return `ran ${tag}`;
  }
  hold(): Promise<string> {
    this.runs++;
    return new Promise((resolve) => this.releases.push(() => resolve('released')));
  }
  release(): void {
    for (const r of this.releases.splice(0)) r();
  }
  readonly ticks: Array<Callback<(n: number) => void>> = [];
  async watch(onTick: Callback<(n: number) => void>): Promise<number> {
    this.runs++;
    this.ticks.push(onTick);
    await onTick(this.runs);
    return this.runs;
  }
}

let log: string[] = [];
const defer = useCleanup();

function tracer(name: string): ServerInterceptor {
  return async (_call, next) => {
    log.push(`${name}>`);
    try {
      return await next();
    } finally {
      log.push(`<${name}`);
    }
  };
}

async function start(configure: (server: Server, impl: IcptImpl) => void, logger: Logger = silentLogger) {
  log = [];
  const server = defer(new Server({ host: '127.0.0.1', port: 0, logger, closeGracePeriod: 50 }), (s) => s.close());
  const impl = new IcptImpl();
  configure(server, impl);
  const { port } = await server.listen();
  const client = defer(newClient(`127.0.0.1:${port}`), (c) => c.close());
  const stub = client.refer(Icpt, { cluster: 'failfast' });
  return { server, impl, stub, port, client };
}

describe('order', () => {
  it('server-wide (in use() order), then the service\'s, then the handler; results pass back out in reverse', async () => {
    const { stub } = await start((server, impl) => {
      server.use(tracer('a')).use(tracer('b'));
      server.register(Icpt, impl, { interceptors: [tracer('s1'), tracer('s2')] });
    });
    expect(await stub.run('x')).toBe('ran x');
    expect(log).toEqual(['a>', 'b>', 's1>', 's2>', 'handler', '<s2', '<s1', '<b', '<a']);
  });

  it('server.use() after register() still applies, before the service\'s own', async () => {
    const { stub } = await start((server, impl) => {
      server.register(Icpt, impl, { interceptors: [tracer('s')] });
      server.use(tracer('late'));
    });
    await stub.run('x');
    expect(log).toEqual(['late>', 's>', 'handler', '<s', '<late']);
  });

  it('@Provider(Contract, { interceptors }) gives the service its interceptors', async () => {
    @Provider(Icpt, { interceptors: [tracer('deco')] })
    class Decorated extends IcptImpl {}
    const { stub } = await start((server) => server.register(new Decorated()));
    await stub.run('x');
    expect(log).toEqual(['deco>', 'handler', '<deco']);
  });

  it('interceptors and the handler see the same call through currentCall(); a principal set by one is seen by the handler', async () => {
    let seenByInterceptor: ServerCall | undefined;
    const { stub, impl } = await start((server, i) => {
      server.use(async (call, next) => {
        seenByInterceptor = currentCall();
        expect(seenByInterceptor).toBe(call);
        call.principal = { user: 'ann' };
        return next();
      });
      server.register(Icpt, i);
    });
    await stub.run('x');
    expect(impl.seen[0]).toBe(seenByInterceptor);
    expect(impl.seen[0]!.principal).toEqual({ user: 'ann' });
    expect(impl.seen[0]!.args).toEqual(['x']);
  });

  it('an interceptor observes the result and the error', async () => {
    const outcomes: unknown[] = [];
    const { stub } = await start((server, impl) => {
      server.use(async (_call, next) => {
        try {
          const v = await next();
          outcomes.push(['ok', v]);
          return v;
        } catch (err) {
          outcomes.push(['err', (err as Error).message]);
          throw err;
        }
      });
      impl.run = async (tag: string) => {
        if (tag === 'bad') throw new Error('boom');
        return tag;
      };
      server.register(Icpt, impl);
    });
    await stub.run('fine');
    await expectCode(stub.run('bad'), 'HANDLER_ERROR');
    expect(outcomes).toEqual([['ok', 'fine'], ['err', 'boom']]);
  });
});

describe('short-circuits', () => {
  it('a value returned without next() is the result; the handler does not run', async () => {
    const { stub, impl } = await start((server, i) => {
      server.use(async () => 'cached');
      server.register(Icpt, i);
    });
    expect(await stub.run('x')).toBe('cached');
    expect(impl.runs).toBe(0);
  });

  it('a HeartlineError thrown before next() keeps its on-wire code, even a retry-safe one (the handler did not run)', async () => {
    const { stub, impl } = await start((server, i) => {
      server.use(async (call) => {
        throw new HeartlineError(call.args[0] === 'limit' ? 'LIMIT_EXCEEDED' : 'BAD_REQUEST', 'refused here', call.args[0] === 'details' ? { details: { why: 'no token' } } : {});
      });
      server.register(Icpt, i);
    });
    const limited = await expectCode(stub.run('limit'), 'LIMIT_EXCEEDED');
    expect(limited.retrySafe).toBe(true);
    expect(limited.message).toBe('refused here');
    const bad = await expectCode(stub.run('details'), 'BAD_REQUEST');
    expect(bad.details).toEqual({ why: 'no token' });
    expect(impl.runs).toBe(0);
  });

  it('a local code or a plain error thrown before next() is HANDLER_ERROR, logged', async () => {
    const errors: string[] = [];
    const logger: Logger = { ...silentLogger, error: (_fields, msg: string) => errors.push(msg) };
    const { stub } = await start((server, i) => {
      server.use(async (call) => {
        if (call.args[0] === 'local') throw new HeartlineError('TIMEOUT', 'local code');
        throw new TypeError('plain');
      });
      server.register(Icpt, i);
    }, logger);
    const local = await expectCode(stub.run('local'), 'HANDLER_ERROR');
    expect((local.cause as HeartlineError).code).toBe('TIMEOUT');
    const plain = await expectCode(stub.run('plain'), 'HANDLER_ERROR');
    expect(plain.remoteName).toBe('TypeError');
    expect(errors).toHaveLength(2);
  });

  it('a retry-safe HeartlineError thrown after the handler ran is HANDLER_ERROR (not retry-safe) with the code in cause', async () => {
    const { stub, impl } = await start((server, i) => {
      server.use(async (_call, next) => {
        await next();
        throw new HeartlineError('UNAVAILABLE', 'after the fact');
      });
      server.register(Icpt, i);
    });
    const err = await expectCode(stub.run('x'), 'HANDLER_ERROR');
    expect(err.retrySafe).toBe(false);
    expect((err.cause as HeartlineError).code).toBe('UNAVAILABLE');
    expect(impl.runs).toBe(1);
  });
});

describe('interceptors run before the limits', () => {
  it('a call an interceptor refuses holds no executes slot; an observing interceptor sees LIMIT_EXCEEDED', async () => {
    const seen: string[] = [];
    const { stub, impl } = await start((server, i) => {
      server.use(async (call, next) => {
        try {
          return await next();
        } catch (err) {
          seen.push(`${call.method}:${(err as HeartlineError).code}`);
          throw err;
        }
      });
      server.register(Icpt, i, {
        executes: 1,
        interceptors: [async (call, next) => (call.args[0] === 'deny' ? Promise.reject(new HeartlineError('BAD_REQUEST', 'denied')) : next())],
      });
    });
    const holding = stub.hold(); // takes the only slot
    await waitFor(() => impl.runs === 1);
    // Refused by the interceptor, not by the full executes cap: the interceptor ran first.
    await expectCode(stub.run('deny'), 'BAD_REQUEST');
    // Past the interceptor, the cap refuses it, and the observer saw that.
    await expectCode(stub.run('ok'), 'LIMIT_EXCEEDED');
    expect(seen).toEqual(['run:BAD_REQUEST', 'run:LIMIT_EXCEEDED']);
    impl.release();
    expect(await holding).toBe('released');
    // The slot is free again: nothing leaked.
    expect(await stub.run('ok')).toBe('ran ok');
  });

  it('an interceptor calling next() twice on a method with a callback: both runs get the same working callback', async () => {
    const { stub, impl, client } = await start((server, i) => {
      server.use(async (_call, next) => {
        await next();
        return next();
      });
      server.register(Icpt, i, { executes: 1 });
    });
    const ticks: number[] = [];
    const listener = (n: number): void => void ticks.push(n);
    expect(await stub.watch(listener)).toBe(2);
    expect(ticks).toEqual([1, 2]);
    // One proxy for the one callback id: the second run did not make another (keyed by the first run's function).
    expect(impl.ticks[1]).toBe(impl.ticks[0]);
    client.releaseCallback(listener);
    await waitFor(() => impl.ticks[0]!.released);
  });

  it('an interceptor calling next() twice runs the handler twice, taking and giving back the slot each time', async () => {
    const { stub, impl } = await start((server, i) => {
      server.use(async (_call, next) => {
        await next();
        return next();
      });
      server.register(Icpt, i, { executes: 1 });
    });
    expect(await stub.run('x')).toBe('ran x');
    expect(impl.runs).toBe(2);
    expect(await stub.run('y')).toBe('ran y');
  });
});

describe('user code that misbehaves', () => {
  it('an interceptor that throws synchronously fails the call; counters stay right', async () => {
    const { stub, server } = await start((server, i) => {
      server.use(((call: ServerCall, next: () => Promise<unknown>) => {
        if (call.args[0] === 'throw') throw new Error('sync throw');
        return next();
      }) as ServerInterceptor);
      server.register(Icpt, i, { executes: 1 });
    });
    for (let n = 0; n < 3; n++) await expectCode(stub.run('throw'), 'HANDLER_ERROR');
    expect(await stub.run('ok')).toBe('ran ok');
    expect(server.connections()[0]!.inFlight).toBe(0);
  });

  it('an error whose getters throw, or whose code is not one, thrown before next(): answered HANDLER_ERROR, logged, nothing escapes', async () => {
    const errors: string[] = [];
    const logger: Logger = { ...silentLogger, error: (_fields, msg: string) => errors.push(msg) };
    const { stub, server } = await start((server, i) => {
      server.use(async (call) => {
        const kind = call.args[0];
        if (kind === 'bogus-code') throw new HeartlineError('NO_SUCH_CODE' as ErrorCode, 'made up');
        const err = new HeartlineError('BAD_REQUEST', 'hostile');
        Object.defineProperty(err, kind === 'code' ? 'code' : 'call', {
          get() {
            throw new Error('getter');
          },
        });
        throw err;
      });
      server.register(Icpt, i);
    }, logger);
    // Before: an unhandled rejection (which ends a Node process) and no answer at all (the caller timed out).
    for (const kind of ['call', 'code', 'bogus-code']) await expectCode(stub.run(kind), 'HANDLER_ERROR');
    expect(errors).toHaveLength(3);
    expect(server.connections()[0]!.inFlight).toBe(0);
  });

  it('an interceptor that never settles is abandoned at the deadline and on a Cancel frame: the call leaves the connection, no response is sent', async () => {
    let entered = 0;
    const { server, port } = await start((server, i) => {
      server.use(() => {
        entered++;
        return new Promise(() => undefined);
      });
      server.register(Icpt, i);
    });
    const raw = defer(await RawConnection.open(port), (r) => r.destroy());
    raw.send(callFrame(1, ['test.Icpt', '', '', 'run', ['x'], null, 50]));
    raw.send(callFrame(2, ['test.Icpt', '', '', 'run', ['y'], null, null]));
    await waitFor(() => entered === 2);
    const conn = () => server.connections().find((c) => c.peer === `${raw.socket.localAddress}:${raw.socket.localPort}`)!;
    expect(conn().inFlight).toBe(2);
    await waitFor(() => conn().inFlight === 1); // the deadline (50 ms) passed
    raw.send(cancelFrame(2));
    await waitFor(() => conn().inFlight === 0);
    await expect(raw.nextFrame(50)).rejects.toThrow(/no frame/);
    expect(server.responsesDropped).toBe(2);
  });
});

describe('traceContext on a server', () => {
  it('drops an invalid traceparent from its own call only: calls in flight at the same time keep their attachments', async () => {
    const VALID = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const arrived: ServerCall[] = [];
    let openGate!: () => void;
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    const { stub, impl } = await start((server, i) => {
      // All three calls are past traceContext, and held, before any handler runs.
      server.use(traceContext()).use(async (call, next) => {
        arrived.push(call);
        if (arrived.length === 3) openGate();
        await gate;
        return next();
      });
      server.register(Icpt, i);
    });
    await Promise.all([
      withOptions(stub, { attachments: { traceparent: 'garbage', tracestate: 'vendor=x', user: 'bad' } }).run('bad'),
      withOptions(stub, { attachments: { traceparent: VALID, tracestate: 'vendor=y', user: 'good' } }).run('good'),
      stub.run('none'),
    ]);
    const seen = new Map(impl.seen.map((call) => [call!.args[0], call!.attachments]));
    expect(seen.get('bad')).toEqual({ user: 'bad' });
    expect(seen.get('good')).toEqual({ traceparent: VALID, tracestate: 'vendor=y', user: 'good' });
    expect(seen.get('none')).toEqual({});
    expect(new Set(arrived.map((call) => call.attachments)).size).toBe(3);
  });
});

describe('configuration', () => {
  it('server.use(non-function) and interceptors that are not an array of functions: INVALID_CONFIG', () => {
    const server = new Server({ logger: silentLogger });
    expectThrowCode(() => server.use('nope' as unknown as ServerInterceptor), 'INVALID_CONFIG');
    expectThrowCode(() => server.register(Icpt, new IcptImpl(), { interceptors: [42 as unknown as ServerInterceptor] }), 'INVALID_CONFIG');
    expectThrowCode(() => server.register(Icpt, new IcptImpl(), { interceptors: (() => undefined) as unknown as ServerInterceptor[] }), 'INVALID_CONFIG');
  });
});
