// Review of #11 (logs): a peer's strings reach the default console logger in
// the *message* of a line (an error message a provider answers with, logged by
// the consumer's callLogger). The line must stay one short, printable line:
// no terminal control sequences (which can rewrite earlier lines on a
// terminal), and no megabytes from a hostile provider.
import { describe, expect, it } from 'vitest';
import { callLogger, createConsoleLogger } from '../../src/index.js';
import { Echo } from '../helpers/contract.js';
import { formatLine } from '../../src/transport/logger.js';
import { expectCode, newClient, startServer, useCleanup, waitFor } from '../helpers/server.js';

// C0 controls (but none expected: the line is one line) and DEL / C1 controls (\x85 is NEL, a line break for some readers).
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

describe('default console logger against peer-controlled strings', () => {
  const defer = useCleanup();

  it('formatLine: the message is cut and its control characters escaped, like a field value', () => {
    const hostile = '\u001b[1A\u001b[2K[heartline] error forged\u0085more\u000bvt' + 'x'.repeat(100_000);
    const line = formatLine('warn', { peerSays: 'x\u009b2J\u0085y', service: 'a' }, `called test.Echo#fail: HANDLER_ERROR in 1 ms: ${hostile}`);
    expect(CONTROL.exec(line)?.[0]).toBeUndefined();
    expect(line.length).toBeLessThan(2_000);
    expect(line.startsWith('[heartline] warn called test.Echo#fail: HANDLER_ERROR in 1 ms: ')).toBe(true);
    expect(line.endsWith(' service=a')).toBe(true); // the fields still follow
  });

  it("a provider's huge error message with escape sequences, logged by the consumer's callLogger: one short printable line", async () => {
    const srv = defer(await startServer(), (s) => s.close());
    const lines: string[] = [];
    const logger = createConsoleLogger({ write: (l) => lines.push(l) });
    const client = defer(newClient(srv.address, { cluster: 'failfast' }), (c) => c.close());
    client.use(callLogger({ logger }));
    const echo = client.refer(Echo);
    const hostile = '\u001b[1A\u001b[2K\r[heartline] error forged line\u0085' + 'y'.repeat(1_000_000);
    await expectCode(echo.fail(hostile), 'HANDLER_ERROR');
    expect(lines.length).toBe(1);
    expect(CONTROL.exec(lines[0]!)?.[0]).toBeUndefined();
    expect(lines[0]!.length).toBeLessThan(4_000);
  });
});

describe('a user logger that throws', () => {
  const defer = useCleanup();
  const throwing = { warn: () => { throw new Error('logger down'); }, error: () => { throw new Error('logger down'); } };

  it("cluster 'failsafe': the call still resolves undefined (the logger's throw does not become the call's outcome)", async () => {
    const srv = defer(await startServer(), (s) => s.close());
    const client = defer(newClient(srv.address, { cluster: 'failsafe', logger: throwing }), (c) => c.close());
    await expect(client.refer(Echo).fail('boom')).resolves.toBeUndefined();
  });

  it('a flood past maxPendingHandshakes (the shed is logged): the provider stays up and serves', async () => {
    const { connect } = await import('node:net');
    const errors: unknown[] = [];
    const onUncaught = (err: unknown): void => void errors.push(err);
    process.on('uncaughtException', onUncaught);
    defer(onUncaught, (fn) => process.off('uncaughtException', fn));
    const srv = defer(await startServer({ logger: throwing, maxPendingHandshakes: 1 }), (s) => s.close());
    const sockets = [0, 1, 2].map(() => defer(connect(srv.port, '127.0.0.1').on('error', () => {}), (s) => s.destroy()));
    await Promise.all(sockets.map((s) => new Promise((resolve) => s.once('close', resolve).once('connect', () => setTimeout(resolve, 50)))));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(errors).toEqual([]);
    for (const s of sockets) s.destroy();
    await waitFor(() => srv.server.connections().length === 0, 2000, 'the raw sockets gone');
    const client = defer(newClient(srv.address, { cluster: 'failfast' }), (c) => c.close());
    expect(await client.refer(Echo).echo(1)).toBe(1);
  });
});
