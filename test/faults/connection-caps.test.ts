// Per-connection caps of the provider (issue #7 A3): calls executing at once
// (maxConcurrentCalls) and live callbacks (maxCallbacks), over real sockets.
import { afterAll, describe, expect, it } from 'vitest';
import { Provider, Server, Service, silentLogger, type Callback, type ServerOptions } from '../../src/index.js';
import { callFrame, RawConnection } from '../helpers/raw-socket.js';
import { useCleanup, waitFor } from '../helpers/server.js';
import { expectNothingOpen, sleep, WorkImpl } from '../cluster/cluster-helpers.js';

const WORK = (method: string, args: unknown[] = []): unknown[] => ['cluster.Work', '', '', method, args, null];
const SUBS = (method: string, args: unknown[]): unknown[] => ['test.Subs', '', '', method, args, null];

@Service('test.Subs', { methods: { watch: { callbacks: [1] }, watchTwo: { callbacks: [1, 2] }, unwatch: {} } })
abstract class Subs {
  abstract watch(tag: string, listener: () => void): Promise<string>;
  abstract watchTwo(tag: string, a: () => void, b: () => void): Promise<string>;
  abstract unwatch(tag: string): Promise<boolean>;
}

@Provider(Subs)
class SubsImpl implements Subs {
  readonly held = new Map<string, Callback[]>();
  entries = 0;

  async watch(tag: string, listener: Callback): Promise<string> {
    this.entries++;
    this.held.set(tag, [listener]);
    return tag;
  }

  async watchTwo(tag: string, a: Callback, b: Callback): Promise<string> {
    this.entries++;
    this.held.set(tag, [a, b]);
    return tag;
  }

  async unwatch(tag: string): Promise<boolean> {
    for (const cb of this.held.get(tag) ?? []) cb.release();
    return this.held.delete(tag);
  }
}

describe('per-connection caps on the provider', () => {
  const defer = useCleanup();

  async function start(options: ServerOptions): Promise<{ server: Server; port: number; work: WorkImpl; subs: SubsImpl }> {
    const server = new Server({ host: '127.0.0.1', port: 0, logger: silentLogger, closeGracePeriod: 200, ...options });
    const work = new WorkImpl('a');
    const subs = new SubsImpl();
    server.register(work).register(subs);
    const { port } = await server.listen();
    defer(server, async (s) => {
      work.openGate();
      await s.close();
    });
    return { server, port, work, subs };
  }

  it('maxConcurrentCalls: a call over the cap is answered LIMIT_EXCEEDED at once, before any user code; room comes back as calls finish', async () => {
    const { port, work, server } = await start({ maxConcurrentCalls: 3 });
    const raw = defer(await RawConnection.open(port), (r) => r.destroy());
    for (let id = 1; id <= 3; id++) raw.send(callFrame(id, WORK('hold')));
    await waitFor(() => work.count('hold') === 3, 1000, 'three held calls');
    expect(server.connections()[0]!.inFlight).toBe(3);

    const started = performance.now();
    const over = await raw.call(4, WORK('whoami'));
    expect(performance.now() - started).toBeLessThan(500);
    expect(over.frame.id).toBe(4);
    expect(over.code).toBe('LIMIT_EXCEEDED');
    expect(work.count('whoami')).toBe(0); // no user code ran
    // A one-way call over the cap is dropped without running.
    raw.send(callFrame(5, WORK('record', ['dropped']), false));
    await sleep(50);
    expect(work.count('record')).toBe(0);

    // A second connection has its own budget.
    const other = defer(await RawConnection.open(port), (r) => r.destroy());
    expect((await other.call(1, WORK('whoami'))).body).toBe('a');

    work.openGate();
    const answers = [await raw.nextFrame(), await raw.nextFrame(), await raw.nextFrame()];
    expect(answers.map((f) => f!.id).sort()).toEqual([1, 2, 3]);
    expect(answers.every((f) => f!.status === 0)).toBe(true);
    const after = await raw.call(6, WORK('whoami'));
    expect(after.code).toBeUndefined();
    expect(after.body).toBe('a');
    expect(server.connections().map((c) => c.inFlight)).toEqual([0, 0]);
  });

  it('maxConcurrentCalls: a peer reusing one request id cannot get past the cap', async () => {
    const { port, work } = await start({ maxConcurrentCalls: 2 });
    const raw = defer(await RawConnection.open(port), (r) => r.destroy());
    for (let i = 0; i < 5; i++) raw.send(callFrame(7, WORK('hold')));
    await waitFor(() => raw.unread === 3, 1000, 'three refusals');
    expect(work.count('hold')).toBe(2);
    work.openGate();
  });

  it('maxCallbacks: a call that would bring a new callback over the cap is answered LIMIT_EXCEEDED before user code; known ids and released slots are fine', async () => {
    const { port, subs } = await start({ maxCallbacks: 3 });
    const raw = defer(await RawConnection.open(port), (r) => r.destroy());
    for (let id = 1; id <= 3; id++) expect((await raw.call(id, SUBS('watch', [`t${id}`, id]))).body).toBe(`t${id}`);
    expect(subs.entries).toBe(3);

    // Callback 2 is live already: no new entry, allowed.
    expect((await raw.call(4, SUBS('watch', ['again', 2]))).code).toBeUndefined();
    expect(subs.entries).toBe(4);

    const over = await raw.call(5, SUBS('watch', ['t4', 4]));
    expect(over.code).toBe('LIMIT_EXCEEDED');
    expect(subs.entries).toBe(4); // the handler did not run

    // Releasing one makes room for exactly one.
    expect((await raw.call(6, SUBS('unwatch', ['t1']))).body).toBe(true);
    expect((await raw.call(7, SUBS('watchTwo', ['two', 4, 5]))).code).toBe('LIMIT_EXCEEDED'); // two new ids, one slot
    expect(subs.entries).toBe(4);
    expect((await raw.call(8, SUBS('watchTwo', ['two', 4, 4]))).code).toBeUndefined(); // one new id, twice
    expect(subs.entries).toBe(5);
  });

  it('defaults: 10000 calls and 1000 callbacks per connection', async () => {
    const { port, subs, work } = await start({});
    const raw = defer(await RawConnection.open(port), (r) => r.destroy());
    for (let id = 1; id <= 1000; id++) raw.send(callFrame(id, SUBS('watch', [`t${id}`, id])));
    await waitFor(() => raw.unread === 1000, 5000, '1000 answers');
    for (let i = 0; i < 1000; i++) expect((await raw.nextFrame())!.status).toBe(0);
    expect((await raw.call(1001, SUBS('watch', ['over', 1001]))).code).toBe('LIMIT_EXCEEDED');
    expect(subs.entries).toBe(1000);

    for (let id = 2000; id < 12_000; id++) raw.send(callFrame(id, WORK('hold')));
    await waitFor(() => work.count('hold') === 10_000, 5000, '10000 held calls');
    expect((await raw.call(20_000, WORK('whoami'))).code).toBe('LIMIT_EXCEEDED');
    work.openGate();
    await waitFor(() => raw.unread === 10_000, 5000, 'the held calls to finish');
  });
});

afterAll(() => expectNothingOpen());
