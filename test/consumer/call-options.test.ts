// withOptions(stub, { signal, timeout, attachments }): a typed view of a stub
// whose calls carry their own options; cancellation at every stage a call can
// wait in; the time budget on the wire (protocol.md 4.1).
import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { withOptions, type Directory } from '../../src/index.js';
import { Echo } from '../helpers/contract.js';
import { FakeProvider, handshakeResponse, responseFrame, type FakeRequest } from '../helpers/fake-provider.js';
import { encodeBody } from '../../src/protocol/codec.js';
import { expectCode, expectThrowCode, newClient, startServer, track, useCleanup, waitFor } from '../helpers/server.js';
import { startWorkProvider, Work } from '../cluster/cluster-helpers.js';

/** A fake provider (protocol `version`) that records every request and never answers unless told to. */
async function recordingFake(version = 2): Promise<{ fake: FakeProvider; requests: FakeRequest[] }> {
  const requests: FakeRequest[] = [];
  const fake = await FakeProvider.start((r) => requests.push(r), { version });
  return { fake, requests };
}

/**
 * A fake provider that holds back its handshake answer until `answer()`:
 * calls made meanwhile wait for the handshake. `held()` is true once the
 * handshake request has arrived; `requests` collects the calls it receives.
 */
async function holdingHandshake(
  defer: <T>(value: T, dispose: (value: T) => unknown) => T,
  version: number,
): Promise<{ fake: FakeProvider; requests: FakeRequest[]; held: () => boolean; answer: () => void }> {
  let write: (() => void) | undefined;
  const requests: FakeRequest[] = [];
  const fake = defer(
    await FakeProvider.start((r) => requests.push(r), {
      onHandshake: (frame, socket) => {
        write = () => socket.write(handshakeResponse(frame.id, 0, encodeBody({ version, maxFrameSize: 1 << 20, heartbeat: 0, idleTimeout: 0 })));
      },
    }),
    (f) => f.close(),
  );
  return { fake, requests, held: () => write !== undefined, answer: () => write!() };
}

describe('withOptions', () => {
  const defer = useCleanup();

  it('a view with a timeout times out on its own; the plain stub keeps the reference timeout', async () => {
    const s = defer(await startServer(), (x) => x.close());
    const client = defer(newClient(s.address), (c) => c.close());
    const echo = client.refer(Echo, { timeout: 2000 });
    const started = performance.now();
    const err = await expectCode(withOptions(echo, { timeout: 50 }).sleep(500), 'TIMEOUT');
    expect(performance.now() - started).toBeLessThan(400);
    expect(err.call).toBe('test.Echo#sleep');
    expect(await echo.sleep(100)).toBe(100);
  });

  it('attachments are merged over the reference\'s, and a view of a view merges over the first view', async () => {
    const { fake, requests } = await recordingFake();
    defer(fake, (f) => f.close());
    const client = defer(newClient(fake.address), (c) => c.close());
    const echo = client.refer(Echo, { attachments: { tenant: 'a', trace: 'ref' } });
    const view = withOptions(echo, { attachments: { trace: 'call' } });
    void track(view.echo(1));
    void track(withOptions(view, { attachments: { extra: 'x' } }).echo(2));
    void track(echo.echo(3));
    await waitFor(() => requests.length === 3);
    expect(requests.map((r) => r.request![5])).toEqual([
      { tenant: 'a', trace: 'call' },
      { tenant: 'a', trace: 'call', extra: 'x' },
      { tenant: 'a', trace: 'ref' },
    ]);
  });

  it('bad options and a non-stub fail at once with INVALID_CONFIG naming the option', async () => {
    const client = defer(newClient('127.0.0.1:1'), (c) => c.close());
    const echo = client.refer(Echo);
    expect(expectThrowCode(() => withOptions(echo, { timeout: -1 }), 'INVALID_CONFIG').message).toMatch(/^timeout/);
    expect(expectThrowCode(() => withOptions(echo, { signal: {} as AbortSignal }), 'INVALID_CONFIG').message).toMatch(/^signal/);
    expect(expectThrowCode(() => withOptions(echo, { attachments: { a: 1 as unknown as string } }), 'INVALID_CONFIG').message).toMatch(/^attachments\.a/);
    expectThrowCode(() => withOptions({}, {}), 'INVALID_CONFIG');
  });
});

