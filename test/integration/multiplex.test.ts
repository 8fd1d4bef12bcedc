import { describe, expect, it } from 'vitest';
import { Calc, Echo, Greeter } from '../helpers/contract.js';
import { newClient, startServer, useCleanup } from '../helpers/server.js';

describe('multiplexing over one connection', () => {
  const defer = useCleanup();

  it('matches 10,000 concurrent calls to their out-of-order responses', async () => {
    const { server, address } = defer(await startServer(), (s) => s.close());
    const client = defer(newClient(address, { timeout: 10_000 }), (c) => c.close());
    const echo = client.refer(Echo);

    const N = 10_000;
    const completionOrder: number[] = [];
    const calls = Array.from({ length: N }, (_, i) => {
      const sent = { i, token: `call-${i}-${Math.random().toString(36).slice(2)}` };
      return echo.delayedEcho(sent).then((got) => {
        completionOrder.push(i);
        return { sent, got };
      });
    });
    const results = await Promise.all(calls);

    for (const { sent, got } of results) expect(got).toEqual(sent);
    expect(completionOrder).toHaveLength(N);
    // The provider answered after random delays, so responses came back out of order.
    const inOrder = completionOrder.every((v, k) => v === k);
    expect(inOrder).toBe(false);
    expect(server.connectionsAccepted).toBe(1);
    expect(client.connections()).toHaveLength(1);
    expect(client.connections()[0]!.inFlight).toBe(0);
  });

  it('shares the one connection between different services of the same provider', async () => {
    const { server, address } = defer(await startServer(), (s) => s.close());
    const client = defer(newClient(address), (c) => c.close());
    const echo = client.refer(Echo);
    const calc = client.refer(Calc);
    const greeter = client.refer(Greeter);

    const [e, sum, hello, e2] = await Promise.all([echo.echo('e'), calc.add(2, 3), greeter.greet('Ann'), client.refer(Echo).echo('again')]);
    expect([e, sum, hello, e2]).toEqual(['e', 5, 'hello Ann', 'again']);
    expect(await calc.add(40, 2)).toBe(42);

    expect(server.connectionsAccepted).toBe(1);
    expect(client.connections()).toHaveLength(1);
    expect(client.connections()[0]!.address).toBe(address);
  });
});
