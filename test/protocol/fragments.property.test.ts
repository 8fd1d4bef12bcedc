// Reassembly of fragment frames by the decoder (protocol.md 4.9), as properties
// (fast-check) and hostile sequences: any body split at any points, with whole
// frames between its fragments and the stream cut anywhere, reassembles to the
// same messages; a second open message and a mismatched status are protocol
// errors; an oversized message is skipped, never buffered, and reported once.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { HeartlineError } from '../../src/errors/heartline-error.js';
import { FLAG_MORE, FrameType, HEADER_SIZE } from '../../src/protocol/constants.js';
import { encodeFrame, type FrameHeader } from '../../src/protocol/frame.js';
import { FrameDecoder } from '../../src/protocol/frame-decoder.js';
import { LEGAL_KINDS } from '../fuzz/generators.js';

type Event = { t: 'frame'; header: FrameHeader; body: Buffer } | { t: 'oversize'; header: FrameHeader } | { t: 'error'; err: HeartlineError };

function record(maxFrameSize: number, fragments = true): { decoder: FrameDecoder; events: Event[]; bodies: Buffer[] } {
  const events: Event[] = [];
  const bodies: Buffer[] = [];
  const decoder = new FrameDecoder(maxFrameSize, {
    onFrame: (header, body) => {
      bodies.push(body);
      events.push({ t: 'frame', header: { ...header }, body: Buffer.from(body) });
    },
    onOversize: (header) => events.push({ t: 'oversize', header: { ...header } }),
    onProtocolError: (err) => events.push({ t: 'error', err }),
  });
  if (fragments) decoder.enableFragments();
  return { decoder, events, bodies };
}

function chunksOf(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let from = 0;
  for (const to of [...at, bytes.length]) {
    out.push(bytes.subarray(from, to));
    from = to;
  }
  return out;
}

const CALL_FLAGS = [0xc0, 0x80, 0x00] as const;

/** A whole frame of any legal kind (never MORE). */
const wholeFrame = fc
  .record({ kind: fc.constantFrom(...LEGAL_KINDS), status: fc.integer({ min: 0, max: 255 }), id: fc.integer({ min: 0, max: 40 }), body: fc.uint8Array({ maxLength: 80 }) })
  .map(({ kind, status, id, body }) => ({
    flags: kind.flags,
    status: kind.status === 'zero' ? 0 : status,
    type: kind.type,
    id,
    body: kind.body === 'empty' ? Buffer.alloc(0) : Buffer.from(body),
  }));
type Whole = { flags: number; status: number; type: FrameType; id: number; body: Buffer };

/** A Call message split at `cuts` into fragments, with whole frames after some fragments. */
const fragmented = fc
  .record({
    flags: fc.constantFrom(...CALL_FLAGS),
    status: fc.integer({ min: 0, max: 255 }),
    id: fc.integer({ min: 0, max: 40 }),
    body: fc.uint8Array({ maxLength: 600 }),
    cuts: fc.array(fc.nat(), { minLength: 1, maxLength: 12 }),
    between: fc.array(fc.tuple(fc.nat(), wholeFrame), { maxLength: 6 }),
  })
  .map(({ flags, status, id, body, cuts, between }) => {
    const bytes = Buffer.from(body);
    const parts = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
    const pieces: Buffer[] = [];
    let from = 0;
    for (const to of [...parts, bytes.length]) {
      pieces.push(bytes.subarray(from, to));
      from = to;
    }
    // At least two fragments (a one-piece "message" would be a whole frame).
    if (pieces.length === 1) pieces.unshift(Buffer.alloc(0));
    const s = flags === 0x00 ? status : 0;
    // A whole Call frame between fragments must not look like the message's own final fragment.
    const others: Whole[][] = pieces.map(() => []);
    for (const [at, w] of between) {
      const frame = w.type === FrameType.Call && w.flags === flags && w.id === id ? { ...w, id: id + 1000 } : w;
      others[at % (pieces.length - 1)]!.push(frame);
    }
    return { flags, status: s, id, body: bytes, pieces, others };
  });
