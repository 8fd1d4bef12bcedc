// Every option of the consumer side, good and bad: Client options, reference
// options (refer() and @Consumer) and per-method options (reference and contract).
import { createServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Client, Consumer, Service, StaticDirectory, silentLogger, type ClientOptions, type ConsumerRegistry, type ReferenceOptions } from '../../src/index.js';
import { resolveClientOptions, validateReferenceOptions } from '../../src/consumer/client-options.js';
import { DEFAULT_BACKOFF } from '../../src/consumer/backoff.js';
import { MAX_TIMER_MS } from '../../src/protocol/constants.js';
import { expectThrowCode, waitFor } from '../helpers/server.js';
import { settle, trackResources } from '../helpers/leaks.js';

@Service('opts.Thing', { methods: { get: {}, watch: { callbacks: [0] } } })
abstract class Thing {
  abstract get(): Promise<string>;
  abstract watch(onChange: (value: string) => void): Promise<void>;
}

const NOT_NUMBERS: unknown[] = [NaN, Infinity, -Infinity, '5', null, true, {}];
/** A time in ms (a Node timer): finite, >= 0, at most 2^31 - 1. */
const TIME_BAD = [...NOT_NUMBERS, -1, MAX_TIMER_MS + 1];
const TIME_GOOD = [0, 1, 2.5, 1000, MAX_TIMER_MS];
/** An integer >= 1. */
const COUNT_BAD = [...NOT_NUMBERS, 0, -1, 1.5];
/** An integer >= 0 (0 = no cap, or no retry). */
const CAP_BAD = [...NOT_NUMBERS, -1, 0.5];
const BOOL_BAD = [0, 1, 'true', null, {}];
const FN_BAD = [0, 'x', {}, null];
/** A registry stand-in (an EtcdRegistry needs etcd): one empty Directory. */
const REGISTRY: ConsumerRegistry = {
  directory: () => new StaticDirectory([]),
  status: () => ({ name: 'fake', state: 'up', since: 0, lastError: undefined }),
  watchStatus: () => () => {},
};
const REGISTRY_BAD = [null, 5, 'etcd', {}, { directory() {} }];

interface Row {
  option: string;
  bad: unknown[];
  good: unknown[];
  /** The message names this (default: `option`). */
  named?: string;
}

/** Sets `path` (`a.b`) in a fresh object. */
function at(path: string, value: unknown): Record<string, unknown> {
  const keys = path.split('.');
  const root: Record<string, unknown> = {};
  let o = root;
  for (const k of keys.slice(0, -1)) o = o[k] = {} as Record<string, unknown>;
  o[keys[keys.length - 1]!] = value;
  return root;
}

