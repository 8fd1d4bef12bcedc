// One AbortController cancelling a batch of many concurrent calls: the signal
// carries ONE Heartline listener however many calls wait on it (no Node
// MaxListenersExceededWarning), every call is cancelled when it fires, and
// nothing is left on it once they have settled (src/exchange/abort-watch.ts).
import { getEventListeners } from 'node:events';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runInScope } from '../../src/context/call-scope.js';
import { Service, withOptions, type Directory } from '../../src/index.js';
import { Echo } from '../helpers/contract.js';
import { FakeProvider, type FakeRequest } from '../helpers/fake-provider.js';
import { newClient, startServer, useCleanup, waitFor } from '../helpers/server.js';
import { startWorkProvider, Work } from '../cluster/cluster-helpers.js';

const BATCH = 200;

/** Settles every promise; returns the error codes (or 'ok'). */
function outcomes(promises: Promise<unknown>[]): Promise<string[]> {
  return Promise.all(promises.map((p) => p.then(() => 'ok', (err: { code?: string }) => err.code ?? String(err))));
}

describe('one signal shared by many calls in flight', () => {
  const defer = useCleanup();
  const warnings: Error[] = [];
  const onWarning = (w: Error): void => void warnings.push(w);
  beforeEach(() => {
    warnings.length = 0;
    process.on('warning', onWarning);
  });
  afterEach(() => {
    process.off('warning', onWarning);
  });
  /** Warnings are emitted on process.nextTick: let them arrive. */
  const leakWarnings = async (): Promise<string[]> => {
    await new Promise((resolve) => setImmediate(resolve));
    return warnings.filter((w) => w.name === 'MaxListenersExceededWarning').map((w) => w.message);
  };

  it('written calls: one listener, no warning, all CANCELLED with Cancel frames, none left after', async () => {
    const requests: FakeRequest[] = [];
    const fake = defer(await FakeProvider.start((r) => requests.push(r), { version: 2 }), (f) => f.close());
    const client = defer(newClient(fake.address), (c) => c.close());
    const controller = new AbortController();
    const echo = withOptions(client.refer(Echo, { timeout: 10_000 }), { signal: controller.signal });
    const calls = Array.from({ length: BATCH }, (_, i) => echo.echo(i));
    await waitFor(() => requests.length === BATCH, 5000, 'every request');
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    const reason = new Error('batch dropped');
    controller.abort(reason);
    expect(await outcomes(calls)).toEqual(Array(BATCH).fill('CANCELLED'));
    expect(await calls[0]!.catch((err: Error) => err.cause)).toBe(reason);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    await waitFor(() => fake.cancelled.length === BATCH, 2000, 'a Cancel frame per call');
    expect(client.pendingCalls).toBe(0);
    expect(await leakWarnings()).toEqual([]);
  });

  it('calls that settle normally: the listener goes with the last of them', async () => {
    const s = defer(await startServer(), (x) => x.close());
    const client = defer(newClient(s.address), (c) => c.close());
    const controller = new AbortController();
    const echo = withOptions(client.refer(Echo), { signal: controller.signal });
    const values = await Promise.all(Array.from({ length: BATCH }, (_, i) => echo.echo(i)));
    expect(values).toEqual(Array.from({ length: BATCH }, (_, i) => i));
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    expect(await leakWarnings()).toEqual([]);
  });

  it('inside a handler: the served call\'s signal and the calls\' own carry one listener each; either cancels them all', async () => {
    const requests: FakeRequest[] = [];
    const fake = defer(await FakeProvider.start((r) => requests.push(r), { version: 2 }), (f) => f.close());
    const client = defer(newClient(fake.address), (c) => c.close());
    const echo = client.refer(Echo, { timeout: 10_000 });
    const served = new AbortController();
    const own = new AbortController();
    const scope = { deadline: Infinity, signal: served.signal };
    // Half with their own signal too (linked), half with only the served one.
    const calls = runInScope(scope, () => [
      ...Array.from({ length: BATCH / 2 }, (_, i) => withOptions(echo, { signal: own.signal }).echo(i)),
      ...Array.from({ length: BATCH / 2 }, (_, i) => echo.echo(i)),
    ]);
    await waitFor(() => requests.length === BATCH, 5000, 'every request');
    expect(getEventListeners(served.signal, 'abort')).toHaveLength(1);
    expect(getEventListeners(own.signal, 'abort')).toHaveLength(1);
    served.abort();
    expect(await outcomes(calls)).toEqual(Array(BATCH).fill('CANCELLED'));
    expect(getEventListeners(served.signal, 'abort')).toHaveLength(0);
    expect(getEventListeners(own.signal, 'abort')).toHaveLength(0);
    expect(await leakWarnings()).toEqual([]);
  });

  it('calls waiting for an actives slot and for a registry\'s first listing: one listener, all cancelled, none left', async () => {
    const p = defer(await startWorkProvider('a'), (x) => x.close());
    const client = defer(newClient(p.address), (c) => c.close());
    const controller = new AbortController();
    const work = withOptions(client.refer(Work, { actives: 1, timeout: 10_000 }), { signal: controller.signal });
    const never = new Promise<void>(() => undefined);
    const directory: Directory = { list: () => [], subscribe: () => () => undefined, loading: () => never };
    const listed = withOptions(client.refer(Echo, { providers: directory, timeout: 10_000 }), { signal: controller.signal });
    const calls = [...Array.from({ length: BATCH / 2 }, () => work.hold()), ...Array.from({ length: BATCH / 2 }, (_, i) => listed.echo(i))];
    await waitFor(() => p.impl.count('hold') === 1, 2000, 'the first call to run');
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    controller.abort();
    expect(await outcomes(calls)).toEqual(Array(BATCH).fill('CANCELLED'));
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    expect(client.pendingCalls).toBe(0);
    p.impl.openGate();
    expect(await leakWarnings()).toEqual([]);
  });
});

