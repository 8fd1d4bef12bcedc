// Consumer callbacks and the connection they live on (issue #7 A3): the table
// of one connection is capped.
import { afterAll, describe, expect, it } from 'vitest';
import { HeartlineError, Provider, Service, type Callback } from '../../src/index.js';
import { expectNothingOpen } from '../cluster/cluster-helpers.js';
import { expectCode, newClient, startServer, useCleanup } from '../helpers/server.js';

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