type Message = { flags: number; status: number; id: number; body: Buffer; pieces: Buffer[]; others: Whole[][] };

const encodeWhole = (w: Whole): Buffer => encodeFrame(w.flags, w.status, w.type, w.id, w.body);
const asEvent = (w: Whole): Event => ({ t: 'frame', header: { flags: w.flags, status: w.status, type: w.type, id: w.id, length: w.body.length }, body: w.body });

/** The wire bytes of a sequence of whole frames and fragmented messages, and the events a receiver must report. */
function stream(items: Array<{ whole: Whole } | { message: Message }>): { wire: Buffer; expected: Event[] } {
  const wire: Buffer[] = [];
  const expected: Event[] = [];
  for (const item of items) {
    if ('whole' in item) {
      wire.push(encodeWhole(item.whole));
      expected.push(asEvent(item.whole));
      continue;
    }
    const m = item.message;
    m.pieces.forEach((piece, i) => {
      const last = i === m.pieces.length - 1;
      wire.push(encodeFrame(last ? m.flags : m.flags | FLAG_MORE, m.status, FrameType.Call, m.id, piece));
      if (!last) for (const w of m.others[i]!) {
        wire.push(encodeWhole(w));
        expected.push(asEvent(w));
      }
    });
    expected.push({ t: 'frame', header: { flags: m.flags, status: m.status, type: FrameType.Call, id: m.id, length: m.body.length }, body: m.body });
  }
  return { wire: Buffer.concat(wire), expected };
}

const items = fc.array(fc.oneof(wholeFrame.map((whole) => ({ whole })), fragmented.map((message) => ({ message }))), { maxLength: 8 });

