import { describe, expect, it } from 'vitest';
import { Consumer, type Remote } from '../../src/index.js';
import { Calc, Echo } from '../helpers/contract.js';
import { trackResources } from '../helpers/leaks.js';
import { newClient, startServer, useCleanup } from '../helpers/server.js';

class Holder {
  @Consumer(Echo) echo!: Remote<Echo>;
}

describe('lazy connections', () => {
  const defer = useCleanup();

  it('opens no socket for a client, its stubs or injected fields', async () => {
    const { server, address } = defer(await startServer(), (s) => s.close());
    // async_hooks, not getActiveResourcesInfo(): an idle client socket is unref'd (keepProcessAlive: false) and would not show there.
    const resources = defer(trackResources(), (r) => r.stop());

    const client = defer(newClient(address), (c) => c.close());
    const echo = client.refer(Echo);
    client.refer(Calc);
    const holder = client.inject(new Holder());
    expect(typeof echo.echo).toBe('function');
    expect(typeof holder.echo.echo).toBe('function');
    await new Promise((resolve) => setTimeout(resolve, 50));

    expect(server.connectionsAccepted).toBe(0);
    expect(client.connections()).toHaveLength(0);
    expect(resources.alive().filter((type) => type === 'TCPWRAP')).toEqual([]);
  });

  it('opens exactly one connection on the first calls', async () => {
    const { server, address } = defer(await startServer(), (s) => s.close());
    const client = defer(newClient(address), (c) => c.close());
    const echo = client.refer(Echo);
    const calc = client.refer(Calc);

    // Several first calls at once, before any connection exists.
    const results = await Promise.all([echo.echo(1), echo.echo(2), calc.add(1, 2), client.inject(new Holder()).echo.echo(3)]);
    expect(results).toEqual([1, 2, 3, 3]);
    expect(server.connectionsAccepted).toBe(1);
    expect(client.connections()).toHaveLength(1);
    expect(client.connections()[0]!.state).toBe('ready');
  });
});
