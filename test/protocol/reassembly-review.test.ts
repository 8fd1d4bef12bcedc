// Adversarial review of reassembly memory (protocol.md 4.9): whatever the
// sizes of a hostile peer's fragments and of the chunks they arrive in, the
// buffers held for an open message stay within about twice its bytes; a
// message skipped as oversize holds nothing, however long it goes on.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FrameType } from '../../src/protocol/constants.js';
import { encodeFrame } from '../../src/protocol/frame.js';
import { FrameDecoder } from '../../src/protocol/frame-decoder.js';
import { Reassembly } from '../../src/protocol/reassembly.js';

/** Bytes of the distinct backing stores `r` keeps alive (its pieces). */
function held(r: Reassembly): number {
  const seen = new Set<ArrayBufferLike>();
  let bytes = 0;
  for (const p of (r as unknown as { pieces: Buffer[] }).pieces) {
    if (seen.has(p.buffer)) continue;
    seen.add(p.buffer);
    bytes += p.buffer.byteLength;
  }
  return bytes;
}

describe('reassembly memory against a hostile peer', () => {
  it('parts of any size, from chunks of any size (each its own backing store, as a socket reads them): at most 2x the bytes kept, plus one 64 KiB staging buffer', () => {
    const part = fc.record({ chunk: fc.integer({ min: 1, max: 65536 }), share: fc.double({ min: 0, max: 1, noNaN: true }), at: fc.double({ min: 0, max: 1, noNaN: true }) });
    fc.assert(
      fc.property(fc.array(part, { minLength: 1, maxLength: 120 }), (parts) => {
        const r = new Reassembly();
        r.classify(0xd0, 0, 1, 0, 2 ** 31);
        let fill = 0;
        for (const p of parts) {
          const chunk = Buffer.allocUnsafeSlow(p.chunk);
          const n = Math.max(1, Math.round(p.share * p.chunk));
          const start = Math.floor(p.at * (p.chunk - n));
          r.append(chunk, start, start + n);
          fill += n;
          expect(held(r)).toBeLessThanOrEqual(2 * fill + 65536);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('a message over the limit that never ends: 256 MiB of fragments skipped, nothing held, no report, the decoder still reading', () => {
    let oversize = 0;
    let frames = 0;
    const d = new FrameDecoder(64 * 1024, { onFrame: () => frames++, onOversize: () => oversize++, onProtocolError: (e) => { throw e; } });
    d.enableFragments();
    // 4 fragments of 16 KiB per 64 KiB chunk, the last ending exactly at the chunk's end.
    const part = encodeFrame(0xd0, 0, FrameType.Call, 3, Buffer.alloc(16 * 1024 - 16));
    const chunk = Buffer.concat([part, part, part, part]);
    for (let i = 0; i < 4096; i++) d.push(chunk);
    const r = (d as unknown as { reassembly: Reassembly }).reassembly;
    expect(r.open).toBe(true);
    expect(r.oversize).toBe(true);
    expect(held(r)).toBe(0);
    expect(oversize).toBe(0);
    d.push(encodeFrame(0xc0, 0, FrameType.Call, 3, Buffer.alloc(0)));
    expect(oversize).toBe(1);
    d.push(encodeFrame(0xc0, 0, FrameType.Call, 4, Buffer.from([0xc0])));
    expect(frames).toBe(1);
  });
});

describe('reassembly after a protocol error', () => {
  it('a peer that sends most of a message then a bad frame: the decoder stops and lets go of the bytes it held', () => {
    let failed = 0;
    const d = new FrameDecoder(64 * 1024 * 1024, { onFrame: () => {}, onOversize: () => {}, onProtocolError: () => failed++ });
    d.enableFragments();
    const part = encodeFrame(0xd0, 0, FrameType.Call, 3, Buffer.alloc(64 * 1024 - 16, 1));
    for (let i = 0; i < 64; i++) d.push(Buffer.from(part));
    const r = (d as unknown as { reassembly: Reassembly }).reassembly;
    expect(held(r)).toBeGreaterThanOrEqual(4 * 1024 * 1024 - 64 * 16);
    // A MORE frame of a second message: a protocol error (the connection is torn down, but a running handler may keep it referenced).
    d.push(encodeFrame(0xd0, 0, FrameType.Call, 4, Buffer.alloc(1)));
    expect(failed).toBe(1);
    expect(d.failed).toBe(true);
    expect(held(r)).toBe(0);
  });
});
