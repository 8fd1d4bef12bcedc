// Authentication in the handshake (issue #10), over real sockets on 127.0.0.1:
// a token (sharedSecret and a custom authenticate), mutual TLS, async and
// never-settling hooks, refusals that run no user code, and the client's
// credentials function failing. Each failure is bounded: none waits for a
// timeout it should not.
import { describe, expect, it } from 'vitest';
import { currentCall, HeartlineError, sharedSecret, type Authenticate, type ClientOptions, type DisconnectReason, type ServerCall, type ServerOptions } from '../../src/index.js';
import { testCerts } from '../helpers/certs.js';
import { Echo, EchoImpl } from '../helpers/contract.js';
import { expectCode, newClient, startServer, useCleanup, waitFor, type StartedServer } from '../helpers/server.js';

const TOKEN = 'tok-3f9a1c7e-authentication-test';
const defer = useCleanup();

/** A provider whose every user hook counts its runs: `authenticate` (if given), a server interceptor, an authorize, the handlers. */
async function server(options: ServerOptions = {}): Promise<StartedServer & { runs: { interceptor: number; authorize: number }; reasons: DisconnectReason[]; principals: unknown[] }> {
  const runs = { interceptor: 0, authorize: 0 };
  const principals: unknown[] = [];
  const started = defer(
    await startServer({
      authorize: () => {
        runs.authorize++;
        return true;
      },
      ...options,
      register: false,
    }),
    (s) => s.close(),
  );
  started.server.use(async (call: ServerCall, next) => {
    runs.interceptor++;
    principals.push(currentCall()?.principal);
    return next();
  });
  started.server.register(started.echo);
  const reasons: DisconnectReason[] = [];
  started.server.on('disconnect', (_info, reason) => reasons.push(reason));
  return Object.assign(started, { runs, reasons, principals });
}

function client(address: string, options: ClientOptions = {}) {
  return defer(newClient(address, { cluster: 'failfast', connectTimeout: 5000, ...options }), (c) => c.close());
}

/** A thrown value that even `instanceof` cannot look at. */
function hostileError(): object {
  return new Proxy(
    {},
    {
      getPrototypeOf() {
        throw new Error('no prototype for you');
      },
    },
  );
}

/** The handler's own view of the call. */
class PrincipalEcho extends EchoImpl {
  seen: unknown[] = [];
  override async echo(...args: unknown[]): Promise<unknown> {
    this.seen.push(currentCall()?.principal);
    return super.echo(...args);
  }
}

