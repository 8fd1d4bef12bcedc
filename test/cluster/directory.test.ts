import { afterAll, describe, expect, it } from 'vitest';
import { StaticDirectory } from '../../src/index.js';
import { newClient, track, useCleanup, waitFor } from '../helpers/server.js';
import { FAST_RECONNECT, sleep, startWorkProvider, tally, Work, expectNothingOpen } from './cluster-helpers.js';

describe('provider lists that change (StaticDirectory)', () => {
  const defer = useCleanup();

  it('follows additions and removals; a removed provider finishes its calls, is closed and never reconnected', async () => {
    const a = defer(await startWorkProvider('a'), (p) => p.close());
    const b = defer(await startWorkProvider('b'), (p) => p.close());
    const directory = new StaticDirectory([a.address]);
    const client = defer(newClient(undefined, { loadbalance: 'roundrobin', reconnect: FAST_RECONNECT }), (c) => c.close());
    const work = client.refer(Work, { providers: directory });

    expect(tally(await Promise.all(Array.from({ length: 10 }, () => work.whoami())))).toEqual({ a: 10 });
    directory.update([a.address, { address: b.address, weight: 100 }]);
    expect(tally(await Promise.all(Array.from({ length: 10 }, () => work.whoami())))).toEqual({ a: 5, b: 5 });

    const held = track(work.hold()); // roundrobin: on a
    await waitFor(() => a.impl.count('hold') === 1, 1000, 'a call in flight on a');
    directory.update([b.address]);
    expect(tally(await Promise.all(Array.from({ length: 10 }, () => work.whoami())))).toEqual({ b: 10 });
    expect(a.server.connectionCount).toBe(1); // still finishing its call
    a.impl.openGate();
    await waitFor(() => held.settled, 1000, 'the call on the removed provider');
    expect(held.value).toBe('a');
    await waitFor(() => a.server.connectionCount === 0, 1000, 'the removed provider to be closed');
    await sleep(300); // several reconnect delays
    expect(a.server.connectionsAccepted).toBe(1);
    expect(client.connections().map((c) => c.address)).toEqual([b.address]);
  });

  it('client.release(stub) closes connections no other reference needs', async () => {
    const a = defer(await startWorkProvider('a'), (p) => p.close());
    const b = defer(await startWorkProvider('b'), (p) => p.close());
    const client = defer(newClient(undefined), (c) => c.close());
    const both = client.refer(Work, { providers: [a.address, b.address] });
    const onlyB = client.refer(Work, { providers: [b.address] });
    await Promise.all(Array.from({ length: 20 }, () => both.whoami()));
    await onlyB.whoami();
    expect(client.connections()).toHaveLength(2);
    client.release(both);
    await waitFor(() => a.server.connectionCount === 0, 1000, 'a to be closed');
    expect(b.server.connectionCount).toBe(1); // still wanted by onlyB
    expect(await onlyB.whoami()).toBe('b');
  });

  // What the README promises of StaticDirectory (list(), subscribe(), update()).
  it('StaticDirectory: list() keeps its array until update(); update() tells subscribers; a bad entry changes nothing', () => {
    const directory = new StaticDirectory(['10.0.0.5:20880']);
    const first = directory.list();
    expect(first).toEqual([{ address: { host: '10.0.0.5', port: 20880, key: '10.0.0.5:20880' }, weight: 100 }]);
    expect(directory.list()).toBe(first);
    const seen: unknown[] = [];
    const unsubscribe = directory.subscribe((providers) => seen.push(providers));
    directory.update(['10.0.0.5:20880', { address: '10.0.0.6:20880', weight: 200 }]);
    const second = directory.list();
    expect(second).not.toBe(first);
    expect(second.map((p) => [p.address.key, p.weight])).toEqual([['10.0.0.5:20880', 100], ['10.0.0.6:20880', 200]]);
    expect(seen).toEqual([second]);
    expect(() => directory.update(['10.0.0.7:20880', 'no port'])).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    expect(directory.list()).toBe(second);
    expect(seen).toHaveLength(1);
    unsubscribe();
    directory.update([]);
    expect(seen).toHaveLength(1);
  });
});

afterAll(() => expectNothingOpen());
