// Server push through callbacks (protocol.md 4.7), end to end.
import { describe, expect, it } from 'vitest';
import { Provider, Service, type BackoffOptions, type Callback } from '../../src/index.js';
import { expectCode, newClient, startServer, useCleanup, waitFor } from '../helpers/server.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { recordServerEvents, sleep } from './util.js';

type PriceListener = (price: number) => unknown;

@Service('test.Ticker', { methods: { watch: { callbacks: [1] }, unwatch: {} } })
abstract class Ticker {
  abstract watch(symbol: string, listener: PriceListener): Promise<string>;
  abstract unwatch(symbol: string): Promise<boolean>;
}

@Provider(Ticker)
class TickerImpl implements Ticker {
  /** The provider-side callback of each symbol. */
  readonly watchers = new Map<string, Callback<PriceListener>>();
  /** Symbols whose callback was released, in order. */
  readonly released: string[] = [];

  async watch(symbol: string, listener: Callback<PriceListener>): Promise<string> {
    this.watchers.set(symbol, listener);
    listener.onRelease(() => this.released.push(symbol));
    return `watching ${symbol}`;
  }

  async unwatch(symbol: string): Promise<boolean> {
    const listener = this.watchers.get(symbol);
    listener?.release();
    return this.watchers.delete(symbol);
  }
}

const FAST_RECONNECT: BackoffOptions = { initialDelay: 10, factor: 2, maxDelay: 50, jitter: 0 };