describe('authentication with a token', () => {
  it('sharedSecret: the right token is accepted; every call of the connection carries the principal; connections() says authenticated, never the principal', async () => {
    const s = await server({ authenticate: sharedSecret(TOKEN, { service: 'billing' }) });
    const impl = new PrincipalEcho();
    s.server.register(Echo, impl, { version: '9.0.0' });
    const c = client(s.address, { credentials: TOKEN });
    const echo = c.refer(Echo, { version: '9.0.0' });
    expect(await echo.echo(1)).toBe(1);
    expect(await echo.echo(2)).toBe(2);
    expect(impl.seen).toEqual([{ service: 'billing' }, { service: 'billing' }]);
    expect(s.principals).toEqual([{ service: 'billing' }, { service: 'billing' }]);
    const [info] = s.server.connections();
    expect(info!.authenticated).toBe(true);
    expect(JSON.stringify(s.server.connections())).not.toContain('billing');
    expect(JSON.stringify(s.server.connections())).not.toContain(TOKEN);
  });

  it('a wrong token, or none: UNAUTHENTICATED (not retry-safe), the connection closes, and no interceptor, authorize or handler runs', async () => {
    const s = await server({ authenticate: sharedSecret(TOKEN) });
    for (const credentials of ['wrong', undefined]) {
      const c = client(s.address, { credentials, cluster: 'failover', retries: 3 });
      const err = await expectCode(c.refer(Echo).echo('x'), 'UNAUTHENTICATED');
      expect(err.retrySafe).toBe(false);
      expect(err.message).toContain('authentication failed');
      await c.close(); // else its endpoint reconnects after its backoff (400 ms or more) and is refused once more
    }
    await waitFor(() => s.server.connectionCount === 0, 2000, 'refused connections to close');
    expect(s.runs).toEqual({ interceptor: 0, authorize: 0 });
    expect(s.echo.received).toEqual([]);
    expect(s.reasons).toEqual(['unauthenticated', 'unauthenticated']);
    expect(s.server.connectionsAccepted).toBe(2);
  });

  it('failover does not carry a refused call to another provider (UNAUTHENTICATED is not retry-safe)', async () => {
    const a = await server({ authenticate: sharedSecret(TOKEN) });
    const b = await server({ authenticate: sharedSecret(TOKEN) });
    const c = defer(newClient(undefined, { providers: [a.address, b.address], cluster: 'failover', retries: 5, credentials: 'wrong' }), (x) => x.close());
    await expectCode(c.refer(Echo).echo(1), 'UNAUTHENTICATED');
    expect(a.server.connectionsAccepted + b.server.connectionsAccepted).toBe(1);
  });

  it('every call waiting for the refused connection rejects UNAUTHENTICATED; the endpoint then backs off (no hot loop of reconnects)', async () => {
    let attempts = 0;
    const s = await server({
      authenticate: () => {
        attempts++;
        throw new Error('no');
      },
    });
    const c = client(s.address, { credentials: 'x', reconnect: { initialDelay: 200, jitter: 0 } });
    const echo = c.refer(Echo);
    const calls = [echo.echo(1), echo.echo(2), echo.echo(3)];
    for (const call of calls) await expectCode(call, 'UNAUTHENTICATED');
    await new Promise((resolve) => setTimeout(resolve, 300));
    // One refused handshake, then at most one or two backoff attempts in 300 ms (200, then 400 ms): never a busy loop.
    expect(attempts).toBeGreaterThanOrEqual(1);
    expect(attempts).toBeLessThanOrEqual(3);
  });

  it('a HeartlineError UNAUTHENTICATED thrown by authenticate keeps its message; any other throw, or a bad answer, is the generic refusal', async () => {
    const answers: Array<() => unknown> = [
      () => {
        throw new HeartlineError('UNAUTHENTICATED', 'token revoked');
      },
      () => {
        throw new HeartlineError('INVALID_CONFIG', 'oops');
      },
      () => null,
      () => ({ user: 'no principal key' }),
      () => ({ principal: 'p', expiresAt: 'tomorrow' }),
      () => Promise.reject(new Error('db down')),
      // Hostile throws: `instanceof` on them throws (a Proxy whose getPrototypeOf trap throws), at once or as a rejection.
      () => {
        throw hostileError();
      },
      () => Promise.reject(hostileError()),
      // A hostile answer: reading its `then` throws (runAuthenticate claims it never throws).
      () =>
        Object.defineProperty({ principal: 'p' }, 'then', {
          get() {
            throw new Error('then getter');
          },
        }),
    ];
    const messages: string[] = [];
    for (const answer of answers) {
      const s = await server({ authenticate: answer as Authenticate });
      const err = await expectCode(client(s.address, { credentials: 't' }).refer(Echo).echo(1), 'UNAUTHENTICATED');
      messages.push(err.message);
      expect(s.echo.received).toEqual([]);
    }
    expect(messages[0]).toContain('token revoked');
    for (const m of messages.slice(1)) expect(m).toContain('authentication failed');
  });

  it('async authenticate: calls made meanwhile wait and go out once it accepts; a frame-less wait is not a protocol error', async () => {
    const s = await server({
      authenticate: async (hello) => {
        await new Promise((resolve) => setTimeout(resolve, 80));
        return { principal: `user:${hello.credentials}` };
      },
    });
    const c = client(s.address, { credentials: async () => 'ann' });
    const echo = c.refer(Echo);
    expect(await Promise.all([echo.echo(1), echo.echo(2), echo.echo(3)])).toEqual([1, 2, 3]);
    expect(s.principals).toEqual(['user:ann', 'user:ann', 'user:ann']);
    expect(s.reasons).toEqual([]);
  });

  it('authenticate that never settles: the provider closes at handshakeTimeout and the call rejects (it does not hang)', async () => {
    const s = await server({ authenticate: () => new Promise(() => {}), handshakeTimeout: 150 });
    const c = client(s.address, { credentials: 't', connectTimeout: 10_000 });
    const started = performance.now();
    const err = await expectCode(c.refer(Echo).echo(1), 'CONNECT_FAILED');
    expect(performance.now() - started).toBeLessThan(2000);
    expect(err.retrySafe).toBe(true);
    await waitFor(() => s.reasons.length === 1);
    expect(s.reasons).toEqual(['handshake-timeout']);
    expect(s.runs.interceptor).toBe(0);
  });

  it('expiresAt already past: refused UNAUTHENTICATED ("credentials expired")', async () => {
    const s = await server({ authenticate: () => ({ principal: 'p', expiresAt: Date.now() - 1 }) });
    const err = await expectCode(client(s.address, { credentials: 't' }).refer(Echo).echo(1), 'UNAUTHENTICATED');
    expect(err.message).toContain('credentials expired');
    expect(s.echo.received).toEqual([]);
  });

  it('hello carries the credentials and the agent; peer the address (no tls over plain TCP)', async () => {
    const seen: unknown[] = [];
    const s = await server({
      authenticate: (hello, peer) => {
        seen.push({ hello: { ...hello }, address: peer.address, tls: peer.tls });
        return { principal: 1 };
      },
    });
    await client(s.address, { credentials: 'abc' }).refer(Echo).echo(1);
    expect(seen).toEqual([{ hello: { credentials: 'abc', agent: 'heartline-node' }, address: expect.stringMatching(/^127\.0\.0\.1:\d+$/), tls: undefined }]);
  });
});

