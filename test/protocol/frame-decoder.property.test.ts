// Property tests of the frame decoder (issue #7 item E; fragments: fragments.property.test.ts). Valid frames come from
// the table of legal (type, flags) pairs of the issue #7 hardening design (LEGAL_KINDS), so
// these hold for the decoder with strict header checks too; for arbitrary bytes
// only the invariant is asserted, never which headers are refused.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { HeartlineError } from '../../src/errors/heartline-error.js';
import { HEADER_SIZE, MAGIC_0, MAGIC_1, FRAME_VERSION } from '../../src/protocol/constants.js';
import { encodeFrame, writeHeader, type FrameHeader } from '../../src/protocol/frame.js';
import { FrameDecoder } from '../../src/protocol/frame-decoder.js';
import { LEGAL_KINDS } from '../fuzz/generators.js';

type Event = { t: 'frame'; header: FrameHeader; body: Buffer } | { t: 'oversize'; header: FrameHeader } | { t: 'error'; err: HeartlineError };

interface Recorder {
  decoder: FrameDecoder;
  events: Event[];
}

function record(maxFrameSize: number, throwOnFrame = -1): Recorder {
  const events: Event[] = [];
  let frames = 0;
  const decoder = new FrameDecoder(maxFrameSize, {
    onFrame: (header, body) => {
      events.push({ t: 'frame', header: { ...header }, body: Buffer.from(body) });
      if (frames++ === throwOnFrame) throw new Error('sink failure');
    },
    onOversize: (header) => events.push({ t: 'oversize', header: { ...header } }),
    onProtocolError: (err) => events.push({ t: 'error', err }),
  });
  return { decoder, events };
}

/** Cuts `bytes` at `cuts` (any numbers; taken modulo the length) into consecutive chunks. */
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

/**
 * Counts the bytes copied and the largest buffer allocated while `fn` runs, by
 * wrapping the Buffer functions a decoder can copy or allocate with.
 */
function metered(fn: () => void): { copied: number; largestAlloc: number } {
  const stats = { copied: 0, largestAlloc: 0 };
  const B = Buffer as unknown as Record<'alloc' | 'allocUnsafe' | 'allocUnsafeSlow' | 'concat', (...args: unknown[]) => Buffer>;
  const saved = { alloc: B.alloc, allocUnsafe: B.allocUnsafe, allocUnsafeSlow: B.allocUnsafeSlow, concat: B.concat };
  const copy = Buffer.prototype.copy;
  const set = Uint8Array.prototype.set;
  for (const name of ['alloc', 'allocUnsafe', 'allocUnsafeSlow'] as const) {
    B[name] = (...args: unknown[]) => {
      stats.largestAlloc = Math.max(stats.largestAlloc, Number(args[0]));
      return saved[name].apply(Buffer, args);
    };
  }
  B.concat = (...args: unknown[]) => {
    const out = saved.concat.apply(Buffer, args);
    stats.copied += out.length;
    stats.largestAlloc = Math.max(stats.largestAlloc, out.length);
    return out;
  };
  Buffer.prototype.copy = function (this: Buffer, ...args: Parameters<Buffer['copy']>): number {
    const n = copy.apply(this, args);
    stats.copied += n;
    return n;
  };
  Uint8Array.prototype.set = function (this: Uint8Array, ...args: [ArrayLike<number>, number?]): void {
    stats.copied += args[0].length;
    set.apply(this, args);
  };
  try {
    fn();
  } finally {
    Object.assign(B, saved);
    Buffer.prototype.copy = copy;
    Uint8Array.prototype.set = set;
  }
  return stats;
}

