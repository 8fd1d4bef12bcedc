import { afterAll, describe, expect, it } from 'vitest';
import type { ClientOptions, ReferenceOptions } from '../../src/index.js';
import { newClient, useCleanup, waitFor } from '../helpers/server.js';
import { FAST_RECONNECT, mulberry32, startWorkProvider, Work, expectNothingOpen } from './cluster-helpers.js';
import { startSignalChild } from './signal-child.js';

const WORKERS = 16;

/** One provider of the fleet, however it runs. */
interface Member {
  name: string;
  port: number;
  address: string;
  /** Calls of `work` it served (in-process providers only; children report through the consumer). */
  served(): number;
  /** Graceful shutdown; resolves once it is gone. */
  stop(): Promise<void>;
}

type Launcher = (name: string, port: number) => Promise<Member>;

const inProcess: Launcher = async (name, port) => {
  const p = await startWorkProvider(name, { port, server: { closeGracePeriod: 5000 } });
  return {
    name,
    port: p.port,
    address: p.address,
    served: () => p.impl.count('work'),
    stop: async () => {
      await p.close();
      expect(p.server.connectionCount).toBe(0);
    },
  };
};

const childProcess: Launcher = async (name, port) => {
  const c = await startSignalChild(port, name);
  return {
    name,
    port: c.port,
    address: c.address,
    served: () => 0,
    stop: async () => {
      c.child.kill('SIGTERM'); // closeOnSignals: drain, close, exit 0
      const how = await Promise.race([c.exited, new Promise((resolve) => setTimeout(() => resolve('still running'), 5000))]);
      await c.dispose();
      expect(how).toBe(0);
    },
  };
};

describe('rolling restart', () => {
  const defer = useCleanup();

  async function rollingRestart(launch: Launcher, clientOptions: ClientOptions, referenceOptions: ReferenceOptions, trafficReturns = true): Promise<void> {
    // Three providers on ports chosen by a first listen on port 0; each restart binds the same port.
    const fleet = await Promise.all(['a', 'b', 'c'].map((name) => launch(name, 0)));
    defer(fleet, async (members) => {
      for (const m of members) await m.stop().catch(() => undefined);
    });

    const client = defer(newClient(undefined, { reconnect: FAST_RECONNECT, random: mulberry32(21), timeout: 3000, ...clientOptions }), (c) => c.close());
    const reconnected = new Set<string>();
    client.on('reconnect', (address) => reconnected.add(address));
    const work = client.refer(Work, { providers: fleet.map((m) => m.address), ...referenceOptions });

    let running = true;
    let ok = 0;
    const failures: unknown[] = [];
    const served = new Map<string, number>();
    let lastSuccess = performance.now();
    let longestGap = 0;
    const worker = async (): Promise<void> => {
      while (running) {
        try {
          const who = await work.work(2);
          ok++;
          served.set(who, (served.get(who) ?? 0) + 1);
          const t = performance.now();
          longestGap = Math.max(longestGap, t - lastSuccess);
          lastSuccess = t;
        } catch (err) {
          failures.push(err);
        }
      }
    };
    const workers = Array.from({ length: WORKERS }, () => worker());
    const stopTraffic = async (): Promise<void> => {
      running = false;
      await Promise.all(workers);
    };
    defer(undefined, stopTraffic);

    await waitFor(() => ok >= 200, 5000, 'steady traffic');
    for (let i = 0; i < fleet.length; i++) {
      const okBefore = ok;
      const old = fleet[i]!;
      const wasConnected = client.connections().some((c) => c.address === old.address);
      await old.stop();
      const generation = `${old.name}'`;
      fleet[i] = await launch(generation, old.port);
      const next = fleet[i]!;
      expect(next.port).toBe(old.port);
      // Before restarting the next one: the consumer has reconnected to this one and (unless sticky elsewhere) sends it calls.
      if (trafficReturns) {
        await waitFor(() => served.has(generation), 5000, `traffic to return to the restarted ${generation}`);
        expect(client.connections().some((c) => c.address === next.address && c.state === 'ready')).toBe(true);
        if (launch === inProcess) expect(next.served()).toBeGreaterThan(0);
      } else if (wasConnected) {
        await waitFor(() => client.connections().some((c) => c.address === next.address && c.state === 'ready'), 5000, `the consumer to reconnect to ${generation}`);
      }
      const okAtRestart = ok;
      await waitFor(() => ok >= okAtRestart + 100, 3000, 'more traffic');
      expect(ok, `calls kept flowing while ${old.name} restarted`).toBeGreaterThan(okBefore);
      expect(failures, `failures while restarting ${old.name}`).toEqual([]);
      if (wasConnected) expect(reconnected.has(next.address), `a reconnect event for ${next.address}`).toBe(true);
    }
    await stopTraffic();

    expect(failures).toEqual([]);
    expect(longestGap).toBeLessThan(1000);
    expect([...served.keys()].every((who) => ['a', 'b', 'c', "a'", "b'", "c'"].includes(who))).toBe(true);
  }

  it('restarting three providers one at a time under steady traffic fails no call', async () => {
    await rollingRestart(inProcess, {}, {});
  });

  it('the same with three connections per provider and roundrobin', async () => {
    await rollingRestart(inProcess, { connections: 3, loadbalance: 'roundrobin' }, {});
  });

  it('the same with leastactive and eager connections', async () => {
    await rollingRestart(inProcess, { loadbalance: 'leastactive', eager: true }, {});
  });

  it('the same with a sticky reference (it moves off each provider as it drains)', async () => {
    await rollingRestart(inProcess, {}, { sticky: true }, false);
  });

  it('the same with child-process providers stopped by SIGTERM (closeOnSignals)', async () => {
    await rollingRestart(childProcess, {}, {});
  });
});

afterAll(() => expectNothingOpen());
