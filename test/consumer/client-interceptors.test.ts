// Consumer interceptors: client-wide (client.use) then the reference's
// (`interceptors` option), in the onion model, around the cluster stage.
import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { HeartlineError, withOptions, type ClientCall, type ClientInterceptor } from '../../src/index.js';
import { Echo } from '../helpers/contract.js';
import { FakeProvider, type FakeRequest } from '../helpers/fake-provider.js';
import { expectCode, expectThrowCode, newClient, startServer, track, useCleanup, waitFor } from '../helpers/server.js';
import { startWorkProvider, Work } from '../cluster/cluster-helpers.js';

/** An interceptor that logs `name>` before and `<name` after the rest of the chain. */
function logging(log: string[], name: string): ClientInterceptor {
  return async (call, next) => {
    log.push(`${name}>${call.method}`);
    try {
      return await next();
    } finally {
      log.push(`<${name}`);
    }
  };
}

describe('client interceptors', () => {
  const defer = useCleanup();

  it('run client-wide first (in the order added), then the reference\'s, around one logical call', async () => {
    const s = defer(await startServer(), (x) => x.close());
    const client = defer(newClient(s.address), (c) => c.close());
    const log: string[] = [];
    client.use(logging(log, 'a')).use(logging(log, 'b'));
    const echo = client.refer(Echo, { interceptors: [logging(log, 'r')] });
    expect(await echo.echo(1)).toBe(1);
    expect(log).toEqual(['a>echo', 'b>echo', 'r>echo', '<r', '<b', '<a']);
  });

  it('client.use applies to references made before it, from their next call on', async () => {
    const s = defer(await startServer(), (x) => x.close());
    const client = defer(newClient(s.address), (c) => c.close());
    const echo = client.refer(Echo);
    expect(await echo.echo(1)).toBe(1); // zero interceptors
    const log: string[] = [];
    client.use(logging(log, 'late'));
    expect(await echo.echo(2)).toBe(2);
    expect(log).toEqual(['late>echo', '<late']);
  });

  it('short-circuit with a value: nothing is sent, no connection opened', async () => {
    const client = defer(newClient('127.0.0.1:1'), (c) => c.close());
    client.use(async (call) => `cached ${String(call.args[0])}`);
    expect(await client.refer(Echo).echo('x')).toBe('cached x');
    expect(client.connections()).toEqual([]);
  });

  it('short-circuit with a HeartlineError: the call rejects with it, named after the call', async () => {
    const client = defer(newClient('127.0.0.1:1'), (c) => c.close());
    const denied = new HeartlineError('LIMIT_EXCEEDED', 'quota used up');
    const echo = client.refer(Echo, { interceptors: [() => Promise.reject(denied)] });
    const err = await expectCode(echo.echo(1), 'LIMIT_EXCEEDED');
    expect(err).toBe(denied);
    expect(err.call).toBe('test.Echo#echo');
    expect(client.connections()).toEqual([]);
  });

  it('an interceptor that throws synchronously makes the call reject with that error', async () => {
    const client = defer(newClient('127.0.0.1:1'), (c) => c.close());
    const boom = new Error('interceptor bug');
    const echo = client.refer(Echo, {
      interceptors: [
        () => {
          throw boom;
        },
      ],
    });
    await expect(echo.echo(1)).rejects.toBe(boom);
  });

  it('call.with changes attachments, arguments and timeout; the call object itself is immutable', async () => {
    const requests: FakeRequest[] = [];
    const fake = defer(await FakeProvider.start((r) => requests.push(r), { version: 2 }), (f) => f.close());
    const client = defer(newClient(fake.address), (c) => c.close());
    let seen: ClientCall | undefined;
    client.use((call, next) => {
      seen = call;
      return next(call.with({ attachments: { ...call.attachments, traceparent: '00-abc-def-01' }, timeout: 100, args: ['changed', undefined] }));
    });
    const echo = client.refer(Echo, { timeout: 3000, attachments: { tenant: 't' } });
    const started = performance.now();
    const call = track(echo.echo('original'));
    await waitFor(() => requests.length === 1);
    const request = requests[0]!.request!;
    expect(request[4]).toEqual(['changed']);
    expect(request[5]).toEqual({ tenant: 't', traceparent: '00-abc-def-01' });
    expect(request[6]).toBeLessThanOrEqual(100);
    await waitFor(() => call.settled);
    expect((call.error as { code: string }).code).toBe('TIMEOUT');
    expect(performance.now() - started).toBeLessThan(1000);
    expect(seen!.args).toEqual(['original']);
    expect(seen!.attachments).toEqual({ tenant: 't' });
    expect(seen!.timeout).toBe(3000);
    expect(Object.isFrozen(seen!.attachments)).toBe(true);
  });

  it('an interceptor sees the call\'s options: its signal, timeout and deadline', async () => {
    const s = defer(await startServer(), (x) => x.close());
    const client = defer(newClient(s.address), (c) => c.close());
    const seen: ClientCall[] = [];
    client.use((call, next) => {
      seen.push(call);
      return next();
    });
    const controller = new AbortController();
    const before = performance.now();
    await withOptions(client.refer(Echo), { signal: controller.signal, timeout: 700 }).echo(1);
    expect(seen[0]!.signal).toBe(controller.signal);
    expect(seen[0]!.timeout).toBe(700);
    expect(seen[0]!.deadline).toBeGreaterThanOrEqual(before + 700);
    expect(seen[0]!.timeLeft).toBeLessThanOrEqual(700);
    expect([seen[0]!.service, seen[0]!.version, seen[0]!.group, seen[0]!.method, seen[0]!.oneWay, seen[0]!.idempotent]).toEqual(['test.Echo', '1.0.0', '', 'echo', false, false]);
  });

  it('an interceptor sees one logical call however many attempts failover makes', async () => {
    const a = defer(await startWorkProvider('a'), (x) => x.close());
    const dead = `127.0.0.1:1`;
    const client = defer(newClient(undefined, { retries: 2, loadbalance: 'roundrobin' }), (c) => c.close());
    let calls = 0;
    client.use((call, next) => {
      calls++;
      return next();
    });
    const work = client.refer(Work, { providers: [dead, a.address] });
    for (let i = 0; i < 4; i++) expect(await work.whoami()).toBe('a');
    expect(calls).toBe(4);
  });

  it('next() with something that is not the call: INVALID_CONFIG; a non-function interceptor is refused', async () => {
    const client = defer(newClient('127.0.0.1:1'), (c) => c.close());
    const echo = client.refer(Echo, { interceptors: [(call, next) => next({ ...call } as ClientCall)] });
    await expectCode(echo.echo(1), 'INVALID_CONFIG');
    expectThrowCode(() => client.use('nope' as unknown as ClientInterceptor), 'INVALID_CONFIG');
    expectThrowCode(() => client.refer(Echo, { interceptors: [1 as unknown as ClientInterceptor] }), 'INVALID_CONFIG');
  });

  it('an interceptor can observe the error and latency of a failed call', async () => {
    const s = defer(await startServer(), (x) => x.close());
    const client = defer(newClient(s.address), (c) => c.close());
    const observed: Array<{ code: string | undefined; ms: number }> = [];
    client.use(async (_call, next) => {
      const t0 = performance.now();
      try {
        return await next();
      } catch (err) {
        observed.push({ code: (err as HeartlineError).code, ms: performance.now() - t0 });
        throw err;
      }
    });
    await expectCode(client.refer(Echo).fail('no'), 'HANDLER_ERROR');
    expect(observed).toHaveLength(1);
    expect(observed[0]!.code).toBe('HANDLER_ERROR');
  });

  it('the caller\'s signal rejects the call at once while an interceptor holds it (slow, or never calling next), and nothing is sent', async () => {
    const requests: FakeRequest[] = [];
    const fake = defer(await FakeProvider.start((r) => requests.push(r), { version: 2 }), (f) => f.close());
    const client = defer(newClient(fake.address), (c) => c.close());
    let late: Promise<unknown> | undefined;
    const slow: ClientInterceptor = async (call, next) => {
      await new Promise((resolve) => setTimeout(resolve, 300)); // a token refresh, say
      late = next();
      return late;
    };
    const stuck: ClientInterceptor = () => new Promise(() => undefined);
    const controller = new AbortController();
    const viaSlow = track(withOptions(client.refer(Echo, { interceptors: [slow], timeout: 5000 }), { signal: controller.signal }).echo(1));
    const viaStuck = track(withOptions(client.refer(Echo, { interceptors: [stuck], timeout: 5000 }), { signal: controller.signal }).echo(2));
    await new Promise((resolve) => setTimeout(resolve, 20));
    const reason = new Error('user left');
    const aborted = performance.now();
    controller.abort(reason);
    await waitFor(() => viaSlow.settled && viaStuck.settled, 1000, 'both calls to settle');
    expect(viaSlow.at! - aborted).toBeLessThan(100);
    expect(viaStuck.at! - aborted).toBeLessThan(100);
    for (const call of [viaSlow, viaStuck]) {
      expect((call.error as HeartlineError).code).toBe('CANCELLED');
      expect((call.error as HeartlineError).cause).toBe(reason);
      expect((call.error as HeartlineError).call).toBe('test.Echo#echo');
    }
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0); // nothing left, though the stuck chain never settles
    await waitFor(() => late !== undefined, 1000, 'the slow interceptor to call next');
    await expectCode(late!, 'CANCELLED'); // refused: nothing written
    expect(requests).toEqual([]);
  });

  it('failsafe: a cancelled call rejects CANCELLED with or without interceptors (a cancellation is not a provider failure)', async () => {
    const requests: FakeRequest[] = [];
    const fake = defer(await FakeProvider.start((r) => requests.push(r), { version: 2 }), (f) => f.close());
    const client = defer(newClient(fake.address), (c) => c.close());
    const controller = new AbortController();
    const plain = withOptions(client.refer(Echo, { cluster: 'failsafe' }), { signal: controller.signal });
    const intercepted = withOptions(client.refer(Echo, { cluster: 'failsafe', interceptors: [(_call, next) => next()] }), { signal: controller.signal });
    const calls = [track(plain.echo(1)), track(intercepted.echo(2))];
    await waitFor(() => requests.length === 2);
    controller.abort();
    await waitFor(() => calls.every((c) => c.settled));
    expect(calls.map((c) => (c.error as HeartlineError | undefined)?.code)).toEqual(['CANCELLED', 'CANCELLED']);
  });

  it('an interceptor that rejects with undefined fails the call, with or without a signal (the guard does not take it for a success)', async () => {
    const s = defer(await startServer(), (x) => x.close());
    const client = defer(newClient(s.address), (c) => c.close());
    const refusing: ClientInterceptor = () => Promise.reject(undefined);
    const echo = client.refer(Echo, { interceptors: [refusing] });
    const outcome = (p: Promise<unknown>): Promise<string> => p.then((v) => `resolved ${String(v)}`, (e: unknown) => `rejected ${String(e)}`);
    expect(await outcome(echo.echo(1))).toBe('rejected undefined');
    expect(await outcome(withOptions(echo, { signal: new AbortController().signal }).echo(1))).toBe('rejected undefined');
  });

  it('calls with interceptors and a shared signal that settle normally leave no listener on it', async () => {
    const s = defer(await startServer(), (x) => x.close());
    const client = defer(newClient(s.address), (c) => c.close());
    client.use((_call, next) => next());
    const controller = new AbortController();
    const echo = withOptions(client.refer(Echo), { signal: controller.signal });
    expect(await Promise.all(Array.from({ length: 100 }, (_, i) => echo.echo(i)))).toHaveLength(100);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });
});