const CLIENT_ROWS: Row[] = [
  { option: 'providers', bad: ['127.0.0.1:1', {}, null, 5, [5], [null], ['nohost'], ['h:0'], ['h:70000'], [{ address: 5 }], [{}]], good: [[], ['127.0.0.1:1'], [{ address: '[::1]:2', weight: 3 }]] },
  { option: 'providers', named: 'providers[1].weight', bad: [['a:1', { address: 'b:2', weight: NaN }], ['a:1', { address: 'b:2', weight: -1 }], ['a:1', { address: 'b:2', weight: Infinity }], ['a:1', { address: 'b:2', weight: '5' }]], good: [['a:1', { address: 'b:2', weight: 0 }]] },
  { option: 'registry', bad: REGISTRY_BAD, good: [REGISTRY] },
  { option: 'timeout', bad: TIME_BAD, good: TIME_GOOD },
  { option: 'connectTimeout', bad: [...TIME_BAD, 0], good: [1, 3000, MAX_TIMER_MS] },
  { option: 'connections', bad: COUNT_BAD, good: [1, 4] },
  { option: 'eager', bad: BOOL_BAD, good: [true, false] },
  { option: 'idleTimeout', bad: TIME_BAD, good: TIME_GOOD },
  { option: 'heartbeat', bad: [...TIME_BAD, 1.5], good: [0, 100, 15000, MAX_TIMER_MS] },
  { option: 'heartbeatMisses', bad: COUNT_BAD, good: [1, 3] },
  { option: 'reconnect', bad: [5, 'x', null, []], good: [{}, { initialDelay: 10 }] },
  { option: 'reconnect.initialDelay', bad: TIME_BAD, good: [0, 10, 500, 30_000, 60_000] },
  { option: 'reconnect.factor', bad: [...NOT_NUMBERS, 0, 0.5, -2], good: [1, 1.5, 2] },
  { option: 'reconnect.maxDelay', bad: [...TIME_BAD, 400], good: [500, 1000, MAX_TIMER_MS] },
  { option: 'reconnect.jitter', bad: [...NOT_NUMBERS, -0.1, 1.1], good: [0, 0.2, 1] },
  { option: 'maxPendingCalls', bad: COUNT_BAD, good: [1, 100_000] },
  { option: 'maxCallbacks', bad: COUNT_BAD, good: [1, 1000] },
  { option: 'retries', bad: CAP_BAD, good: [0, 2, 10] },
  { option: 'cluster', bad: ['Failover', 'forking', 5, null], good: ['failover', 'failfast', 'failsafe'] },
  { option: 'loadbalance', bad: ['leastActive', 'hash', 5, null], good: ['random', 'roundrobin', 'leastactive', 'consistenthash'] },
  { option: 'maxFrameSize', bad: [...COUNT_BAD, 1023, 2 ** 32, 4096.5], good: [1024, 8 * 1024 * 1024, 2 ** 32 - 1] },
  { option: 'maxQueuedBytes', bad: COUNT_BAD, good: [1, 65536] },
  { option: 'fragmentSize', bad: [NaN, Infinity, -1, 1, 1023, 1024.5, '65536', null], good: [0, 1024, 65536, 16 * 1024 * 1024] },
  { option: 'keepAliveDelay', bad: TIME_BAD, good: TIME_GOOD },
  { option: 'stackTraces', bad: ['on', 'ASYNC', true, null], good: ['async', 'eager', 'off'] },
  { option: 'keepProcessAlive', bad: BOOL_BAD, good: [true, false] },
  { option: 'random', bad: FN_BAD, good: [() => 0.5] },
  { option: 'logger', bad: [null, 5, {}, { warn() {} }, { warn() {}, error: 'x' }], good: [silentLogger, { warn() {}, error() {} }] },
  { option: 'credentials', bad: [5, null, {}, [], true, 'x'.repeat(8 * 1024 + 1), 'é'.repeat(4 * 1024 + 1)], good: ['', 'token', 'x'.repeat(8 * 1024), () => 'token', async () => 'token'] },
];

/** Reference options; per-method ones are tested under `methods.get.*`. */
const REFERENCE_ROWS: Row[] = [
  { option: 'providers', bad: ['a:1', {}, null, 5, [5], ['nohost'], [{ address: 'a:1', weight: NaN }], { list() {} }], good: [['127.0.0.1:1'], [{ address: 'a:1', weight: 5 }], new StaticDirectory([])] },
  { option: 'registry', bad: REGISTRY_BAD, good: [REGISTRY] },
  { option: 'version', bad: [1, null, {}], good: ['', '1.0.0'] },
  { option: 'group', bad: [1, null, {}], good: ['', 'blue'] },
  { option: 'timeout', bad: TIME_BAD, good: TIME_GOOD },
  { option: 'attachments', bad: [null, 'x', 5, []], good: [{}, { trace: 'abc', user: '' }] },
  { option: 'attachments', named: 'attachments.n', bad: [{ n: 5 }, { n: null }, { n: undefined }, { n: {} }], good: [] },
  { option: 'attachments', named: 'attachments cannot have the key __proto__', bad: [JSON.parse('{"__proto__": "x"}')], good: [] },
  { option: 'methods', bad: [null, 'x', 5, []], good: [{}, { get: {} }, { get: undefined }] },
  { option: 'methods.get', bad: [null, 'x', 5], good: [{}] },
  { option: 'methods.get.timeout', bad: TIME_BAD, good: TIME_GOOD },
  { option: 'methods.get.oneWay', bad: BOOL_BAD, good: [true, false] },
  { option: 'methods.get.idempotent', bad: BOOL_BAD, good: [true, false] },
  { option: 'methods.get.retries', bad: CAP_BAD, good: [0, 3] },
  { option: 'methods.get.actives', bad: CAP_BAD, good: [0, 1, 50] },
  { option: 'methods.get.callbacks', bad: [5, [-1], [0.5], ['0'], [NaN], null], good: [[], [0, 2]] },
  { option: 'cluster', bad: ['Failover', 5, null], good: ['failover', 'failfast', 'failsafe'] },
  { option: 'retries', bad: CAP_BAD, good: [0, 2] },
  { option: 'loadbalance', bad: ['leastActive', 5, null], good: ['random', 'roundrobin', 'leastactive', 'consistenthash'] },
  { option: 'sticky', bad: BOOL_BAD, good: [true, false] },
  { option: 'actives', bad: CAP_BAD, good: [0, 1, 10] },
  { option: 'serviceActives', bad: CAP_BAD, good: [0, 1, 10] },
  { option: 'hashKey', bad: FN_BAD, good: [(args: readonly unknown[]) => String(args[0])] },
  { option: 'hashNodes', bad: [...COUNT_BAD, 10_001], good: [1, 160, 10_000] },
];

