// Handler failures are logged once on the provider (issue #7 C10). The log
// entry IS the outcome here: nothing else on the provider shows that a handler
// failed, and a one-way caller never hears of it.
import { describe, expect, it } from 'vitest';
import { HeartlineError, Provider, Service, type Logger } from '../../src/index.js';
import { Echo } from '../helpers/contract.js';
import { expectCode, newClient, startServer, useCleanup, waitFor } from '../helpers/server.js';

interface Entry {
  level: 'warn' | 'error';
  message: string;
  meta: Record<string, unknown> | undefined;
}

function capturingLogger(): Logger & { entries: Entry[] } {
  const entries: Entry[] = [];
  return {
    entries,
    warn: (meta, message) => entries.push({ level: 'warn', message, meta }),
    error: (meta, message) => entries.push({ level: 'error', message, meta }),
  };
}

class QuotaError extends Error {
  override name = 'QuotaError';
}

@Service('test.Jobs', { methods: { fire: { oneWay: true }, fireAsync: { oneWay: true }, refuse: {} } })
abstract class Jobs {
  abstract fire(tag: string): Promise<void>;
  abstract fireAsync(tag: string): Promise<void>;
  abstract refuse(): Promise<never>;
}

@Provider(Jobs)
class JobsImpl implements Jobs {
  ran: string[] = [];
  fire(tag: string): Promise<void> {
    this.ran.push(tag);
    throw new QuotaError(`quota exceeded for ${tag}`);
  }

  async fireAsync(tag: string): Promise<void> {
    this.ran.push(tag);
    throw new QuotaError(`async quota exceeded for ${tag}`);
  }

  async refuse(): Promise<never> {
    throw new HeartlineError('BAD_REQUEST', 'not like this');
  }
}

describe('handler failures on the provider log', () => {
  const defer = useCleanup();

  async function setup() {
    const logger = capturingLogger();
    const srv = defer(await startServer({ logger }), (s) => s.close());
    const jobs = new JobsImpl();
    srv.server.register(jobs);
    const client = defer(newClient(srv.address), (c) => c.close());
    return { logger, srv, jobs, client };
  }

  const handlerErrors = (logger: { entries: Entry[] }): Entry[] => logger.entries.filter((e) => e.message.startsWith('handler '));

  it("a two-way handler that throws is logged once with service#method, the error (with the handler error's stack), the peer, the connection id and the code", async () => {
    const { logger, client, srv } = await setup();
    await expectCode(client.refer(Echo).fail('kaput'), 'HANDLER_ERROR');
    await waitFor(() => handlerErrors(logger).length > 0, 1000, 'the log entry');
    const entries = handlerErrors(logger);
    expect(entries).toHaveLength(1);
    const [entry] = entries;
    expect(entry!.level).toBe('error');
    expect(entry!.message).toBe('handler test.Echo#fail failed: kaput');
    expect(entry!.meta).toMatchObject({ service: 'test.Echo', method: 'fail', code: 'HANDLER_ERROR' });
    expect(entry!.meta!.peer).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(entry!.meta!.connectionId).toBe(srv.server.connections()[0]!.id);
    const err = entry!.meta!.err as HeartlineError;
    expect(err).toBeInstanceOf(HeartlineError);
    expect([err.code, err.message]).toEqual(['HANDLER_ERROR', 'kaput']);
    expect(err.stack).toMatch(/^TestFailure: kaput\n/);
  });

  it('a rejected promise is logged with the code sent back', async () => {
    const { logger, client } = await setup();
    await expectCode(client.refer(Jobs).refuse(), 'BAD_REQUEST');
    await waitFor(() => handlerErrors(logger).length > 0, 1000, 'the log entry');
    expect(handlerErrors(logger).map((e) => [e.message, e.meta!.code])).toEqual([['handler test.Jobs#refuse failed: not like this', 'BAD_REQUEST']]);
  });

  it('one-way handlers that throw or reject are logged once each, though their caller hears nothing', async () => {
    const { logger, client, jobs } = await setup();
    const remote = client.refer(Jobs);
    await remote.fire('a');
    await remote.fireAsync('b');
    await waitFor(() => handlerErrors(logger).length === 2, 1000, 'two log entries');
    expect(jobs.ran).toEqual(['a', 'b']);
    expect(handlerErrors(logger).map((e) => e.message)).toEqual([
      'handler test.Jobs#fire failed: quota exceeded for a',
      'handler test.Jobs#fireAsync failed: async quota exceeded for b',
    ]);
    expect((handlerErrors(logger)[0]!.meta!.err as HeartlineError).stack).toMatch(/^QuotaError: quota exceeded for a\n/);
  });

  it('successful calls and refusals before user code log nothing of the kind', async () => {
    const { logger, client } = await setup();
    const echo = client.refer(Echo);
    expect(await echo.echo(1)).toBe(1);
    await expectCode(client.refer(Echo, { version: '9' }).echo(1), 'SERVICE_NOT_FOUND');
    expect(handlerErrors(logger)).toEqual([]);
  });

  it('a logger that throws does not break the connection', async () => {
    const srv = defer(
      await startServer({ logger: { warn() {}, error() { throw new Error('logger down'); } } }),
      (s) => s.close(),
    );
    const client = defer(newClient(srv.address), (c) => c.close());
    const echo = client.refer(Echo);
    await expectCode(echo.fail('x'), 'HANDLER_ERROR');
    expect(await echo.echo('still here')).toBe('still here');
    expect(srv.server.connectionsAccepted).toBe(1);
  });
});