describe('callbacks (server push)', () => {
  const defer = useCleanup();

  async function setup(serverOptions: { callbackTimeout?: number } = {}, via?: 'proxy') {
    const srv = defer(await startServer({ register: false, ...serverOptions }), (s) => s.close());
    const impl = new TickerImpl();
    srv.server.register(impl);
    const proxy = via === 'proxy' ? defer(await TcpProxy.start(srv.port), (p) => p.close()) : undefined;
    const client = defer(newClient(proxy?.address ?? srv.address, { reconnect: FAST_RECONNECT }), (c) => c.close());
    const ticker = client.refer(Ticker);
    return { srv, impl, proxy, client, ticker };
  }

  it('pushes events to the consumer listener, in order, and returns its return values', async () => {
    const { impl, ticker } = await setup();
    const received: number[] = [];
    expect(await ticker.watch('ACME', (price) => (received.push(price), price * 2))).toBe('watching ACME');
    const push = impl.watchers.get('ACME')!;
    expect(typeof push).toBe('function');
    expect(push.released).toBe(false);

    expect(await Promise.all([1, 2, 3, 4, 5].map((p) => push(p)))).toEqual([2, 4, 6, 8, 10]);
    expect(received).toEqual([1, 2, 3, 4, 5]);
    for (let p = 6; p <= 8; p++) expect(await push(p)).toBe(p * 2);
    expect(received).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);

    // An async listener: its resolved value (any MessagePack value) comes back.
    await ticker.watch('ASYNC', async (price) => {
      await sleep(5);
      return { price, seen: true, tags: ['a'] };
    });
    expect(await impl.watchers.get('ASYNC')!(42)).toEqual({ price: 42, seen: true, tags: ['a'] });
    expect(await push(9)).toBe(18); // the first one is unaffected
  });

  it('a listener that throws (or rejects) gives HANDLER_ERROR at the provider; the callback stays usable', async () => {
    const { impl, ticker } = await setup();
    let calls = 0;
    await ticker.watch('BAD', (price) => {
      calls++;
      if (price < 0) throw new RangeError(`negative price ${price}`);
      return 'ok';
    });
    await ticker.watch('REJECTS', async () => {
      throw new TypeError('async failure');
    });
    const bad = impl.watchers.get('BAD')!;

    const err = await expectCode(bad(-1), 'HANDLER_ERROR');
    expect(err.remote).toBe(true);
    expect(err.remoteName).toBe('RangeError');
    expect(err.message).toContain('negative price -1');
    expect(bad.released).toBe(false);
    expect(await bad(1)).toBe('ok');
    expect(calls).toBe(2);

    const rejected = await expectCode(impl.watchers.get('REJECTS')!(1), 'HANDLER_ERROR');
    expect(rejected.remoteName).toBe('TypeError');
  });

  it('the same function on the same connection is the same callback at the provider', async () => {
    const { impl, ticker } = await setup();
    const listener = (): string => 'shared';
    await ticker.watch('A', listener);
    await ticker.watch('B', listener);
    await ticker.watch('C', () => 'other');
    expect(impl.watchers.get('A')).toBe(impl.watchers.get('B'));
    expect(impl.watchers.get('C')).not.toBe(impl.watchers.get('A'));
  });

  it('closing the client releases the provider-side callbacks and the server connection', async () => {
    const { srv, impl, client, ticker } = await setup();
    const serverEvents = recordServerEvents(srv.server);
    await ticker.watch('ACME', () => 1);
    await ticker.watch('INIT', () => 2);
    const acme = impl.watchers.get('ACME')!;
    let releasedFired = 0;
    acme.onRelease(() => releasedFired++);
    expect(await acme(0)).toBe(1);
    expect(srv.server.connections()).toHaveLength(1);

    await client.close();
    await waitFor(() => releasedFired === 1, 1000, 'onRelease after the client closed');
    expect(acme.released).toBe(true);
    expect(impl.watchers.get('INIT')!.released).toBe(true);
    expect(impl.released.sort()).toEqual(['ACME', 'INIT']);
    expect(srv.server.connections()).toEqual([]);
    expect(serverEvents.disconnects.map((d) => d.reason)).toEqual(['closed-by-peer']);

    // A push now fails at once, without a connection to write to.
    await expectCode(acme(0), 'CALLBACK_RELEASED');
    let late = 0;
    acme.onRelease(() => late++); // already released: runs at once
    expect(late).toBe(1);
    expect(releasedFired).toBe(1);
  });

  it('client.releaseCallback(fn): the next push rejects with CALLBACK_RELEASED and the provider-side proxy is released', async () => {
    const { impl, client, ticker } = await setup();
    const received: number[] = [];
    const listener = (price: number): number => (received.push(price), price);
    const other = (): string => 'other';
    await ticker.watch('ACME', listener);
    await ticker.watch('OTHER', other);
    const push = impl.watchers.get('ACME')!;
    expect(await push(1)).toBe(1);

    expect(client.releaseCallback(listener)).toBe(true);
    expect(client.releaseCallback(listener)).toBe(false); // only once
    expect(client.releaseCallback(() => undefined)).toBe(false); // never registered

    await expectCode(push(2), 'CALLBACK_RELEASED');
    expect(received).toEqual([1]); // the listener did not run
    expect(push.released).toBe(true);
    expect(impl.released).toEqual(['ACME']);
    await expectCode(push(3), 'CALLBACK_RELEASED'); // now refused locally

    // Other callbacks are unaffected; passing the function again registers it anew.
    expect(await impl.watchers.get('OTHER')!(0)).toBe('other');
    await ticker.watch('ACME', listener);
    const again = impl.watchers.get('ACME')!;
    expect(again).not.toBe(push);
    expect(await again(4)).toBe(4);
    expect(received).toEqual([1, 4]);
  });

  it('client.releaseCallback(fn) tells the provider at once (Release frame): its onRelease fires with no push', async () => {
    const { srv, impl, client, ticker } = await setup();
    const listener = (): void => undefined;
    await ticker.watch('ACME', listener);
    const push = impl.watchers.get('ACME')!;
    expect(client.releaseCallback(listener)).toBe(true);
    await waitFor(() => impl.released.includes('ACME'));
    expect(push.released).toBe(true);
    // An unknown id in a Release is ignored: the connection stays.
    expect(client.releaseCallback(() => undefined)).toBe(false);
    expect(await ticker.watch('OTHER', () => undefined)).toBe('watching OTHER');
    expect(srv.server.connectionCount).toBe(1);
  });

  it('a throwing or rejecting onRelease listener is logged; the other listeners and the close still run', async () => {
    const { srv, impl, client, ticker } = await setup();
    await ticker.watch('ACME', () => undefined);
    const push = impl.watchers.get('ACME')!;
    const ran: string[] = [];
    push.onRelease(() => {
      throw new Error('listener exploded');
    });
    push.onRelease(async () => {
      throw new Error('async listener exploded');
    });
    push.onRelease(() => ran.push('after'));
    await client.close();
    await waitFor(() => srv.server.connectionCount === 0);
    expect(ran).toEqual(['after']);
    expect(impl.released).toEqual(['ACME']);
    await srv.server.close();
  });

  it('a call that fails before it is written (PAYLOAD_TOO_LARGE) leaves no callback registered', async () => {
    const srv = defer(await startServer({ register: false, maxFrameSize: 2048 }), (s) => s.close());
    srv.server.register(new TickerImpl());
    const client = defer(newClient(srv.address), (c) => c.close());
    const ticker = client.refer(Ticker);
    const kept = (): void => undefined;
    await ticker.watch('ACME', kept); // registered, written: it stays
    const listener = (): void => undefined;
    await expectCode(ticker.watch('X'.repeat(4096), listener), 'PAYLOAD_TOO_LARGE');
    await expectCode(ticker.watch('X'.repeat(4096), kept), 'PAYLOAD_TOO_LARGE'); // not fresh: kept stays registered
    expect(client.connections()[0]!.callbacks).toBe(1);
    expect(client.releaseCallback(listener)).toBe(false);
    expect(client.releaseCallback(kept)).toBe(true);
  });

  it('the provider releasing a callback (unwatch) stops its pushes locally', async () => {
    const { impl, ticker } = await setup();
    let runs = 0;
    await ticker.watch('ACME', () => ++runs);
    const push = impl.watchers.get('ACME')!;
    expect(await push(0)).toBe(1);
    expect(await ticker.unwatch('ACME')).toBe(true);
    expect(push.released).toBe(true);
    expect(impl.released).toEqual(['ACME']);
    await expectCode(push(0), 'CALLBACK_RELEASED');
    expect(runs).toBe(1);
  });

  it('a lost connection releases callbacks on both sides; the consumer re-subscribes on the new connection', async () => {
    const { impl, proxy, client, ticker } = await setup({}, 'proxy');
    const listener = (price: number): number => price + 1;
    await ticker.watch('ACME', listener);
    const push = impl.watchers.get('ACME')!;
    expect(await push(1)).toBe(2);

    proxy!.reset();
    await waitFor(() => push.released, 1000, 'the provider to release the callback');
    expect(impl.released).toEqual(['ACME']);
    // The consumer's table went with its connection: nothing to release any more.
    await waitFor(() => client.connections().some((c) => c.state === 'ready' && c.reconnects === 1), 2000, 'the reconnect');
    expect(client.releaseCallback(listener)).toBe(false);

    await ticker.watch('ACME', listener);
    expect(await impl.watchers.get('ACME')!(10)).toBe(11);
  });

  it('a push the listener never answers fails with TIMEOUT after callbackTimeout', async () => {
    const { impl, ticker } = await setup({ callbackTimeout: 150 });
    await ticker.watch('SLOW', () => new Promise(() => undefined));
    const started = performance.now();
    await expectCode(impl.watchers.get('SLOW')!(1), 'TIMEOUT');
    const took = performance.now() - started;
    expect(took).toBeGreaterThanOrEqual(140);
    expect(took).toBeLessThan(1000);
    expect(impl.watchers.get('SLOW')!.released).toBe(false);
  });
});