function cases(rows: Row[]): Array<[string, string, unknown]> {
  return rows.flatMap((r) => r.bad.map((v): [string, string, unknown] => [r.option, r.named ?? r.option, v]));
}
function goodCases(rows: Row[]): Array<[string, unknown]> {
  return rows.flatMap((r) => r.good.map((v): [string, unknown] => [r.option, v]));
}

describe('client options (new Client)', () => {
  const clients: Client[] = [];
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });

  it.each(cases(CLIENT_ROWS))('%s: bad value fails INVALID_CONFIG naming %s (%o)', (option, named, value) => {
    const err = expectThrowCode(() => new Client({ logger: silentLogger, ...at(option, value) } as ClientOptions), 'INVALID_CONFIG');
    expect(err.message).toContain(named);
  });

  it.each(goodCases(CLIENT_ROWS))('%s: accepts %o', (option, value) => {
    clients.push(new Client({ logger: silentLogger, ...at(option, value) } as ClientOptions));
  });

  it('the message says the rule: "reconnect.initialDelay must be a finite number >= 0"', () => {
    const err = expectThrowCode(() => new Client({ reconnect: { initialDelay: NaN } }), 'INVALID_CONFIG');
    expect(err.message).toContain('reconnect.initialDelay must be a finite number >= 0');
    expect(err.message).toContain('got NaN');
  });

  it('defaults, including maxCallbacks 1000', () => {
    const o = resolveClientOptions({});
    expect(o).toMatchObject({
      providers: undefined,
      timeout: 3000,
      connectTimeout: 3000,
      connections: 1,
      eager: false,
      idleTimeout: 0,
      heartbeat: 15_000,
      heartbeatMisses: 3,
      reconnect: DEFAULT_BACKOFF,
      maxPendingCalls: 100_000,
      maxCallbacks: 1000,
      retries: 2,
      cluster: 'failover',
      loadbalance: 'random',
      maxFrameSize: 8 * 1024 * 1024,
      maxQueuedBytes: 32 * 1024 * 1024,
      fragmentSize: 65536,
      keepAliveDelay: 60_000,
      stackTraces: 'async',
      keepProcessAlive: false,
      random: Math.random,
    });
    expect(resolveClientOptions({ maxFrameSize: 2048 }).maxQueuedBytes).toBe(8192);
  });

  it('an undefined field means the default: every option, and each reconnect field', () => {
    const undef = Object.fromEntries(CLIENT_ROWS.filter((r) => !r.option.includes('.')).map((r) => [r.option, undefined]));
    expect(resolveClientOptions(undef as ClientOptions)).toEqual(resolveClientOptions({}));
    const o = resolveClientOptions({ reconnect: { initialDelay: undefined, factor: undefined, maxDelay: undefined, jitter: undefined } });
    expect(o.reconnect).toEqual({ initialDelay: 500, factor: 2, maxDelay: 30_000, jitter: 0.2 });
    // A longer initialDelay alone raises the default maxDelay to it instead of failing.
    expect(resolveClientOptions({ reconnect: { initialDelay: 60_000 } }).reconnect.maxDelay).toBe(60_000);
  });

  it('options objects are never mutated (frozen options are accepted as they are)', () => {
    const options: ClientOptions = {
      providers: Object.freeze(['127.0.0.1:1', Object.freeze({ address: '127.0.0.1:2', weight: 5 })]),
      reconnect: Object.freeze({ initialDelay: undefined, maxDelay: 1000 }),
      logger: silentLogger,
      timeout: undefined,
    };
    const before = JSON.stringify(options);
    clients.push(new Client(Object.freeze(options)));
    expect(JSON.stringify(options)).toBe(before);
    expect(options.reconnect).toEqual({ initialDelay: undefined, maxDelay: 1000 });
  });

  it('reconnect: { initialDelay: undefined } reconnects at the default pace, not hundreds of times a second (real socket)', async () => {
    const resources = trackResources();
    // A provider that accepts and hangs up at once: every connection fails before its handshake.
    let accepted = 0;
    const sockets = new Set<Socket>();
    const server = createServer((s) => {
      accepted++;
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    const client = new Client({
      providers: [`127.0.0.1:${port}`],
      logger: silentLogger,
      eager: true,
      reconnect: { initialDelay: undefined, factor: undefined, maxDelay: undefined, jitter: undefined },
    });
    client.refer(Thing);
    await waitFor(() => accepted >= 1, 2000, 'the first connection');
    await new Promise((resolve) => setTimeout(resolve, 400));
    // Defaults: the first reconnect within [0, 500] ms, the next after 1000 ms +-20%: at most 2 more.
    expect(accepted).toBeLessThanOrEqual(3);
    await client.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await settle();
    expect(resources.alive()).toEqual([]);
    resources.stop();
  });
});

