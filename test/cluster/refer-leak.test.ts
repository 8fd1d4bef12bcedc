// C5: refer() per request must leave memory flat: each distinct provider list is
// followed once, and a reference's hold goes away with the reference.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, describe, expect, it } from 'vitest';
import type { Directory, ProviderInfo } from '../../src/index.js';
import { StaticDirectory } from '../../src/index.js';
import { settle, trackResources } from '../helpers/leaks.js';
import { newClient, useCleanup, waitFor } from '../helpers/server.js';
import { expectNothingOpen, startWorkProvider, Work } from './cluster-helpers.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const N = 100_000;
const MiB = 1024 * 1024;

/** Collects garbage until `done()` holds (finalizers run as tasks after a collection), or gives up after ~2 s. */
async function collect(done: () => boolean = () => true): Promise<void> {
  for (let i = 0; i < 200; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 10));
    if (i >= 3 && done()) return;
  }
}

function heapUsed(): number {
  return process.memoryUsage().heapUsed;
}

/** A directory that counts its live subscriptions. */
class CountingDirectory implements Directory {
  subscribers = 0;
  constructor(private readonly inner: StaticDirectory) {}
  list(): readonly ProviderInfo[] {
    return this.inner.list();
  }
  subscribe(listener: (providers: readonly ProviderInfo[]) => void): () => void {
    this.subscribers++;
    const off = this.inner.subscribe(listener);
    let on = true;
    return () => {
      if (on) this.subscribers--;
      on = false;
      off();
    };
  }
}

describe('refer() per request leaks nothing (C5)', () => {
  const defer = useCleanup();

  it("100k refer() with the client's providers: heap flat, the kept stub works, close() cleans up", async () => {
    const resources = trackResources();
    const p = defer(await startWorkProvider('a'), (x) => x.close());
    const client = newClient(p.address);
    const kept = client.refer(Work);
    expect(await kept.whoami()).toBe('a');
    await collect();
    const before = heapUsed();
    for (let i = 0; i < N; i++) client.refer(Work);
    await collect();
    const grown = heapUsed() - before;
    expect(grown, `heap grew by ${(grown / MiB).toFixed(1)} MiB`).toBeLessThan(10 * MiB);
    expect(await kept.whoami()).toBe('a');
    expect(await client.refer(Work).whoami()).toBe('a');
    expect(p.server.connectionsAccepted).toBe(1);
    await client.close();
    await p.close();
    await settle();
    expect(resources.alive(), 'sockets and timers left').toEqual([]);
    resources.stop();
  });

  it('100k refer() with an inline providers array: heap flat, one list followed, the kept stub works', async () => {
    const p = defer(await startWorkProvider('a'), (x) => x.close());
    const client = defer(newClient(undefined), (c) => c.close());
    const kept = client.refer(Work, { providers: [p.address] });
    expect(await kept.whoami()).toBe('a');
    await collect();
    const before = heapUsed();
    for (let i = 0; i < N; i++) client.refer(Work, { providers: [p.address] });
    const registry = (client as unknown as { registry: { followedLists: number } }).registry;
    expect(registry.followedLists).toBe(1); // the same content is followed once
    await collect();
    const grown = heapUsed() - before;
    expect(grown, `heap grew by ${(grown / MiB).toFixed(1)} MiB`).toBeLessThan(10 * MiB);
    expect(await kept.whoami()).toBe('a');
    expect(p.server.connectionsAccepted).toBe(1);
  });

  it('100k refer() with one Directory subscribe to it once; collected references unsubscribe; close() unsubscribes', async () => {
    const p = defer(await startWorkProvider('a'), (x) => x.close());
    const directory = new CountingDirectory(new StaticDirectory([p.address]));
    const client = newClient(undefined);
    const kept = client.refer(Work, { providers: directory });
    await collect();
    const before = heapUsed();
    for (let i = 0; i < N; i++) client.refer(Work, { providers: directory });
    expect(directory.subscribers).toBe(1); // before the fix: 100001
    await collect();
    expect(heapUsed() - before).toBeLessThan(10 * MiB);
    expect(await kept.whoami()).toBe('a');
    await client.close();
    expect(directory.subscribers).toBe(0);
  });

  it('a collected reference releases its list: distinct inline lists and directories are all unfollowed', async () => {
    const p = defer(await startWorkProvider('a'), (x) => x.close());
    const client = defer(newClient(undefined), (c) => c.close());
    const directories = Array.from({ length: 50 }, () => new CountingDirectory(new StaticDirectory([p.address])));
    for (const d of directories) client.refer(Work, { providers: d });
    for (let i = 0; i < 50; i++) client.refer(Work, { providers: [p.address, { address: `127.0.0.1:${10_000 + i}`, weight: 1 }] });
    const registry = (client as unknown as { registry: { followedLists: number } }).registry;
    expect(registry.followedLists).toBe(100);
    await collect(() => registry.followedLists === 0);
    expect(registry.followedLists).toBe(0);
    expect(directories.every((d) => d.subscribers === 0)).toBe(true);
  });

  it('a stub dropped after a call does not close its connection at once: the next refer() reuses it', async () => {
    const p = defer(await startWorkProvider('a'), (x) => x.close());
    const client = defer(newClient(undefined), (c) => c.close());
    const registry = (client as unknown as { registry: { followedLists: number } }).registry;
    expect(await client.refer(Work, { providers: [p.address] }).whoami()).toBe('a');
    await collect(() => registry.followedLists === 0);
    expect(registry.followedLists).toBe(0);
    expect(client.connections()).toHaveLength(1); // lingers for UNREFERENCED_LINGER_MS
    expect(await client.refer(Work, { providers: [p.address] }).whoami()).toBe('a');
    expect(p.server.connectionsAccepted).toBe(1);
  });

  it('client.release(stub) still retires a provider no other list names, at once', async () => {
    const p = defer(await startWorkProvider('a'), (x) => x.close());
    const client = defer(newClient(undefined), (c) => c.close());
    const stub = client.refer(Work, { providers: [p.address] });
    expect(await stub.whoami()).toBe('a');
    client.release(stub);
    client.release(stub); // idempotent
    await waitFor(() => p.server.connectionCount === 0, 1000, 'the connection to close');
  });
});

afterAll(() => expectNothingOpen());
