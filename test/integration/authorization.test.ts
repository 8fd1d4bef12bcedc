// Authorization per call (issue #10), over real sockets: the server's and the
// service's `authorize` run first (server-wide first), before any interceptor,
// limit or handler; a refusal is PERMISSION_DENIED with a generic message.
// Per-call credentials in attachments stay possible with an interceptor.
import { describe, expect, it } from 'vitest';
import { currentCall, HeartlineError, sharedSecret, type Logger, type ServerCall, type ServerOptions } from '../../src/index.js';
import { Echo, EchoImpl } from '../helpers/contract.js';
import { expectCode, newClient, startServer, track, useCleanup, waitFor } from '../helpers/server.js';

const defer = useCleanup();

function recorder(): Logger & { lines: Array<{ level: string; message: string }> } {
  const lines: Array<{ level: string; message: string }> = [];
  return { lines, warn: (_fields, message) => void lines.push({ level: 'warn', message }), error: (_fields, message) => void lines.push({ level: 'error', message }) };
}

async function server(options: ServerOptions = {}) {
  const s = defer(await startServer({ ...options, register: false }), (x) => x.close());
  const order: string[] = [];
  s.server.use(async (_call, next) => {
    order.push('interceptor');
    return next();
  });
  return Object.assign(s, { order });
}

function client(address: string, attachments?: Record<string, string>) {
  const c = defer(newClient(address, { cluster: 'failover' }), (x) => x.close());
  return c.refer(Echo, attachments === undefined ? {} : { attachments });
}

describe('authorize', () => {
  it('runs the server-wide hook, then the service one, before any interceptor; both must say true', async () => {
    const s = await server({
      authenticate: (hello) => ({ principal: hello.credentials }),
      authorize: (call) => {
        s.order.push(`server:${String(call.principal)}`);
        return true;
      },
    });
    s.server.register(s.echo, {
      authorize: (call) => {
        s.order.push(`service:${call.method}`);
        return call.method !== 'fail';
      },
    });
    const c = defer(newClient(s.address, { credentials: 'ann' }), (x) => x.close());
    expect(await c.refer(Echo).echo(1)).toBe(1);
    expect(s.order).toEqual(['server:ann', 'service:echo', 'interceptor']);
    s.order.length = 0;
    const err = await expectCode(c.refer(Echo).fail('x'), 'PERMISSION_DENIED');
    expect(err.retrySafe).toBe(false);
    expect(err.message).toContain('permission denied');
    expect(s.order).toEqual(['server:ann', 'service:fail']);
  });

  it('a refused call runs no interceptor and no handler; the connection stays usable', async () => {
    let allowed = false;
    const s = await server({ authorize: () => allowed });
    s.server.register(s.echo);
    const echo = client(s.address);
    // Not retried by failover: PERMISSION_DENIED is not retry-safe.
    await expectCode(echo.echo('no'), 'PERMISSION_DENIED');
    expect(s.order).toEqual([]);
    expect(s.echo.received).toEqual([]);
    allowed = true;
    expect(await echo.echo('yes')).toBe('yes');
    expect(s.server.connectionsAccepted).toBe(1);
  });

  it('anything but true refuses: false, undefined, 1, "yes", a promise of false', async () => {
    const verdicts: unknown[] = [false, undefined, 1, 'yes', Promise.resolve(false), Promise.resolve('true')];
    let i = 0;
    const s = await server({ authorize: () => verdicts[i++] as boolean });
    s.server.register(s.echo);
    const echo = client(s.address);
    for (let n = 0; n < verdicts.length; n++) await expectCode(echo.echo(n), 'PERMISSION_DENIED');
    expect(s.echo.received).toEqual([]);
  });

  it('an async authorize: allowed after it resolves, inside the call scope (currentCall())', async () => {
    const scopes: unknown[] = [];
    const s = await server({
      authorize: async (call) => {
        await new Promise((resolve) => setTimeout(resolve, 20));
        scopes.push(currentCall() === call);
        return true;
      },
    });
    s.server.register(s.echo);
    expect(await client(s.address).echo('late')).toBe('late');
    expect(scopes).toEqual([true]);
  });

  it('a throwing or rejecting authorize: PERMISSION_DENIED with the generic message, logged once at warn', async () => {
    const logger = recorder();
    let n = 0;
    const s = await server({
      logger,
      authorize: () => {
        if (n++ === 0) throw new Error('policy store unreachable');
        return Promise.reject(new Error('policy store still unreachable'));
      },
    });
    s.server.register(s.echo);
    const echo = client(s.address);
    for (let k = 0; k < 2; k++) {
      const err = await expectCode(echo.echo(k), 'PERMISSION_DENIED');
      expect(err.message).not.toContain('unreachable');
    }
    expect(logger.lines.map((l) => l.level)).toEqual(['warn', 'warn']);
    expect(logger.lines[0]!.message).toContain('policy store unreachable');
    expect(s.echo.received).toEqual([]);
  });

  it('PERMISSION_DENIED comes before the executes slot: with executes 1 taken by a blocked call, a refused call is answered at once', async () => {
    const s = await server({});
    const impl = new EchoImpl();
    s.server.register(Echo, impl, { executes: 1, authorize: (call) => call.args[0] !== 'intruder' });
    const echo = client(s.address);
    const blocked = track(echo.sleep(1000));
    await waitFor(() => impl.sleepsStarted === 1);
    const started = performance.now();
    await expectCode(echo.echo('intruder'), 'PERMISSION_DENIED');
    expect(performance.now() - started).toBeLessThan(500); // not after the blocked call's 1000 ms
    expect(blocked.settled).toBe(false);
    // An allowed call meets the full slot: LIMIT_EXCEEDED.
    await expectCode(defer(newClient(s.address, { cluster: 'failfast' }), (x) => x.close()).refer(Echo).echo('friend'), 'LIMIT_EXCEEDED');
    await waitFor(() => blocked.settled, 3000);
    expect(blocked.value).toBe(1000);
  });

  it('an authorize still pending when the call is cancelled (its deadline) runs nothing after it', async () => {
    let release!: (v: boolean) => void;
    let pending!: ServerCall;
    const s = await server({
      authorize: (call) => {
        pending = call;
        return new Promise<boolean>((resolve) => (release = resolve));
      },
    });
    s.server.register(s.echo);
    const c = defer(newClient(s.address, { cluster: 'failfast', timeout: 100 }), (x) => x.close());
    await expectCode(c.refer(Echo).echo('slow'), 'TIMEOUT');
    // The provider learns it too (its Cancel frame, or the budget's deadline), then the hook says yes: too late.
    await waitFor(() => pending.signal.aborted);
    release(true);
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(s.echo.received).toEqual([]);
    expect(s.order).toEqual([]);
  });

  it('register() refuses an authorize that is not a function', async () => {
    const s = await server({});
    expect(() => s.server.register(s.echo, { authorize: 'admin' as never })).toThrow(HeartlineError);
  });
});