/** A frame of a legal kind with an arbitrary id, status (where one is allowed) and body (where one is allowed). */
const legalFrame = (maxBody: number, kinds = LEGAL_KINDS) =>
  fc
    .record({
      kind: fc.constantFrom(...kinds),
      status: fc.integer({ min: 0, max: 255 }),
      id: fc.integer({ min: 0, max: 0xffffffff }),
      body: fc.uint8Array({ maxLength: maxBody }),
    })
    .map(({ kind, status, id, body }) => {
      const bytes = kind.body === 'empty' ? Buffer.alloc(0) : Buffer.from(body);
      const header: FrameHeader = { flags: kind.flags, status: kind.status === 'zero' ? 0 : status, type: kind.type, id, length: bytes.length };
      return { header, body: bytes, wire: encodeFrame(header.flags, header.status, header.type, header.id, bytes) };
    });

const cuts = fc.array(fc.nat(), { maxLength: 40 });
const RUNS = { numRuns: 300 };

describe('FrameDecoder properties', () => {
  it('(a) any split of a valid stream gives the same frames, in order, as the whole stream', () => {
    fc.assert(
      fc.property(fc.array(legalFrame(300), { maxLength: 20 }), cuts, fc.boolean(), (frames, at, byteAtATime) => {
        const stream = Buffer.concat(frames.map((f) => f.wire));
        const whole = record(1024 * 1024);
        whole.decoder.push(stream);
        const split = record(1024 * 1024);
        const chunks = byteAtATime ? [...stream].map((b) => Buffer.from([b])) : chunksOf(stream, at);
        for (const chunk of chunks) split.decoder.push(chunk);

        const expected = frames.map((f) => ({ t: 'frame', header: f.header, body: f.body }));
        expect(whole.events).toEqual(expected);
        expect(split.events).toEqual(expected);
        // With fragments agreed (protocol.md 4.9), a stream of whole frames reads the same.
        const fragmenting = record(1024 * 1024);
        fragmenting.decoder.enableFragments();
        for (const chunk of chunks) fragmenting.decoder.push(chunk);
        expect(fragmenting.events).toEqual(expected);
        expect(whole.decoder.midFrame).toBe(false);
        expect(split.decoder.midFrame).toBe(false);
      }),
      RUNS,
    );
  });

  /** A byte string: random, or a valid stream with bytes overwritten, cut out or put in, or plausible headers with random fields. */
  const anyBytes = fc.oneof(
    fc.uint8Array({ maxLength: 2000 }).map((b) => Buffer.from(b)),
    fc
      .tuple(
        fc.array(legalFrame(64), { minLength: 1, maxLength: 12 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
        fc.array(fc.tuple(fc.nat(), fc.nat({ max: 20 })), { maxLength: 2 }),
        fc.array(fc.tuple(fc.nat(), fc.uint8Array({ maxLength: 20 })), { maxLength: 2 }),
      )
      .map(([frames, writes, deletions, insertions]) => {
        let bytes = Buffer.concat(frames.map((f) => f.wire));
        for (const [at, value] of writes) bytes[at % bytes.length] = value;
        for (const [at, n] of deletions) bytes = Buffer.concat([bytes.subarray(0, at % bytes.length), bytes.subarray((at % bytes.length) + n)]);
        for (const [at, extra] of insertions) bytes = Buffer.concat([bytes.subarray(0, at % (bytes.length + 1)), extra, bytes.subarray(at % (bytes.length + 1))]);
        return bytes;
      }),
    fc
      .array(
        fc.record({
          fields: fc.uint8Array({ minLength: 5, maxLength: 5 }),
          id: fc.integer({ min: 0, max: 0xffffffff }),
          length: fc.oneof(fc.nat({ max: 64 }), fc.integer({ min: 0, max: 0xffffffff })),
          body: fc.uint8Array({ maxLength: 64 }),
        }),
        { maxLength: 10 },
      )
      .map((headers) =>
        Buffer.concat(
          headers.flatMap(({ fields, id, length, body }) => {
            const h = Buffer.alloc(HEADER_SIZE);
            h[0] = MAGIC_0;
            h[1] = MAGIC_1;
            h[2] = FRAME_VERSION;
            h.set(fields, 3); // flags, status, type, reserved
            h.writeUInt32BE(id, 8);
            h.writeUInt32BE(length, 12);
            return [h, Buffer.from(body)];
          }),
        ),
      ),
  );

  /**
   * The events of a decoder account for the input: each frame's or oversized
   * frame's header is the next 16 input bytes (re-encoded from the fields), a
   * frame's body the bytes after it; at most one protocol error, and nothing
   * after it; without one, the decoder is mid-frame exactly when input is left over.
   */
  function expectAccountedFor(input: Buffer, r: Recorder, maxFrameSize: number): void {
    let at = 0;
    const errors = r.events.filter((e) => e.t === 'error');
    expect(errors.length).toBeLessThanOrEqual(1);
    if (errors.length === 1) {
      expect(r.events.at(-1)!.t).toBe('error');
      expect(r.decoder.failed).toBe(true);
    }
    for (const e of r.events) {
      if (e.t === 'error') break;
      const header = Buffer.alloc(HEADER_SIZE);
      writeHeader(header, 0, e.header.flags, e.header.status, e.header.type, e.header.id, e.header.length);
      expect(input.subarray(at, at + HEADER_SIZE).equals(header)).toBe(true);
      if (e.t === 'frame') {
        expect(HEADER_SIZE + e.header.length).toBeLessThanOrEqual(maxFrameSize);
        expect(e.body.equals(input.subarray(at + HEADER_SIZE, at + HEADER_SIZE + e.header.length))).toBe(true);
        expect(e.body.length).toBe(e.header.length);
      } else {
        expect(HEADER_SIZE + e.header.length).toBeGreaterThan(maxFrameSize);
      }
      at += HEADER_SIZE + e.header.length;
    }
    if (errors.length === 0) expect(r.decoder.midFrame).toBe(at !== input.length);
  }

  it('(b) any byte string decodes to frames or ends in exactly one protocol error; push() never throws; work is linear', () => {
    fc.assert(
      fc.property(anyBytes, cuts, fc.integer({ min: 1024, max: 4096 }), (input, at, maxFrameSize) => {
        const whole = record(maxFrameSize);
        const split = record(maxFrameSize);
        const chunks = chunksOf(input, at);
        const cost = metered(() => {
          expect(() => whole.decoder.push(input)).not.toThrow();
          for (const chunk of chunks) expect(() => split.decoder.push(chunk)).not.toThrow();
        });
        expectAccountedFor(input, whole, maxFrameSize);
        expectAccountedFor(input, split, maxFrameSize);
        // Both feeds see the same stream: the same events (only the wording of an error may differ).
        expect(split.events.map((e) => (e.t === 'error' ? 'error' : e))).toEqual(whole.events.map((e) => (e.t === 'error' ? 'error' : e)));
        // Linear work: each input byte is copied a bounded number of times (plus a header's worth per push).
        expect(cost.copied).toBeLessThanOrEqual(4 * 2 * input.length + 4 * HEADER_SIZE * (chunks.length + 1));
        expect(whole.events.length).toBeLessThanOrEqual(input.length / HEADER_SIZE + 1);
        // A failed decoder reads nothing more.
        if (whole.decoder.failed) {
          const before = whole.events.length;
          whole.decoder.push(Buffer.concat(LEGAL_KINDS.map((k) => encodeFrame(k.flags, 0, k.type, 1))));
          expect(whole.events.length).toBe(before);
        }
      }),
      RUNS,
    );
  });

  it('(b) a sink that throws ends the stream in one protocol error, not an exception out of push()', () => {
    fc.assert(
      fc.property(fc.array(legalFrame(64), { minLength: 1, maxLength: 10 }), fc.nat({ max: 9 }), cuts, (frames, throwOn, at) => {
        const stream = Buffer.concat(frames.map((f) => f.wire));
        const r = record(1024 * 1024, throwOn);
        for (const chunk of chunksOf(stream, at)) expect(() => r.decoder.push(chunk)).not.toThrow();
        const errors = r.events.filter((e) => e.t === 'error');
        if (throwOn < frames.length) {
          expect(errors).toHaveLength(1);
          expect(r.events.at(-1)!.t).toBe('error');
          expect(r.events.filter((e) => e.t === 'frame')).toHaveLength(throwOn + 1);
        } else {
          expect(errors).toHaveLength(0);
        }
      }),
      RUNS,
    );
  });

  it('(c) oversized frames are reported at their header and skipped without buffering; later frames decode', () => {
    const bodyKinds = LEGAL_KINDS.filter((k) => k.body === 'any');
    const item = (maxFrameSize: number) =>
      fc.oneof(
        legalFrame(200).map((f) => ({ over: false as const, ...f })),
        // exactly at the limit: header + body = maxFrameSize
        legalFrame(0, bodyKinds).map((f) => {
          const body = Buffer.alloc(maxFrameSize - HEADER_SIZE, 0x5a);
          const header = { ...f.header, length: body.length };
          return { over: false as const, header, body, wire: encodeFrame(header.flags, header.status, header.type, header.id, body) };
        }),
        fc
          .record({
            frame: legalFrame(0, bodyKinds),
            // declared lengths just over the limit, a few times it, or anything up to 2^32 - 1
            extra: fc.oneof(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 4 * maxFrameSize }), fc.integer({ min: 1, max: 0xffffffff - maxFrameSize })),
            fill: fc.integer({ min: 0, max: 255 }),
          })
          .map(({ frame, extra, fill }) => {
            const length = maxFrameSize - HEADER_SIZE + extra;
            const header = { ...frame.header, length };
            const wire = Buffer.alloc(HEADER_SIZE);
            writeHeader(wire, 0, header.flags, header.status, header.type, header.id, length);
            return { over: true as const, header, fill, wire };
          }),
      );
    const scenario = fc.integer({ min: 1024, max: 8192 }).chain((maxFrameSize) =>
      fc.record({ maxFrameSize: fc.constant(maxFrameSize), items: fc.array(item(maxFrameSize), { minLength: 1, maxLength: 8 }), cuts, tail: fc.nat({ max: 300_000 }) }),
    );
    fc.assert(
      fc.property(scenario, ({ maxFrameSize, items, cuts: at, tail }) => {
        // The stream, as (bytes, events due once these bytes are in) steps. An oversized body is sent
        // in full when it is short enough; one that is not ends the stream after `tail` of its bytes.
        const pieces: Array<{ bytes: Buffer; due?: Event }> = [];
        let ended = false;
        for (const it of items) {
          if (it.over) {
            pieces.push({ bytes: it.wire, due: { t: 'oversize', header: it.header } });
            const full = it.header.length <= 64 * 1024;
            const n = full ? it.header.length : Math.min(tail, it.header.length - 1);
            for (let sent = 0; sent < n; sent += 65536) pieces.push({ bytes: Buffer.alloc(Math.min(65536, n - sent), it.fill) });
            if (!full) {
              ended = true;
              break;
            }
          } else {
            pieces.push({ bytes: it.wire, due: { t: 'frame', header: it.header, body: it.body } });
          }
        }
        const r = record(maxFrameSize);
        const expected: Event[] = [];
        const seenAfterPiece: number[] = [];
        const dueAfterPiece: number[] = [];
        const cost = metered(() => {
          for (const piece of pieces) {
            // Each piece in a few chunks; the events due are there once its last byte is.
            for (const chunk of chunksOf(piece.bytes, at.slice(0, 3))) r.decoder.push(chunk);
            if (piece.due !== undefined) expected.push(piece.due);
            seenAfterPiece.push(r.events.length);
            dueAfterPiece.push(expected.length);
          }
        });
        expect(seenAfterPiece).toEqual(dueAfterPiece);
        expect(r.events).toEqual(expected);
        expect(cost.largestAlloc).toBeLessThanOrEqual(maxFrameSize);
        expect(r.decoder.midFrame).toBe(ended);
      }),
      { numRuns: 200 },
    );
  });
});
