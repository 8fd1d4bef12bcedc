import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { childOf, formatTraceparent, isValidTraceparent, newTrace, parseTraceparent, randomId } from '../../src/interceptors/traceparent.js';
import { seededRandom } from '../helpers/seeded-random.js';

const hexDigit = fc.constantFrom(...'0123456789abcdef');
const hex = (n: number) => fc.array(hexDigit, { minLength: n, maxLength: n }).map((d) => d.join(''));
const traceId = hex(32).filter((s) => s !== '0'.repeat(32));
const parentId = hex(16).filter((s) => s !== '0'.repeat(16));
const flags = hex(2);
const valid00 = fc.tuple(traceId, parentId, flags).map(([t, p, f]) => `00-${t}-${p}-${f}`);

/** A source of bytes from a seeded PRNG. */
function seededBytes(seed: number): (n: number) => Uint8Array {
  const r = seededRandom(seed);
  return (n) => Uint8Array.from({ length: n }, () => Math.floor(r() * 256));
}

describe('traceparent', () => {
  it('reads the examples of the W3C spec', () => {
    expect(parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01')).toEqual({
      version: '00',
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      parentId: '00f067aa0ba902b7',
      flags: '01',
    });
    expect(parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00')?.flags).toBe('00');
  });

  it('refuses all-zero ids, version ff, uppercase hex, a bad length or separator, and non-strings', () => {
    for (const bad of [
      '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
      '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01',
      'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      '00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01',
      '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0',
      '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-',
      '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra',
      ' 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      '00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01',
      '0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      '',
      undefined,
      42,
    ]) {
      expect(parseTraceparent(bad), String(bad)).toBeUndefined();
    }
  });

  it('reads a higher version forward-compatibly: its first 55 characters, then nothing or "-"', () => {
    expect(parseTraceparent('01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01')?.version).toBe('01');
    expect(parseTraceparent('cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09-what-the-future-holds')).toMatchObject({ version: 'cc', flags: '09' });
    expect(parseTraceparent('cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09what')).toBeUndefined();
  });

  it('accepts every well-formed version-00 value, and formats it back unchanged', () => {
    fc.assert(
      fc.property(valid00, (value) => {
        const tp = parseTraceparent(value);
        expect(tp).toBeDefined();
        expect(formatTraceparent(tp!)).toBe(value);
      }),
    );
  });

  it('refuses a version-00 value with any one character changed to one outside lowercase hex', () => {
    const outside = fc.constantFrom(...'ABCDEFGxyz_ -+.\u00e9');
    fc.assert(
      fc.property(valid00, fc.nat(54), outside, (value, at, ch) => {
        // '-' written over a separator (at 2, 35 or 52) changes nothing: not a mutation.
        fc.pre(value[at] !== ch);
        const mutated = value.slice(0, at) + ch + value.slice(at + 1);
        expect(parseTraceparent(mutated)).toBeUndefined();
      }),
    );
  });

  it('never throws, and accepts only what the grammar allows (any string)', () => {
    const grammar = /^(?!ff)[0-9a-f]{2}-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}(-.*)?$/s;
    fc.assert(
      fc.property(fc.oneof(fc.string(), valid00.map((v) => v.slice(0, 54)), valid00.chain((v) => fc.string().map((s) => v + s))), (s) => {
        const ok = isValidTraceparent(s);
        const allowed = grammar.test(s) && (s.length === 55 || !s.startsWith('00'));
        expect(ok).toBe(allowed);
      }),
    );
  });

  it('makes ids that are never all zeros, drawing again when the source gives zeros', () => {
    let calls = 0;
    const zerosFirst = (n: number) => (calls++ === 0 ? new Uint8Array(n) : Uint8Array.from({ length: n }, (_, i) => i + 1));
    expect(randomId(8, zerosFirst)).toBe('0102030405060708');
    expect(calls).toBe(2);
  });

  it('starts valid traces, and continues one with the same trace-id and flags and a new parent-id', () => {
    fc.assert(
      fc.property(fc.integer(), fc.boolean(), (seed, sampled) => {
        const random = seededBytes(seed);
        const root = parseTraceparent(newTrace(random, sampled));
        expect(root).toMatchObject({ version: '00', flags: sampled ? '01' : '00' });
        const child = parseTraceparent(childOf(root!, random));
        expect(child).toMatchObject({ version: '00', traceId: root!.traceId, flags: root!.flags });
        expect(child!.parentId).not.toBe(root!.parentId);
      }),
    );
  });

  it('continues a higher version as version 00, keeping only the sampled flag', () => {
    const parent = parseTraceparent('cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0b-more')!;
    expect(childOf(parent, seededBytes(1))).toMatch(/^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/);
  });
});
