// The `heartline` CLI, run as a child process against a live provider on
// 127.0.0.1 port 0: its stdout, stderr and exit codes. Each run costs a
// node + tsx start (about a second on a loaded machine), so each test spawns
// as few as it needs.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdRegistry, Server, sharedSecret, silentLogger } from '../../src/index.js';
import { makeCerts } from '../helpers/certs.js';
import { encodeBody } from '../../src/protocol/codec.js';
import { ERROR_CODES } from '../../src/errors/codes.js';
import { errorMap, FakeProvider, responseFrame } from '../helpers/fake-provider.js';
import { etcdAvailable, startEtcd, type EtcdServer } from '../helpers/etcd.js';
import { freePort, useCleanup, waitFor } from '../helpers/server.js';
import { heartline, heartlineSlowReader, heartlineWith, ProbeImpl, type CliResult } from './cli-helpers.js';

/** No failure prints a stack trace. */
function expectNoStack(r: CliResult): void {
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(r.stdout).not.toMatch(/\n\s+at /);
}

/** A failure: exit `exit`, one line `error CODE: ...` on stderr, nothing on stdout. */
function expectFailure(r: CliResult, exit: number, code: string): string {
  expect(r.code, r.stderr).toBe(exit);
  expect(r.stdout).toBe('');
  expect(r.stderr).toMatch(new RegExp(`^error ${code}: .+\\n$`));
  expectNoStack(r);
  return r.stderr;
}

