import { afterEach, describe, expect, it, vi } from 'vitest';
import { FrameType } from '../../src/protocol/constants.js';
import { Echo } from '../helpers/contract.js';
import { cancelFrame, callFrame, RawConnection, statusCode } from '../helpers/raw-socket.js';
import { expectCode, newClient, startServer, track, useCleanup, waitFor } from '../helpers/server.js';

describe('call timeouts', () => {
  const defer = useCleanup();

  it('times out promptly with TIMEOUT; the late response is never delivered', async () => {
    const { address, echo: impl } = defer(await startServer(), (s) => s.close());
    const client = defer(newClient(address), (c) => c.close());
    const echo = client.refer(Echo, { timeout: 100 });
    await echo.echo('warm up');

    const started = performance.now();
    const err = await expectCode(echo.sleep(1000), 'TIMEOUT');
    expect(err.stack).toContain('timeouts.test.ts'); // the caller's stack
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(95);
    expect(elapsed).toBeLessThan(800); // well before the response (1000 ms) could have come, with room for a loaded machine
    expect(client.connections()[0]!.inFlight).toBe(0);

    // Let the handler finish, then make a round trip: a response for the timed-out
    // call, had it been sent, would have arrived before this one.
    await waitFor(() => impl.sleepsFinished === 1, 2000, 'the slow handler to finish');
    expect(await echo.echo('after')).toBe('after');
    const [conn] = client.connections();
    expect(conn!.inFlight).toBe(0);
    // The consumer sent a cancel, so the provider dropped the response instead of sending it.
    expect(conn!.lateResponses).toBe(0);
  });

  it('the provider sends nothing for a call it received a cancel for', async () => {
    const { port, echo: impl } = defer(await startServer(), (s) => s.close());
    const raw = defer(await RawConnection.open(port), (r) => r.destroy());

    raw.send(callFrame(7, ['test.Echo', '1.0.0', '', 'sleep', [60], null]));
    await waitFor(() => impl.sleepsStarted === 1, 1000, 'the handler to start');
    raw.send(cancelFrame(7));
    await waitFor(() => impl.sleepsFinished === 1, 1000, 'the handler to finish');

    const { frame, body } = await raw.call(8, ['test.Echo', '1.0.0', '', 'echo', ['next'], null]);
    expect(frame.id).toBe(8);
    expect(frame.type).toBe(FrameType.Call);
    expect(statusCode(frame)).toBeUndefined();
    expect(body).toBe('next');
    expect(raw.unread).toBe(0);
  });

  it('one-way calls resolve without waiting for the handler', async () => {
    const { address, echo: impl } = defer(await startServer(), (s) => s.close());
    const client = defer(newClient(address), (c) => c.close());
    const echo = client.refer(Echo);
    await echo.echo('warm up');

    const started = performance.now();
    await expect(echo.notify('ping', 150)).resolves.toBeUndefined();
    expect(performance.now() - started).toBeLessThan(100);
    expect(impl.notified).toEqual([]);
    expect(client.connections()[0]!.inFlight).toBe(0);

    await waitFor(() => impl.notified.length === 1, 1000, 'the one-way handler');
    expect(impl.notified).toEqual(['ping']);
    // No response was sent for it.
    expect(await echo.echo('x')).toBe('x');
    expect(client.connections()[0]!.lateResponses).toBe(0);
  });
});

describe('timeout precedence: method option > reference timeout > client timeout', () => {
  const defer = useCleanup();
  afterEach(() => {
    vi.useRealTimers();
  });

  /**
   * Warms the connection up with real timers, then fakes setTimeout so the call
   * timer can be stepped exactly: the call must still be pending at
   * `expectedMs - 1` and fail with TIMEOUT at `expectedMs`.
   */
  async function expectTimeoutAfter(call: () => Promise<unknown>, expectedMs: number): Promise<void> {
    // Heartline reads time through performance.now() (src/transport/clock.ts), so fake it with the timers.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const state = track(call());
    await vi.advanceTimersByTimeAsync(expectedMs - 1);
    expect(state.settled, `still pending after ${expectedMs - 1} ms`).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(state.settled, `settled after ${expectedMs} ms`).toBe(true);
    expect((state.error as { code?: string } | undefined)?.code).toBe('TIMEOUT');
    vi.useRealTimers();
  }

  async function setup(clientTimeout?: number) {
    const { address } = defer(await startServer(), (s) => s.close());
    const client = defer(newClient(address, clientTimeout === undefined ? {} : { timeout: clientTimeout }), (c) => c.close());
    await client.refer(Echo).echo('warm up');
    return client;
  }

  it('uses the client timeout when nothing else is set (default 3000 ms)', async () => {
    const client = await setup(700);
    await expectTimeoutAfter(() => client.refer(Echo).sleep(60_000), 700);
    const defaults = await setup();
    await expectTimeoutAfter(() => defaults.refer(Echo).sleep(60_000), 3000);
  });

  it('a reference timeout wins over the client timeout', async () => {
    const client = await setup(700);
    await expectTimeoutAfter(() => client.refer(Echo, { timeout: 400 }).sleep(60_000), 400);
    await expectTimeoutAfter(() => client.refer(Echo, { timeout: 1500 }).sleep(60_000), 1500);
  });

  it("a contract method's timeout wins over the reference and client timeouts", async () => {
    const client = await setup(700);
    await expectTimeoutAfter(() => client.refer(Echo, { timeout: 400 }).bounded(60_000), 80);
    await expectTimeoutAfter(() => client.refer(Echo, { timeout: 400 }).patient(60_000), 2000);
    await expectTimeoutAfter(() => client.refer(Echo).patient(60_000), 2000);
  });

  it("a reference's per-method option wins over the contract's, the reference's and the client's", async () => {
    const client = await setup(700);
    await expectTimeoutAfter(() => client.refer(Echo, { timeout: 400, methods: { bounded: { timeout: 250 } } }).bounded(60_000), 250);
    await expectTimeoutAfter(() => client.refer(Echo, { timeout: 400, methods: { sleep: { timeout: 120 } } }).sleep(60_000), 120);
  });

  it('timeout 0 means no timeout', async () => {
    const client = await setup(700);
    // Heartline reads time through performance.now() (src/transport/clock.ts), so fake it with the timers.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const state = track(client.refer(Echo, { timeout: 0 }).sleep(600_000));
    await vi.advanceTimersByTimeAsync(10_000);
    expect(state.settled).toBe(false);
    vi.useRealTimers();
    await client.close();
    await waitFor(() => state.settled, 1000, 'the call to fail on close');
    expect((state.error as { code?: string }).code).toBe('CLIENT_CLOSED');
  });
});