describe('a signal whose reason getter throws', () => {
  const defer = useCleanup();

  it('still cancels the call at once (CANCELLED, the getter\'s error as cause), written or waiting, and nothing escapes', async () => {
    const requests: FakeRequest[] = [];
    const fake = defer(await FakeProvider.start((r) => requests.push(r), { version: 2 }), (f) => f.close());
    const client = defer(newClient(fake.address), (c) => c.close());
    const controller = new AbortController();
    const broken = new Error('reason getter');
    Object.defineProperty(controller.signal, 'reason', { get: () => { throw broken; } });
    const served = new AbortController();
    Object.defineProperty(served.signal, 'reason', { get: () => { throw broken; } });
    const echo = client.refer(Echo, { timeout: 10_000 });
    const written = withOptions(echo, { signal: controller.signal }).echo('x');
    const linked = runInScope({ deadline: Infinity, signal: served.signal }, () => withOptions(echo, { signal: new AbortController().signal }).echo('y'));
    await waitFor(() => requests.length === 2, 2000, 'the requests');
    const uncaught: unknown[] = [];
    const listeners = process.listeners('uncaughtException');
    process.removeAllListeners('uncaughtException');
    process.on('uncaughtException', (err) => uncaught.push(err));
    try {
      controller.abort();
      served.abort();
      const settled = await Promise.race([outcomes([written, linked]), new Promise((resolve) => setTimeout(resolve, 200, 'still pending'))]);
      await new Promise((resolve) => setImmediate(resolve));
      expect(settled).toEqual(['CANCELLED', 'CANCELLED']);
      expect(uncaught).toEqual([]);
    } finally {
      process.removeAllListeners('uncaughtException');
      for (const l of listeners) process.on('uncaughtException', l);
    }
    expect(await written.catch((err: Error) => err.cause)).toBe(broken);
    expect(client.pendingCalls).toBe(0);
  });
});

@Service('test.Watch', { methods: { watch: { callbacks: [0] } } })
abstract class Watch {
  abstract watch(onEvent: (e: unknown) => void): Promise<void>;
}

describe('a signal fired by user code after the call was checked, before it reaches a connection', () => {
  const defer = useCleanup();

  it('CANCELLED, nothing written, no connection opened, no callback left registered', async () => {
    const requests: FakeRequest[] = [];
    const a = defer(await FakeProvider.start((r) => requests.push(r), { version: 2 }), (f) => f.close());
    const b = defer(await FakeProvider.start((r) => requests.push(r), { version: 2 }), (f) => f.close());
    const client = defer(newClient(undefined, { providers: [a.address, b.address] }), (c) => c.close());
    const controller = new AbortController();
    // The balancer's hashKey is user code that runs between the cluster's check of the signal and the attempt.
    const watch = withOptions(client.refer(Watch, { loadbalance: 'consistenthash', hashKey: () => (controller.abort(), 'k') }), { signal: controller.signal });
    expect(await outcomes([watch.watch(() => undefined)])).toEqual(['CANCELLED']);
    expect(client.connections().map((c) => c.callbacks)).toEqual([]);
    expect(client.pendingCalls).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(requests).toEqual([]);
  });
});

describe('a signal fired by user code just before a call waits for a registry\'s first listing', () => {
  const defer = useCleanup();

  it('CANCELLED at once (the wait does not start on a fired signal)', async () => {
    const client = defer(newClient(undefined), (c) => c.close());
    const controller = new AbortController();
    const never = new Promise<void>(() => undefined);
    // A directory is user code: its loading() runs after the cluster checked the signal.
    const directory: Directory = { list: () => [], subscribe: () => () => undefined, loading: () => (controller.abort(), never) };
    const started = performance.now();
    const call = withOptions(client.refer(Echo, { providers: directory, timeout: 1000 }), { signal: controller.signal }).echo(1);
    expect(await outcomes([call])).toEqual(['CANCELLED']);
    expect(performance.now() - started).toBeLessThan(500);
  });
});

describe('calls waiting for an actives slot when the client closes', () => {
  const defer = useCleanup();

  it('each rejects CLIENT_CLOSED with its own error, named after its own call', async () => {
    const p = defer(await startWorkProvider('a'), (x) => x.close());
    const client = newClient(p.address);
    const work = client.refer(Work, { serviceActives: 1, timeout: 5000 });
    const running = work.hold().catch((err: unknown) => err);
    await waitFor(() => p.impl.count('hold') === 1, 2000, 'the first call to run');
    const waiting = [work.whoami().catch((err: unknown) => err), work.record(1).catch((err: unknown) => err)];
    await new Promise((resolve) => setTimeout(resolve, 20));
    await client.close();
    const [a, b] = (await Promise.all(waiting)) as Array<{ code: string; call: string }>;
    await running;
    expect([a!.code, b!.code]).toEqual(['CLIENT_CLOSED', 'CLIENT_CLOSED']);
    expect(a).not.toBe(b);
    expect([a!.call, b!.call]).toEqual(['cluster.Work#whoami', 'cluster.Work#record']);
  });
});
