// Values that round-trip, or fail loudly (README "Values", protocol.md 4.2 and 4.8), through a real Client and Server.
import { createServer, connect, type Server as NetServer, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { Provider, Service, type Callback } from '../../src/index.js';
import { expectCode, newClient, startServer, useCleanup, waitFor } from '../helpers/server.js';

type Listener = (...args: unknown[]) => unknown;

@Service('test.Values', {
  methods: { echo: {}, args: {}, defaults: {}, nothing: {}, nil: {}, give: {}, received: {}, subscribe: { callbacks: [0] } },
})
abstract class Values {
  abstract echo(value: unknown): Promise<unknown>;
  /** How many arguments arrived, and which. */
  abstract args(...args: unknown[]): Promise<{ length: number; args: unknown[] }>;
  abstract defaults(a?: unknown, b?: unknown): Promise<string>;
  /** Returns undefined. */
  abstract nothing(): Promise<undefined>;
  /** Returns null. */
  abstract nil(): Promise<null>;
  /** Returns a value the provider makes: `kind` names it. */
  abstract give(kind: string): Promise<unknown>;
  /** What the handler received: typeof and constructor name of each argument. */
  abstract received(...args: unknown[]): Promise<string[]>;
  abstract subscribe(listener: Listener): Promise<void>;
}

const circular = (): unknown => {
  const v: Record<string, unknown> = {};
  v.me = v;
  return v;
};

const GIVEN: Record<string, () => unknown> = {
  map: () => new Map([['a', 1]]),
  set: () => new Set([1]),
  error: () => new Error('not thrown, returned'),
  nested: () => ({ ok: [1, { deep: new Set() }] }),
  circular,
  'undefined props': () => ({ a: 1, b: undefined }),
};

@Provider(Values)
class ValuesImpl implements Values {
  calls = 0;
  listener: Callback<Listener> | undefined;

  async echo(value: unknown): Promise<unknown> {
    this.calls++;
    return value;
  }
  async args(...args: unknown[]): Promise<{ length: number; args: unknown[] }> {
    this.calls++;
    return { length: args.length, args };
  }
  async defaults(a: unknown = 'A', b: unknown = 'B'): Promise<string> {
    return `${String(a)}${String(b)}`;
  }
  async nothing(): Promise<undefined> {
    return undefined;
  }
  async nil(): Promise<null> {
    return null;
  }
  async give(kind: string): Promise<unknown> {
    if (kind === 'error with bad details') throw Object.assign(new Error('no stock'), { details: new Map([[1, 2]]) });
    return GIVEN[kind]!();
  }
  async received(...args: unknown[]): Promise<string[]> {
    return args.map((a) => `${typeof a} ${(a as object | null)?.constructor?.name ?? ''}`.trim());
  }
  async subscribe(listener: Listener): Promise<void> {
    this.listener = listener as Callback<Listener>;
  }
}

/** A TCP relay that counts the bytes the client sends, to see that a refused call writes nothing. */
async function countingRelay(port: number): Promise<{ address: string; bytesUp: () => number; close: () => Promise<void> }> {
  let up = 0;
  const sockets = new Set<Socket>();
  const relay: NetServer = createServer((down) => {
    const upstream = connect({ host: '127.0.0.1', port });
    for (const s of [down, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => sockets.delete(s));
    }
    down.on('data', (chunk: Buffer) => {
      up += chunk.length;
      upstream.write(chunk);
    });
    upstream.pipe(down);
    down.on('close', () => upstream.destroy());
    upstream.on('close', () => down.destroy());
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  const { port: relayPort } = relay.address() as { port: number };
  return {
    address: `127.0.0.1:${relayPort}`,
    bytesUp: () => up,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => relay.close(() => resolve()));
    },
  };
}

describe('values through a Client and Server', () => {
  const defer = useCleanup();

  async function setup() {
    const srv = defer(await startServer({ register: false }), (s) => s.close());
    const impl = new ValuesImpl();
    srv.server.register(impl);
    const relay = defer(await countingRelay(srv.port), (r) => r.close());
    const client = defer(newClient(relay.address), (c) => c.close());
    const values = client.refer(Values);
    await values.nil(); // connected: later byte counts see only calls
    return { impl, relay, client, values };
  }

  describe('round trips', () => {
    it('Date: travels as the timestamp extension and arrives as a Date, to the millisecond', async () => {
      const { values } = await setup();
      const date = new Date(1700000000123);
      const back = await values.echo(date);
      expect(back).toBeInstanceOf(Date);
      expect((back as Date).getTime()).toBe(1700000000123);
      expect(await values.received(date, new Date(-1))).toEqual(['object Date', 'object Date']);
      expect(((await values.echo(new Date(-86400001))) as Date).getTime()).toBe(-86400001);
    });

    it('bigint: a safe one arrives as a number, a larger 64-bit one as a bigint, one beyond 64 bits is refused', async () => {
      const { values, relay } = await setup();
      expect(await values.echo(10n)).toBe(10);
      expect(await values.echo(-(2n ** 53n) + 1n)).toBe(-(2 ** 53) + 1);
      expect(await values.echo(2n ** 63n)).toBe(2n ** 63n);
      expect(await values.echo(2n ** 64n - 1n)).toBe(2n ** 64n - 1n);
      expect(await values.echo(-(2n ** 63n))).toBe(-(2n ** 63n));
      expect(await values.received(2n ** 60n, 5n)).toEqual(['bigint BigInt', 'number Number']);
      const before = relay.bytesUp();
      const err = await expectCode(values.echo(2n ** 64n), 'SERIALIZATION_ERROR');
      expect(err.message).toBe('test.Values#echo: argument 0: a bigint beyond 64 bits cannot be sent (int64/uint64 range); send it as a string');
      expect(relay.bytesUp()).toBe(before);
    });

    it('Buffer and Uint8Array: travel as bin and arrive as a Buffer', async () => {
      const { values } = await setup();
      expect(await values.echo(Buffer.from([1, 2, 3]))).toEqual(Buffer.from([1, 2, 3]));
      const back = await values.echo(new Uint8Array([4, 5]));
      expect(Buffer.isBuffer(back)).toBe(true);
      expect(back).toEqual(Buffer.from([4, 5]));
      expect(await values.received(new Uint8Array(1), Buffer.alloc(1))).toEqual(['object Buffer', 'object Buffer']);
    });

    it('undefined in an object: the property is omitted, both ways', async () => {
      const { values } = await setup();
      const sent = { a: 1, b: undefined, inner: [{ c: undefined, d: 2 }] };
      const back = (await values.echo(sent)) as Record<string, unknown>;
      expect(back).toEqual({ a: 1, inner: [{ d: 2 }] });
      expect(Object.hasOwn(back, 'b')).toBe(false);
      expect(Object.hasOwn((back.inner as object[])[0]!, 'c')).toBe(false);
      expect(sent).toEqual({ a: 1, b: undefined, inner: [{ c: undefined, d: 2 }] }); // the caller's value is not changed
      const given = (await values.give('undefined props')) as Record<string, unknown>; // a result too
      expect(given).toEqual({ a: 1 });
      expect(Object.hasOwn(given, 'b')).toBe(false);
    });

    it('undefined in an array: nil, read as null', async () => {
      const { values } = await setup();
      expect(await values.echo([1, undefined, 3])).toEqual([1, null, 3]);
    });

    it('trailing undefined arguments are dropped: args.length shrinks and parameter defaults apply', async () => {
      const { values } = await setup();
      expect(await values.args(1, undefined, undefined)).toEqual({ length: 1, args: [1] });
      expect(await values.args(undefined)).toEqual({ length: 0, args: [] });
      // One in the middle is nil, as in an array: the handler sees null, and null takes no default.
      expect(await values.args(undefined, 2)).toEqual({ length: 2, args: [null, 2] });
      expect(await values.defaults()).toBe('AB');
      expect(await values.defaults('x', undefined)).toBe('xB');
      expect(await values.defaults(undefined, 'y')).toBe('nully');
      expect(await values.defaults(null, null)).toBe('nullnull');
    });

    it('an undefined result reads back as undefined, a null one as null', async () => {
      const { values } = await setup();
      expect(await values.nothing()).toBeUndefined();
      expect(await values.nil()).toBeNull();
      expect(await values.echo(undefined)).toBeUndefined(); // trimmed, so the handler returns undefined
      expect(await values.echo(null)).toBeNull();
    });

    it(`nesting: ${98} levels go, ${99} are refused at the caller`, async () => {
      const { values, relay } = await setup();
      const nest = (levels: number): unknown => {
        let v: unknown = 'leaf';
        for (let i = 0; i < levels; i++) v = [v];
        return v;
      };
      expect(await values.echo(nest(98))).toEqual(nest(98));
      const before = relay.bytesUp();
      const err = await expectCode(values.echo(nest(99)), 'SERIALIZATION_ERROR');
      expect(err.message).toMatch(/^test\.Values#echo: argument 0 \[0\].*: nesting deeper than 98 levels cannot be sent$/);
      expect(relay.bytesUp()).toBe(before);
    });
  });

  describe('refused at the caller: SERIALIZATION_ERROR naming the argument, nothing written', () => {
    const cases: Array<[string, unknown, string]> = [
      ['Map', new Map([['k', 1]]), 'a Map cannot be sent; convert it with Object.fromEntries(map)'],
      ['Set', new Set([1]), 'a Set cannot be sent; convert it with [...set]'],
      ['class instance', new (class Point { x = 1 })(), 'an instance of Point cannot be sent; send a plain object instead, e.g. { ...value }'],
      ['Error', new Error('e'), 'an Error cannot be sent'],
      ['function', () => 1, 'a function cannot be sent; declare a callback at this position (callbacks: [2]) to pass one'],
      ['circular value', circular(), 'a circular reference cannot be sent'],
    ];

    it.each(cases)('a %s at argument 2', async (_kind, value, reason) => {
      const { values, impl, relay } = await setup();
      const before = relay.bytesUp();
      const calls = impl.calls;
      const err = await expectCode(values.args('a', 1, value), 'SERIALIZATION_ERROR');
      const path = _kind === 'circular value' ? '.me' : '';
      expect(err.message.startsWith(`test.Values#args: argument 2${path === '' ? '' : ` ${path}`}: ${reason}`), err.message).toBe(true);
      expect(err.remote).toBe(false);
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(relay.bytesUp()).toBe(before);
      expect(impl.calls).toBe(calls);
      // Nested, the message gives the path.
      await expectCode(values.echo({ list: [0, { v: value }] }), 'SERIALIZATION_ERROR').then((e) => expect(e.message).toContain(`argument 0 .list[1].v${path}: `));
      expect(await values.echo('still fine')).toBe('still fine');
    });
  });

  describe('refused at the provider: a result it cannot send is a SERIALIZATION_ERROR answer', () => {
    it.each([
      ['map', 'result: a Map cannot be sent; convert it with Object.fromEntries(map)'],
      ['set', 'result: a Set cannot be sent'],
      ['error', 'result: an Error cannot be sent'],
      ['nested', 'result .ok[1].deep: a Set cannot be sent'],
      ['circular', 'result .me: a circular reference cannot be sent'],
    ])('a handler returning a %s', async (kind, message) => {
      const { values } = await setup();
      const err = await expectCode(values.give(kind), 'SERIALIZATION_ERROR');
      expect(err.remote).toBe(true);
      expect(err.message.startsWith(message), err.message).toBe(true);
      expect(await values.echo('still fine')).toBe('still fine');
    });
  });

  describe('error details', () => {
    it('details the receiver would refuse are not sent: the call fails HANDLER_ERROR and the connection stays', async () => {
      const { values, client } = await setup();
      const slow = values.echo('concurrent');
      const err = await expectCode(values.give('error with bad details'), 'HANDLER_ERROR');
      expect(err.message).toContain('details not sent');
      expect(err.details).toBeUndefined();
      expect(await slow).toBe('concurrent');
      expect(await values.echo('after')).toBe('after');
      expect(client.connections()).toHaveLength(1);
    });
  });

  describe('pushes to a callback', () => {
    async function subscribed(listener: Listener) {
      const s = await setup();
      await s.values.subscribe(listener);
      await waitFor(() => s.impl.listener !== undefined);
      return { ...s, push: s.impl.listener! };
    }

    it('a push with a value that cannot be sent rejects with SERIALIZATION_ERROR naming the argument; the listener is not called', async () => {
      const heard: unknown[][] = [];
      const { push } = await subscribed((...args) => void heard.push(args));
      const err = await expectCode(push('ok', new Map()), 'SERIALIZATION_ERROR');
      expect(err.message).toMatch(/^callback \d+ of .*: argument 1: a Map cannot be sent/);
      await expectCode(push({ f: () => 1 }), 'SERIALIZATION_ERROR');
      expect(await push('fine')).toBeUndefined();
      expect(heard).toEqual([['fine']]);
    });

    it('trailing undefined push arguments are dropped; undefined properties omitted', async () => {
      const heard: unknown[][] = [];
      const { push } = await subscribed((...args) => void heard.push(args));
      await push(1, { a: undefined, b: 2 }, undefined, undefined);
      expect(heard).toEqual([[1, { b: 2 }]]);
    });

    it("a listener's undefined result reads back as undefined, null as null; a Map result is a SERIALIZATION_ERROR answer", async () => {
      let result: unknown;
      const { push } = await subscribed(() => result);
      result = undefined;
      expect(await push()).toBeUndefined();
      result = null;
      expect(await push()).toBeNull();
      result = new Map();
      const err = await expectCode(push(), 'SERIALIZATION_ERROR');
      expect(err.message).toMatch(/^result: a Map cannot be sent/);
    });
  });
});
