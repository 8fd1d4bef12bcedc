import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeBody, encodeBody } from '../../src/protocol/codec.js';
import { AS_IS, checkArgs, checkValue, MAX_VALUE_DEPTH, MAX_VALUES, OMIT_UNDEFINED, trimArgs } from '../../src/protocol/value-check.js';

class Point {
  constructor(
    readonly x: number,
    readonly y: number,
  ) {}
}

/** Nests `leaf` in `levels` arrays: levels 1 is [leaf]. */
function nested(levels: number, leaf: unknown = 0): unknown {
  let v = leaf;
  for (let i = 0; i < levels; i++) v = [v];
  return v;
}

/** What a value reads back as after the wire: encoded as the check says, then decoded. */
function roundTrip(value: unknown): unknown {
  const check = checkValue(value, 'result');
  expect(typeof check, String(check)).toBe('number');
  return decodeBody(encodeBody(value, check === OMIT_UNDEFINED));
}

describe('value check', () => {
  // Every kind the caller refuses, with the start of its reason; each is placed at .items[3] to see the path.
  const refused: Array<[string, () => unknown, string]> = [
    ['function', () => () => 1, 'a function cannot be sent'],
    ['symbol', () => Symbol('s'), 'a symbol cannot be sent'],
    ['Map', () => new Map([['a', 1]]), 'a Map cannot be sent; convert it with Object.fromEntries(map)'],
    ['Set', () => new Set([1]), 'a Set cannot be sent; convert it with [...set]'],
    ['WeakMap', () => new WeakMap(), 'a WeakMap cannot be sent'],
    ['WeakSet', () => new WeakSet(), 'a WeakSet cannot be sent'],
    ['RegExp', () => /x/g, 'a RegExp cannot be sent'],
    ['Error', () => new Error('boom'), 'an Error cannot be sent'],
    ['TypeError', () => new TypeError('boom'), 'an Error (TypeError) cannot be sent'],
    ['Promise', () => Promise.resolve(1), 'a Promise cannot be sent; await it first'],
    ['Uint16Array', () => new Uint16Array([1]), 'a Uint16Array cannot be sent'],
    ['Float64Array', () => new Float64Array([1]), 'a Float64Array cannot be sent'],
    ['Uint8ClampedArray', () => new Uint8ClampedArray([1]), 'a Uint8ClampedArray cannot be sent'],
    ['BigInt64Array', () => new BigInt64Array([1n]), 'a BigInt64Array cannot be sent'],
    ['ArrayBuffer', () => new ArrayBuffer(2), 'an ArrayBuffer cannot be sent; wrap it in a Uint8Array'],
    ['SharedArrayBuffer', () => new SharedArrayBuffer(2), 'a SharedArrayBuffer cannot be sent'],
    ['DataView', () => new DataView(new ArrayBuffer(2)), 'a DataView cannot be sent'],
    ['class instance', () => new Point(1, 2), 'an instance of Point cannot be sent; send a plain object instead, e.g. { ...value }'],
    ['Array subclass', () => new (class List extends Array {})(), 'an instance of List cannot be sent'],
    ['boxed string', () => new String('x'), 'an instance of String cannot be sent'],
    ['object with another prototype', () => Object.create({ inherited: 1 }), 'an object whose prototype is not Object.prototype cannot be sent'],
    ['bigint over uint64', () => 2n ** 64n, 'a bigint beyond 64 bits cannot be sent'],
    ['bigint under int64', () => -(2n ** 63n) - 1n, 'a bigint beyond 64 bits cannot be sent'],
    ['invalid Date', () => new Date(Number.NaN), 'an invalid Date cannot be sent'],
    ['own __proto__ key', () => JSON.parse('{"__proto__": 1}'), 'an own key "__proto__" cannot be sent'],
  ];

  it.each(refused)('refuses a %s, naming its path', (kind, make, reason) => {
    const value = { items: [0, 'a', null, make()] };
    const check = checkValue(value, 'result');
    expect(typeof check).toBe('string');
    const path = kind === 'own __proto__ key' ? 'result .items[3].__proto__' : 'result .items[3]';
    expect((check as string).startsWith(`${path}: ${reason}`), check as string).toBe(true);
    // At the top level the path is empty.
    expect(checkValue(make(), 'result')).toMatch(/^result: |^result \.__proto__: /);
  });

  it('refuses the same kinds inside objects, arrays and null-prototype objects at any depth', () => {
    const inner = Object.assign(Object.create(null) as Record<string, unknown>, { 'not an identifier': [{ deep: new Set() }] });
    expect(checkValue({ a: { b: inner } }, 'argument 2')).toBe('argument 2 .a.b["not an identifier"][0].deep: a Set cannot be sent; convert it with [...set]');
  });

  it('accepts every kind that goes on the wire as is, and they round-trip', () => {
    const date = new Date(1700000000123);
    const cases: Array<[unknown, unknown]> = [
      [null, null],
      [true, true],
      [0, 0],
      [-1.5, -1.5],
      [2 ** 53 - 1, 2 ** 53 - 1],
      [Number.NaN, Number.NaN],
      [Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY],
      ['text', 'text'],
      [10n, 10], // a safe bigint arrives as a number
      [2n ** 64n - 1n, 2n ** 64n - 1n],
      [-(2n ** 63n), -(2n ** 63n)],
      [Buffer.from([1, 2]), Buffer.from([1, 2])],
      [new Uint8Array([3, 4]), Buffer.from([3, 4])], // arrives as a Buffer
      [date, date],
      [new Date(-1), new Date(-1)],
      [[], []],
      [{}, {}],
      [Object.assign(Object.create(null) as object, { a: 1 }), { a: 1 }],
      [{ list: [1, 'two', { three: [3n] }], at: date, bytes: Buffer.from('x') }, { list: [1, 'two', { three: [3] }], at: date, bytes: Buffer.from('x') }],
    ];
    for (const [i, [value, expected]] of cases.entries()) {
      expect(checkValue(value, 'result'), `case ${i}`).toBe(AS_IS);
      expect(roundTrip(value)).toEqual(expected);
    }
  });

  it('accepts a value shared by two branches (not circular)', () => {
    const shared = { n: 1 };
    expect(checkValue({ a: shared, b: [shared, shared] }, 'result')).toBe(AS_IS);
  });

  describe('undefined', () => {
    it('omits an undefined object property, as JSON.stringify does, at any depth', () => {
      const value = { a: 1, gone: undefined, nested: [{ b: undefined, c: 2 }] };
      expect(checkValue(value, 'result')).toBe(OMIT_UNDEFINED);
      const back = roundTrip(value) as Record<string, unknown>;
      expect(back).toEqual({ a: 1, nested: [{ c: 2 }] });
      expect(Object.hasOwn(back, 'gone')).toBe(false);
      expect(value).toEqual({ a: 1, gone: undefined, nested: [{ b: undefined, c: 2 }] }); // not changed in place
    });

    it('bodies encoded with and without omitting stay intact (both encoders write to one slab, each past the last)', () => {
      const first = encodeBody({ keep: 'x'.repeat(40) });
      const copy = Buffer.from(first);
      const second = encodeBody({ drop: undefined, keep: 'y'.repeat(40) }, true);
      const third = encodeBody({ keep: 'z'.repeat(40) });
      expect(first).toEqual(copy);
      expect(decodeBody(second)).toEqual({ keep: 'y'.repeat(40) });
      expect(decodeBody(third)).toEqual({ keep: 'z'.repeat(40) });
      expect(decodeBody(first)).toEqual({ keep: 'x'.repeat(40) });
    });

    it('sends an undefined array element as nil', () => {
      const value = [1, undefined, , 3]; // eslint-disable-line no-sparse-arrays
      expect(checkValue(value, 'result')).toBe(AS_IS);
      expect(roundTrip(value)).toEqual([1, null, null, 3]);
    });

    it('leaves the top level to the caller', () => {
      expect(checkValue(undefined, 'result')).toBe(AS_IS);
    });

    it('trims trailing undefined arguments only, and copies only when it trims', () => {
      const none = [1, undefined, 2];
      expect(trimArgs(none)).toBe(none);
      expect(trimArgs([1, undefined, 2, undefined, undefined])).toEqual([1, undefined, 2]);
      expect(trimArgs([undefined])).toEqual([]);
      expect(trimArgs([null])).toEqual([null]);
    });
  });

  describe('what msgpackr would encode differently from what the check saw', () => {
    it('refuses an array with its own constructor (msgpackr would write it as a map, or corrupt the body)', () => {
      expect(checkValue({ a: Object.assign([1, 2], { constructor: Object }) }, 'result')).toMatch(/^result \.a: an array with its own "constructor"/);
      expect(checkValue(Object.assign([1], { constructor: Map }), 'result')).toMatch(/own "constructor"/);
    });

    it('refuses a Date subclass (msgpackr would encode its toJSON(), which the check never saw)', () => {
      class Stamp extends Date {
        override toJSON(): string {
          return 'not a date';
        }
      }
      expect(checkValue({ at: new Stamp(0) }, 'result')).toMatch(/^result \.at: /);
      expect(checkValue(new Date(0), 'result')).toBe(AS_IS);
    });
  });

  describe('work is bounded (MAX_VALUES)', () => {
    it('refuses a huge sparse array at once, without walking its length', () => {
      const sparse: unknown[] = [];
      sparse.length = 1e8;
      const t0 = performance.now();
      expect(checkValue({ s: sparse }, 'result')).toMatch(/more than \d+ parts/);
      expect(performance.now() - t0).toBeLessThan(50);
    });

    it('refuses a value that shares subtrees so often that its walk would exceed the bound (a small DAG, a huge tree)', () => {
      let dag: unknown = 0;
      for (let i = 0; i < 40; i++) dag = [dag, dag]; // 41 arrays, 2^40 paths
      const t0 = performance.now();
      expect(checkValue(dag, 'result')).toMatch(/more than \d+ parts/);
      expect(performance.now() - t0).toBeLessThan(5000); // MAX_VALUES visits at most, instead of 2^40
      expect(MAX_VALUES).toBeGreaterThanOrEqual(8 * 1024 * 1024); // never less than a default frame can carry
    });
  });

  describe('circular and deep values', () => {
    it('refuses a circular value at the path where it comes back', () => {
      const self: Record<string, unknown> = { a: 1 };
      self.me = self;
      expect(checkValue(self, 'result')).toBe('result .me: a circular reference cannot be sent');
      const list: unknown[] = [1];
      const holder = { list };
      list.push({ back: holder });
      expect(checkValue({ top: holder }, 'argument 0')).toBe('argument 0 .top.list[1].back: a circular reference cannot be sent');
    });

    it(`accepts ${MAX_VALUE_DEPTH} levels of nesting and refuses ${MAX_VALUE_DEPTH + 1}, with a shortened path`, () => {
      expect(MAX_VALUE_DEPTH).toBe(98);
      expect(checkValue(nested(MAX_VALUE_DEPTH), 'result')).toBe(AS_IS);
      expect(checkValue(nested(MAX_VALUE_DEPTH, {}), 'result')).toBe('result [0][0][0][0][0][0][0][0]...86 more...[0][0][0][0]: nesting deeper than 98 levels cannot be sent');
    });

    it('refuses a very deep value without exhausting the stack', () => {
      expect(checkValue(nested(1_000_000), 'result')).toMatch(/nesting deeper than 98 levels/);
      let list: unknown = null;
      for (let i = 0; i < 1_000_000; i++) list = { next: list };
      expect(checkValue(list, 'result')).toMatch(/^result \.next\.next.*: nesting deeper than 98 levels/);
    });

    it('a value the checker passes is one the receiver accepts: a request nests arguments two levels down', () => {
      const arg = nested(MAX_VALUE_DEPTH);
      expect(() => decodeBody(encodeBody(['s', '1', '', 'm', [arg], null]))).not.toThrow();
      expect(() => decodeBody(encodeBody(['s', '1', '', 'm', [[arg]], null]))).toThrow(/nested deeper than 100/);
    });
  });

  describe('arguments', () => {
    it('names the argument position', () => {
      expect(checkArgs([1, 'x', { m: new Map() }])).toBe('argument 2 .m: a Map cannot be sent; convert it with Object.fromEntries(map)');
      expect(checkArgs([new Error('e')])).toMatch(/^argument 0: an Error cannot be sent/);
    });

    it('refuses a function that is not a declared callback, telling how to declare one', () => {
      expect(checkArgs(['a', () => 1])).toBe('argument 1: a function cannot be sent; declare a callback at this position (callbacks: [1]) to pass one');
      expect(checkArgs(['a', () => 1], [1])).toBe(AS_IS);
      expect(checkArgs([() => 1, () => 1], [1])).toMatch(/^argument 0: a function/);
    });

    it('reports undefined properties in any argument', () => {
      expect(checkArgs([1, undefined, { a: undefined }])).toBe(OMIT_UNDEFINED);
      expect(checkArgs([1, undefined, null])).toBe(AS_IS);
    });
  });

  it('lets what a getter throws through (the caller turns it into SERIALIZATION_ERROR)', () => {
    const value = {
      get bad(): never {
        throw new Error('getter failed');
      },
    };
    expect(() => checkValue(value, 'result')).toThrow('getter failed');
  });

  describe('properties', () => {
    // JSON-like values: -0 travels as the integer 0 (by design, protocol.md 4.8).
    const json = fc.jsonValue({ maxDepth: 6 }).map((v) => JSON.parse(JSON.stringify(v), (_k, x: unknown) => (Object.is(x, -0) ? 0 : x)) as unknown);
    const noProtoKey = (v: unknown): boolean => !JSON.stringify(v ?? null).includes('"__proto__":');

    it('any JSON-like value passes as is and round-trips unchanged', () => {
      fc.assert(
        fc.property(json.filter(noProtoKey), (value) => {
          expect(checkValue(value, 'result')).toBe(AS_IS);
          expect(decodeBody(encodeBody(value))).toEqual(value);
        }),
        { numRuns: 300 },
      );
    });

    it('a JSON-like value with undefined anywhere reads back as JSON.stringify would have it', () => {
      const leaf = fc.oneof(fc.constant(undefined), fc.integer(), fc.string(), fc.boolean(), fc.constant(null));
      const tree = fc.letrec((tie) => ({
        value: fc.oneof({ depthSize: 'small' }, leaf, fc.array(tie('value'), { maxLength: 4 }), fc.dictionary(fc.string().filter((k) => k !== '__proto__'), tie('value'), { maxKeys: 4 })),
      })).value;
      fc.assert(
        fc.property(tree, (value) => {
          if (value === undefined) return; // the top level is the caller's: an empty body
          expect(roundTrip(value)).toEqual(JSON.parse(JSON.stringify(value)));
        }),
        { numRuns: 300 },
      );
    });
  });
});