describe('cancellation', () => {
  const defer = useCleanup();

  it('an already aborted signal: CANCELLED, nothing written, no connection opened', async () => {
    const { fake, requests } = await recordingFake();
    defer(fake, (f) => f.close());
    const client = defer(newClient(fake.address), (c) => c.close());
    const reason = new Error('user left');
    const err = await expectCode(withOptions(client.refer(Echo), { signal: AbortSignal.abort(reason) }).echo(1), 'CANCELLED');
    expect(err.cause).toBe(reason);
    expect(err.retrySafe).toBe(false);
    expect(client.connections()).toEqual([]);
    expect(requests).toEqual([]);
  });

  it('during the handshake: rejects at once and is never written once the handshake completes', async () => {
    const { fake, requests, held, answer } = await holdingHandshake(defer, 2);
    const client = defer(newClient(fake.address), (c) => c.close());
    const echo = client.refer(Echo);
    const controller = new AbortController();
    const call = track(withOptions(echo, { signal: controller.signal }).echo('cancelled'));
    await waitFor(() => held(), 2000, 'the handshake request');
    controller.abort();
    await waitFor(() => call.settled);
    expect((call.error as { code: string }).code).toBe('CANCELLED');
    answer();
    void track(echo.echo('after'));
    await waitFor(() => requests.length === 1, 2000, 'the next call');
    expect(requests.map((r) => (r.request![4] as unknown[])[0])).toEqual(['after']);
  });

  it('while waiting for an actives slot: rejects at once, never reaches the provider, frees its place', async () => {
    const p = defer(await startWorkProvider('a'), (x) => x.close());
    const client = defer(newClient(p.address), (c) => c.close());
    const work = client.refer(Work, { actives: 1, timeout: 5000 });
    const first = track(work.hold());
    await waitFor(() => p.impl.count('hold') === 1, 2000, 'the first call to run');
    const controller = new AbortController();
    const waiting = track(withOptions(work, { signal: controller.signal }).hold());
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(waiting.settled).toBe(false);
    controller.abort();
    await waitFor(() => waiting.settled);
    expect((waiting.error as { code: string }).code).toBe('CANCELLED');
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    p.impl.openGate();
    await waitFor(() => first.settled);
    expect(p.impl.count('hold')).toBe(1);
    expect(client.pendingCalls).toBe(0);
  });

  it('after the write: rejects at once with CANCELLED, the provider gets a Cancel frame, the late response is dropped', async () => {
    const { fake, requests } = await recordingFake();
    defer(fake, (f) => f.close());
    const client = defer(newClient(fake.address), (c) => c.close());
    const controller = new AbortController();
    const call = track(withOptions(client.refer(Echo), { signal: controller.signal }).echo('x'));
    await waitFor(() => requests.length === 1, 2000, 'the request');
    const started = performance.now();
    controller.abort();
    await waitFor(() => call.settled);
    expect(performance.now() - started).toBeLessThan(100);
    expect((call.error as { code: string; call: string }).code).toBe('CANCELLED');
    expect((call.error as { call: string }).call).toBe('test.Echo#echo');
    const id = requests[0]!.frame.id;
    await waitFor(() => fake.cancelled.includes(id), 2000, 'the Cancel frame');
    requests[0]!.socket.write(responseFrame(id, 0, encodeBody('late')));
    await waitFor(() => client.connections()[0]?.lateResponses === 1, 2000, 'the late response to be counted');
    expect(client.pendingCalls).toBe(0);
  });

  it('a one-way call cancelled while it waits for the handshake is never written', async () => {
    const { fake, requests, held, answer } = await holdingHandshake(defer, 2);
    const client = defer(newClient(fake.address), (c) => c.close());
    const echo = client.refer(Echo);
    const controller = new AbortController();
    const call = track(withOptions(echo, { signal: controller.signal }).notify('dropped', 0));
    await waitFor(() => held());
    controller.abort();
    await waitFor(() => call.settled);
    expect((call.error as { code: string }).code).toBe('CANCELLED');
    answer();
    await echo.notify('sent', 0);
    await waitFor(() => requests.length === 1);
    expect((requests[0]!.request![4] as unknown[])[0]).toBe('sent');
    expect(client.pendingCalls).toBe(0);
  });

  it('while waiting for a registry\'s first provider list: rejects at once, opens nothing', async () => {
    const client = defer(newClient(undefined), (c) => c.close());
    const never = new Promise<void>(() => undefined);
    const directory: Directory = { list: () => [], subscribe: () => () => undefined, loading: () => never };
    const controller = new AbortController();
    const call = track(withOptions(client.refer(Echo, { providers: directory, timeout: 5000 }), { signal: controller.signal }).echo(1));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(call.settled).toBe(false);
    controller.abort();
    await waitFor(() => call.settled);
    expect((call.error as { code: string }).code).toBe('CANCELLED');
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    expect(client.connections()).toEqual([]);
  });

  it('one signal reused by many calls keeps no listener once they have settled (no AbortSignal.any leak)', async () => {
    const s = defer(await startServer(), (x) => x.close());
    const client = defer(newClient(s.address), (c) => c.close());
    const controller = new AbortController();
    const echo = withOptions(client.refer(Echo), { signal: controller.signal });
    for (let round = 0; round < 5; round++) {
      await Promise.all(Array.from({ length: 200 }, (_, i) => echo.echo(i)));
    }
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    // Listeners exist only while calls are in flight.
    const inFlight = echo.sleep(50);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    await inFlight;
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });
});

