// heartline.Reflection (protocol.md 10), called over real sockets through an ordinary stub.
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  Health,
  Provider,
  Reflection,
  Server,
  Service,
  silentLogger,
  type ConnectionReport,
  type Remote,
  type ServiceDescription,
  type ServiceSummary,
  type ServingStatus,
} from '../../src/index.js';
import type { ServerConnectionInfo } from '../../src/provider/server.js';
import { connectionReport } from '../../src/provider/connection-report.js';
import { testCerts } from '../helpers/certs.js';
import { CalcImpl, Echo, EchoImpl } from '../helpers/contract.js';
import { expectCode, expectThrowCode, newClient, startServer, useCleanup } from '../helpers/server.js';

@Service('test.Options', {
  version: '3',
  group: 'blue',
  methods: {
    plain: {},
    fire: { oneWay: true },
    subscribe: { callbacks: [0, 2], idempotent: true, timeout: 250, retries: 1, actives: 4 },
  },
})
abstract class Options {
  abstract plain(): Promise<void>;
  abstract fire(n: number): Promise<void>;
  abstract subscribe(a: (n: number) => void, b: number, c: (s: string) => void): Promise<void>;
}

@Provider(Options)
class OptionsImpl implements Options {
  async plain(): Promise<void> {}
  async fire(): Promise<void> {}
  async subscribe(): Promise<void> {}
}

const BUILTINS: ServiceSummary[] = [
  { name: 'heartline.Reflection', version: '', group: '', methods: ['listServices', 'describeService', 'listConnections'] },
  { name: 'heartline.Health', version: '', group: '', methods: ['check', 'watch'] },
];

