// A pino instance passed as `logger` type-checks and works: its JSON lines carry
// the connection (peer, connectionId), the call (service, method) and the error
// (err: code, message), through pino's own child(). Attachment values stay out.
import { createServer, connect, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { callLogger, Client, Server } from '../../src/index.js';
import { Echo, EchoImpl } from '../helpers/contract.js';
import { expectCode, useCleanup, waitFor } from '../helpers/server.js';

/** pino writing JSON lines into memory. */
function memoryPino(level: 'debug' | 'warn' = 'warn') {
  const lines: Array<Record<string, any>> = [];
  const raw: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line === '') continue;
        raw.push(line);
        lines.push(JSON.parse(line) as Record<string, any>);
      }
      done();
    },
  });
  return { logger: pino({ level }, stream), lines, raw };
}

const WARN = 40;
const ERROR = 50;

describe('logs through pino', () => {
  const defer = useCleanup();

  async function provider(level?: 'debug' | 'warn') {
    const log = memoryPino(level);
    const server = defer(new Server({ host: '127.0.0.1', port: 0, logger: log.logger, closeGracePeriod: 100 }), (s) => s.close());
    server.register(new EchoImpl());
    const { port } = await server.listen();
    return { ...log, server, address: `127.0.0.1:${port}` };
  }

  it('a handler failure: level error, service, method, peer, connectionId, err with code and message', async () => {
    const p = await provider();
    const client = defer(new Client({ providers: [p.address], logger: pino({ level: 'silent' }) }), (c) => c.close());
    await expectCode(client.refer(Echo).fail('kaput'), 'HANDLER_ERROR');
    await waitFor(() => p.lines.length > 0, 1000, 'the log line');
    const [conn] = p.server.connections();
    expect(p.lines).toEqual([
      expect.objectContaining({
        level: ERROR,
        msg: 'handler test.Echo#fail failed: kaput',
        peer: conn!.peer,
        connectionId: conn!.id,
        service: 'test.Echo',
        method: 'fail',
        code: 'HANDLER_ERROR',
        err: expect.objectContaining({ code: 'HANDLER_ERROR', message: 'kaput' }),
      }),
    ]);
    // the handler's own error, by its stack
    expect(p.lines[0]!.err.stack).toMatch(/^TestFailure: kaput\n/);
  });

  it('a misbehaving consumer: level warn, its peer and connection id, err PROTOCOL_ERROR', async () => {
    const p = await provider();
    const socket: Socket = defer(connect(Number(p.address.split(':')[1]), '127.0.0.1'), (s) => s.destroy());
    await new Promise((resolve) => socket.once('connect', resolve));
    const localPort = socket.localPort;
    socket.write(Buffer.alloc(64, 0x41));
    await waitFor(() => p.lines.length > 0, 1000, 'the log line');
    expect(p.lines[0]).toMatchObject({
      level: WARN,
      peer: `127.0.0.1:${localPort}`,
      connectionId: expect.any(Number),
      err: { code: 'PROTOCOL_ERROR' },
    });
  });

  it('a misbehaving provider: the consumer logs its address and connection id', async () => {
    const sockets = new Set<Socket>();
    const fake = createServer((s) => {
      sockets.add(s);
      s.on('error', () => undefined);
      s.end(Buffer.alloc(64, 0x42));
    });
    defer(fake, (f) => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => f.close(resolve));
    });
    await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
    const address = `127.0.0.1:${(fake.address() as { port: number }).port}`;
    const log = memoryPino();
    const client = defer(new Client({ providers: [address], logger: log.logger, timeout: 1000, reconnect: { initialDelay: 60_000, maxDelay: 60_000 } }), (c) => c.close());
    await client.refer(Echo).echo(1).catch(() => undefined);
    await waitFor(() => log.lines.some((l) => l.err?.code === 'PROTOCOL_ERROR'), 1000, 'the log line');
    expect(log.lines.find((l) => l.err?.code === 'PROTOCOL_ERROR')).toMatchObject({ level: WARN, peer: address, connectionId: expect.any(Number) });
  });

  it('callLogger through pino: successes at info with the connection; attachment names, never their values', async () => {
    const p = await provider('debug');
    p.server.use(callLogger({ logger: p.logger }));
    const client = defer(new Client({ providers: [p.address], logger: pino({ level: 'silent' }) }), (c) => c.close());
    const echo = client.refer(Echo, { attachments: { authorization: 'Bearer s3cr3t-token' } });
    expect(await echo.echo(1)).toBe(1);
    await expectCode(echo.fail('no'), 'HANDLER_ERROR');
    await waitFor(() => p.lines.length >= 3, 1000, 'three lines');
    const id = p.server.connections()[0]!.id;
    expect(p.lines.find((l) => l.msg.startsWith('served test.Echo#echo'))).toMatchObject({ level: 30, connectionId: id, service: 'test.Echo', method: 'echo', attachments: ['authorization'] });
    expect(p.lines.find((l) => l.msg.startsWith('served test.Echo#fail'))).toMatchObject({ level: WARN, connectionId: id, attachments: ['authorization'], err: { code: 'HANDLER_ERROR' } });
    expect(p.raw.join('\n')).not.toContain('s3cr3t');
  });
});
