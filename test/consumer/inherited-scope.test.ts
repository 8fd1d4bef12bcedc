// A consumer call made while a call is being served (inside its scope, which
// the provider sets; here set with runInScope) inherits the served call's
// deadline and signal (issue #8, section 3).
import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { runInScope } from '../../src/context/call-scope.js';
import { withOptions, type ClientCall } from '../../src/index.js';
import { now } from '../../src/transport/clock.js';
import { Echo } from '../helpers/contract.js';
import { FakeProvider, type FakeRequest } from '../helpers/fake-provider.js';
import { expectCode, newClient, startServer, track, useCleanup, waitFor } from '../helpers/server.js';

async function recordingFake(): Promise<{ fake: FakeProvider; requests: FakeRequest[] }> {
  const requests: FakeRequest[] = [];
  const fake = await FakeProvider.start((r) => requests.push(r), { version: 2 });
  return { fake, requests };
}

describe('deadline and signal inherited from the call being served', () => {
  const defer = useCleanup();

  it('the deadline is the sooner of the call\'s own and the inherited one, on the wire too', async () => {
    const { fake, requests } = await recordingFake();
    defer(fake, (f) => f.close());
    const client = defer(newClient(fake.address), (c) => c.close());
    const echo = client.refer(Echo, { timeout: 3000 });
    const scope = { deadline: now() + 200, signal: new AbortController().signal };
    const started = performance.now();
    const call = runInScope(scope, () => echo.echo('inner'));
    // A call with a shorter timeout of its own keeps it.
    void track(runInScope(scope, () => withOptions(echo, { timeout: 50 }).echo('short')));
    await waitFor(() => requests.length === 2);
    expect(requests[0]!.request![6]).toBeLessThanOrEqual(200);
    expect(requests[1]!.request![6]).toBeLessThanOrEqual(50);
    await expectCode(call, 'TIMEOUT');
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(150);
    expect(elapsed).toBeLessThan(1000);
  });

  it('an inherited deadline already passed: DEADLINE_EXCEEDED, nothing written, no connection opened', async () => {
    const { fake, requests } = await recordingFake();
    defer(fake, (f) => f.close());
    const client = defer(newClient(fake.address), (c) => c.close());
    const scope = { deadline: now() - 1, signal: new AbortController().signal };
    const err = await expectCode(runInScope(scope, () => client.refer(Echo).echo(1)), 'DEADLINE_EXCEEDED');
    expect(err.call).toBe('test.Echo#echo');
    expect(client.connections()).toEqual([]);
    expect(requests).toEqual([]);
  });

  it('the inherited signal cancels the call (and a Cancel frame follows); its own signal still works; no listener is left', async () => {
    const { fake, requests } = await recordingFake();
    defer(fake, (f) => f.close());
    const client = defer(newClient(fake.address), (c) => c.close());
    const echo = client.refer(Echo);
    const served = new AbortController();
    const own = new AbortController();
    const scope = { deadline: Infinity, signal: served.signal };
    const byScope = track(runInScope(scope, () => withOptions(echo, { signal: own.signal }).echo('a')));
    await waitFor(() => requests.length === 1);
    expect(getEventListeners(own.signal, 'abort')).toHaveLength(1);
    const reason = new Error('upstream gave up');
    served.abort(reason);
    await waitFor(() => byScope.settled);
    expect((byScope.error as { code: string }).code).toBe('CANCELLED');
    expect((byScope.error as Error).cause).toBe(reason);
    await waitFor(() => fake.cancelled.includes(requests[0]!.frame.id), 2000, 'the Cancel frame');
    expect(getEventListeners(own.signal, 'abort')).toHaveLength(0);

    const served2 = new AbortController();
    const own2 = new AbortController();
    const byOwn = track(runInScope({ deadline: Infinity, signal: served2.signal }, () => withOptions(echo, { signal: own2.signal }).echo('b')));
    await waitFor(() => requests.length === 2);
    own2.abort();
    await waitFor(() => byOwn.settled);
    expect((byOwn.error as { code: string }).code).toBe('CANCELLED');
    expect(getEventListeners(served2.signal, 'abort')).toHaveLength(0);
    expect(getEventListeners(own2.signal, 'abort')).toHaveLength(0);
  });

  it('a served signal already aborted: CANCELLED, nothing written', async () => {
    const { fake, requests } = await recordingFake();
    defer(fake, (f) => f.close());
    const client = defer(newClient(fake.address), (c) => c.close());
    const err = await expectCode(runInScope({ deadline: Infinity, signal: AbortSignal.abort() }, () => client.refer(Echo).echo(1)), 'CANCELLED');
    expect(err.call).toBe('test.Echo#echo');
    expect(requests).toEqual([]);
  });

  it('outside any scope nothing is inherited, and a call that settles in scope leaves no listener on the served signal', async () => {
    const s = defer(await startServer(), (x) => x.close());
    const client = defer(newClient(s.address), (c) => c.close());
    const echo = client.refer(Echo);
    const served = new AbortController();
    await runInScope({ deadline: now() + 5000, signal: served.signal }, async () => {
      for (let i = 0; i < 50; i++) expect(await echo.echo(i)).toBe(i);
    });
    expect(getEventListeners(served.signal, 'abort')).toHaveLength(0);
    served.abort();
    expect(await echo.echo('outside')).toBe('outside');
  });
});


describe('call.with({ signal }) after the call settled, inside a handler', () => {
  const defer = useCleanup();

  it('links nothing: no watcher is left on the served signal or the new one', async () => {
    const s = defer(await startServer(), (x) => x.close());
    const client = defer(newClient(s.address), (c) => c.close());
    let kept: ClientCall | undefined;
    const echo = client.refer(Echo, { interceptors: [(call, next) => ((kept = call), next())] });
    const served = new AbortController();
    await runInScope({ deadline: Infinity, signal: served.signal }, () => echo.echo(1));
    const late = new AbortController();
    kept!.with({ signal: late.signal }); // an interceptor that kept the call makes a copy once it has settled
    expect(getEventListeners(served.signal, 'abort')).toHaveLength(0);
    expect(getEventListeners(late.signal, 'abort')).toHaveLength(0);
  });
});