describe('heartline.Reflection', () => {
  const defer = useCleanup();

  async function setup(options: Parameters<typeof startServer>[0] = {}) {
    const srv = defer(await startServer(options), (s) => s.close());
    const client = defer(newClient(srv.address, { cluster: 'failfast' }), (c) => c.close());
    return { srv, client, reflection: client.refer(Reflection) };
  }

  it('the stub is typed from the contract', () => {
    expectTypeOf<Remote<Reflection>['listServices']>().toEqualTypeOf<() => Promise<ServiceSummary[]>>();
    expectTypeOf<Remote<Reflection>['describeService']>().toEqualTypeOf<(name: string, version?: string, group?: string) => Promise<ServiceDescription>>();
    expectTypeOf<Remote<Reflection>['listConnections']>().toEqualTypeOf<() => Promise<ConnectionReport[]>>();
    expectTypeOf<Remote<Health>['check']>().toEqualTypeOf<(service?: string) => Promise<ServingStatus>>();
  });

  it('listServices: every registered service, the built-ins first, methods in declaration order', async () => {
    const { srv, reflection } = await setup();
    srv.server.register(new OptionsImpl());
    expect(await reflection.listServices()).toEqual([
      ...BUILTINS,
      {
        name: 'test.Echo',
        version: '1.0.0',
        group: '',
        methods: ['echo', 'delayedEcho', 'fail', 'failAsync', 'sleep', 'notify', 'bounded', 'patient', 'blob', 'size', 'symbol'],
      },
      { name: 'test.Calc', version: '1.0.0', group: '', methods: ['add'] },
      { name: 'test.Greeter', version: '2.0.0', group: 'g1', methods: ['greet'] },
      { name: 'test.Options', version: '3', group: 'blue', methods: ['plain', 'fire', 'subscribe'] },
    ]);
  });

  it('listServices reports the registered version and group (register options), each registration once', async () => {
    const { srv, reflection } = await setup({ register: false });
    srv.server.register(new CalcImpl()).register(new CalcImpl(), { version: '2.0.0', group: 'canary' });
    const calcs = (await reflection.listServices()).filter((s) => s.name === 'test.Calc');
    expect(calcs.map((s) => [s.version, s.group])).toEqual([
      ['1.0.0', ''],
      ['2.0.0', 'canary'],
    ]);
  });

  it('describeService: the contract options of every method', async () => {
    const { srv, reflection } = await setup({ register: false });
    srv.server.register(new OptionsImpl());
    expect(await reflection.describeService('test.Options', '3', 'blue')).toEqual({
      name: 'test.Options',
      version: '3',
      group: 'blue',
      methods: [
        { name: 'plain', oneWay: false, idempotent: false, callbacks: [] },
        { name: 'fire', oneWay: true, idempotent: false, callbacks: [] },
        { name: 'subscribe', oneWay: false, idempotent: true, callbacks: [0, 2], timeout: 250, retries: 1, actives: 4 },
      ],
    });
    // version and group default to ''.
    const health = await reflection.describeService('heartline.Health');
    expect(health.methods).toEqual([
      { name: 'check', oneWay: false, idempotent: true, callbacks: [] },
      { name: 'watch', oneWay: false, idempotent: false, callbacks: [1] },
    ]);
  });

  it('describeService of a service not served, or of another version or group: SERVICE_NOT_FOUND; bad arguments: BAD_REQUEST', async () => {
    const { reflection } = await setup();
    const err = await expectCode(reflection.describeService('no.Such'), 'SERVICE_NOT_FOUND');
    expect(err.message).toContain('no.Such');
    await expectCode(reflection.describeService('test.Echo'), 'SERVICE_NOT_FOUND'); // served as 1.0.0 only
    await expectCode(reflection.describeService('test.Echo', '1.0.0', 'other'), 'SERVICE_NOT_FOUND');
    expect((await reflection.describeService('test.Echo', '1.0.0')).methods.find((m) => m.name === 'bounded')).toEqual({
      name: 'bounded',
      oneWay: false,
      idempotent: false,
      callbacks: [],
      timeout: 80,
    });
    await expectCode(reflection.describeService(42 as unknown as string), 'BAD_REQUEST');
    await expectCode(reflection.describeService('test.Echo', 1 as unknown as string), 'BAD_REQUEST');
  });

  it('listConnections: the live connections, with counters', async () => {
    const { srv, client, reflection } = await setup();
    const other = defer(newClient(srv.address), (c) => c.close());
    await other.refer(Health).check();
    const reports = await reflection.listConnections();
    expect(reports).toHaveLength(2);
    const infos = srv.server.connections();
    for (const report of reports) {
      const info = infos.find((i) => i.id === report.id)!;
      expect(report).toMatchObject({ peer: info.peer, state: 'ready' });
      expect(report.age).toBeGreaterThanOrEqual(0);
      expect(Number.isInteger(report.age)).toBe(true);
      for (const n of [report.bytesIn, report.bytesOut, report.callsDone]) expect(n).toBeGreaterThanOrEqual(0);
      expect(report).not.toHaveProperty('tls');
    }
    // The listConnections call itself is executing on the asking connection.
    expect(reports.map((r) => r.inFlight).sort()).toEqual([0, 1]);
    // The other connection made one call: counted, with its bytes (handshake, request, response).
    const otherReport = reports.find((r) => r.inFlight === 0)!;
    expect(otherReport.callsDone).toBe(1);
    expect(otherReport.bytesIn).toBe(other.connections()[0]!.bytesOut);
    expect(otherReport.bytesOut).toBe(other.connections()[0]!.bytesIn);
    expect(otherReport).not.toHaveProperty('lastError');
    await expectCode(other.refer(Echo).fail('nope'), 'HANDLER_ERROR');
    const after = (await reflection.listConnections()).find((r) => r.id === otherReport.id)!;
    expect(after.callsDone).toBe(2);
    expect(after.lastError).toEqual({ code: 'HANDLER_ERROR' }); // not the message: it may quote another consumer's data
    await client.close();
  });

  it('over mutual TLS: the TLS version and authorized, never the certificate subject', async () => {
    const certs = testCerts();
    const srv = defer(await startServer({ tls: { key: certs.server.key, cert: certs.server.cert, ca: certs.ca, requestCert: true } }), (s) => s.close());
    const client = defer(newClient(srv.address, { tls: { ca: certs.ca, key: certs.client.key, cert: certs.client.cert } }), (c) => c.close());
    const [report] = await client.refer(Reflection).listConnections();
    expect(srv.server.connections()[0]!.tls).toHaveProperty('subject'); // the provider knows it...
    expect(report!.tls).toEqual({ version: 'TLSv1.3', authorized: true }); // ...and does not tell
    expect(JSON.stringify(report)).not.toContain('test-client');
  });

  it('builtinServices: false serves neither (SERVICE_NOT_FOUND) and frees their names', async () => {
    const { srv, client, reflection } = await setup({ builtinServices: false });
    await expectCode(reflection.listServices(), 'SERVICE_NOT_FOUND');
    await expectCode(client.refer(Health).check(), 'SERVICE_NOT_FOUND');
    srv.server.register(Health, { check: async () => 'SERVING' as const, watch: async () => 'UNKNOWN' as const });
    expect(await client.refer(Health).check('anything')).toBe('SERVING');
  });

  it('registering a service under a built-in name fails with INVALID_CONFIG, either form', () => {
    const server = new Server({ logger: silentLogger });
    const impl = { listServices: async () => [], describeService: async () => ({}) as ServiceDescription, listConnections: async () => [] };
    const err = expectThrowCode(() => server.register(Reflection, impl), 'INVALID_CONFIG');
    expect(err.message).toContain('builtinServices: false');
    expectThrowCode(() => server.register(Reflection, impl, { version: '2' }), 'INVALID_CONFIG');
    @Provider(Health)
    class MyHealth {
      async check(): Promise<ServingStatus> {
        return 'SERVING';
      }
      async watch(): Promise<ServingStatus> {
        return 'SERVING';
      }
    }
    expectThrowCode(() => server.register(new MyHealth()), 'INVALID_CONFIG');
    server.register(new EchoImpl()); // the server is still usable
  });

  it('server-wide interceptors guard the built-ins too', async () => {
    const { srv, reflection } = await setup();
    const seen: string[] = [];
    srv.server.use(async (call, next) => {
      seen.push(`${call.service}#${call.method}`);
      if (call.attachments.token !== 'secret') throw Object.assign(new Error('no'), { name: 'Forbidden' });
      return next();
    });
    await expectCode(reflection.listServices(), 'HANDLER_ERROR');
    expect(seen).toEqual(['heartline.Reflection#listServices']);
  });
});

