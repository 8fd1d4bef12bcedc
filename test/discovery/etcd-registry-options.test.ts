// EtcdRegistry's options, the key layout helpers and the advertised address:
// no etcd needed.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { EtcdRegistry, silentLogger, type EtcdRegistryOptions, type Logger } from '../../src/index.js';
import { resolveEtcdOptions } from '../../src/discovery/etcd-registry-options.js';
import { announcementRecords, classifyKey, parseRecordWeight, serviceKeyPrefix } from '../../src/discovery/provider-record.js';
import { advertisedAddress } from '../../src/provider/advertise.js';
import { expectThrowCode } from '../helpers/server.js';

const TABLE: Array<{ option: keyof EtcdRegistryOptions; bad: unknown[]; good: unknown[] }> = [
  { option: 'hosts', bad: [5, '', 'etcd', 'http://etcd', [], [5], null], good: ['http://127.0.0.1:2379', ['https://a:2379', 'b:2379']] },
  { option: 'prefix', bad: [5, '', 'heartline', '/heartline/', null], good: ['/heartline', '/a/b'] },
  { option: 'ttl', bad: [NaN, Infinity, 0, 999, 1500, -1000, '10000', null, 2_148_000_000], good: [1000, 2000, 10_000, 2_147_483_000] },
  { option: 'credentials', bad: [null, 'pem', {}, { rootCertificate: 'x' }, { rootCertificate: Buffer.from('x'), privateKey: 'k' }], good: [{ rootCertificate: Buffer.from('x') }] },
  { option: 'auth', bad: [null, 'root', {}, { username: 'u' }, { username: 'u', password: 1 }], good: [{ username: 'u', password: 'p' }] },
  { option: 'requestTimeout', bad: [NaN, Infinity, 0, -1, 2 ** 31, '5000', null], good: [1, 5000] },
  { option: 'logger', bad: [null, 5, {}, { warn() {} }], good: [silentLogger] },
];

describe('EtcdRegistry options', () => {
  for (const { option, bad, good } of TABLE) {
    it(`${option}: bad values fail INVALID_CONFIG naming it, good ones are accepted`, () => {
      for (const value of bad) {
        const err = expectThrowCode(() => new EtcdRegistry({ [option]: value } as EtcdRegistryOptions), 'INVALID_CONFIG');
        expect(err.message).toContain(`EtcdRegistry ${option} must be`);
      }
      for (const value of good) resolveEtcdOptions({ [option]: value } as EtcdRegistryOptions);
    });
  }

  it('defaults: http://127.0.0.1:2379, /heartline, ttl 10000 ms, requestTimeout 5000 ms', () => {
    expect(resolveEtcdOptions({})).toMatchObject({ hosts: ['http://127.0.0.1:2379'], prefix: '/heartline', ttl: 10_000, requestTimeout: 5000 });
  });

  it('a user:password in a host URL never shows in the status (nor in the log lines that name the registry)', async () => {
    const r = new EtcdRegistry({ hosts: 'http://root:s3cr3t@127.0.0.1:2379', logger: silentLogger });
    expect(r.status().name).toBe('etcd http://127.0.0.1:2379 /heartline');
    await r.close();
  });

  it('a new registry connects to nothing, and etcd3 is only ever imported dynamically (an optional peer dependency)', async () => {
    const r = new EtcdRegistry({ logger: silentLogger });
    expect(r.status().state).toBe('connecting');
    await r.close();
    expect(r.status().state).toBe('closed');
    const dir = fileURLToPath(new URL('../../src/', import.meta.url));
    const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
    for (const f of files) {
      for (const line of readFileSync(dir + f, 'utf8').split('\n')) {
        if (/from 'etcd3'/.test(line)) expect(line, f).toMatch(/^import type /);
      }
    }
  });
});

describe('key layout', () => {
  it('<prefix>/<service>/<version>/<group>/providers/<host:port>, segments URI-encoded, empty ones kept empty', () => {
    expect(serviceKeyPrefix('/heartline', 'demo.Greeter', '1.0.0', '')).toBe('/heartline/demo.Greeter/1.0.0//');
    expect(serviceKeyPrefix('/h', 'a/b', 'v 1', 'g%')).toBe('/h/a%2Fb/v%201/g%25/');
    const [rec] = announcementRecords('/h', {
      address: '10.0.0.5:20880',
      weight: 50,
      pid: 7,
      startTime: '2026-01-01T00:00:00.000Z',
      metadata: { zone: 'a' },
      services: [{ service: 's', version: '1', group: 'g', methods: ['m'] }],
    });
    expect(rec!.key).toBe('/h/s/1/g/providers/10.0.0.5:20880');
    expect(JSON.parse(rec!.value)).toEqual({ address: '10.0.0.5:20880', weight: 50, service: 's', version: '1', group: 'g', methods: ['m'], pid: 7, startTime: '2026-01-01T00:00:00.000Z', metadata: { zone: 'a' } });
    expect(classifyKey('providers/10.0.0.5:20880')).toEqual({ kind: 'providers', address: '10.0.0.5:20880' });
    expect(classifyKey('weights/[::1]:80')).toEqual({ kind: 'weights', address: '[::1]:80' });
    expect(classifyKey('other/x')).toBeUndefined();
    expect(parseRecordWeight('{"address":"a:1"}', 'a:1')).toBe(100);
    expect(parseRecordWeight('{"address":"a:1","weight":-1}', 'a:1')).toMatch(/weight/);
    expect(parseRecordWeight('{"address":"b:1"}', 'a:1')).toMatch(/not its key/);
  });
});

describe('advertised address', () => {
  const warnings: string[] = [];
  const logger: Logger = { warn: (_fields, m) => warnings.push(m), error: () => {} };

  it('advertise wins (its port, else the bound one); a specific bind is published as is, silently', () => {
    expect(advertisedAddress('pub.example', { host: '0.0.0.0', port: 5 }, logger)).toBe('pub.example:5');
    expect(advertisedAddress('pub.example:7', { host: '0.0.0.0', port: 5 }, logger)).toBe('pub.example:7');
    expect(advertisedAddress('::1', { host: '::', port: 5 }, logger)).toBe('[::1]:5');
    expect(advertisedAddress(undefined, { host: '10.1.2.3', port: 5 }, logger)).toBe('10.1.2.3:5');
    expect(warnings).toEqual([]);
  });

  it('a wildcard bind publishes the first non-internal interface, with a warning naming the advertise option', () => {
    const address = advertisedAddress(undefined, { host: '::', port: 9 }, logger);
    expect(address).toMatch(/:9$/);
    expect(address.startsWith('0.0.0.0') || address.startsWith('[::]')).toBe(false);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('set the advertise option');
  });
});