describe('per-call credentials in attachments', () => {
  it('a server interceptor validates call.attachments.token and refuses with UNAUTHENTICATED; it may set the principal', async () => {
    const check = sharedSecret('user-token-1', { user: 'ann' });
    const s = await server({});
    const principals: unknown[] = [];
    s.server.use(async (call: ServerCall, next) => {
      try {
        call.principal = check({ credentials: call.attachments.token }, { address: call.peer }).principal;
      } catch {
        throw new HeartlineError('UNAUTHENTICATED', 'bad user token');
      }
      return next();
    });
    s.server.use(async (_call, next) => {
      principals.push(currentCall()?.principal);
      return next();
    });
    s.server.register(s.echo);
    expect(await client(s.address, { token: 'user-token-1' }).echo(1)).toBe(1);
    const err = await expectCode(client(s.address, { token: 'forged' }).echo(2), 'UNAUTHENTICATED');
    expect(err.message).toContain('bad user token');
    await expectCode(client(s.address).echo(3), 'UNAUTHENTICATED');
    expect(principals).toEqual([{ user: 'ann' }]);
    expect(s.echo.received).toEqual([[1]]);
  });
});

describe('an async authorize and the limits after it', () => {
  it('once it said yes, a handler without interceptors holds its maxConcurrentCalls share until it settles, as with a synchronous authorize (a cancel or deadline does not free it early)', async () => {
    for (const [kind, authorize] of [['sync', () => true], ['async', async () => true]] as const) {
      const s = defer(await startServer({ register: false, maxConcurrentCalls: 1, authorize }), (x) => x.close());
      s.server.register(s.echo);
      const c = defer(newClient(s.address, { cluster: 'failfast' }), (x) => x.close());
      // The caller gives up after 50 ms (its timeout sends a Cancel); the handler ignores its signal and runs 400 ms.
      await expectCode(c.refer(Echo, { timeout: 50 }).sleep(400), 'TIMEOUT');
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(s.echo.sleepsFinished).toBe(0);
      expect(s.server.connections()[0]!.inFlight, kind).toBe(1);
      await expectCode(c.refer(Echo).sleep(1), 'LIMIT_EXCEEDED');
      expect(s.echo.sleepsStarted).toBe(1);
    }
  });
});
