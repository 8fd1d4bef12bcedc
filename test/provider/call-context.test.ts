// The provider's view of a call over real sockets: currentCall() inside a
// handler, the deadline from the request's budget, the handler's signal
// (Cancel frame, deadline, connection closing, grace period ending) and the
// responses nobody waits for any more.
import { describe, expect, it } from 'vitest';
import { currentCall, HeartlineError, Server, Service, silentLogger, type ServerCall } from '../../src/index.js';
import { decodeBody, encodeBody } from '../../src/protocol/codec.js';
import { FrameType } from '../../src/protocol/constants.js';
import { encodeFrame, frameFlags } from '../../src/protocol/frame.js';
import { callFrame, cancelFrame, RawConnection, statusCode } from '../helpers/raw-socket.js';
import { useCleanup, waitFor } from '../helpers/server.js';

@Service('test.Ctx', { version: '1', group: 'g', methods: { info: {}, hold: {}, slow: {}, tell: { oneWay: true } } })
abstract class Ctx {
  abstract info(): Promise<Record<string, unknown>>;
  /** Resolves with its signal's reason code once the signal fires. */
  abstract hold(): Promise<string>;
  /** Answers after `ms`, never looking at its signal. */
  abstract slow(ms: number): Promise<string>;
  abstract tell(): Promise<void>;
}

/** A handshake asking for protocol version 2 (the one with the budget). */
const HELLO_V2 = encodeFrame(frameFlags(FrameType.Handshake, true, true), 0, FrameType.Handshake, 0, encodeBody({ version: 2, maxFrameSize: 1 << 20, heartbeat: 0 }));

/** The request body of a call to test.Ctx. */
function request(method: string, args: unknown[] = [], budget: number | null = null, attachments: Record<string, string> | null = null): unknown[] {
  return ['test.Ctx', '1', 'g', method, args, attachments, budget];
}

class CtxImpl {
  readonly calls: ServerCall[] = [];
  readonly reasons: HeartlineError[] = [];
  infoRuns = 0;
  /** Whether the raw peer's socket was already closed when a hold's signal fired. */
  closedAtAbort: boolean[] = [];
  peerClosed: () => boolean = () => false;

  async info(): Promise<Record<string, unknown>> {
    this.infoRuns++;
    const call = currentCall()!;
    this.calls.push(call);
    const before = call.timeLeft;
    await new Promise((resolve) => setTimeout(resolve, 1));
    const after = currentCall(); // still the same call after an await (AsyncLocalStorage)
    return {
      same: after === call,
      service: call.service,
      version: call.version,
      group: call.group,
      method: call.method,
      peer: call.peer,
      connectionId: call.connectionId,
      attachments: call.attachments,
      finite: Number.isFinite(call.deadline),
      timeLeft: before === Infinity ? -1 : before,
      oneWay: call.oneWay,
      principal: call.principal ?? null,
    };
  }

  hold(): Promise<string> {
    const call = currentCall()!;
    this.calls.push(call);
    return new Promise((resolve) =>
      call.signal.addEventListener('abort', () => {
        this.reasons.push(call.signal.reason as HeartlineError);
        this.closedAtAbort.push(this.peerClosed());
        resolve((call.signal.reason as HeartlineError).code);
      }),
    );
  }

  async slow(ms: number): Promise<string> {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return 'late';
  }

  async tell(): Promise<void> {
    this.calls.push(currentCall()!);
  }
}

const defer = useCleanup();

async function start(closeGracePeriod = 200): Promise<{ server: Server; impl: CtxImpl; raw: RawConnection }> {
  const server = defer(new Server({ host: '127.0.0.1', port: 0, logger: silentLogger, closeGracePeriod }), (s) => s.close());
  const impl = new CtxImpl();
  server.register(Ctx, impl);
  const { port } = await server.listen();
  const raw = defer(await RawConnection.open(port, { handshake: false }), (r) => r.destroy());
  raw.send(HELLO_V2);
  const hello = await raw.nextFrame();
  expect(decodeBody(hello!.body)).toMatchObject({ version: 2 });
  impl.peerClosed = () => raw.isClosed;
  return { server, impl, raw };
}

describe('currentCall() inside a handler', () => {
  it('holds service, method, version, group, peer, connection id, attachments and the deadline from the wire budget', async () => {
    const { server, raw } = await start();
    const { code, body } = await raw.call(1, request('info', [], 5000, { traceparent: '00-abc-def-01' }));
    expect(code).toBeUndefined();
    const info = body as Record<string, unknown>;
    expect(info).toMatchObject({
      same: true,
      service: 'test.Ctx',
      version: '1',
      group: 'g',
      method: 'info',
      peer: `${raw.socket.localAddress}:${raw.socket.localPort}`,
      connectionId: server.connections()[0]!.id,
      attachments: { traceparent: '00-abc-def-01' },
      finite: true,
      oneWay: false,
      principal: null,
    });
    expect(info.timeLeft as number).toBeGreaterThan(4000);
    expect(info.timeLeft as number).toBeLessThanOrEqual(5000);
  });

  it('a request without a budget has no deadline, and no attachments read as an empty map', async () => {
    const { raw } = await start();
    const { body } = await raw.call(1, request('info'));
    expect(body).toMatchObject({ finite: false, timeLeft: -1, attachments: {} });
  });

  it('a six-item (version 1) request has no deadline either', async () => {
    const { raw } = await start();
    const { body } = await raw.call(1, request('info').slice(0, 6));
    expect(body).toMatchObject({ finite: false });
  });

  it('is undefined outside any call', () => {
    expect(currentCall()).toBeUndefined();
  });

  it('a one-way call says so', async () => {
    const { impl, raw } = await start();
    raw.send(callFrame(1, request('tell'), false));
    await waitFor(() => impl.calls.length === 1);
    expect(impl.calls[0]!.oneWay).toBe(true);
  });
});

