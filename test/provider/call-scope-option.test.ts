// The server option callScope over real sockets (A -> B -> C, B the server
// under test): with false, B's handlers and interceptors run outside the
// call's scope, so currentCall() is undefined there and B's calls to C inherit
// neither the deadline nor the signal of the call B serves. With the default
// the same chain does inherit (a control for each assertion).
import { describe, expect, it, vi } from 'vitest';
import { currentCall, Server, Service, silentLogger, withOptions, type ServerCall } from '../../src/index.js';
import { expectCode, newClient, useCleanup } from '../helpers/server.js';

@Service('scope.Back', { methods: { deadline: {}, hold: {} } })
abstract class Back {
  /** The deadline C's call got: finite only if B's call gave it one. */
  abstract deadline(): Promise<number | null>;
  /** Resolves once its signal fires. */
  abstract hold(): Promise<string>;
}

@Service('scope.Front', { methods: { relay: {} } })
abstract class Front {
  abstract relay(method: 'deadline' | 'hold'): Promise<unknown>;
}

/** What B saw: currentCall() in its interceptor and its handler, the call its interceptor got, and C's hold signals. */
interface Seen {
  inInterceptor: Array<ServerCall | undefined>;
  inHandler: Array<ServerCall | undefined>;
  intercepted: ServerCall[];
  cAborted: string[];
}

const defer = useCleanup();

async function chain(callScope: boolean | undefined) {
  const seen: Seen = { inInterceptor: [], inHandler: [], intercepted: [], cAborted: [] };
  const serverC = defer(new Server({ host: '127.0.0.1', port: 0, logger: silentLogger, closeGracePeriod: 50 }), (s) => s.close());
  serverC.register(Back, {
    async deadline() {
      const d = currentCall()!.deadline;
      return Number.isFinite(d) ? d : null;
    },
    hold() {
      const { signal } = currentCall()!;
      return new Promise((resolve) =>
        signal.addEventListener('abort', () => {
          seen.cAborted.push((signal.reason as { code: string }).code);
          resolve('aborted');
        }),
      );
    },
  });
  const { port: portC } = await serverC.listen();
  // timeout 0: B's calls to C have no deadline of their own, so any deadline C sees was inherited.
  const clientB = defer(newClient(`127.0.0.1:${portC}`, { timeout: 0 }), (c) => c.close());
  const back = clientB.refer(Back, { cluster: 'failfast' });
  const serverB = defer(new Server({ host: '127.0.0.1', port: 0, logger: silentLogger, closeGracePeriod: 50, callScope }), (s) => s.close());
  serverB.use(async (call, next) => {
    seen.inInterceptor.push(currentCall());
    seen.intercepted.push(call);
    return next();
  });
  serverB.register(Front, {
    relay(method: 'deadline' | 'hold') {
      seen.inHandler.push(currentCall());
      return method === 'deadline' ? back.deadline() : back.hold();
    },
  });
  const { port: portB } = await serverB.listen();
  const clientA = defer(newClient(`127.0.0.1:${portB}`, { timeout: 0 }), (c) => c.close());
  return { front: clientA.refer(Front, { cluster: 'failfast' }), seen };
}

describe('server option callScope', () => {
  it('false: currentCall() is undefined in handlers and interceptors; the interceptor still gets the call, with its deadline', async () => {
    const { front, seen } = await chain(false);
    await withOptions(front, { timeout: 2000 }).relay('deadline');
    expect(seen.inInterceptor).toEqual([undefined]);
    expect(seen.inHandler).toEqual([undefined]);
    expect(seen.intercepted[0]!.method).toBe('relay');
    expect(Number.isFinite(seen.intercepted[0]!.deadline)).toBe(true);
  });

  it('false: a call made in the handler does not inherit the served call\'s deadline', async () => {
    const { front } = await chain(false);
    expect(await withOptions(front, { timeout: 2000 }).relay('deadline')).toBeNull();
  });

  it('default (true): the same call inherits it, and currentCall() is the call', async () => {
    const { front, seen } = await chain(undefined);
    const before = performance.now();
    const deadline = (await withOptions(front, { timeout: 2000 }).relay('deadline')) as number;
    expect(deadline).not.toBeNull();
    // Both ends run in this process, on the same clock: C's deadline is A's 2000 ms (each hop adds
    // the time its request spent on the way, and rounds the budget up to a whole ms).
    expect(deadline).toBeGreaterThan(before + 1000);
    expect(deadline).toBeLessThan(before + 2500);
    expect(seen.inInterceptor[0]).toBe(seen.intercepted[0]);
    expect(seen.inHandler[0]).toBe(seen.intercepted[0]);
  });

  it('false: a call made in the handler is not cancelled with the served call', async () => {
    const { front, seen } = await chain(false);
    const controller = new AbortController();
    const call = withOptions(front, { signal: controller.signal }).relay('hold');
    await vi.waitFor(() => expect(seen.intercepted).toHaveLength(1));
    const served = seen.intercepted[0]!;
    const bAborted = new Promise<string>((resolve) => served.signal.addEventListener('abort', () => resolve((served.signal.reason as { code: string }).code)));
    // Let B's call to C arrive before A cancels.
    await new Promise((resolve) => setTimeout(resolve, 50));
    controller.abort();
    await expectCode(call, 'CANCELLED');
    expect(await bAborted).toBe('CANCELLED');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(seen.cAborted).toEqual([]);
  });

  it('default (true): the same call is cancelled with the served call', async () => {
    const { front, seen } = await chain(undefined);
    const controller = new AbortController();
    const call = withOptions(front, { signal: controller.signal }).relay('hold');
    await vi.waitFor(() => expect(seen.intercepted).toHaveLength(1));
    await new Promise((resolve) => setTimeout(resolve, 50));
    controller.abort();
    await expectCode(call, 'CANCELLED');
    await vi.waitFor(() => expect(seen.cAborted).toEqual(['CANCELLED']));
  });
});
