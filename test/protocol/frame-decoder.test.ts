import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { HeartlineError } from '../../src/errors/heartline-error.js';
import { decodeBody, encodeBody } from '../../src/protocol/codec.js';
import { FrameType, HEADER_SIZE } from '../../src/protocol/constants.js';
import { encodeFrame, frameFlags, type FrameHeader } from '../../src/protocol/frame.js';
import { FrameDecoder } from '../../src/protocol/frame-decoder.js';
import { fromTyped, typedFromMsgpack } from './typed-body.js';
import { hello, readAnswer } from '../../src/exchange/handshake.js';
import { asVersion1Request, hasBudgetSlot, readErrorResponse, readRequest, requestTuple, writeBudget, type RequestMessage } from '../../src/protocol/messages.js';
import { vectors, type Vector } from './vectors.js';

interface Seen {
  frames: Array<{ header: FrameHeader; body: Buffer }>;
  oversize: FrameHeader[];
  errors: HeartlineError[];
}

/** A decoder with fragments agreed (protocol.md 4.9) unless `fragments` is false. */
function decoder(maxFrameSize = 1024 * 1024, fragments = true): { decoder: FrameDecoder; seen: Seen } {
  const seen: Seen = { frames: [], oversize: [], errors: [] };
  const d = new FrameDecoder(maxFrameSize, {
    onFrame: (header, body) => seen.frames.push({ header, body: Buffer.from(body) }),
    onOversize: (header) => seen.oversize.push(header),
    onProtocolError: (err) => seen.errors.push(err),
  });
  if (fragments) d.enableFragments();
  return { decoder: d, seen };
}

const all = Buffer.concat(vectors.map((v) => Buffer.from(v.hex, 'hex')));

/** What a receiver delivers for vector `v`: its interleaved whole frames, then itself. */
function deliveries(v: Vector): Vector[] {
  return v.fragmented ? [...v.interleaved!, v] : [v];
}

/** The body a vector's message carries (a fragmented one's, reassembled). */
function messageBody(v: Vector): string {
  return v.fragmented ? v.bodyHex! : v.hex.slice(HEADER_SIZE * 2);
}

const expected = vectors.flatMap(deliveries);

function expectAllVectors(seen: Seen): void {
  expect(seen.errors).toEqual([]);
  expect(seen.frames).toHaveLength(expected.length);
  expected.forEach((v, i) => {
    const { header, body } = seen.frames[i]!;
    expect(header).toEqual({ flags: v.flags, status: v.status, type: v.type, id: v.id, length: body.length });
    expect(body.toString('hex')).toBe(messageBody(v));
  });
}