describe('fragment reassembly (properties)', () => {
  it('any body split at any points, with whole frames between fragments, and the stream cut anywhere, reassembles to the same messages', () => {
    fc.assert(
      fc.property(items, fc.array(fc.nat(), { maxLength: 40 }), (list, cuts) => {
        const { wire, expected } = stream(list);
        const whole = record(1024 * 1024);
        whole.decoder.push(wire);
        expect(whole.events).toEqual(expected);
        const split = record(1024 * 1024);
        for (const chunk of chunksOf(wire, cuts)) split.decoder.push(chunk);
        expect(split.events).toEqual(expected);
        expect(split.decoder.midFrame).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it('a two-fragment message with a whole frame between them, split at every byte boundary', () => {
    const body = Buffer.from([...Array(40).keys()]);
    const { wire, expected } = stream([
      { message: { flags: 0xc0, status: 0, id: 3, body, pieces: [body.subarray(0, 15), body.subarray(15)], others: [[{ flags: 0xe0, status: 0, type: FrameType.Heartbeat, id: 9, body: Buffer.alloc(0) }], []] } },
    ]);
    for (let a = 0; a <= wire.length; a++) {
      const r = record(1024);
      r.decoder.push(wire.subarray(0, a));
      expect(r.decoder.midFrame).toBe(a > 0 && a < wire.length);
      r.decoder.push(wire.subarray(a));
      expect(r.events).toEqual(expected);
    }
  });

  it('oversize at any point of a message: nothing buffered past the limit, one oversize report at the final header, then decoding goes on', () => {
    fc.assert(
      fc.property(fragmented, fc.integer({ min: HEADER_SIZE, max: 400 }), wholeFrame, fc.array(fc.nat(), { maxLength: 20 }), (m, limit, after, cuts) => {
        const { wire, expected } = stream([{ message: m }, { whole: after }]);
        const r = record(limit);
        for (const chunk of chunksOf(wire, cuts)) r.decoder.push(chunk);
        const tooBig = HEADER_SIZE + m.body.length > limit;
        const inLimit = (e: Event): boolean => e.t !== 'frame' || HEADER_SIZE + e.header.length <= limit;
        const want = expected
          .map((e, i): Event => (tooBig && i === expected.length - 2 ? { t: 'oversize', header: (e as { header: FrameHeader }).header } : e))
          .map((e): Event => (inLimit(e) ? e : { t: 'oversize', header: (e as { header: FrameHeader }).header }));
        expect(r.events).toEqual(want);
      }),
      { numRuns: 300 },
    );
  });
});

describe('fragment reassembly (hostile sequences)', () => {
  const frag = (flags: number, id: number, body: Buffer, status = 0): Buffer => encodeFrame(flags, status, FrameType.Call, id, body);
  const ping = encodeFrame(0xe0, 0, FrameType.Heartbeat, 1);

  it('a MORE frame of a second message while one is open is a protocol error', () => {
    for (const [flags, id] of [[0xd0, 2], [0x90, 1], [0x10, 1]] as const) {
      const r = record(1024);
      r.decoder.push(Buffer.concat([frag(0xd0, 1, Buffer.from('ab')), frag(flags, id, Buffer.from('cd')), ping]));
      expect(r.events.map((e) => e.t)).toEqual(['error']);
      expect(r.decoder.failed).toBe(true);
    }
  });

  it('a fragment whose status differs from its message is a protocol error, final or not', () => {
    for (const more of [true, false]) {
      const r = record(1024);
      r.decoder.push(Buffer.concat([frag(0x10, 1, Buffer.from('ab'), 6), frag(more ? 0x10 : 0x00, 1, Buffer.from('cd'), 7)]));
      expect(r.events.map((e) => e.t)).toEqual(['error']);
    }
  });

  it('MORE is a reserved bit until fragments are enabled, and on any type but Call', () => {
    const r = record(1024, false);
    r.decoder.push(frag(0xd0, 1, Buffer.from('ab')));
    expect(r.events.map((e) => e.t)).toEqual(['error']);
    for (const [flags, type] of [[0xf0, FrameType.Heartbeat], [0xb0, FrameType.Cancel], [0xf0, FrameType.Handshake], [0x50, FrameType.Call]] as const) {
      const on = record(1024);
      on.decoder.push(encodeFrame(flags, 0, type, 1));
      expect(on.events.map((e) => e.t), `flags 0x${flags.toString(16)} type ${type}`).toEqual(['error']);
    }
  });

  it('a whole Call frame of another id between fragments is delivered on its own; one with the same id is the final fragment', () => {
    const r = record(1024);
    r.decoder.push(Buffer.concat([frag(0xd0, 1, Buffer.from('ab')), frag(0xc0, 2, Buffer.from('xy')), frag(0x00, 1, Buffer.from('zz')), frag(0xc0, 1, Buffer.from('cd'))]));
    expect(r.events.map((e) => (e.t === 'frame' ? [e.header.id, e.header.flags, e.body.toString()] : e.t))).toEqual([
      [2, 0xc0, 'xy'],
      [1, 0x00, 'zz'],
      [1, 0xc0, 'abcd'],
    ]);
  });

  it('1-byte fragments in large chunks: the message is copied out, no chunk is kept', () => {
    const r = record(1024 * 1024);
    const chunks: Buffer[] = [];
    const body = Buffer.from('hello, fragments');
    for (let i = 0; i < body.length; i++) {
      const f = frag(i === body.length - 1 ? 0xc0 : 0xd0, 5, body.subarray(i, i + 1));
      // Each fragment arrives at the end of its own 64 KiB chunk (after pings).
      const pad = Buffer.concat(Array.from({ length: 4095 }, () => ping));
      const chunk = Buffer.concat([pad, f]);
      chunks.push(chunk);
      r.decoder.push(chunk);
    }
    const message = r.bodies.at(-1)!;
    expect(message.toString()).toBe('hello, fragments');
    for (const chunk of chunks) expect(message.buffer === chunk.buffer).toBe(false);
    // The message's buffer is its own, not a 64 KiB slab.
    expect(message.buffer.byteLength).toBeLessThan(64 * 1024);
  });

  it('an oversized message is skipped in 1 MiB pieces without buffering it, reported once, and the stream goes on', () => {
    const r = record(64 * 1024);
    const header = (flags: number, length: number): Buffer => {
      const h = encodeFrame(flags, 0, FrameType.Call, 9);
      h.writeUInt32BE(length, 12);
      return h;
    };
    const piece = Buffer.alloc(1024 * 1024);
    let largest = 0;
    const allocUnsafe = Buffer.allocUnsafe;
    Buffer.allocUnsafe = (size: number) => {
      largest = Math.max(largest, size);
      return allocUnsafe(size);
    };
    try {
      r.decoder.push(header(0xd0, 40 * 1024));
      r.decoder.push(Buffer.alloc(40 * 1024));
      for (let i = 0; i < 3; i++) {
        r.decoder.push(header(0xd0, 4 * 1024 * 1024));
        for (let j = 0; j < 4; j++) r.decoder.push(piece);
      }
      expect(r.events).toEqual([]);
      r.decoder.push(header(0xc0, 10));
      r.decoder.push(Buffer.alloc(10));
      r.decoder.push(ping);
    } finally {
      Buffer.allocUnsafe = allocUnsafe;
    }
    expect(r.events).toEqual([
      { t: 'oversize', header: { flags: 0xc0, status: 0, type: FrameType.Call, id: 9, length: 40 * 1024 + 12 * 1024 * 1024 + 10 } },
      { t: 'frame', header: { flags: 0xe0, status: 0, type: FrameType.Heartbeat, id: 1, length: 0 }, body: Buffer.alloc(0) },
    ]);
    expect(largest).toBeLessThanOrEqual(64 * 1024);
    expect(r.decoder.midFrame).toBe(false);
  });

  it('64 KiB fragments in 64 KiB chunks are held as views and copied once, at the final fragment', () => {
    const limit = 8 * 1024 * 1024;
    const r = record(limit);
    const body = Buffer.from(Array.from({ length: 4 * 1024 * 1024 }, (_, i) => (i * 7) & 0xff));
    const wire = Buffer.concat(Array.from({ length: 64 }, (_, k) => frag(k === 63 ? 0xc0 : 0xd0, 4, body.subarray(k * 65536, (k + 1) * 65536))));
    const sizes: number[] = [];
    const allocUnsafe = Buffer.allocUnsafe;
    const allocUnsafeSlow = Buffer.allocUnsafeSlow;
    Buffer.allocUnsafe = (size: number) => {
      sizes.push(size);
      return allocUnsafe(size);
    };
    Buffer.allocUnsafeSlow = (size: number) => {
      sizes.push(size);
      return allocUnsafeSlow(size);
    };
    try {
      // As a socket delivers it: fresh 64 KiB chunks, not aligned on frames.
      for (let at = 0; at < wire.length; at += 65536) r.decoder.push(Buffer.from(wire.subarray(at, at + 65536)));
    } finally {
      Buffer.allocUnsafe = allocUnsafe;
      Buffer.allocUnsafeSlow = allocUnsafeSlow;
    }
    expect(r.events).toHaveLength(1);
    expect((r.events[0] as { body: Buffer }).body.equals(body)).toBe(true);
    // One buffer of the body's size, plus small staging buffers for the slivers at chunk ends.
    expect(sizes.filter((s) => s >= 64 * 1024)).toEqual([body.length]);
    expect(sizes.filter((s) => s < 64 * 1024).reduce((a, b) => a + b, 0)).toBeLessThan(64 * 1024);
  });

  it('a stream of tiny fragments is copied into staging buffers that grow, never one buffer per fragment', () => {
    const r = record(1024 * 1024);
    const sizes: number[] = [];
    const allocUnsafeSlow = Buffer.allocUnsafeSlow;
    Buffer.allocUnsafeSlow = (size: number) => {
      sizes.push(size);
      return allocUnsafeSlow(size);
    };
    try {
      for (let i = 0; i < 20_000; i++) r.decoder.push(frag(i === 19_999 ? 0xc0 : 0xd0, 4, Buffer.from([i & 0xff])));
    } finally {
      Buffer.allocUnsafeSlow = allocUnsafeSlow;
    }
    expect(r.events).toHaveLength(1);
    expect((r.events[0] as { body: Buffer }).body.length).toBe(20_000);
    expect(sizes.length).toBeLessThan(12);
    expect(sizes.reduce((a, b) => a + b, 0)).toBeLessThan(2 * 20_000 + 64 * 1024);
  });
});