describe('the time budget on the wire', () => {
  const defer = useCleanup();

  it('version 2: a seventh item with the ms left when written; nil for a call without a timeout', async () => {
    const { fake, requests } = await recordingFake(2);
    defer(fake, (f) => f.close());
    const client = defer(newClient(fake.address), (c) => c.close());
    const echo = client.refer(Echo, { timeout: 1000 });
    void track(echo.echo(1));
    void track(withOptions(echo, { timeout: 0 }).echo(2));
    void track(echo.notify('one-way', 0));
    await waitFor(() => requests.length === 3);
    const [timed, untimed, oneWay] = requests.map((r) => r.request!);
    expect(timed).toHaveLength(7);
    expect(timed![6]).toBeGreaterThan(800);
    expect(timed![6]).toBeLessThanOrEqual(1000);
    expect(untimed).toHaveLength(7);
    expect(untimed![6]).toBe(null);
    expect(oneWay![6]).toBeGreaterThan(800); // one-way calls carry the budget too
  });

  it('the budget is what is left when the frame is written: a call that waited for the handshake has less', async () => {
    const { fake, requests, held, answer } = await holdingHandshake(defer, 2);
    const client = defer(newClient(fake.address), (c) => c.close());
    void track(client.refer(Echo, { timeout: 1000 }).echo(1));
    await waitFor(() => held());
    await new Promise((resolve) => setTimeout(resolve, 300));
    answer();
    await waitFor(() => requests.length === 1);
    expect(requests[0]!.request![6]).toBeLessThanOrEqual(720);
    expect(requests[0]!.request![6]).toBeGreaterThan(400);
  });

  it('a version-1 provider gets six items', async () => {
    const { fake, requests } = await recordingFake(1);
    defer(fake, (f) => f.close());
    const client = defer(newClient(fake.address), (c) => c.close());
    const echo = client.refer(Echo, { timeout: 1000, attachments: { k: 'v' } });
    void track(echo.echo(1));
    void track(withOptions(echo, { timeout: 0 }).echo(2));
    await waitFor(() => requests.length === 2);
    expect(requests.map((r) => r.request)).toEqual([
      ['test.Echo', '1.0.0', '', 'echo', [1], { k: 'v' }],
      ['test.Echo', '1.0.0', '', 'echo', [2], { k: 'v' }],
    ]);
  });

  it('a real provider answers calls that carry a budget (version 2 agreed)', async () => {
    const s = defer(await startServer(), (x) => x.close());
    const client = defer(newClient(s.address), (c) => c.close());
    expect(await client.refer(Echo, { timeout: 1000 }).echo('ok')).toBe('ok');
    expect(await withOptions(client.refer(Echo), { timeout: 0 }).echo('no deadline')).toBe('no deadline');
  });
});

describe('a call whose time ran out while it waited for the handshake', () => {
  const defer = useCleanup();

  for (const version of [1, 2]) {
    it(`is not written, on a version-${version} connection too (one-way: no response timer covers it)`, async () => {
      const { fake, requests, held, answer } = await holdingHandshake(defer, version);
      const client = defer(newClient(fake.address), (c) => c.close());
      const call = track(withOptions(client.refer(Echo), { timeout: 30 }).notify('late', 0));
      await waitFor(() => held());
      await new Promise((resolve) => setTimeout(resolve, 80));
      answer();
      await waitFor(() => call.settled);
      expect((call.error as { code?: string } | undefined)?.code).toBe('TIMEOUT');
      await new Promise((resolve) => setTimeout(resolve, 30));
      expect(requests).toEqual([]);
    });
  }
});
