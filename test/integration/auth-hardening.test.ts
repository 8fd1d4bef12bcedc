// What an unauthenticated connection can do (issue #10, hardening): one
// handshake request of at most 16 KiB and nothing else before its answer; no
// more than `maxPendingHandshakes` of them at once; and credentials never
// show up in logs, errors or connection listings, on either side.
import { connect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { HeartlineError, sharedSecret, type Authenticate, type DisconnectReason, type Logger, type ServerOptions } from '../../src/index.js';
import { SHED_MIN_AGE, HARD_CAP_FACTOR } from '../../src/provider/pending-handshakes.js';
import { decodeBody, encodeBody } from '../../src/protocol/codec.js';
import { DEFAULT_MAX_FRAME_SIZE, FrameType, HEADER_SIZE, MAX_HANDSHAKE_FRAME } from '../../src/protocol/constants.js';
import { encodeFrame, frameFlags } from '../../src/protocol/frame.js';
import { testCerts } from '../helpers/certs.js';
import { Echo } from '../helpers/contract.js';
import { HANDSHAKE_REQUEST, RawConnection, statusCode } from '../helpers/raw-socket.js';
import { expectFailure, newClient, startServer, useCleanup, waitFor } from '../helpers/server.js';

const defer = useCleanup();
const certs = testCerts();

function handshake(body: Record<string, unknown>): Buffer {
  return encodeFrame(frameFlags(FrameType.Handshake, true, true), 0, FrameType.Handshake, 0, encodeBody({ version: 2, maxFrameSize: DEFAULT_MAX_FRAME_SIZE, heartbeat: 0, ...body }));
}

/** Only a header: `length` bytes of body announced, none sent. */
function headerOnly(type: FrameType, length: number): Buffer {
  const header = encodeFrame(frameFlags(type, true, true), 0, type, 0);
  header.writeUInt32BE(length, 12);
  return header;
}

async function server(options: ServerOptions = {}) {
  const s = defer(await startServer(options), (x) => x.close());
  const reasons: DisconnectReason[] = [];
  s.server.on('disconnect', (_info, reason) => reasons.push(reason));
  return Object.assign(s, { reasons });
}

async function raw(port: number): Promise<RawConnection> {
  return defer(await RawConnection.open(port, { handshake: false }), (r) => r.destroy());
}

describe('before the handshake', () => {
  it('a frame announcing more than 16 KiB closes the connection from its header alone (its body is never awaited nor buffered)', async () => {
    const s = await server();
    for (const [type, length] of [
      [FrameType.Handshake, 64 * 1024 * 1024],
      [FrameType.Handshake, MAX_HANDSHAKE_FRAME - HEADER_SIZE + 1],
      [FrameType.Call, 1024 * 1024],
    ] as const) {
      const r = await raw(s.port);
      r.send(headerOnly(type, length));
      expect(await r.closedWithin(1000)).toBe(true);
    }
    await waitFor(() => s.reasons.length === 3);
    expect(s.reasons).toEqual(['protocol-error', 'protocol-error', 'protocol-error']);
  });

  it('a handshake request of exactly 16 KiB is read and answered; after it, frames up to maxFrameSize are accepted', async () => {
    const s = await server();
    const base = handshake({ agent: '' }).length;
    const frame = handshake({ agent: 'a'.repeat(MAX_HANDSHAKE_FRAME - base - 2) }); // str8 -> str16 adds 2 bytes
    expect(frame.length).toBe(MAX_HANDSHAKE_FRAME);
    const r = await raw(s.port);
    r.send(frame);
    expect((await r.nextFrame())!.status).toBe(0);
    const big = 'x'.repeat(100 * 1024);
    const answer = await r.call(1, ['test.Echo', '1.0.0', '', 'size', [big], {}, null]);
    expect(answer.body).toBe(big.length);
  });

  it('the credentials field must be a str of at most 8 KiB: anything else is a malformed handshake (PROTOCOL_ERROR)', async () => {
    let calls = 0;
    const s = await server({
      authenticate: () => {
        calls++;
        return { principal: 1 };
      },
    });
    for (const credentials of [5, null, ['t'], { t: 1 }, Buffer.from('tok'), 'x'.repeat(8 * 1024 + 1)]) {
      const r = await raw(s.port);
      r.send(handshake({ credentials }));
      const answer = await r.nextFrame();
      expect(statusCode(answer!)).toBe('PROTOCOL_ERROR');
      expect(decodeBody(answer!.body)).toMatchObject({ message: 'malformed handshake' });
      expect(await r.closedWithin(1000)).toBe(true);
    }
    expect(calls).toBe(0);
    const r = await raw(s.port);
    r.send(handshake({ credentials: 'é'.repeat(4096) })); // 8192 bytes of UTF-8: the limit itself
    expect((await r.nextFrame())!.status).toBe(0);
  });

  it('while authenticate decides, any frame from the consumer is a protocol error; the late answer is never sent', async () => {
    let accept!: () => void;
    const s = await server({ authenticate: () => new Promise((resolve) => (accept = () => resolve({ principal: 1 }))) });
    const r = await raw(s.port);
    r.send(handshake({ credentials: 't' }));
    await waitFor(() => accept !== undefined);
    r.send(encodeFrame(frameFlags(FrameType.Heartbeat, true, true), 0, FrameType.Heartbeat, 1));
    expect(await r.closedWithin(1000)).toBe(true);
    accept();
    await waitFor(() => s.reasons.length === 1);
    expect(s.reasons).toEqual(['protocol-error']);
    expect(r.unread).toBe(0);
  });

  it('a refused consumer is read no further: a call sent right behind the refused handshake never runs', async () => {
    const s = await server({ authenticate: sharedSecret('right') });
    const r = await raw(s.port);
    r.send(Buffer.concat([handshake({ credentials: 'wrong' }), encodeFrame(frameFlags(FrameType.Call, true, true), 0, FrameType.Call, 1, encodeBody(['test.Echo', '1.0.0', '', 'echo', ['sneaky'], {}, null]))]));
    expect(statusCode((await r.nextFrame())!)).toBe('UNAUTHENTICATED');
    expect(await r.closedWithin(1000)).toBe(true);
    expect(s.echo.received).toEqual([]);
  });
});

/** Long enough for the silent connections opened so far to be sheddable (SHED_MIN_AGE). */
const aged = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, SHED_MIN_AGE + 50));

