// Calls that wait for a registry's first listing and give up (their signal
// fires, or their deadline passes) must leave nothing behind: a registry that
// stays silent while calls keep coming must not grow the heap until close.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { withOptions, type Directory } from '../../src/index.js';
import { Echo } from '../helpers/contract.js';
import { newClient, useCleanup } from '../helpers/server.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const MiB = 1024 * 1024;

async function collect(): Promise<number> {
  for (let i = 0; i < 5; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return process.memoryUsage().heapUsed;
}

describe('waiting for a first listing that never comes', () => {
  const defer = useCleanup();

  it('100k calls cancelled while waiting: heap flat before the client closes', async () => {
    const client = defer(newClient(undefined), (c) => c.close());
    const never = new Promise<void>(() => undefined);
    const directory: Directory = { list: () => [], subscribe: () => () => undefined, loading: () => never };
    const echo = client.refer(Echo, { providers: directory, timeout: 60_000 });
    const round = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i += 1000) {
        const controller = new AbortController();
        const view = withOptions(echo, { signal: controller.signal });
        const calls = Array.from({ length: 1000 }, () => view.echo(i).catch(() => undefined));
        controller.abort();
        await Promise.all(calls);
      }
    };
    await round(10_000); // warm up
    const before = await collect();
    await round(100_000);
    const after = await collect();
    expect((after - before) / MiB).toBeLessThan(4);
  });
});