describe('FrameDecoder', () => {
  it('decodes every vector split at every byte boundary', () => {
    for (const v of vectors) {
      const bytes = Buffer.from(v.hex, 'hex');
      for (let split = 0; split <= bytes.length; split++) {
        const { decoder: d, seen } = decoder();
        d.push(bytes.subarray(0, split));
        d.push(bytes.subarray(split));
        expect(seen.errors).toEqual([]);
        expect(seen.frames, `${v.name} split at ${split}`).toHaveLength(deliveries(v).length);
        expect(seen.frames.map((f) => f.body.toString('hex'))).toEqual(deliveries(v).map(messageBody));
        expect(d.midFrame).toBe(false);
      }
    }
  });

  it('decodes all vectors from one chunk', () => {
    const { decoder: d, seen } = decoder();
    d.push(all);
    expectAllVectors(seen);
  });

  it('decodes all vectors fed one byte at a time', () => {
    const { decoder: d, seen } = decoder();
    for (let i = 0; i < all.length; i++) d.push(all.subarray(i, i + 1));
    expectAllVectors(seen);
  });

  it('decodes all vectors split at every boundary of the concatenation', () => {
    for (let split = 0; split <= all.length; split++) {
      const { decoder: d, seen } = decoder();
      d.push(all.subarray(0, split));
      d.push(all.subarray(split));
      expectAllVectors(seen);
    }
  });

  it('reports truncation as midFrame', () => {
    const { decoder: d, seen } = decoder();
    d.push(all.subarray(0, 20));
    expect(seen.frames).toHaveLength(0);
    expect(d.midFrame).toBe(true);
  });

  const good = Buffer.from(vectors[0]!.hex, 'hex');
  const broken: Array<[string, (b: Buffer) => void]> = [
    ['bad magic', (b) => (b[0] = 0xda)],
    ['unknown version', (b) => (b[2] = 2)],
    ['reserved flag bit', (b) => (b[3] = b[3]! | 0x01)],
    ['reserved byte', (b) => (b[7] = 1)],
    ['unknown type', (b) => (b[5] = 9)],
    ['event bit on a call', (b) => (b[5] = FrameType.Call)],
  ];
  for (const [name, corrupt] of broken) {
    it(`rejects a header with ${name} as a protocol error and stops`, () => {
      const bad = Buffer.from(good);
      corrupt(bad);
      const { decoder: d, seen } = decoder();
      d.push(Buffer.concat([bad, good]));
      expect(seen.errors).toHaveLength(1);
      expect(seen.errors[0]!.code).toBe('PROTOCOL_ERROR');
      expect(seen.frames).toHaveLength(0);
      expect(d.failed).toBe(true);
      d.push(good);
      expect(seen.frames).toHaveLength(0);
    });
  }

  // D4-D6: header rules checked from the 16 header bytes, before any body byte.
  // magic+ver | flags | status | type | reserved | id | length
  const refused: Array<[string, string]> = [
    ['TWO_WAY without REQUEST on a call', '484c0140 00 00 0000 00000001 00000000'],
    ['EVENT on a call response', '484c0120 00 00 0000 00000001 00000000'],
    ['one-way handshake', '484c01a0 00 01 0000 00000000 00000000'],
    ['handshake response with TWO_WAY', '484c0160 00 01 0000 00000000 00000000'],
    ['one-way ping', '484c01a0 00 02 0000 00000001 00000000'],
    ['two-way drain', '484c01e0 00 03 0000 00000000 00000000'],
    ['drain as a response', '484c0120 00 03 0000 00000000 00000000'],
    ['two-way cancel', '484c01e0 00 04 0000 00000001 00000000'],
    ['status on a call request', '484c01c0 06 00 0000 00000001 00000000'],
    ['status on a one-way call', '484c0180 06 00 0000 00000001 00000000'],
    ['status on a handshake request', '484c01e0 06 01 0000 00000000 00000000'],
    ['status on a ping', '484c01e0 06 02 0000 00000001 00000000'],
    ['status on a pong', '484c0120 06 02 0000 00000001 00000000'],
    ['status on a drain', '484c01a0 06 03 0000 00000000 00000000'],
    ['status on a cancel', '484c01a0 06 04 0000 00000001 00000000'],
    ['a ping with a body', '484c01e0 00 02 0000 00000001 00000001'],
    ['a pong with a body', '484c0120 00 02 0000 00000001 00000001'],
    ['a cancel with a body', '484c01a0 00 04 0000 00000001 00000001'],
    ['a release with a body', '484c01a0 00 05 0000 00000001 00000001'],
    ['two-way release', '484c01e0 00 05 0000 00000001 00000000'],
    ['status on a release', '484c01a0 06 05 0000 00000001 00000000'],
    ['an unknown type 6', '484c01a0 00 06 0000 00000001 00000000'],
    ['a ping declaring 4 GiB', '484c01e0 00 02 0000 00000001 ffffffff'],
  ];
  for (const [name, hex] of refused) {
    it(`refuses ${name} from the header alone`, () => {
      const header = Buffer.from(hex.replace(/ /g, ''), 'hex');
      expect(header).toHaveLength(HEADER_SIZE);
      // Declared 0 or 1 body bytes: the refusal must come before the body arrives.
      const { decoder: d, seen } = decoder();
      d.push(header);
      expect(seen.errors.map((e) => e.code), name).toEqual(['PROTOCOL_ERROR']);
      expect(seen.frames).toEqual([]);
      expect(seen.oversize).toEqual([]);
      expect(d.failed).toBe(true);
      expect(d.midFrame).toBe(false);
      d.push(Buffer.concat([Buffer.from([0xc0]), good]));
      expect(seen.frames).toEqual([]);
    });
  }

  it('accepts a status on call and handshake responses only', () => {
    const { decoder: d, seen } = decoder();
    d.push(Buffer.from('484c0100060000000000000100000000' + '484c0120060100000000000000000000', 'hex'));
    expect(seen.errors).toEqual([]);
    expect(seen.frames.map((f) => [f.header.type, f.header.status])).toEqual([
      [FrameType.Call, 6],
      [FrameType.Handshake, 6],
    ]);
  });

  it('stop() ends decoding silently, also in the middle of a chunk', () => {
    const ids: number[] = [];
    const ping = (id: number): Buffer => encodeFrame(0xe0, 0, FrameType.Heartbeat, id);
    let stopper: FrameDecoder | undefined;
    const d = new FrameDecoder(1024, {
      onFrame: (h) => {
        ids.push(h.id);
        if (h.id === 2) stopper!.stop();
      },
      onOversize: () => {},
      onProtocolError: (e) => {
        throw e;
      },
    });
    stopper = d;
    d.push(Buffer.concat([ping(1), ping(2), ping(3)]));
    d.push(ping(4));
    expect(ids).toEqual([1, 2]);
    expect(d.failed).toBe(true);
  });

  it('skips an oversized body without buffering it and keeps decoding', () => {
    const { decoder: d, seen } = decoder(1024);
    const header = encodeFrame(frameFlags(FrameType.Call, true, true), 0, FrameType.Call, 5).subarray(0, HEADER_SIZE);
    header.writeUInt32BE(100 * 1024 * 1024, 12); // declares 100 MiB
    d.push(header);
    expect(seen.oversize).toEqual([{ flags: 0xc0, status: 0, type: 0, id: 5, length: 100 * 1024 * 1024 }]);
    // Feed the body in 1 MiB pieces: nothing is retained.
    const piece = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < 100; i++) d.push(piece);
    d.push(good);
    expect(seen.frames).toHaveLength(1);
    expect(seen.errors).toEqual([]);
  });

  it('treats the limit as header plus body', () => {
    const { decoder: d, seen } = decoder(1024);
    const fits = encodeFrame(0xc0, 0, FrameType.Call, 1, Buffer.alloc(1024 - HEADER_SIZE));
    const over = encodeFrame(0xc0, 0, FrameType.Call, 2, Buffer.alloc(1024 - HEADER_SIZE + 1));
    d.push(Buffer.concat([fits, over, good]));
    expect(seen.frames.map((f) => f.header.id)).toEqual([1, 0]);
    expect(seen.oversize.map((h) => h.id)).toEqual([2]);
  });

  it('turns an exception thrown by the sink into a protocol error instead of throwing', () => {
    const errors: HeartlineError[] = [];
    const d = new FrameDecoder(1024, {
      onFrame: () => {
        throw new Error('boom');
      },
      onOversize: () => {},
      onProtocolError: (err) => errors.push(err),
    });
    expect(() => d.push(good)).not.toThrow();
    expect(errors.map((e) => e.code)).toEqual(['PROTOCOL_ERROR']);
  });
});

