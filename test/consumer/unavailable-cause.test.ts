// UNAVAILABLE says why: while every listed provider is unreachable, the error's cause is the last failure of one
// of them (a refused connection, a TLS mismatch, refused credentials), not a bare "no available provider".
import { describe, expect, it } from 'vitest';
import { HeartlineError } from '../../src/index.js';
import { Echo } from '../helpers/contract.js';
import { expectCode, freePort, newClient, startServer, useCleanup, waitFor } from '../helpers/server.js';

describe('UNAVAILABLE and its cause', () => {
  const defer = useCleanup();

  it('a call while the only provider is reconnecting after a refused connect: the cause is that failure; none once it is back', async () => {
    const port = await freePort();
    const client = defer(newClient(`127.0.0.1:${port}`, { cluster: 'failfast', reconnect: { initialDelay: 50, maxDelay: 50, jitter: 0 } }), (c) => c.close());
    const echo = client.refer(Echo);
    await expectCode(echo.echo(1), 'CONNECT_FAILED');
    const err = await expectCode(echo.echo(2), 'UNAVAILABLE');
    expect(err.cause).toBeInstanceOf(HeartlineError);
    expect((err.cause as HeartlineError).code).toBe('CONNECT_FAILED');
    expect(err.message).toMatch(/no available provider .*; last failure: .*127\.0\.0\.1/);

    // The provider comes up on that port: the endpoint reconnects, and its failure is forgotten.
    defer(await startServer({ port }), (s) => s.close());
    await waitFor(() => client.connections().some((c) => c.state === 'ready'), 3000, 'the reconnect');
    expect(await echo.echo(3)).toBe(3);
  });

  it('a provider that refuses the credentials: UNAVAILABLE during the backoff carries the UNAUTHENTICATED', async () => {
    const srv = defer(await startServer({ authenticate: () => { throw new Error('no'); } }), (s) => s.close());
    const client = defer(newClient(srv.address, { cluster: 'failfast', credentials: 'wrong', reconnect: { initialDelay: 5000, jitter: 0 }, random: () => 1 }), (c) => c.close());
    const echo = client.refer(Echo);
    await expectCode(echo.echo(1), 'UNAUTHENTICATED');
    const err = await expectCode(echo.echo(2), 'UNAVAILABLE');
    expect((err.cause as HeartlineError).code).toBe('UNAUTHENTICATED');
  });

  it('no failure seen: no cause', async () => {
    const client = defer(newClient(undefined, { providers: [], cluster: 'failfast' }), (c) => c.close());
    const err = await expectCode(client.refer(Echo).echo(1), 'UNAVAILABLE');
    expect(err.cause).toBeUndefined();
  });
});