describe('connectionReport', () => {
  const base: ServerConnectionInfo = { id: 3, peer: '127.0.0.1:5000', state: 'ready', age: 12.6, lastRead: 1, lastWrite: 2, heartbeat: 15000, inFlight: 2, bytesIn: 0, bytesOut: 0, callsDone: 0, tls: undefined, authenticated: false };

  it('copies named fields only; no lastError when the connection has none', () => {
    expect(connectionReport(base)).toEqual({ id: 3, peer: '127.0.0.1:5000', state: 'ready', age: 13, inFlight: 2, bytesIn: 0, bytesOut: 0, callsDone: 0 });
  });

  it('takes the live counters, and of the last error its code and message only', () => {
    const info = { ...base, bytesIn: 100, bytesOut: 200, callsDone: 7, lastError: Object.assign(new Error('boom'), { code: 'HANDLER_ERROR', details: { password: 'x' } }), principal: { user: 'ann' } };
    const report = connectionReport(info);
    expect(report).toEqual({
      id: 3,
      peer: '127.0.0.1:5000',
      state: 'ready',
      age: 13,
      inFlight: 2,
      bytesIn: 100,
      bytesOut: 200,
      callsDone: 7,
      lastError: { code: 'HANDLER_ERROR' },
    });
  });

  it('over TLS: version and authorized, never the subject', () => {
    const tls = { protocol: 'TLSv1.3', cipher: 'TLS_AES_128_GCM_SHA256', authorized: true, authorizationError: undefined, subject: { CN: 'ann' }, issuer: { CN: 'ca' }, fingerprint256: 'AB:CD', validTo: 'never' };
    expect(connectionReport({ ...base, tls } as unknown as ServerConnectionInfo).tls).toEqual({ version: 'TLSv1.3', authorized: true });
  });
});
