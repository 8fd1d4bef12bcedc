// Two providers in child processes under steady load; one is SIGKILLed mid-way.
import { afterEach, describe, expect, it } from 'vitest';
import { HeartlineError, type BackoffOptions, type ErrorCode } from '../../src/index.js';
import { startChildProvider, type ChildProvider } from '../helpers/child-process.js';
import { Echo } from '../helpers/contract.js';
import { newClient, useCleanup, waitFor } from '../helpers/server.js';
import { recordClientEvents, sleep } from './util.js';

const WORKERS = 20;
const RUN_MS = 1500;
const KILL_AT_MS = 600;
const TIMEOUT = 2000;
const RECONNECT: BackoffOptions = { initialDelay: 50, factor: 2, maxDelay: 200, jitter: 0.2 };
const CLEAR_CODES: ErrorCode[] = ['CONNECTION_LOST_WRITTEN', 'CONNECTION_LOST_UNWRITTEN', 'UNAVAILABLE', 'CONNECT_FAILED'];

interface Sample {
  worker: number;
  start: number;
  end: number;
  ok: boolean;
  error?: unknown;
}

describe('failover when a provider is killed under load', () => {
  const defer = useCleanup();
  const children: ChildProvider[] = [];

  afterEach(async () => {
    await Promise.all(children.splice(0).map((c) => c.dispose()));
  });

  it('every later call succeeds on the survivor; every failure has a clear code; no call hangs', async () => {
    const [a, b] = await Promise.all([startChildProvider(), startChildProvider()]);
    children.push(a!, b!);
    const client = defer(newClient(undefined, { providers: [a!.address, b!.address], timeout: TIMEOUT, loadbalance: 'roundrobin', reconnect: RECONNECT }), (c) =>
      c.close(),
    );
    const events = recordClientEvents(client);
    const echo = client.refer(Echo);
    // Both providers connected before the load starts.
    await Promise.all([echo.echo(1), echo.echo(2)]);
    expect(client.connections().map((c) => c.address).sort()).toEqual([a!.address, b!.address].sort());

    const samples: Sample[] = [];
    const t0 = performance.now();
    const stopAt = t0 + RUN_MS;
    const worker = async (id: number): Promise<void> => {
      let i = 0;
      while (performance.now() < stopAt) {
        const start = performance.now();
        try {
          // 0-20 ms in the handler: calls are in flight on both providers at the kill.
          expect(await echo.delayedEcho(`${id}:${i}`)).toBe(`${id}:${i}`);
          samples.push({ worker: id, start, end: performance.now(), ok: true });
        } catch (error) {
          samples.push({ worker: id, start, end: performance.now(), ok: false, error });
        }
        i++;
      }
    };
    const load = Promise.all(Array.from({ length: WORKERS }, (_, id) => worker(id)));

    await sleep(KILL_AT_MS);
    const killedAt = performance.now();
    a!.kill('SIGKILL');
    await load;

    // The client noticed at once (the kernel closes a killed process's sockets).
    const lost = events.disconnects.find((d) => d.info.address === a!.address);
    expect(lost, 'a disconnect event for the killed provider').toBeDefined();
    expect(lost!.at - killedAt).toBeLessThan(500);
    expect(['closed-by-peer', 'socket-error']).toContain(lost!.reason);

    const failures = samples.filter((s) => !s.ok);
    // Only calls in flight on the killed provider at the moment it died may fail: at most one per worker.
    expect(failures.length).toBeLessThanOrEqual(WORKERS);
    for (const f of failures) {
      expect(f.error).toBeInstanceOf(HeartlineError);
      expect(CLEAR_CODES).toContain((f.error as HeartlineError).code);
      expect(f.start).toBeLessThanOrEqual(lost!.at);
      expect(f.end).toBeGreaterThanOrEqual(killedAt);
    }
    // No call hung: each one completed well within its timeout (none failed with TIMEOUT either).
    for (const s of samples) expect(s.end - s.start).toBeLessThan(TIMEOUT);

    // Everything started after the client noticed succeeded on the survivor.
    const later = samples.filter((s) => s.start > lost!.at);
    expect(later.length).toBeGreaterThan(100);
    expect(later.filter((s) => !s.ok)).toEqual([]);
    expect(samples.filter((s) => s.ok && s.start < killedAt).length).toBeGreaterThan(100);

    // The survivor is the only ready provider; the dead one is being retried in the background.
    await waitFor(() => client.connections().filter((c) => c.state === 'ready').length === 1, 1000, 'one ready connection');
    const ready = client.connections().filter((c) => c.state === 'ready');
    expect(ready.map((c) => c.address)).toEqual([b!.address]);
    expect(await echo.echo('survivor')).toBe('survivor');
  });
});