describe("the client's credentials", () => {
  it('a function is called for every new connection (one per connection, not per call)', async () => {
    let n = 0;
    const seen: Array<string | undefined> = [];
    const s = await server({
      authenticate: (hello) => {
        seen.push(hello.credentials);
        return { principal: hello.credentials };
      },
    });
    const c = client(s.address, { credentials: () => `t${++n}`, connections: 1 });
    const echo = c.refer(Echo);
    await echo.echo(1);
    await echo.echo(2);
    expect(seen).toEqual(['t1']);
    // The connection is lost: the next connection asks again.
    for (const conn of s.server.connections()) expect(conn.authenticated).toBe(true);
    await s.close();
    await server({
      port: s.port,
      authenticate: (hello) => {
        seen.push(hello.credentials);
        return { principal: hello.credentials };
      },
    });
    await waitFor(() => c.connections().some((x) => x.state === 'ready'), 5000, 'the reconnect');
    await echo.echo(3);
    expect(seen).toEqual(['t1', 't2']);
  });

  it('throws, rejects, or gives a non-string: the calls fail UNAUTHENTICATED with the cause; nothing reaches authenticate', async () => {
    let authenticated = 0;
    const s = await server({
      authenticate: () => {
        authenticated++;
        return { principal: 1 };
      },
    });
    const boom = new Error('vault sealed');
    const sources: Array<[ClientOptions['credentials'], unknown]> = [
      [
        () => {
          throw boom;
        },
        boom,
      ],
      [() => Promise.reject(boom), boom],
      [(() => 42) as unknown as () => string, undefined],
      [(() => Promise.resolve(null)) as unknown as () => Promise<string>, undefined],
      [() => 'x'.repeat(8 * 1024 + 1), undefined],
    ];
    for (const [credentials, cause] of sources) {
      const c = client(s.address, { credentials });
      const calls = [c.refer(Echo).echo(1), c.refer(Echo).echo(2)];
      const errors = await Promise.all(calls.map((call) => expectCode(call, 'UNAUTHENTICATED')));
      for (const err of errors) {
        expect(err.message).toContain('credentials function');
        if (cause !== undefined) expect(causes(err)).toContain(cause);
      }
    }
    expect(authenticated).toBe(0);
    expect(s.runs.interceptor).toBe(0);
  });

  it('a credentials function that never settles: connectTimeout ends the connect (CONNECT_FAILED)', async () => {
    const s = await server({ authenticate: () => ({ principal: 1 }) });
    const c = client(s.address, { credentials: () => new Promise<string>(() => {}), connectTimeout: 150 });
    await expectCode(c.refer(Echo).echo(1), 'CONNECT_FAILED');
  });
});

describe('authentication under mutual TLS', () => {
  const certs = testCerts();

  it("authenticate sees the consumer certificate's subject; the call runs with the principal it gives", async () => {
    const s = await server({
      tls: { key: certs.server.key, cert: certs.server.cert, ca: certs.ca, requestCert: true },
      authenticate: (_hello, peer) => {
        const cn = peer.tls?.subject?.CN;
        if (peer.tls?.authorized !== true || typeof cn !== 'string') throw new Error('no verified certificate');
        return { principal: { cn } };
      },
    });
    const impl = new PrincipalEcho();
    s.server.register(Echo, impl, { version: '9.0.0' });
    const c = client(s.address, { tls: { ca: certs.ca, key: certs.client.key, cert: certs.client.cert } });
    expect(await c.refer(Echo, { version: '9.0.0' }).echo('hi')).toBe('hi');
    expect(impl.seen).toEqual([{ cn: 'test-client' }]);
    expect(s.server.connections()[0]!.authenticated).toBe(true);
  });

  it('mutual TLS and a token together: both are checked', async () => {
    const check = sharedSecret(TOKEN);
    const s = await server({
      tls: { key: certs.server.key, cert: certs.server.cert, ca: certs.ca, requestCert: true },
      authenticate: (hello, peer) => ({ principal: { cn: peer.tls?.subject?.CN, token: check(hello, peer) !== undefined } }),
    });
    const tls = { ca: certs.ca, key: certs.client.key, cert: certs.client.cert };
    expect(await client(s.address, { tls, credentials: TOKEN }).refer(Echo).echo(1)).toBe(1);
    expect(s.principals).toEqual([{ cn: 'test-client', token: true }]);
    await expectCode(client(s.address, { tls, credentials: 'nope' }).refer(Echo).echo(1), 'UNAUTHENTICATED');
  });
});

/** Every error of a cause chain, `err` first. */
function causes(err: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let e = err; e !== undefined && chain.length < 10; e = (e as { cause?: unknown }).cause) chain.push(e);
  return chain;
}
