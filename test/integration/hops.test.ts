// A -> B -> C over real sockets: deadlines travel, cancellation travels, and a
// downstream failure reaches the original caller with its code and origin.
import { describe, expect, it, vi } from 'vitest';
import { currentCall, HeartlineError, Server, Service, silentLogger, withOptions, type Remote } from '../../src/index.js';
import { expectCode, newClient, useCleanup } from '../helpers/server.js';

@Service('hops.Back', { methods: { slow: {} } })
abstract class Back {
  abstract slow(ms: number): Promise<string>;
}

@Service('hops.Front', { methods: { relay: {} } })
abstract class Front {
  abstract relay(ms: number): Promise<string>;
}

/** What each hop's handler saw: the reason its signal fired, and its budget when it started. */
interface Seen {
  reasons: unknown[];
  budgets: number[];
  /** B only: how its call to C failed, and whether B's own signal had fired by then. */
  downstream: Array<{ code: string; signalFired: boolean }>;
}

/** Sleeps `ms`, or rejects with the signal's reason as soon as it fires. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

describe('a call across three hops (A -> B -> C)', () => {
  const defer = useCleanup();

  async function chain(backProviders?: string[]): Promise<{ front: Remote<Front>; b: Seen; c: Seen }> {
    const b: Seen = { reasons: [], budgets: [], downstream: [] };
    const c: Seen = { reasons: [], budgets: [], downstream: [] };
    const serverC = defer(new Server({ host: '127.0.0.1', port: 0, logger: silentLogger, closeGracePeriod: 100 }), (s) => s.close());
    serverC.register(Back, {
      async slow(ms: number): Promise<string> {
        const call = currentCall()!;
        c.budgets.push(call.timeLeft);
        try {
          await sleep(ms, call.signal);
        } catch (err) {
          c.reasons.push(err);
          throw err;
        }
        return 'done';
      },
    });
    const { port: portC } = await serverC.listen();
    const clientB = defer(newClient(undefined, { timeout: 5000 }), (cl) => cl.close());
    const back = clientB.refer(Back, { providers: backProviders ?? [`127.0.0.1:${portC}`] });
    const serverB = defer(new Server({ host: '127.0.0.1', port: 0, logger: silentLogger, closeGracePeriod: 100 }), (s) => s.close());
    serverB.register(Front, {
      async relay(ms: number): Promise<string> {
        const call = currentCall()!;
        b.budgets.push(call.timeLeft);
        call.signal.addEventListener('abort', () => b.reasons.push(call.signal.reason), { once: true });
        try {
          return await back.slow(ms);
        } catch (err) {
          b.downstream.push({ code: (err as HeartlineError).code, signalFired: call.signal.aborted });
          throw err;
        }
      },
    });
    const { port: portB } = await serverB.listen();
    const clientA = defer(newClient(`127.0.0.1:${portB}`, { timeout: 5000 }), (cl) => cl.close());
    return { front: clientA.refer(Front), b, c };
  }

  it("fails A in time when C sleeps past A's deadline, and B's and C's signals fire", async () => {
    const { front, b, c } = await chain();
    const started = performance.now();
    await expectCode(withOptions(front, { timeout: 300 }).relay(3000), 'TIMEOUT');
    const took = performance.now() - started;
    expect(took).toBeGreaterThanOrEqual(290);
    expect(took).toBeLessThan(1500);
    // Each hop's budget is what was left of A's 300 ms, not its own 5000 ms.
    expect(b.budgets[0]).toBeLessThanOrEqual(300);
    expect(c.budgets[0]).toBeLessThanOrEqual(300);
    await vi.waitFor(() => {
      expect(b.reasons).toHaveLength(1);
      expect(c.reasons).toHaveLength(1);
    });
    // B's own deadline and A's Cancel frame (sent when A times out) race: either may fire B's signal first.
    // C's signal fires for its own deadline, or when B's call to C is cancelled by B's signal.
    for (const reason of [b.reasons[0], c.reasons[0]]) {
      expect(reason).toBeInstanceOf(HeartlineError);
      expect(['DEADLINE_EXCEEDED', 'CANCELLED']).toContain((reason as HeartlineError).code);
    }
  });

  it("B's signal fires before its call to C fails when they share B's deadline, every time", async () => {
    const { front, b } = await chain();
    for (let i = 0; i < 15; i++) await expectCode(withOptions(front, { timeout: 40 }).relay(3000), 'TIMEOUT');
    await vi.waitFor(() => expect(b.downstream).toHaveLength(15));
    // The inherited deadline is enforced by the served call's own timer: B's handler sees its signal
    // fire, and its call to C is cancelled through it; never a race between two timers.
    for (const d of b.downstream) expect(d).toEqual({ code: 'CANCELLED', signalFired: true });
  });

  it("cancels B's and C's work when A aborts", async () => {
    const { front, b, c } = await chain();
    const controller = new AbortController();
    const call = withOptions(front, { signal: controller.signal }).relay(3000);
    await vi.waitFor(() => expect(c.budgets).toHaveLength(1));
    const aborted = performance.now();
    controller.abort();
    await expectCode(call, 'CANCELLED');
    expect(performance.now() - aborted).toBeLessThan(100);
    await vi.waitFor(() => {
      expect(b.reasons).toHaveLength(1);
      expect(c.reasons).toHaveLength(1);
    });
    expect((b.reasons[0] as HeartlineError).code).toBe('CANCELLED');
    expect((c.reasons[0] as HeartlineError).code).toBe('CANCELLED');
  });

  it("tells A the downstream code and where it came from, and never as retry-safe", async () => {
    // B's reference to C names a port nobody listens on.
    const closed = new Server({ host: '127.0.0.1', port: 0, logger: silentLogger });
    const { port } = await closed.listen();
    await closed.close();
    const { front } = await chain([`127.0.0.1:${port}`]);
    const err = await expectCode(front.relay(10), 'HANDLER_ERROR');
    expect(err.retrySafe).toBe(false);
    expect(err.remote).toBe(true);
    expect(err.cause).toBeInstanceOf(HeartlineError);
    const cause = err.cause as HeartlineError;
    expect(['CONNECT_FAILED', 'UNAVAILABLE']).toContain(cause.code);
    expect(cause.call).toBe('hops.Back#slow');
  });
});
