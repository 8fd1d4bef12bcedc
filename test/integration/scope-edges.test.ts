// Where a served call's scope (currentCall(), the deadline and signal that
// calls made inside it inherit) ends: a consumer connection opened by a call
// made inside a handler does not carry that served call into everything its
// socket events run later (push listeners above all).
import { describe, expect, it } from 'vitest';
import { currentCall, Server, Service, silentLogger, withOptions, type Callback } from '../../src/index.js';
import { newClient, useCleanup } from '../helpers/server.js';

@Service('edges.C', { methods: { ping: {}, watch: { callbacks: [0] } } })
abstract class C {
  abstract ping(): Promise<string>;
  abstract watch(onEvent: () => Promise<void>): Promise<void>;
}

@Service('edges.B', { methods: { go: {} } })
abstract class B {
  abstract go(): Promise<string>;
}

const defer = useCleanup();

describe('the scope of a served call', () => {
  it("does not follow a connection its handler opened: a push listener there sees no currentCall() and its calls do not inherit the finished call's deadline", async () => {
    let pushTo: Callback | undefined;
    const serverC = defer(new Server({ host: '127.0.0.1', port: 0, logger: silentLogger }), (s) => s.close());
    serverC.register(C, {
      ping: async () => 'pong',
      watch: async (onEvent: () => Promise<void>) => {
        pushTo = onEvent as Callback;
      },
    });
    const { port: portC } = await serverC.listen();
    const toC = defer(newClient(`127.0.0.1:${portC}`), (c) => c.close());
    const c = toC.refer(C, { cluster: 'failfast' });
    const serverB = defer(new Server({ host: '127.0.0.1', port: 0, logger: silentLogger }), (s) => s.close());
    serverB.register(B, { go: () => c.ping() }); // B's connection to C is opened inside this served call
    const { port: portB } = await serverB.listen();
    const a = defer(newClient(`127.0.0.1:${portB}`), (cl) => cl.close());
    expect(await withOptions(a.refer(B), { timeout: 50 }).go()).toBe('pong');
    await new Promise((resolve) => setTimeout(resolve, 80)); // the served call's deadline has passed

    // Outside any handler: subscribe on the same connection, and let C push.
    const seen: unknown[] = [];
    await c.watch(async () => {
      seen.push(currentCall()?.method);
      seen.push(await c.ping().catch((err: { code: string }) => err.code));
    });
    await pushTo!();
    // Before: ['go', 'DEADLINE_EXCEEDED'], the finished call 'go' still current, its spent deadline inherited.
    expect(seen).toEqual([undefined, 'pong']);
  });
});
