// Handlers that return misbehaving thenables (issue #7 C2), over real sockets:
// a `then` that throws used to escape into the frame decoder (the connection
// closed as if the consumer broke the protocol, and the executes slot was never
// given back); a thenable that settled twice drove the executes counter negative.
import { afterAll, describe, expect, it } from 'vitest';
import { Provider, Server, Service, silentLogger, type DisconnectReason } from '../../src/index.js';
import { expectCode, newClient, track, useCleanup, waitFor } from '../helpers/server.js';
import { expectNothingOpen } from '../cluster/cluster-helpers.js';

@Service('test.Weird', { methods: { throwingThen: {}, getterThen: {}, twice: {}, rejectTwice: {}, throwAfter: {}, hold: {}, ok: {} } })
abstract class Weird {
  abstract throwingThen(): Promise<unknown>;
  abstract getterThen(): Promise<unknown>;
  abstract twice(): Promise<unknown>;
  abstract rejectTwice(): Promise<unknown>;
  abstract throwAfter(): Promise<unknown>;
  abstract hold(): Promise<string>;
  abstract ok(): Promise<string>;
}

/** A hand-made thenable, typed as the promise the contract declares. */
const thenable = (value: object): Promise<unknown> => value as Promise<unknown>;

@Provider(Weird)
class WeirdImpl {
  holds = 0;
  private release: (() => void) | undefined;

  throwingThen(): Promise<unknown> {
    return thenable({ then: () => { throw new Error('then exploded'); } });
  }

  getterThen(): Promise<unknown> {
    return thenable(Object.defineProperty({}, 'then', { get: () => { throw new Error('then getter exploded'); } }));
  }

  twice(): Promise<unknown> {
    return thenable({ then: (ok: (v: unknown) => void) => { ok('first'); ok('second'); } });
  }

  rejectTwice(): Promise<unknown> {
    return thenable({ then: (_ok: unknown, fail: (e: unknown) => void) => { fail(new Error('one')); fail(new Error('two')); } });
  }

  throwAfter(): Promise<unknown> {
    return thenable({ then: (ok: (v: unknown) => void) => { ok('done'); throw new Error('after settling'); } });
  }

  hold(): Promise<string> {
    this.holds++;
    return new Promise((resolve) => (this.release = () => resolve('held')));
  }

  async ok(): Promise<string> {
    return 'ok';
  }

  openGate(): void {
    this.release?.();
  }
}

describe('handlers returning misbehaving thenables', () => {
  const defer = useCleanup();

  async function setup() {
    const server = new Server({ host: '127.0.0.1', port: 0, logger: silentLogger, closeGracePeriod: 200 });
    const impl = new WeirdImpl();
    server.register(impl, { executes: 1 }); // one slot: a slot leaked or counted twice shows at once
    const { port } = await server.listen();
    defer(server, async (s) => {
      impl.openGate();
      await s.close();
    });
    const reasons: DisconnectReason[] = [];
    server.on('disconnect', (_info, reason) => reasons.push(reason));
    const client = defer(newClient(`127.0.0.1:${port}`, { cluster: 'failfast' }), (c) => c.close());
    return { server, impl, weird: client.refer(Weird), reasons, client };
  }

  it('a then that throws, or a then getter that throws, fails that call with HANDLER_ERROR; the connection and the slot survive', async () => {
    const { server, weird, reasons } = await setup();
    expect(await weird.ok()).toBe('ok');
    for (let i = 0; i < 3; i++) {
      const a = await expectCode(weird.throwingThen(), 'HANDLER_ERROR');
      expect(a.message).toMatch(/then exploded/);
      const b = await expectCode(weird.getterThen(), 'HANDLER_ERROR');
      expect(b.message).toMatch(/then getter exploded/);
    }
    // The executes slot came back each time, and the connection is the same one.
    expect(await weird.ok()).toBe('ok');
    expect(server.connectionsAccepted).toBe(1);
    expect(reasons).toEqual([]);
    expect(server.connections()[0]!.inFlight).toBe(0);
  });

  it('a thenable that throws after settling is heard once, as it settled; the connection survives', async () => {
    const { weird, server, reasons } = await setup();
    for (let i = 0; i < 3; i++) expect(await weird.throwAfter()).toBe('done');
    expect(await weird.ok()).toBe('ok');
    expect(server.connectionsAccepted).toBe(1);
    expect(reasons).toEqual([]);
  });

  it('thenables that settle twice are heard once; the executes cap stays exact', async () => {
    const { impl, weird, server } = await setup();
    expect(await weird.twice()).toBe('first');
    await expectCode(weird.rejectTwice(), 'HANDLER_ERROR');

    // Exactly one slot: one call holds it, the next is refused (a counter driven negative would let it in).
    const held = track(weird.hold());
    await waitFor(() => impl.holds === 1, 1000, 'the held call');
    await expectCode(weird.ok(), 'LIMIT_EXCEEDED');
    impl.openGate();
    await waitFor(() => held.settled, 1000, 'the held call to finish');
    expect(held.value).toBe('held');
    expect(await weird.ok()).toBe('ok');
    expect(server.connectionsAccepted).toBe(1);
  });
});

afterAll(() => expectNothingOpen());