describe('a spent budget', () => {
  it('a request whose budget is 0 is answered DEADLINE_EXCEEDED at once; its handler does not run', async () => {
    const { server, impl, raw } = await start();
    const { code, body } = await raw.call(1, request('info', [], 0));
    expect(code).toBe('DEADLINE_EXCEEDED');
    expect(body).toMatchObject({ code: 'DEADLINE_EXCEEDED' });
    expect(impl.infoRuns).toBe(0);
    expect(server.connections()[0]!.inFlight).toBe(0);
    // The connection serves the next call as usual.
    expect((await raw.call(2, request('info', [], 1000))).code).toBeUndefined();
  });
});

describe("the handler's signal", () => {
  it('fires with CANCELLED on a Cancel frame; the response is not sent and is counted', async () => {
    const { server, impl, raw } = await start();
    raw.send(callFrame(7, request('hold')));
    await waitFor(() => impl.calls.length === 1);
    raw.send(cancelFrame(7));
    await waitFor(() => impl.reasons.length === 1);
    expect(impl.reasons[0]).toBeInstanceOf(HeartlineError);
    expect(impl.reasons[0]!.code).toBe('CANCELLED');
    await waitFor(() => server.responsesDropped === 1);
    await expect(raw.nextFrame(100)).rejects.toThrow(/no frame/);
    expect(server.connections()[0]!.inFlight).toBe(0);
  });

  it('fires with DEADLINE_EXCEEDED when the deadline passes; the late response is dropped', async () => {
    const { server, impl, raw } = await start();
    const t0 = performance.now();
    raw.send(callFrame(1, request('hold', [], 60)));
    await waitFor(() => impl.reasons.length === 1);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(55);
    expect(impl.reasons[0]!.code).toBe('DEADLINE_EXCEEDED');
    await waitFor(() => server.responsesDropped === 1);
    await expect(raw.nextFrame(100)).rejects.toThrow(/no frame/);
  });

  it('fires with CONNECTION_LOST_WRITTEN when the consumer connection closes', async () => {
    const { impl, raw } = await start();
    raw.send(callFrame(1, request('hold')));
    await waitFor(() => impl.calls.length === 1);
    raw.destroy();
    await waitFor(() => impl.reasons.length === 1);
    expect(impl.reasons[0]!.code).toBe('CONNECTION_LOST_WRITTEN');
  });

  it('reaches a call whose request id a later call reused: the connection closing still fires its signal', async () => {
    const { server, impl, raw } = await start();
    // A one-way call's id is free at once, so a peer may reuse it while the call still runs.
    raw.send(callFrame(5, request('hold'), false));
    await waitFor(() => impl.calls.length === 1);
    const { body } = await raw.call(5, request('slow', [1]));
    expect(body).toBe('late');
    expect(server.connections()[0]!.inFlight).toBe(1); // the first call, still running
    raw.destroy();
    await waitFor(() => impl.reasons.length === 1);
    expect(impl.reasons[0]!.code).toBe('CONNECTION_LOST_WRITTEN');
  });

  it("fires with SERVER_CLOSED when close()'s grace period ends, before the socket is destroyed", async () => {
    const { server, impl, raw } = await start(100);
    raw.send(callFrame(1, request('hold')));
    await waitFor(() => impl.calls.length === 1);
    const t0 = performance.now();
    const closed = server.close();
    await waitFor(() => impl.reasons.length === 1);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(90);
    expect(impl.reasons[0]!.code).toBe('SERVER_CLOSED');
    expect(impl.closedAtAbort).toEqual([false]);
    await closed;
    expect(raw.isClosed || (await raw.closedWithin(1000))).toBe(true);
  });

  it('a signal first read after the call was cancelled is already aborted', async () => {
    const { server, raw } = await start();
    let seen: unknown;
    // A handler that looks at its signal only once the Cancel frame has arrived.
    const late = new CtxImpl();
    late.info = async () => {
      const call = currentCall()!;
      await new Promise((resolve) => setTimeout(resolve, 50));
      seen = call.signal.aborted && (call.signal.reason as HeartlineError).code;
      return {};
    };
    server.register(Ctx, late, { version: '2' });
    raw.send(callFrame(1, ['test.Ctx', '2', 'g', 'info', [], null, null]));
    await new Promise((resolve) => setTimeout(resolve, 10));
    raw.send(cancelFrame(1));
    await waitFor(() => seen !== undefined);
    expect(seen).toBe('CANCELLED');
  });
});

describe('responses nobody waits for', () => {
  it("a handler that finishes after its deadline does not answer; server.responsesDropped counts it", async () => {
    const { server, raw } = await start();
    raw.send(callFrame(1, request('slow', [80], 30)));
    await waitFor(() => server.responsesDropped === 1);
    await expect(raw.nextFrame(50)).rejects.toThrow(/no frame/);
    // One in time still answers.
    const { code, body } = await raw.call(2, request('slow', [1], 1000));
    expect(code).toBeUndefined();
    expect(body).toBe('late');
    expect(server.responsesDropped).toBe(1);
  });

  it('a refusal before the handler is still answered, as is a failure', async () => {
    const { raw } = await start();
    const r = await raw.call(1, ['test.Ctx', '1', 'g', 'nope', [], null, 1000]);
    expect(statusCode(r.frame)).toBe('METHOD_NOT_FOUND');
  });
});