describe('reference options (refer, @Consumer) and per-method options', () => {
  const clients: Client[] = [];
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });
  const client = (): Client => {
    const c = new Client({ logger: silentLogger, providers: ['127.0.0.1:1'] });
    clients.push(c);
    return c;
  };

  it.each(cases(REFERENCE_ROWS))('refer: %s: bad value fails INVALID_CONFIG naming %s (%o)', (option, named, value) => {
    const c = client();
    const err = expectThrowCode(() => c.refer(Thing, at(option, value) as ReferenceOptions), 'INVALID_CONFIG');
    expect(err.message).toContain(named);
  });

  it.each(cases(REFERENCE_ROWS))('@Consumer: %s: bad value fails INVALID_CONFIG at declaration, naming %s (%o)', (option, named, value) => {
    const err = expectThrowCode(() => Consumer(Thing, at(option, value) as ReferenceOptions), 'INVALID_CONFIG');
    expect(err.message).toContain(named);
  });

  it.each(goodCases(REFERENCE_ROWS))('refer and @Consumer: %s accepts %o', (option, value) => {
    client().refer(Thing, at(option, value) as ReferenceOptions);
    Consumer(Thing, at(option, value) as ReferenceOptions);
  });

  it.each(cases(REFERENCE_ROWS.filter((r) => r.option.startsWith('methods.get.'))))('@Service: %s: bad value fails INVALID_CONFIG naming %s (%o)', (option, named, value) => {
    const err = expectThrowCode(() => Service('opts.Bad', { methods: { get: at(option.slice('methods.get.'.length), value) } }), 'INVALID_CONFIG');
    expect(err.message).toContain(named);
    expect(err.message).toContain("@Service('opts.Bad')");
  });

  it('registry and providers together are refused, on the client and on a reference', () => {
    const both = { providers: ['127.0.0.1:1'], registry: REGISTRY };
    expect(expectThrowCode(() => new Client(both), 'INVALID_CONFIG').message).toContain('registry and providers cannot both be given');
    expect(expectThrowCode(() => client().refer(Thing, both), 'INVALID_CONFIG').message).toContain('registry and providers cannot both be given');
  });

  it("a reference's registry wins over the client's providers; the client's registry serves references naming none", () => {
    const asked: string[] = [];
    const registry: ConsumerRegistry = { ...REGISTRY, directory: (s, v, g) => (asked.push(`${s}/${v}/${g}`), new StaticDirectory([])) };
    client().refer(Thing, { registry, version: '2', group: 'blue' });
    const c = new Client({ logger: silentLogger, registry });
    clients.push(c);
    c.refer(Thing);
    c.refer(Thing, { providers: ['127.0.0.1:1'] });
    expect(asked).toEqual(['opts.Thing/2/blue', 'opts.Thing//']);
    expect(c.registries()).toEqual([REGISTRY.status()]);
  });

  it('a method cannot be one-way and take callbacks', () => {
    expectThrowCode(() => client().refer(Thing, { methods: { watch: { oneWay: true, callbacks: [0] } } }), 'INVALID_CONFIG');
    expectThrowCode(() => Service('opts.Bad', { methods: { watch: { oneWay: true, callbacks: [0] } } }), 'INVALID_CONFIG');
  });

  it('undefined fields fall back (no error), and the options object is never mutated', () => {
    const options = Object.freeze({
      timeout: undefined,
      actives: undefined,
      providers: Object.freeze(['127.0.0.1:2']),
      attachments: Object.freeze({ trace: 't' }),
      methods: Object.freeze({ get: Object.freeze({ timeout: undefined, retries: 1 }) }),
    });
    const before = JSON.stringify(options);
    client().refer(Thing, options);
    const v = validateReferenceOptions(options);
    expect(JSON.stringify(options)).toBe(before);
    expect(v.providers).not.toBe(options.providers); // copied, frozen
    expect(v.attachments).not.toBe(options.attachments);
    expect(Object.isFrozen(v)).toBe(true);
    expect(v).toEqual({ providers: ['127.0.0.1:2'], attachments: { trace: 't' }, methods: { get: { retries: 1 } } });
  });
});