// Each test runs a few CLIs at once; on a loaded 2-core machine one start takes seconds.
describe('heartline CLI', { timeout: 60_000 }, () => {
  const defer = useCleanup();
  let server: Server;
  let address: string;
  let probe: ProbeImpl;

  beforeAll(async () => {
    // heartline.Reflection and heartline.Health are built in (builtinServices, on by default).
    server = new Server({ host: '127.0.0.1', port: 0, logger: silentLogger, closeGracePeriod: 100 });
    probe = new ProbeImpl();
    server.register(probe);
    address = `127.0.0.1:${(await server.listen()).port}`;
  });
  afterAll(() => server?.close());

  it('ls: a table of services, versions, groups and methods; --json parses', async () => {
    const [human, json] = await Promise.all([heartline('ls', address), heartline('--json', 'ls', address)]);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stderr).toBe('');
    const lines = human.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^SERVICE\s+VERSION\s+GROUP\s+METHODS$/);
    expect(lines).toContainEqual(expect.stringMatching(/^cli\.Probe\s+1\.0\.0\s+-\s+add, echo, attachments, fail, sleep, notify, bounded, subscribe$/));
    expect(lines).toContainEqual(expect.stringMatching(/^heartline\.Health\s+-\s+-\s+check, watch$/));
    // Aligned: every row starts its VERSION column at the same place.
    const at = lines[0]!.indexOf('VERSION');
    for (const line of lines.slice(1)) expect(line[at - 1]).toBe(' ');

    expect(json.code, json.stderr).toBe(0);
    const doc = JSON.parse(json.stdout) as Array<{ name: string; version: string; group: string; methods: string[] }>;
    expect(doc).toContainEqual({ name: 'cli.Probe', version: '1.0.0', group: '', methods: ['add', 'echo', 'attachments', 'fail', 'sleep', 'notify', 'bounded', 'subscribe'] });
  });

  it('describe: the methods and their options; the version found without --version', async () => {
    const r = await heartline('describe', address, 'cli.Probe');
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('cli.Probe:1.0.0  (version 1.0.0, group -)');
    expect(lines[1]).toMatch(/^METHOD\s+TIMEOUT\s+ONE-WAY\s+IDEMPOTENT\s+RETRIES\s+ACTIVES\s+CALLBACKS$/);
    expect(lines).toContainEqual(expect.stringMatching(/^sleep\s+-\s+no\s+yes\s+-\s+-\s+-$/));
    expect(lines).toContainEqual(expect.stringMatching(/^notify\s+-\s+yes\s+no\s+-\s+-\s+-$/));
    expect(lines).toContainEqual(expect.stringMatching(/^bounded\s+150 ms\s+no\s+no\s+-\s+-\s+-$/));
    expect(lines).toContainEqual(expect.stringMatching(/^subscribe\s+-\s+no\s+no\s+-\s+-\s+arg 0$/));
  });

  it('call: the result as JSON; one JSON value is the one argument; --json wraps it in { result }; --attachment reaches the handler; one-way', async () => {
    const [add, echo, json, attached, oneWay] = await Promise.all([
      heartline('call', address, 'cli.Probe.add', '[2, 40]'),
      heartline('call', address, 'cli.Probe#echo', '{"a":[1,"x"]}'),
      heartline('call', address, 'cli.Probe.add', '[1, 2]', '--json', '--version', '1.0.0'),
      heartline('call', address, 'cli.Probe.attachments', '--attachment', 'tenant=acme', '--attachment', 'trace=a=b'),
      heartline('call', address, 'cli.Probe.notify', '"fire and forget"'),
    ]);
    // A one-way method is called one-way (its contract option, from describeService): null once written.
    expect([oneWay.code, oneWay.stdout, oneWay.stderr]).toEqual([0, 'null\n', '']);
    await waitFor(() => probe.notified.length > 0, 2000, 'the one-way call');
    expect(probe.notified).toEqual(['fire and forget']);
    expect(attached.code, attached.stderr).toBe(0);
    expect(JSON.parse(attached.stdout)).toEqual({ tenant: 'acme', trace: 'a=b' });
    expect([add.code, add.stderr, add.stdout]).toEqual([0, '', '42\n']);
    expect(echo.code, echo.stderr).toBe(0);
    expect(JSON.parse(echo.stdout)).toEqual({ a: [1, 'x'] });
    expect(echo.stdout).toContain('\n  "a": [\n'); // indented for people
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({ result: 3 });
  });

  it('a method that throws: its code and message (and the remote error name), exit 1; --json: { error } on stdout', async () => {
    const [human, json] = await Promise.all([
      heartline('call', address, 'cli.Probe.fail', '"no such order"'),
      heartline('--json', 'call', address, 'cli.Probe.fail', '["no such order"]'),
    ]);
    expect(expectFailure(human, 1, 'HANDLER_ERROR')).toBe('error HANDLER_ERROR: no such order (RangeError)\n');
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toEqual({ error: { code: 'HANDLER_ERROR', message: 'no such order', remoteName: 'RangeError' } });
    expectNoStack(json);
  });

  it("--timeout, or else the contract's timeout: a call that takes longer fails with TIMEOUT, exit 1, promptly", async () => {
    const [flag, contract, flagWins] = await Promise.all([
      heartline('call', address, 'cli.Probe.sleep', '60000', '--timeout', '300'),
      heartline('call', address, 'cli.Probe.bounded', '60000'),
      heartline('call', address, 'cli.Probe.bounded', '400', '--timeout', '2500'),
    ]);
    expect(expectFailure(flag, 1, 'TIMEOUT')).toContain('300 ms');
    expect(flag.ms).toBeLessThan(30_000); // far from the handler's 60 s (the rest is node and tsx starting, slow on a loaded machine)
    expect(expectFailure(contract, 1, 'TIMEOUT')).toContain('150 ms');
    expect([flagWins.code, flagWins.stdout, flagWins.stderr]).toEqual([0, '400\n', '']);
  });

  it('bad JSON arguments, a bad target, a missing argument: a clear usage error, exit 2, no stack', async () => {
    const [badJson, badTarget, missing, badTimeout, callbacks, none] = await Promise.all([
      heartline('call', address, 'cli.Probe.add', '[1, 2'),
      heartline('call', address, 'add', '[]'),
      heartline('call', address),
      heartline('--timeout', 'soon', 'ls', address),
      heartline('call', address, 'cli.Probe.subscribe', '[null]'),
      heartline(),
    ]);
    expect(none.code).toBe(2); // no command: the help, on stderr
    expect(none.stderr).toMatch(/^Usage: heartline /);
    expect(expectFailure(callbacks, 2, 'USAGE')).toContain('cli.Probe:1.0.0#subscribe takes callbacks (arguments 0)');
    expect(expectFailure(badJson, 2, 'USAGE')).toMatch(/the arguments are not JSON .*JSON array of arguments/);
    expect(expectFailure(badTarget, 2, 'USAGE')).toContain('expected <service>.<method>');
    expect(expectFailure(missing, 2, 'USAGE')).toContain("missing required argument 'service.method'");
    expect(expectFailure(badTimeout, 2, 'USAGE')).toContain('--timeout must be a whole number of ms');
  });

  it('an unknown service or method: SERVICE_NOT_FOUND / METHOD_NOT_FOUND naming what there is, exit 1', async () => {
    const [service, method] = await Promise.all([
      heartline('call', address, 'cli.Nope.add', '[]'),
      heartline('call', address, 'cli.Probe.nope', '[]'),
    ]);
    expect(expectFailure(service, 1, 'SERVICE_NOT_FOUND')).toContain('cli.Probe:1.0.0');
    expect(expectFailure(method, 1, 'METHOD_NOT_FOUND')).toContain('its methods: add, echo');
  });

  it('a provider without the built-in services: ls says so; call works with --version, or without when the version is empty', async () => {
    const bare = defer(new Server({ host: '127.0.0.1', port: 0, logger: silentLogger, closeGracePeriod: 100, builtinServices: false }), (x) => x.close());
    bare.register(new ProbeImpl());
    const at = `127.0.0.1:${(await bare.listen()).port}`;
    const [listed, versioned, unversioned] = await Promise.all([
      heartline('ls', at),
      heartline('call', at, 'cli.Probe.add', '[1, 1]', '--version', '1.0.0'),
      heartline('call', at, 'cli.Probe.add', '[1, 1]'),
    ]);
    expect(expectFailure(listed, 1, 'SERVICE_NOT_FOUND')).toContain('does not serve heartline.Reflection');
    expect([versioned.code, versioned.stdout, versioned.stderr]).toEqual([0, '2\n', '']);
    expectFailure(unversioned, 1, 'SERVICE_NOT_FOUND'); // the provider's answer: cli.Probe has version 1.0.0
  });

  it('a provider without the built-in services: describe, health and connections say so too', async () => {
    const bare = defer(new Server({ host: '127.0.0.1', port: 0, logger: silentLogger, closeGracePeriod: 100, builtinServices: false }), (x) => x.close());
    bare.register(new ProbeImpl());
    const at = `127.0.0.1:${(await bare.listen()).port}`;
    const [described, checked, listed] = await Promise.all([heartline('describe', at, 'cli.Probe'), heartline('health', at), heartline('connections', at)]);
    expect(expectFailure(described, 1, 'SERVICE_NOT_FOUND')).toContain(`${at} does not serve heartline.Reflection`);
    expect(expectFailure(checked, 1, 'SERVICE_NOT_FOUND')).toContain(`${at} does not serve heartline.Health`);
    expect(expectFailure(listed, 1, 'SERVICE_NOT_FOUND')).toContain(`${at} does not serve heartline.Reflection`);
  });

  it('a provider that is down: CONNECT_FAILED with the reason, exit 1, no stack', async () => {
    const port = await freePort();
    const r = await heartline('ls', `127.0.0.1:${port}`);
    expect(expectFailure(r, 1, 'CONNECT_FAILED')).toContain('ECONNREFUSED');
  });

  it('a provider that accepts and never answers (frozen): the command ends after --timeout, exit 1', async () => {
    const frozen = defer(await FakeProvider.start(() => undefined, { onHandshake: () => undefined }), (f) => f.close());
    const r = await heartline('--timeout', '400', 'call', frozen.address, 'cli.Probe.add', '[1, 2]');
    // CONNECT_FAILED (no handshake answer within connectTimeout) or TIMEOUT (the call's budget, left from 400 ms), whichever fires first.
    expect(expectFailure(r, 1, '(CONNECT_FAILED|TIMEOUT)')).toMatch(/(within|after) (39\d|40\d) ms/);
    expect(r.ms).toBeLessThan(30_000); // it would wait forever otherwise
  });

  it('health: SERVING exits 0; UNKNOWN or NOT_SERVING exits 3; --json parses', async () => {
    const [ok, unknown] = await Promise.all([heartline('health', address), heartline('--json', 'health', address, 'cli.Nope')]);
    expect([ok.code, ok.stdout, ok.stderr]).toEqual([0, 'SERVING\n', '']);
    expect(unknown.code, unknown.stderr).toBe(3);
    expect(JSON.parse(unknown.stdout)).toEqual({ service: 'cli.Nope', status: 'UNKNOWN' });
    server.setServingStatus('cli.Probe', 'NOT_SERVING');
    try {
      const down = await heartline('health', address, 'cli.Probe');
      expect([down.code, down.stdout]).toEqual([3, 'cli.Probe: NOT_SERVING\n']);
    } finally {
      server.setServingStatus('cli.Probe', 'SERVING');
    }
  });

  it('ping --count 3: the handshake time, then three round-trip times; --json parses', async () => {
    const [human, json] = await Promise.all([
      heartline('ping', address, '--count', '3', '--interval', '50'),
      heartline('--json', 'ping', address, '--count', '2', '--interval', '0'),
    ]);
    expect(human.code, human.stderr).toBe(0);
    const lines = human.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(new RegExp(`^connected to ${address.replace(/\./g, '\\.')} in [\\d.]+ ms \\(TCP \\+ handshake\\), heartbeat \\d+ ms$`));
    expect(lines.slice(1, 4)).toEqual([expect.stringMatching(/^ping 1: [\d.]+ ms$/), expect.stringMatching(/^ping 2: [\d.]+ ms$/), expect.stringMatching(/^ping 3: [\d.]+ ms$/)]);
    expect(lines[4]).toMatch(/^3 pings: min [\d.]+ ms, avg [\d.]+ ms, max [\d.]+ ms$/);
    expect(json.code, json.stderr).toBe(0);
    const doc = JSON.parse(json.stdout) as { address: string; handshake: number; rtts: number[]; min: number; max: number };
    expect(doc.address).toBe(address);
    expect(doc.rtts).toHaveLength(2);
    expect(doc.handshake).toBeGreaterThan(0);
    expect(doc.min).toBeLessThanOrEqual(doc.max);
  });

  it('ping --interval 0 against a provider that agrees no heartbeat: paced to its default limit (one per 500 ms after the burst), never LIMIT_EXCEEDED', async () => {
    const quiet = defer(await FakeProvider.start(() => undefined, { heartbeat: 0, answerPings: true }), (f) => f.close());
    const r = await heartline('--json', 'ping', quiet.address, '--count', '11', '--interval', '0');
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { rtts: number[]; heartbeat: number })).toMatchObject({ heartbeat: 0, rtts: expect.any(Array) });
    expect((JSON.parse(r.stdout) as { rtts: number[] }).rtts).toHaveLength(11);
  });

  it("connections: the provider's live connections, the CLI's own among them", async () => {
    const r = await heartline('--json', 'connections', address);
    expect(r.code, r.stderr).toBe(0);
    const list = JSON.parse(r.stdout) as Array<{ id: number; peer: string; state: string; inFlight: number; bytesIn: number; callsDone: number }>;
    // The CLI's own connection, as the provider sees it while answering listConnections.
    const own = list.find((c) => c.inFlight === 1);
    expect(own).toMatchObject({ state: 'ready', peer: expect.stringMatching(/^127\.0\.0\.1:\d+$/) });
    expect(own!.bytesIn).toBeGreaterThan(0); // its handshake and this request, at least
  });

  it('TLS: --ca, --cert and --key reach the client (mutual TLS); without --ca the certificate is refused, exit 1', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'heartline-cli-certs-'));
    defer(dir, (d) => rmSync(d, { recursive: true, force: true }));
    const certs = makeCerts(dir);
    const secure = defer(
      new Server({ host: '127.0.0.1', port: 0, logger: silentLogger, closeGracePeriod: 100, tls: { key: certs.server.key, cert: certs.server.cert, ca: certs.ca, requestCert: true } }),
      (x) => x.close(),
    );
    secure.register(new ProbeImpl());
    const at = `127.0.0.1:${(await secure.listen()).port}`;
    const [ok, untrusted] = await Promise.all([
      heartline('call', at, 'cli.Probe#add', '[40, 2]', '--version', '1.0.0', '--ca', join(dir, 'ca.pem'), '--cert', join(dir, 'client.pem'), '--key', join(dir, 'client.key')),
      heartline('--tls', 'call', at, 'cli.Probe#add', '[40, 2]', '--version', '1.0.0'),
    ]);
    expect([ok.code, ok.stdout, ok.stderr]).toEqual([0, '42\n', '']);
    expect(expectFailure(untrusted, 1, 'CONNECT_FAILED')).toMatch(/certificate/i);
  });

  it("--token (or HEARTLINE_TOKEN) is the client's credentials; without it the provider refuses: UNAUTHENTICATED, exit 1", async () => {
    const guarded = defer(new Server({ host: '127.0.0.1', port: 0, logger: silentLogger, closeGracePeriod: 100, authenticate: sharedSecret('s3cret') }), (x) => x.close());
    guarded.register(new ProbeImpl());
    const at = `127.0.0.1:${(await guarded.listen()).port}`;
    const [flag, env, none, wrong] = await Promise.all([
      heartline('--token', 's3cret', 'call', at, 'cli.Probe.add', '[1, 2]'),
      heartlineWith({ HEARTLINE_TOKEN: 's3cret' }, 'health', at),
      heartline('ls', at),
      heartlineWith({ HEARTLINE_TOKEN: 'nope' }, 'ping', at, '--count', '1'),
    ]);
    expect([flag.code, flag.stdout, flag.stderr]).toEqual([0, '3\n', '']);
    expect([env.code, env.stdout, env.stderr]).toEqual([0, 'SERVING\n', '']);
    expectFailure(none, 1, 'UNAUTHENTICATED');
    expect(expectFailure(wrong, 1, 'UNAUTHENTICATED')).not.toContain('nope'); // the token is never printed
  });

  it('a slow reader of stdout (a pipe not read for 3 s) still gets the whole result: the CLI never exits with output unwritten', async () => {
    const big = 'a'.repeat(100_000); // more than a pipe buffer (64 KiB)
    const r = await heartlineSlowReader(3, '--json', 'call', address, 'cli.Probe.echo', JSON.stringify(big));
    expect(r).toEqual({ code: 0, bytes: JSON.stringify({ result: big }).length + 1 });
  });

  it("a method the provider describes with no timeout (0) or a bad one: the call still ends, after --timeout's default, and a bad option is not the user's mistake", async () => {
    const methods = [
      { name: 'zero', timeout: 0, oneWay: false, idempotent: false, callbacks: [] },
      { name: 'bad', timeout: -1, oneWay: 'yes', idempotent: false, callbacks: [] },
    ];
    const odd = defer(
      await FakeProvider.start(({ frame, request, socket }) => {
        const method = request?.[3];
        if (method === 'listServices') socket.write(responseFrame(frame.id, 0, encodeBody([{ name: 'z.Svc', version: '', group: '', methods: ['zero', 'bad'] }])));
        else if (method === 'describeService') socket.write(responseFrame(frame.id, 0, encodeBody({ name: 'z.Svc', version: '', group: '', methods })));
        else if (method === 'bad') socket.write(responseFrame(frame.id, 0, encodeBody(42)));
        // zero: never answered
      }),
      (f) => f.close(),
    );
    const [zero, bad] = await Promise.all([heartline('call', odd.address, 'z.Svc.zero'), heartline('call', odd.address, 'z.Svc.bad')]);
    expect(expectFailure(zero, 1, 'TIMEOUT')).toMatch(/within 5\d\d\d ms/);
    expect(zero.ms).toBeLessThan(20_000);
    expect([bad.code, bad.stdout, bad.stderr]).toEqual([0, '42\n', '']);
  });

  it('--json with no command: the help on stderr, and on stdout an error document that says what is wrong', async () => {
    const r = await heartline('--json');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^Usage: heartline /);
    expect(JSON.parse(r.stdout)).toEqual({ error: { code: 'USAGE', message: 'no command given (heartline --help lists them)' } });
  });

  it('a foreign provider sending control characters (names, error messages): printed escaped, never raw to the terminal', async () => {
    const ESC = '\u001b';
    const evil = `evil${ESC}[2J${ESC}]0;pwned\u0007\r\nFAKE\u009b31m`;
    const hostile = defer(
      await FakeProvider.start(({ frame, request, socket }) => {
        if (request?.[3] === 'listServices') socket.write(responseFrame(frame.id, 0, encodeBody([{ name: evil, version: `1${ESC}[31m`, group: '', methods: [`m${ESC}[1m`] }])));
        else socket.write(responseFrame(frame.id, ERROR_CODES.HANDLER_ERROR.status, errorMap('HANDLER_ERROR', `bad${ESC}]0;title\u0007\nerror FAKE: x`)));
      }),
      (f) => f.close(),
    );
    const [listed, failed] = await Promise.all([heartline('ls', hostile.address), heartline('call', hostile.address, `${evil}.m${ESC}[1m`, '[]', '--version', `1${ESC}[31m`)]);
    const raw = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).not.toMatch(raw);
    expect(listed.stdout.trimEnd().split('\n')).toHaveLength(2); // the header and one row: no line forged by a name
    expect(listed.stdout).toContain('evil\\u001b[2J');
    const line = expectFailure(failed, 1, 'HANDLER_ERROR');
    expect(line).not.toMatch(raw);
    expect(line).toContain('bad\\u001b]0;title\\u0007\\u000aerror FAKE: x');
  });

  describe.skipIf(!etcdAvailable())('ls --etcd (real etcd)', () => {
    let etcd: EtcdServer;
    beforeAll(async () => {
      etcd = await startEtcd();
    });
    afterAll(() => etcd?.dispose());

    it('lists every service in the registry and its providers; --json parses', async () => {
      const registry = defer(new EtcdRegistry({ hosts: etcd.hosts, ttl: 2000, logger: silentLogger }), (r) => r.close());
      const published = defer(new Server({ host: '127.0.0.1', port: 0, logger: silentLogger, registry, deregisterDelay: 0, closeGracePeriod: 100 }), (s) => s.close());
      published.register(new ProbeImpl());
      const port = (await published.listen()).port;
      const provider = `127.0.0.1:${port}`;
      // listen() resolves once the first publication is written in etcd.
      const hostPort = etcd.hosts.replace('http://', '');
      const [human, json] = await Promise.all([heartline('ls', '--etcd', hostPort), heartline('--json', 'ls', '--etcd', etcd.hosts)]);
      expect(human.code, human.stderr).toBe(0);
      const lines = human.stdout.trimEnd().split('\n');
      expect(lines[0]).toMatch(/^SERVICE\s+VERSION\s+GROUP\s+PROVIDER\s+WEIGHT\s+PID\s+STARTED$/);
      expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^cli\\.Probe\\s+1\\.0\\.0\\s+-\\s+${provider}\\s+100\\s+${process.pid}\\s+\\d{4}-`)));
      expect(json.code, json.stderr).toBe(0);
      const doc = JSON.parse(json.stdout) as Array<{ service: string; version: string; providers: Array<{ address: string; weight: number; methods: string[] }> }>;
      const probeEntry = doc.find((s) => s.service === 'cli.Probe');
      expect(probeEntry?.providers).toEqual([expect.objectContaining({ address: provider, weight: 100, methods: ['add', 'echo', 'attachments', 'fail', 'sleep', 'notify', 'bounded', 'subscribe'] })]);
    });

    it('etcd not there: UNAVAILABLE, exit 1, within --timeout', async () => {
      const port = await freePort();
      const r = await heartline('--timeout', '500', 'ls', '--etcd', `127.0.0.1:${port}`);
      expectFailure(r, 1, 'UNAVAILABLE');
      expect(r.ms).toBeLessThan(30_000);
    });
  });
});