describe('maxPendingHandshakes', () => {
  it('a connection accepted beyond that many in their handshake sheds the oldest silent one (counted); room frees as handshakes end', async () => {
    const s = await server({ maxPendingHandshakes: 3, handshakeTimeout: 10_000 });
    const idle = [await raw(s.port), await raw(s.port), await raw(s.port)];
    await waitFor(() => s.server.connectionCount === 3);
    await aged();
    const over = await raw(s.port);
    expect(await idle[0]!.closedWithin(1000)).toBe(true);
    expect(await over.closedWithin(100)).toBe(false);
    expect(s.server.connectionsShed).toBe(1);
    await waitFor(() => s.server.connectionCount === 3);
    // One finishes its handshake, another goes away: two places free up.
    idle[1]!.send(HANDSHAKE_REQUEST);
    expect((await idle[1]!.nextFrame())!.status).toBe(0);
    idle[2]!.destroy();
    await waitFor(() => s.server.connectionCount === 2);
    const c = defer(newClient(s.address), (x) => x.close());
    expect(await c.refer(Echo).echo('in')).toBe('in');
    const another = await raw(s.port);
    expect(await another.closedWithin(200)).toBe(false);
    expect(s.server.connectionsShed).toBe(1);
    // Pending now: `over` and `another`; one more fills the three places, and the next sheds the oldest silent one.
    const third = await raw(s.port);
    expect(await third.closedWithin(200)).toBe(false);
    await aged();
    const fourth = await raw(s.port);
    expect(await over.closedWithin(1000)).toBe(true);
    expect(await Promise.all([another, third, fourth].map((r) => r.closedWithin(100)))).toEqual([false, false, false]);
    expect(s.server.connectionsShed).toBe(2);
  });

  it('a standing flood of silent connections does not starve consumers: a newcomer over the cap evicts the oldest connection that has sent no handshake', async () => {
    const s = await server({ maxPendingHandshakes: 4, handshakeTimeout: 10_000 });
    const flood: RawConnection[] = [];
    for (let i = 0; i < 4; i++) flood.push(await raw(s.port));
    await waitFor(() => s.server.connectionCount === 4);
    await aged();
    // A consumer arrives while the flood stands (an attacker renews it every handshakeTimeout): it gets in.
    const c = defer(newClient(s.address, { cluster: 'failfast' }), (x) => x.close());
    expect(await c.refer(Echo).echo('in')).toBe('in');
    expect(await flood[0]!.closedWithin(1000)).toBe(true); // the oldest silent one made room
    expect(await Promise.all(flood.slice(1).map((r) => r.closedWithin(100)))).toEqual([false, false, false]);
    expect(s.server.connectionsShed).toBe(1);
    expect(s.reasons).toEqual(['handshake-timeout']);
  });

  it('refused connections their consumer keeps open count as pending until they close, and are shed like silent ones', async () => {
    const s = await server({ maxPendingHandshakes: 2, handshakeTimeout: 10_000, authenticate: sharedSecret('right') });
    // A hostile consumer: half-open allowed, so the provider's FIN after its refusal does not close the socket.
    const refused: Socket[] = [];
    for (let i = 0; i < 2; i++) {
      const socket = defer(connect({ host: '127.0.0.1', port: s.port, allowHalfOpen: true }), (x) => x.destroy());
      socket.on('error', () => undefined);
      socket.resume(); // read (and drop) the refusal
      const answered = new Promise<void>((resolve) => socket.once('end', () => resolve()));
      socket.write(handshake({ credentials: 'wrong' }));
      await answered; // the refusal, then the provider's FIN
      refused.push(socket);
    }
    await aged();
    expect(s.server.connectionCount).toBe(2);
    const c = defer(newClient(s.address, { credentials: 'right', cluster: 'failfast' }), (x) => x.close());
    expect(await c.refer(Echo).echo('in')).toBe('in');
    // The oldest made room (the provider closed it: its consumer, half-open, does not notice until it writes).
    await waitFor(() => s.reasons.length === 1);
    expect(s.reasons).toEqual(['unauthenticated']);
    expect(s.server.connectionCount).toBe(2);
    expect(s.server.connectionsShed).toBe(1);
  });

  it('a burst is not a flood: connections over the cap are let in while every silent one is younger than SHED_MIN_AGE, and all get answered', async () => {
    const s = await server({ maxPendingHandshakes: 2, handshakeTimeout: 10_000 });
    const burst = await Promise.all(Array.from({ length: 12 }, () => raw(s.port)));
    await waitFor(() => s.server.connectionCount === 12);
    for (const r of burst) r.send(HANDSHAKE_REQUEST);
    const answers = await Promise.all(burst.map((r) => r.nextFrame()));
    expect(answers.map((f) => f?.status)).toEqual(Array(12).fill(0));
    expect(s.server.connectionsShed).toBe(0);
  });

  it(`past ${HARD_CAP_FACTOR} times the cap, the oldest silent connection is shed however young`, async () => {
    const s = await server({ maxPendingHandshakes: 2, handshakeTimeout: 10_000 });
    const hardCap = 2 * HARD_CAP_FACTOR;
    const flood: RawConnection[] = [];
    for (let i = 0; i < hardCap; i++) flood.push(await raw(s.port));
    await waitFor(() => s.server.connectionCount === hardCap);
    expect(s.server.connectionsShed).toBe(0);
    const over = await raw(s.port);
    expect(await flood[0]!.closedWithin(1000)).toBe(true);
    expect(await over.closedWithin(100)).toBe(false);
    expect(s.server.connectionsShed).toBe(1);
  });

  it('connections still in authenticate count as pending', async () => {
    const s = await server({ maxPendingHandshakes: 1, authenticate: () => new Promise(() => {}) });
    const first = await raw(s.port);
    first.send(handshake({ credentials: 'x' }));
    await waitFor(() => s.server.connections()[0]?.state === 'authenticating');
    const second = await raw(s.port);
    expect(await second.closedWithin(1000)).toBe(true);
    expect(s.server.connectionsShed).toBe(1);
  });

  it('over TLS, connections still in their TLS handshake count too: a flood of silent TCP connections sheds the oldest, unlogged but for one warning, and a consumer still gets in', async () => {
    const lines: string[] = [];
    const logger: Logger = { warn: (_f, m) => void lines.push(m), error: (_f, m) => void lines.push(m) };
    const s = await server({ maxPendingHandshakes: 2, handshakeTimeout: 10_000, logger, tls: { key: certs.server.key, cert: certs.server.cert } });
    const flood: RawConnection[] = [];
    for (let i = 0; i < 7; i++) flood.push(await raw(s.port));
    // Never more than two silent TLS connections held: each newcomer closed the oldest.
    expect(await Promise.all(flood.slice(0, 5).map((r) => r.closedWithin(1000)))).toEqual([true, true, true, true, true]);
    expect(await Promise.all(flood.slice(5).map((r) => r.closedWithin(100)))).toEqual([false, false]);
    expect(s.server.connectionsShed).toBe(5);
    expect(lines.filter((l) => l.includes('maxPendingHandshakes'))).toHaveLength(1);
    expect(lines.filter((l) => l.includes('TLS handshake'))).toEqual([]);
    // A consumer arriving while the flood stands gets in.
    const c = defer(newClient(s.address, { tls: { ca: certs.ca }, cluster: 'failfast' }), (x) => x.close());
    expect(await c.refer(Echo).echo('in')).toBe('in');
    expect(s.server.connectionsShed).toBe(6);
  });
});

