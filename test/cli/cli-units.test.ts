// The CLI's pure parts, in process: argument parsing, the table, JSON of any
// value, and the etcd key layout read back by `ls --etcd`.
import { describe, expect, it } from 'vitest';
import { parseArgs, parseAttachments, parseTarget } from '../../src/cli/call-args.js';
import { UsageError } from '../../src/cli/cli-error.js';
import { listServices } from '../../src/cli/commands/etcd-ls.js';
import { age, printable, table, toJson } from '../../src/cli/output.js';

describe('call arguments', () => {
  it('service.method splits at the last dot; service#method at the #', () => {
    expect(parseTarget('demo.Greeter.sayHello')).toEqual({ service: 'demo.Greeter', method: 'sayHello' });
    expect(parseTarget('demo.v1#say.hello')).toEqual({ service: 'demo.v1', method: 'say.hello' });
    for (const bad of ['sayHello', '.x', 'a.', '#x', 'a#']) expect(() => parseTarget(bad), bad).toThrow(UsageError);
  });

  it('a JSON array is the argument list, any other JSON value the one argument, nothing is none', () => {
    expect(parseArgs('[1, "a", {"b": null}]')).toEqual([1, 'a', { b: null }]);
    expect(parseArgs('[[1, 2]]')).toEqual([[1, 2]]);
    expect(parseArgs('"Ann"')).toEqual(['Ann']);
    expect(parseArgs('{"id": 1}')).toEqual([{ id: 1 }]);
    expect(parseArgs('null')).toEqual([null]);
    expect(parseArgs(undefined)).toEqual([]);
    expect(parseArgs('  ')).toEqual([]);
    expect(() => parseArgs('[1,')).toThrow(/not JSON/);
    expect(() => parseArgs('Ann')).toThrow(UsageError);
  });

  it('attachments: key=value, the first = splits; own properties only, __proto__ included; no key twice', () => {
    expect(parseAttachments(['a=1', 'b=x=y', 'c='])).toEqual({ a: '1', b: 'x=y', c: '' });
    const proto = parseAttachments(['__proto__=x']);
    expect(Object.hasOwn(proto, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(proto)).toBe(Object.prototype);
    expect(() => parseAttachments(['novalue'])).toThrow(UsageError);
    expect(() => parseAttachments(['=v'])).toThrow(UsageError);
    expect(() => parseAttachments(['a=1', 'a=2'])).toThrow(/twice/);
  });
});

describe('output', () => {
  it('table: columns padded to the widest cell, empty cells as -, no trailing spaces', () => {
    expect(table(['A', 'LONGER', 'Z'], [['xx', '', 'end'], ['y', 'v', '']])).toBe('A   LONGER  Z\nxx  -       end\ny   v       -');
  });

  it('printable: control characters, DEL, C1 and bidi overrides escaped as \\uXXXX; newlines only when asked; table cells always', () => {
    expect(printable('a\u001b[2J\u0007\u007f\u009b\u202eb\nc')).toBe('a\\u001b[2J\\u0007\\u007f\\u009b\\u202eb\\u000ac');
    expect(printable('a\nb\r', true)).toBe('a\nb\\u000d');
    expect(table(['A'], [['x\ny']])).toBe('A\nx\\u000ay');
  });

  it('age: ms, then seconds, minutes, hours', () => {
    expect([age(5.4), age(999), age(12_345), age(245_000), age(3 * 3600_000 + 12 * 60_000)]).toEqual(['5 ms', '999 ms', '12.3 s', '4m 05s', '3h 12m']);
  });

  it('toJson: bigint as digits, binary as base64, undefined as null', () => {
    expect(toJson({ n: 2n ** 70n, b: Buffer.from('hi'), u: new Uint8Array([1, 2]) })).toBe('{"n":"1180591620717411303424","b":"aGk=","u":"AQI="}');
    expect(toJson(undefined)).toBe('null');
    expect(toJson([1], 2)).toBe('[\n  1\n]');
  });
});

describe('ls --etcd: the key layout read back', () => {
  const record = (address: string, extra: object = {}): string =>
    JSON.stringify({ address, weight: 100, service: 'x', version: '', group: '', methods: ['a'], pid: 7, startTime: '2026-01-01T00:00:00.000Z', metadata: { zone: 'a' }, ...extra });

  it('groups providers by service, version and group; an operator weight wins; other keys are skipped', () => {
    const kvs: Record<string, string> = {
      '/heartline/demo.Greeter/1.0.0//providers/10.0.0.6:1': record('10.0.0.6:1'),
      '/heartline/demo.Greeter/1.0.0//providers/10.0.0.5:1': record('10.0.0.5:1', { weight: 200 }),
      '/heartline/demo.Greeter/1.0.0//weights/10.0.0.6:1': '50',
      '/heartline/demo.Greeter/1.0.0//weights/10.0.0.9:1': '5', // no provider: nothing to list
      '/heartline/a%2Fb/2.0.0/g%201/providers/[::1]:2': record('[::1]:2'),
      '/heartline/c/1//providers/10.0.0.7:1': 'not json',
      '/heartline/c/1//other/10.0.0.7:1': 'x',
      '/heartline/short/key': 'x',
      '/heartlinex/d/1//providers/1.1.1.1:1': record('1.1.1.1:1'),
    };
    const list = listServices('/heartline', kvs);
    expect(list.map((s) => [s.service, s.version, s.group, s.providers.map((p) => p.address)])).toEqual([
      ['a/b', '2.0.0', 'g 1', ['[::1]:2']],
      ['c', '1', '', ['10.0.0.7:1']],
      ['demo.Greeter', '1.0.0', '', ['10.0.0.5:1', '10.0.0.6:1']],
    ]);
    const greeter = list[2]!.providers;
    expect(greeter[0]).toEqual({ address: '10.0.0.5:1', weight: 200, methods: ['a'], pid: 7, startTime: '2026-01-01T00:00:00.000Z', metadata: { zone: 'a' } });
    expect(greeter[1]).toMatchObject({ address: '10.0.0.6:1', weight: 50, operatorWeight: 50 });
    expect(list[1]!.providers[0]).toEqual({ address: '10.0.0.7:1', weight: 100, methods: [], pid: undefined, startTime: undefined, metadata: {} });
  });
});
