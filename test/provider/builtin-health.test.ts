// heartline.Health (protocol.md 10) over real sockets: check, setServingStatus,
// watch through the callback push machinery, and the fate of its watchers.
import { describe, expect, it } from 'vitest';
import { Health, Provider, Service, type Announcement, type ProviderRegistry, type Publication, type ServingStatus } from '../../src/index.js';
import { Calc, CalcImpl } from '../helpers/contract.js';
import { expectCode, expectThrowCode, newClient, startServer, useCleanup, waitFor } from '../helpers/server.js';

@Service('test.Later', { methods: { ping: {} } })
abstract class Later {
  abstract ping(): Promise<string>;
}

@Provider(Later)
class LaterImpl implements Later {
  async ping(): Promise<string> {
    return 'pong';
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('heartline.Health', () => {
  const defer = useCleanup();

  async function setup(options: Parameters<typeof startServer>[0] = {}) {
    const srv = defer(await startServer(options), (s) => s.close());
    const client = defer(newClient(srv.address, { cluster: 'failfast' }), (c) => c.close());
    return { srv, server: srv.server, client, health: client.refer(Health) };
  }

  /** A listener that records what it is pushed. */
  function recorder(): ((status: ServingStatus) => void) & { seen: ServingStatus[] } {
    const seen: ServingStatus[] = [];
    return Object.assign((status: ServingStatus) => void seen.push(status), { seen });
  }

  it('check: SERVING for the provider and its services, UNKNOWN for a name not served', async () => {
    const { health } = await setup();
    expect(await health.check()).toBe('SERVING');
    expect(await health.check('')).toBe('SERVING');
    expect(await health.check('test.Echo')).toBe('SERVING');
    expect(await health.check('heartline.Health')).toBe('SERVING');
    expect(await health.check('no.Such')).toBe('UNKNOWN');
    await expectCode(health.check(7 as unknown as string), 'BAD_REQUEST');
  });

  it('setServingStatus: per service, or the whole provider (which covers its services)', async () => {
    const { server, health } = await setup();
    server.setServingStatus('test.Echo', 'NOT_SERVING');
    expect(await health.check('test.Echo')).toBe('NOT_SERVING');
    expect(await health.check('test.Calc')).toBe('SERVING');
    expect(await health.check()).toBe('SERVING');

    server.setServingStatus('', 'NOT_SERVING');
    expect(await health.check()).toBe('NOT_SERVING');
    expect(await health.check('test.Calc')).toBe('NOT_SERVING');
    expect(await health.check('no.Such')).toBe('UNKNOWN');

    server.setServingStatus('', 'SERVING');
    expect(await health.check('test.Calc')).toBe('SERVING');
    expect(await health.check('test.Echo')).toBe('NOT_SERVING'); // its own status stayed
    server.setServingStatus('test.Echo', 'SERVING');
    expect(await health.check('test.Echo')).toBe('SERVING');
  });

  it('setServingStatus refuses a name not registered and a status other than SERVING / NOT_SERVING', async () => {
    const { server, health } = await setup();
    expect(expectThrowCode(() => server.setServingStatus('test.Ecko', 'NOT_SERVING'), 'INVALID_CONFIG').message).toContain('test.Ecko');
    expectThrowCode(() => server.setServingStatus('test.Echo', 'UNKNOWN' as 'SERVING'), 'INVALID_CONFIG');
    expectThrowCode(() => server.setServingStatus(undefined as unknown as string, 'SERVING'), 'INVALID_CONFIG');
    expect(await health.check('test.Echo')).toBe('SERVING');
  });

  it('watch: returns the status, then pushes each change in order, never a repeat', async () => {
    const { server, health } = await setup();
    const listener = recorder();
    expect(await health.watch('test.Echo', listener)).toBe('SERVING');
    server.setServingStatus('test.Echo', 'NOT_SERVING');
    await waitFor(() => listener.seen.length === 1);
    server.setServingStatus('test.Echo', 'NOT_SERVING'); // no change
    server.setServingStatus('test.Calc', 'NOT_SERVING'); // another service
    server.setServingStatus('', 'NOT_SERVING'); // test.Echo was NOT_SERVING already
    await sleep(30);
    server.setServingStatus('', 'SERVING');
    await sleep(30);
    server.setServingStatus('test.Echo', 'SERVING');
    await waitFor(() => listener.seen.length === 2);
    await sleep(30);
    expect(listener.seen).toEqual(['NOT_SERVING', 'SERVING']);
    expect(server.healthWatchCount).toBe(1);
  });

  it('watch of a name not served yet: UNKNOWN, then SERVING once it is registered', async () => {
    const { server, health } = await setup();
    const listener = recorder();
    expect(await health.watch('test.Later', listener)).toBe('UNKNOWN');
    server.register(new LaterImpl());
    await waitFor(() => listener.seen.length === 1);
    expect(listener.seen).toEqual(['SERVING']);
  });

  it('the same callback watching again moves its watch; one watcher per callback', async () => {
    const { server, health } = await setup();
    const listener = recorder();
    await health.watch('test.Echo', listener);
    expect(await health.watch('test.Calc', listener)).toBe('SERVING');
    expect(server.healthWatchCount).toBe(1);
    server.setServingStatus('test.Echo', 'NOT_SERVING');
    server.setServingStatus('test.Calc', 'NOT_SERVING');
    await waitFor(() => listener.seen.length === 1);
    await sleep(30);
    expect(listener.seen).toEqual(['NOT_SERVING']); // once: for test.Calc
  });

  it('watchers are bounded by maxCallbacks per connection', async () => {
    const { server, health } = await setup({ maxCallbacks: 2 });
    await health.watch('', recorder());
    await health.watch('', recorder());
    await expectCode(health.watch('', recorder()), 'LIMIT_EXCEEDED');
    expect(server.healthWatchCount).toBe(2);
  });

  it('a watch with a bad service argument is refused (BAD_REQUEST) and keeps nothing, not even its callback', async () => {
    const { server, health } = await setup({ maxCallbacks: 1 });
    const listener = recorder();
    await expectCode(health.watch(5 as unknown as string, listener), 'BAD_REQUEST');
    await expectCode(health.watch('x'.repeat(1025), listener), 'BAD_REQUEST');
    expect(server.healthWatchCount).toBe(0);
    // The provider released the refused callback (the consumer still holds it): its one slot is free again.
    expect(await health.watch('x'.repeat(1024), recorder())).toBe('UNKNOWN');
    expect(server.healthWatchCount).toBe(1);
  });

  it('a callback the consumer releases ends its watch; no push follows', async () => {
    const { server, client, health } = await setup();
    const listener = recorder();
    await health.watch('', listener);
    expect(server.healthWatchCount).toBe(1);
    expect(client.releaseCallback(listener)).toBe(true);
    await waitFor(() => server.healthWatchCount === 0, 2000, 'the watcher to go');
    server.setServingStatus('', 'NOT_SERVING');
    await sleep(50);
    expect(listener.seen).toEqual([]);
  });

  it('a consumer that goes leaves no watcher behind', async () => {
    const { server, client, health } = await setup();
    for (let i = 0; i < 20; i++) await health.watch(i % 2 === 0 ? '' : 'test.Echo', recorder());
    expect(server.healthWatchCount).toBe(20);
    await client.close();
    await waitFor(() => server.healthWatchCount === 0, 2000, 'the watchers to go');
    server.setServingStatus('', 'NOT_SERVING'); // nothing to push to: no error, nothing logged
    expect(server.healthWatchCount).toBe(0);
  });

  it('a push that fails (the listener throws) ends the watch', async () => {
    const { server, health } = await setup();
    const pushed: ServingStatus[] = [];
    await health.watch('', (status) => {
      pushed.push(status);
      throw new Error('listener broke');
    });
    server.setServingStatus('', 'NOT_SERVING');
    await waitFor(() => server.healthWatchCount === 0, 2000, 'the watcher to go');
    server.setServingStatus('', 'SERVING');
    await sleep(50);
    expect(pushed).toEqual(['NOT_SERVING']);
  });

  it('a slow consumer holds one push at most: changes meanwhile are coalesced, and the latest arrives', async () => {
    const { server, health } = await setup();
    const seen: ServingStatus[] = [];
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    await health.watch('', async (status) => {
      seen.push(status);
      if (seen.length === 1) await gate;
    });
    server.setServingStatus('', 'NOT_SERVING'); // pushed, answered when the gate opens
    await waitFor(() => seen.length === 1);
    for (let i = 0; i < 50; i++) server.setServingStatus('', i % 2 === 0 ? 'SERVING' : 'NOT_SERVING');
    server.setServingStatus('', 'SERVING');
    await sleep(30);
    expect(seen).toEqual(['NOT_SERVING']);
    open();
    await waitFor(() => seen.length === 2);
    await sleep(30);
    expect(seen).toEqual(['NOT_SERVING', 'SERVING']);
  });

  it('a change back and forth during a push sends nothing more (the consumer already has it)', async () => {
    const { server, health } = await setup();
    const seen: ServingStatus[] = [];
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    await health.watch('', async (status) => {
      seen.push(status);
      await gate;
    });
    server.setServingStatus('', 'NOT_SERVING');
    await waitFor(() => seen.length === 1);
    server.setServingStatus('', 'SERVING');
    server.setServingStatus('', 'NOT_SERVING');
    open();
    await sleep(50);
    expect(seen).toEqual(['NOT_SERVING']);
    expect(server.healthWatchCount).toBe(1);
  });

  it('close(): watchers are pushed NOT_SERVING before the connection goes, then removed', async () => {
    const { server, client, health } = await setup();
    const listener = recorder();
    await health.watch('test.Echo', listener);
    let seenAtDisconnect: ServingStatus[] | undefined;
    client.on('disconnect', () => {
      seenAtDisconnect ??= [...listener.seen];
    });
    await server.close();
    await waitFor(() => seenAtDisconnect !== undefined, 2000, 'the consumer to see its connection close');
    expect(seenAtDisconnect).toEqual(['NOT_SERVING']);
    expect(listener.seen).toEqual(['NOT_SERVING']);
    expect(server.healthWatchCount).toBe(0);
  });

  it('while close() withdraws from registries, check answers NOT_SERVING; the built-ins are never published', async () => {
    const announcements: Announcement[] = [];
    const registry: ProviderRegistry = {
      publish(announcement): Publication {
        announcements.push(announcement);
        return { first: Promise.resolve(), update: (a) => void announcements.push(a), withdraw: async () => {} };
      },
    };
    const { server, health } = await setup({ registry, deregisterDelay: 300 });
    server.register(new LaterImpl());
    expect(announcements.length).toBe(2);
    for (const a of announcements) expect(a.services.map((s) => s.service)).not.toContain('heartline.Health');
    expect(announcements[1]!.services.map((s) => s.service)).toEqual(['test.Echo', 'test.Calc', 'test.Greeter', 'test.Later']);

    const listener = recorder();
    await health.watch('', listener);
    const closed = server.close();
    expect(await health.check()).toBe('NOT_SERVING'); // the connection does not drain before deregisterDelay
    expect(await health.check('test.Echo')).toBe('NOT_SERVING');
    expect(await health.check('no.Such')).toBe('NOT_SERVING'); // everything, once closing
    expect(listener.seen).toEqual(['NOT_SERVING']);
    server.setServingStatus('', 'SERVING'); // recorded, but closing wins
    expect(await health.check()).toBe('NOT_SERVING');
    await closed;
  });

  it('builtinServices: false publishes a service of your own under a built-in name', async () => {
    const announcements: Announcement[] = [];
    const registry: ProviderRegistry = {
      publish(announcement): Publication {
        announcements.push(announcement);
        return { first: Promise.resolve(), update: (a) => void announcements.push(a), withdraw: async () => {} };
      },
    };
    const { server } = await setup({ registry, deregisterDelay: 0, builtinServices: false, register: false });
    server.register(Health, { check: async () => 'SERVING' as const, watch: async () => 'SERVING' as const });
    server.register(Calc, new CalcImpl());
    expect(announcements.at(-1)!.services.map((s) => s.service)).toEqual(['heartline.Health', 'test.Calc']);
    expect(server.healthWatchCount).toBe(0);
  });
});