describe('credentials never leak', () => {
  /** A logger keeping every line with its fields, as text. */
  function capture(): Logger & { text: string[] } {
    const text: string[] = [];
    const keep = (meta: Record<string, unknown>, message: string): void => {
      text.push(message, safeJson(meta));
      const error = meta?.err;
      if (error instanceof Error) text.push(...errorTexts(error));
    };
    return { text, warn: keep, error: keep, info: keep };
  }

  it('a refused, an accepted and a throwing authenticate: the token is in no log line, error, cause or connections() listing of either side', async () => {
    const TOKEN = 'S3CR3T-5c1f0e2a-never-print-me';
    const WRONG = 'WR0NG-77aa-never-print-me-either';
    const serverLog = capture();
    const clientLog = capture();
    const texts: string[] = [];
    const careless: Authenticate = (hello) => {
      // A careless hook that quotes the credentials in what it throws.
      throw new Error(`unknown token ${hello.credentials}`);
    };
    const good = await server({ logger: serverLog, authenticate: sharedSecret(TOKEN, { user: 'svc' }) });
    const bad = await server({ logger: serverLog, authenticate: careless });
    for (const s of [good, bad]) {
      s.server.on('connect', (info) => texts.push(safeJson(info)));
      s.server.on('disconnect', (info) => texts.push(safeJson(info)));
    }
    const accepted = defer(newClient(good.address, { logger: clientLog, credentials: TOKEN }), (x) => x.close());
    const refused = defer(newClient(good.address, { logger: clientLog, credentials: WRONG, cluster: 'failfast' }), (x) => x.close());
    const thrown = defer(newClient(bad.address, { logger: clientLog, credentials: async () => TOKEN, cluster: 'failfast' }), (x) => x.close());
    expect(await accepted.refer(Echo).echo(1)).toBe(1);
    texts.push(safeJson(good.server.connections()), safeJson(accepted.connections()));
    for (const c of [refused, thrown]) {
      const err = await expectFailure(c.refer(Echo).echo(2));
      expect(err.code).toBe('UNAUTHENTICATED');
      texts.push(...errorTexts(err), safeJson(c.connections()));
    }
    // A credentials function whose failure is the client's own: its error is the cause, as given; Heartline's message adds nothing of it.
    const invalid = (() => {
      try {
        newClient(good.address, { credentials: 'x'.repeat(9000) + TOKEN });
      } catch (err) {
        return err as HeartlineError;
      }
      return undefined;
    })();
    expect(invalid?.code).toBe('INVALID_CONFIG');
    texts.push(...errorTexts(invalid!));
    await waitFor(() => good.server.connectionCount === 1 && bad.server.connectionCount === 0);
    texts.push(safeJson(good.server.connections()), ...serverLog.text, ...clientLog.text);
    expect(serverLog.text.join('\n')).toContain('refused'); // the refusals were logged...
    const all = texts.join('\n');
    expect(all).not.toContain(TOKEN); // ...without the token
    expect(all).not.toContain(WRONG);
    expect(all).not.toContain('svc'); // nor the principal
  });
});

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value, (_k, v: unknown) => (v instanceof Error ? errorTexts(v).join(' | ') : v)) ?? '';
  } catch {
    return String(value);
  }
}

/** Message, stack and every cause's, as text. */
function errorTexts(err: unknown): string[] {
  const out: string[] = [];
  for (let e = err, depth = 0; e !== undefined && e !== null && depth < 10; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof Error) out.push(e.message, e.stack ?? '', safeJsonShallow(e));
    else out.push(String(e));
  }
  return out;
}

function safeJsonShallow(e: Error): string {
  try {
    return JSON.stringify({ ...e });
  } catch {
    return '';
  }
}
