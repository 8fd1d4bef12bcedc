import { describe, expect, it } from 'vitest';
import { Service } from '../../src/index.js';
import { HeartlineError } from '../../src/errors/heartline-error.js';
import { encodeBody } from '../../src/protocol/codec.js';
import { BUDGET_PLACEHOLDER, requestTuple } from '../../src/protocol/messages.js';
import { decodeRequest, findMethod } from '../../src/provider/inbound-request.js';
import { RequestNames } from '../../src/provider/request-names.js';
import { ServiceRegistry } from '../../src/provider/service-registry.js';

/** The raw bytes of a hand-made body: encodeBody of any value, no checks. */
const raw = (value: unknown): Buffer => Buffer.from(encodeBody(value));

const bodies: Array<[string, Buffer]> = [
  ['seven items, placeholder budget', raw(requestTuple('demo.Greeter', '1.0.0', '', 'sayHello', ['Ann', { a: [1, 2] }], undefined, true))],
  ['seven items, budget 0', raw(['demo.Greeter', '', 'g', 'sayHello', [], { t: 'v' }, 0])],
  ['six items (version 1)', raw(['demo.Greeter', '', '', 'sayHello', ['x'], null])],
  ['non-ASCII names', raw(['dëmo.Grüßer', 'ä', 'ö', 'sägHallo', [1n], null, null])],
  ['long names', raw(['s'.repeat(300), '', '', 'm', [], null, 5])],
  ['attachments not a map', raw(['s', '', '', 'm', [], ['x'], null])],
  ['attachment value not a string', raw(['s', '', '', 'm', [], { k: 1 }, null])],
  ['attachments a bin', raw(['s', '', '', 'm', [], Buffer.from('ab'), null])],
  ['args not an array', raw(['s', '', '', 'm', 'x', null, null])],
  ['a name not a string', raw(['s', 1, '', 'm', [], null, null])],
  ['negative budget', raw(['s', '', '', 'm', [], null, -1])],
  ['fractional budget', raw(['s', '', '', 'm', [], null, 1.5])],
  ['eight items', raw(['s', '', '', 'm', [], null, null, null])],
  ['a map', raw({ service: 's' })],
  ['empty', Buffer.alloc(0)],
  ['truncated', raw(requestTuple('s', '', '', 'm', ['abc'], undefined, false)).subarray(0, 8)],
  ['a __proto__ key in the attachments', Buffer.concat([Buffer.from([0x97, 0xa1, 0x73, 0xa0, 0xa0, 0xa1, 0x6d, 0x90, 0x81, 0xa9]), Buffer.from('__proto__'), Buffer.from([0xa1, 0x78, 0xc0])])],
];

describe('decodeRequest with the server-wide names', () => {
  it('reads every body exactly as the general path does, the first time and when its names are cached', () => {
    const names = new RequestNames();
    for (const [what, body] of bodies) {
      const general = decodeRequest(body);
      for (let round = 0; round < 2; round++) {
        const fast = decodeRequest(body, names);
        if (general instanceof HeartlineError) {
          expect(fast, what).toBeInstanceOf(HeartlineError);
          expect({ code: (fast as HeartlineError).code, message: (fast as HeartlineError).message }, what).toEqual({ code: general.code, message: general.message });
          expect(names.lastHit, what).toBeUndefined();
        } else {
          expect(fast, what).toEqual(general);
        }
      }
    }
  });

  it('reuses the strings of a recent request with the same names, and finds its method once', () => {
    @Service('demo.Greeter', { version: '1.0.0', methods: { sayHello: {} } })
    abstract class Greeter {
      abstract sayHello(name: string): Promise<string>;
    }
    const registry = new ServiceRegistry();
    registry.register(Greeter, { sayHello: async (n: string) => n });
    const body = (arg: string): Buffer => raw(requestTuple('demo.Greeter', '1.0.0', '', 'sayHello', [arg], undefined, true));
    const first = decodeRequest(body('a'), registry.names) as readonly unknown[];
    const hit = registry.names.lastHit!;
    expect(hit).toBeDefined();
    const call = { service: first[0] as string, version: first[1] as string, group: first[2] as string, method: first[3] as string, args: first[4] as unknown[] };
    const method = findMethod(registry, call, hit);
    expect(method).not.toBeInstanceOf(HeartlineError);
    expect(hit.method).toBe(method);
    const second = decodeRequest(body('b'), registry.names) as readonly unknown[];
    expect(registry.names.lastHit).toBe(hit);
    expect(second[0]).toBe(first[0]);
    expect(second[4]).toEqual(['b']);
    expect(second[6]).toBe(BUDGET_PLACEHOLDER);
    expect(findMethod(registry, call, registry.names.lastHit)).toBe(method);
  });

  it('does not keep a method for names that name nothing (a service may be registered later)', () => {
    const registry = new ServiceRegistry();
    const request = decodeRequest(raw(requestTuple('nope.Svc', '', '', 'm', [], undefined, false)), registry.names) as readonly unknown[];
    const hit = registry.names.lastHit!;
    const call = { service: request[0] as string, version: '', group: '', method: 'm', args: [] };
    expect(findMethod(registry, call, hit)).toMatchObject({ code: 'SERVICE_NOT_FOUND' });
    expect(hit.method).toBeUndefined();
  });

  it('keeps at most 16 names, whatever a peer sends', () => {
    const names = new RequestNames();
    for (let i = 0; i < 100; i++) decodeRequest(raw(requestTuple(`svc${i}`, '', '', 'm', [], undefined, false)), names);
    expect((names as unknown as { entries: unknown[] }).entries.length).toBe(16);
  });
});