describe('test vectors', () => {
  const doc = readFileSync(new URL('../../protocol.md', import.meta.url), 'utf8').replace(/\s+/g, '');
  describe.each(vectors.map((v) => [v.name, v] as const))('%s', (_name, v) => {
    const bytes = Buffer.from(v.fragmented ? encodeFrame(v.flags, v.status, v.type, v.id, Buffer.from(v.bodyHex!, 'hex')) : Buffer.from(v.hex, 'hex'));
    const body = bytes.subarray(HEADER_SIZE);
    // A fragmented message is compared, once reassembled, as the whole frame it stands for.
    const hex = bytes.toString('hex');

    if (v.fragmented) {
      it('is fragments with MORE on all but the last, the same flags, status and id, and the interleaved frames between them', () => {
        const wire = Buffer.from(v.hex, 'hex');
        const parts: Buffer[] = [];
        const others: string[] = [];
        let more = true;
        for (let at = 0; at < wire.length; ) {
          const length = wire.readUInt32BE(at + 12);
          const frame = wire.subarray(at, at + HEADER_SIZE + length);
          at += frame.length;
          if (frame.readUInt32BE(8) === v.id && frame[5] === v.type) {
            expect(more, 'no fragment after the last').toBe(true);
            more = (frame[3]! & 0x10) !== 0;
            expect({ flags: frame[3]! & ~0x10, status: frame[4] }).toEqual({ flags: v.flags, status: v.status });
            parts.push(frame.subarray(HEADER_SIZE));
          } else {
            others.push(frame.toString('hex'));
          }
        }
        expect(more).toBe(false);
        expect(parts.length).toBeGreaterThan(1);
        expect(Buffer.concat(parts).toString('hex')).toBe(v.bodyHex);
        expect(others).toEqual(v.interleaved!.map((w) => w.hex));
      });
    }

    it('has the documented header fields', () => {
      expect(bytes.readUInt32BE(12)).toBe(body.length);
      expect({ flags: bytes[3], status: bytes[4], type: bytes[5], id: bytes.readUInt32BE(8) }).toEqual({ flags: v.flags, status: v.status, type: v.type, id: v.id });
      if (v.empty) {
        expect(body.length).toBe(0);
        expect(encodeFrame(v.flags, v.status, v.type, v.id).toString('hex')).toBe(hex);
      } else {
        expect(body.length).toBeGreaterThan(0);
      }
    });

    it('appears in protocol.md', () => {
      expect(doc.includes(v.hex), `the hex of '${v.name}' is missing from protocol.md`).toBe(true);
    });

    if (v.empty) return;

    it('has exactly the documented MessagePack types (read without the codec)', () => {
      // JSON text, so that map key order and int/float/str/bin tags all count.
      expect(JSON.stringify(typedFromMsgpack(body))).toBe(JSON.stringify(v.body));
    });

    it('decodes with the codec to the documented value', () => {
      expect(decodeBody(body)).toEqual(fromTyped(v.body!));
    });

    if (v.canonical === false) return;

    if (v.request) {
      it('reads as a request and re-encodes byte for byte with the request encoder (budget as uint 32)', () => {
        const read = readRequest(decodeBody(body));
        expect(read).not.toBeInstanceOf(HeartlineError);
        const request = read as RequestMessage;
        const items = fromTyped(v.body!) as unknown[];
        expect(request.budget).toBe(items.length === 7 ? (items[6] ?? undefined) : undefined);
        const hasDeadline = request.budget !== undefined;
        const encoded = encodeBody(requestTuple(request.service, request.version, request.group, request.method, request.args, request.attachments ?? undefined, hasDeadline));
        expect(hasBudgetSlot(encoded)).toBe(hasDeadline);
        if (hasDeadline) writeBudget(encoded, request.budget!);
        const wire = items.length === 6 ? asVersion1Request(encoded) : encoded;
        expect(encodeFrame(v.flags, v.status, v.type, v.id, wire).toString('hex')).toBe(hex);
      });
      return;
    }

    it('re-encodes byte for byte (canonical encoding)', () => {
      expect(encodeFrame(v.flags, v.status, v.type, v.id, encodeBody(fromTyped(v.body!))).toString('hex')).toBe(hex);
    });
  });

  const byName = (name: string): Vector => {
    const v = vectors.find((x) => x.name === name);
    if (v === undefined) throw new Error(`no vector named '${name}'`);
    return v;
  };
  const bodyOf = (v: Vector): Buffer => Buffer.from(v.hex, 'hex').subarray(HEADER_SIZE);

  it('a version-1 request is the version-2 request without its budget', () => {
    const v2 = bodyOf(byName('call request'));
    expect(asVersion1Request(v2).toString('hex')).toBe(bodyOf(byName('call request, version 1')).toString('hex'));
    expect(asVersion1Request(bodyOf(byName('call request without a deadline'))).toString('hex')).toBe(bodyOf(byName('call request, version 1')).toString('hex'));
  });

  it('the version-2 request differs from the one without a deadline only in its budget item', () => {
    const withBudget = bodyOf(byName('call request'));
    const without = bodyOf(byName('call request without a deadline'));
    expect(withBudget.subarray(0, -5)).toEqual(without.subarray(0, -1));
    expect(withBudget.subarray(-5).toString('hex')).toBe('ce000009c4');
    expect(without.subarray(-1).toString('hex')).toBe('c0');
  });

  it('a consumer accepts both handshake answers (version 2 and version 1)', () => {
    expect(readAnswer(bodyOf(byName('handshake response')))).toMatchObject({ version: 2 });
    expect(readAnswer(bodyOf(byName('handshake response, version 1')))).toMatchObject({ version: 1 });
    expect(readAnswer(bodyOf(byName('handshake response, wider forms')))).toMatchObject({ version: 1, maxFrameSize: 8388608 });
  });

  it('an error with a cause chain reads as nested HeartlineErrors with their code and call', () => {
    const err = readErrorResponse(8, bodyOf(byName('error response with a cause chain')));
    expect(err).toMatchObject({ code: 'HANDLER_ERROR', message: 'ledger is busy', retrySafe: false, remote: true });
    const first = err.cause as HeartlineError;
    expect(first).toBeInstanceOf(HeartlineError);
    expect(first).toMatchObject({ code: 'HANDLER_ERROR', call: 'demo.Stock#reserve', remote: true });
    const second = first.cause as HeartlineError;
    expect(second).toBeInstanceOf(HeartlineError);
    expect(second).toMatchObject({ code: 'LIMIT_EXCEEDED', call: 'demo.Ledger#debit', message: 'ledger is busy' });
    expect(second.cause).toBeUndefined();
  });

  it('the handshake with fragments: a consumer offers them, a provider agrees', () => {
    expect(decodeBody(bodyOf(byName('handshake request with fragments')))).toEqual(hello(8388608, 0, undefined, true));
    expect(readAnswer(bodyOf(byName('handshake response with fragments')))).toMatchObject({ version: 2, fragments: true });
  });

  it('the handshake request offers the version this implementation speaks', () => {
    expect(decodeBody(bodyOf(byName('handshake request')))).toEqual(hello(8388608, 0));
  });
});
