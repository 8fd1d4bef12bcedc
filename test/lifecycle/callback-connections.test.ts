// Consumer callbacks and the connection they live on (issue #7 C1, B4, A3):
// ids belong to the connection a call is written on, a connection with live
// callbacks is never closed as idle, and the table of one connection is capped.
import type { Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { HeartlineError, Provider, Service, type Callback } from '../../src/index.js';
import { encodeBody } from '../../src/protocol/codec.js';
import { FrameType } from '../../src/protocol/constants.js';
import { encodeFrame, FLAGS } from '../../src/protocol/frame.js';
import { expectNothingOpen } from '../cluster/cluster-helpers.js';
import { Echo } from '../helpers/contract.js';
import { FakeProvider, responseFrame } from '../helpers/fake-provider.js';
import { expectCode, newClient, startServer, useCleanup, waitFor } from '../helpers/server.js';
import { recordClientEvents, sleep } from './util.js';

type Listener = (value: number) => unknown;

@Service('test.Feed', { methods: { watch: { callbacks: [1] }, watchTwo: { callbacks: [1, 2] } } })
abstract class Feed {
  abstract watch(topic: string, listener: Listener): Promise<string>;
  abstract watchTwo(topic: string, first: Listener, second: Listener): Promise<string>;
}

@Provider(Feed)
class FeedImpl implements Feed {
  readonly watchers = new Map<string, Callback<Listener>>();
  watchCalls = 0;

  async watch(topic: string, listener: Callback<Listener>): Promise<string> {
    this.watchCalls++;
    this.watchers.set(topic, listener);
    return topic;
  }

  async watchTwo(topic: string, first: Callback<Listener>, second: Callback<Listener>): Promise<string> {
    this.watchers.set(`${topic}/1`, first);
    this.watchers.set(`${topic}/2`, second);
    return topic;
  }
}

async function startFeed(options: { accepts?: number } = {}) {
  const srv = await startServer({ register: false, ...options });
  const impl = new FeedImpl();
  srv.server.register(impl);
  return { srv, impl };
}

describe('callbacks of calls moved to another connection (C1)', () => {
  const defer = useCleanup();

  it('connections: 2, accepts: 1: each listener gets its own pushes after the refused connection\'s call moved', async () => {
    const { srv, impl } = await startFeed({ accepts: 1 });
    defer(srv, (s) => s.close());
    const client = defer(newClient(srv.address, { connections: 2, timeout: 5000 }), (c) => c.close());
    const events = recordClientEvents(client);
    const feed = client.refer(Feed);
    const seen: string[] = [];
    // Made at once: the second opens the extra connection (the first one is busy), which the provider refuses.
    expect(await Promise.all([feed.watch('L1', (v) => (seen.push(`L1:${v}`), 'L1')), feed.watch('L2', (v) => (seen.push(`L2:${v}`), 'L2'))])).toEqual(['L1', 'L2']);
    await waitFor(() => events.disconnects.length === 1, 1000, 'the refused connection to close');
    expect(events.disconnects[0]!.reason).toBe('refused');
    expect(client.connections()).toHaveLength(1);

    expect(await impl.watchers.get('L2')!(2)).toBe('L2');
    expect(await impl.watchers.get('L1')!(1)).toBe('L1');
    expect(seen).toEqual(['L2:2', 'L1:1']);
    expect(client.connections()[0]!.callbacks).toBe(2);
    expect(impl.watchers.get('L1')).not.toBe(impl.watchers.get('L2'));
  });
});

describe('client idleTimeout and callbacks (B4)', () => {
  const defer = useCleanup();

  it('a subscription pushed every 50 ms survives 1 s with idleTimeout 100', async () => {
    const { srv, impl } = await startFeed();
    defer(srv, (s) => s.close());
    const client = defer(newClient(srv.address, { idleTimeout: 100 }), (c) => c.close());
    const events = recordClientEvents(client);
    let received = 0;
    await client.refer(Feed).watch('ticks', () => ++received);
    const id = client.connections()[0]!.id;
    const push = impl.watchers.get('ticks')!;
    const ticker = defer(setInterval(() => void push(0).catch(() => undefined), 50), (t) => clearInterval(t));

    await sleep(1000);
    clearInterval(ticker);
    expect(events.disconnects).toEqual([]);
    expect(client.connections().map((c) => c.id)).toEqual([id]);
    expect(received).toBeGreaterThanOrEqual(10);
    expect(push.released).toBe(false);
  });

  it('a connection with live callbacks and no traffic is kept; once they are released it closes as idle', async () => {
    const { srv, impl } = await startFeed();
    defer(srv, (s) => s.close());
    const client = defer(newClient(srv.address, { idleTimeout: 100 }), (c) => c.close());
    const events = recordClientEvents(client);
    const listener = (v: number): number => v + 1;
    await client.refer(Feed).watch('quiet', listener);

    await sleep(500); // five idle periods without a call or a push
    expect(events.disconnects).toEqual([]);
    expect(client.connections()).toHaveLength(1);
    expect(await impl.watchers.get('quiet')!(1)).toBe(2); // the subscription still works

    expect(client.releaseCallback(listener)).toBe(true);
    await waitFor(() => events.disconnects.length === 1, 1000, 'the idle close');
    expect(events.disconnects[0]!.reason).toBe('idle');
  });

  it('pushes arriving within the idle window keep a connection open even with no callback registered', async () => {
    // A scripted provider pushes to a callback id the consumer never registered, every 50 ms.
    let socket: Socket | undefined;
    const fake = defer(
      await FakeProvider.start((call) => {
        socket = call.socket;
        call.socket.write(responseFrame(call.frame.id, 0, encodeBody('ok')));
      }),
      (f) => f.close(),
    );
    const client = defer(newClient(fake.address, { idleTimeout: 100, heartbeat: 0 }), (c) => c.close());
    const events = recordClientEvents(client);
    expect(await client.refer(Echo).echo('open')).toBe('ok');
    expect(client.connections()[0]!.callbacks).toBe(0);
    let pushId = 0;
    const pusher = defer(
      setInterval(() => socket!.write(encodeFrame(FLAGS.callOneWay, 0, FrameType.Call, ++pushId, encodeBody([99, [pushId]]))), 50),
      (t) => clearInterval(t),
    );

    await sleep(600);
    expect(events.disconnects).toEqual([]);
    clearInterval(pusher);
    await waitFor(() => events.disconnects.length === 1, 1000, 'the idle close once the pushes stop');
    expect(events.disconnects[0]!.reason).toBe('idle');
  });
});

describe('the consumer callback cap (maxCallbacks, default 1000)', () => {
  const defer = useCleanup();

  it('20,000 fresh closures: the table stops at the cap; the calls over it fail locally with LIMIT_EXCEEDED', async () => {
    const { srv, impl } = await startFeed();
    defer(srv, (s) => s.close());
    const client = defer(newClient(srv.address, { timeout: 10_000 }), (c) => c.close());
    const feed = client.refer(Feed);
    let ok = 0;
    const errors: HeartlineError[] = [];
    for (let batch = 0; batch < 20; batch++) {
      await Promise.all(
        Array.from({ length: 1000 }, (_, i) =>
          feed.watch(`t${batch * 1000 + i}`, () => i).then(
            () => ok++,
            (e: HeartlineError) => errors.push(e),
          ),
        ),
      );
      expect(client.connections()[0]!.callbacks).toBeLessThanOrEqual(1000);
    }
    expect(ok).toBe(1000);
    expect(errors).toHaveLength(19_000);
    expect(impl.watchCalls).toBe(1000); // the others never left the consumer
    const err = errors[0]!;
    expect(err.code).toBe('LIMIT_EXCEEDED');
    expect(err.remote).toBe(false);
    expect(err.message).toContain('1000');
    expect(err.message).toContain('client.releaseCallback');
    expect(client.connections()[0]!.callbacks).toBe(1000);
    await expectCode(feed.watch('still over', () => 0), 'LIMIT_EXCEEDED');
  });

  it('all or nothing: a call with two new callbacks and room for one registers neither', async () => {
    const { srv, impl } = await startFeed();
    defer(srv, (s) => s.close());
    const client = defer(newClient(srv.address, { timeout: 10_000 }), (c) => c.close());
    const feed = client.refer(Feed);
    const kept: Listener[] = [];
    for (let i = 0; i < 999; i++) kept.push(() => i);
    await Promise.all(kept.map((fn, i) => feed.watch(`k${i}`, fn)));
    expect(client.connections()[0]!.callbacks).toBe(999);

    await expectCode(feed.watchTwo('pair', () => 1, () => 2), 'LIMIT_EXCEEDED');
    expect(client.connections()[0]!.callbacks).toBe(999);
    // The same function twice is one new callback: it fits; a known function is not new.
    const both = (): number => 3;
    expect(await feed.watchTwo('same', both, both)).toBe('same');
    expect(client.connections()[0]!.callbacks).toBe(1000);
    expect(await impl.watchers.get('same/2')!(0)).toBe(3);
    expect(await feed.watch('known', kept[1]!)).toBe('known');

    // client.releaseCallback makes room again.
    expect(client.releaseCallback(kept[0]!)).toBe(true);
    expect(await feed.watch('again', () => 4)).toBe('again');
  });
});

afterAll(() => expectNothingOpen());
