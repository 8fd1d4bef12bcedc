import { HeartlineError } from '../errors/heartline-error.js';
import {
  FLAG_MORE,
  FLAG_REQUEST,
  FLAG_RESERVED_MASK,
  FrameType,
  HEADER_SIZE,
  MAGIC_0,
  MAGIC_1,
  MAX_FRAME_TYPE,
  FRAME_VERSION,
} from './constants.js';
import type { FrameHeader } from './frame.js';
import { Fragment, Reassembly } from './reassembly.js';

/** Where a decoder delivers what it reads. Called synchronously from `push()`. */
export interface FrameSink {
  /**
   * A whole frame, or a fragmented message reassembled (its header with MORE
   * clear and `length` the whole body's). `body` may be a view into the pushed
   * chunk; it is never reused by the decoder.
   */
  onFrame(header: FrameHeader, body: Buffer): void;
  /**
   * A frame whose declared length is over the limit, or a fragmented message
   * whose fragments add up to more (reported at its final fragment's header).
   * Its body is skipped as it arrives and never buffered; the stream stays usable.
   */
  onOversize(header: FrameHeader): void;
  /** The stream is broken (bad magic, unknown version, bad header). The decoder stops for good. */
  onProtocolError(err: HeartlineError): void;
}

const enum State {
  Header,
  Body,
  /** A fragment's body, copied into the reassembly buffer. */
  Fragment,
  Discard,
  Failed,
}

const EMPTY = Buffer.alloc(0);

/**
 * The flags each frame type may carry (protocol.md section 3), by type:
 * Call 0xC0 / 0x80 requests and 0x00 responses; Handshake and Heartbeat 0xE0
 * requests and 0x20 responses; Drain, Cancel and Release 0xA0 only. Any other pair,
 * such as TWO_WAY without REQUEST or a one-way ping, is a protocol error.
 */
const LEGAL_FLAGS: readonly (readonly number[])[] = [
  [0xc0, 0x80, 0x00], // Call
  [0xe0, 0x20], // Handshake
  [0xe0, 0x20], // Heartbeat
  [0xa0], // Drain
  [0xa0], // Cancel
  [0xa0], // Release
];

/**
 * A streaming frame decoder: a small explicit state machine fed socket chunks
 * of any size. It checks each header, including the declared length against the
 * limit, before it buffers a single body byte. It never throws out of `push()`.
 *
 * Header rules, all checked from the 16 header bytes alone: magic, version,
 * reserved bits and bytes zero, a known type with one of its legal flags, a
 * status of 0 on everything but Call and Handshake responses, and a length of 0
 * on pings, pongs, cancels and releases.
 *
 * Once `fragments` is set (the handshake agreed them, protocol.md 4.9), Call
 * frames may carry MORE: their bodies are copied into a `Reassembly` and the
 * sink sees only the whole message, or one `onOversize` for it. Until then
 * MORE is a reserved bit, a protocol error.
 *
 * ```
 *            16 header bytes
 *   Header ------------------> Body ---- length bytes ----> (frame) --> Header
 *     |  \ length > limit                                        ^
 *     |   `--------------> Discard -- skip length bytes ---------'
 *     |  \ a fragment (MORE, or the final one of the open message) |
 *     |   `--------------> Fragment -- copy length bytes ---------' (final: the message)
 *     `-- bad header, bad fragment --> Failed (no further input is read)
 * ```
 */
export class FrameDecoder {
  /** Largest accepted frame (header + body), in bytes. May be changed between frames. */
  maxFrameSize: number;
  private readonly sink: FrameSink;
  private state = State.Header;
  private readonly headerBuf = Buffer.alloc(HEADER_SIZE);
  private headerFill = 0;
  private header: FrameHeader | undefined;
  private remaining = 0;
  private parts: Buffer[] = [];
  /** The fragmented message open on this stream, if any; made by `enableFragments`, so MORE is accepted exactly when it exists. */
  private reassembly: Reassembly | undefined;
  /** The fragment being read (State.Fragment, or a skipped one) is the message's last. */
  private finalFragment = false;

  constructor(maxFrameSize: number, sink: FrameSink) {
    this.maxFrameSize = maxFrameSize;
    this.sink = sink;
  }

  /** From now on Call frames may carry MORE (protocol.md 4.9): called once the handshake agreed fragments. */
  enableFragments(): void {
    this.reassembly ??= new Reassembly();
  }

  /** Stops for good without reporting anything (the connection is being torn down). */
  stop(): void {
    this.state = State.Failed;
    this.reassembly?.close();
    this.parts = [];
    this.header = undefined;
    this.headerFill = 0;
  }

  /** True once a protocol error stopped the decoder. */
  get failed(): boolean {
    return this.state === State.Failed;
  }

  /** True while part of a frame is buffered (a truncated frame if the stream ends now). */
  get midFrame(): boolean {
    return this.headerFill > 0 || this.state === State.Body || this.state === State.Fragment || this.state === State.Discard || this.reassembly?.open === true;
  }

  push(chunk: Buffer): void {
    try {
      this.consume(chunk);
    } catch (err) {
      // The sink threw: treat it as a broken stream rather than let it escape into a socket handler.
      this.fail(new HeartlineError('PROTOCOL_ERROR', `frame handling failed: ${(err as Error)?.message}`, { cause: err }));
    }
  }

  private consume(chunk: Buffer): void {
    let offset = 0;
    const end = chunk.length;
    while (offset < end) {
      switch (this.state) {
        case State.Header: {
          let source = chunk;
          let at = offset;
          if (this.headerFill === 0 && end - offset >= HEADER_SIZE) {
            offset += HEADER_SIZE;
          } else {
            const take = Math.min(HEADER_SIZE - this.headerFill, end - offset);
            chunk.copy(this.headerBuf, this.headerFill, offset, offset + take);
            this.headerFill += take;
            offset += take;
            if (this.headerFill < HEADER_SIZE) return;
            this.headerFill = 0;
            source = this.headerBuf;
            at = 0;
          }
          const header = this.readHeader(source, at);
          if (header === undefined) return;
          this.startBody(header);
          break;
        }
        case State.Body: {
          const available = end - offset;
          if (this.parts.length === 0 && available >= this.remaining) {
            const body = chunk.subarray(offset, offset + this.remaining);
            offset += this.remaining;
            this.finishFrame(body);
          } else {
            const take = Math.min(available, this.remaining);
            this.parts.push(chunk.subarray(offset, offset + take));
            offset += take;
            this.remaining -= take;
            if (this.remaining === 0) {
              const body = Buffer.concat(this.parts);
              this.parts = [];
              this.finishFrame(body);
            }
          }
          break;
        }
        case State.Fragment: {
          const take = Math.min(end - offset, this.remaining);
          this.reassembly!.append(chunk, offset, offset + take);
          offset += take;
          this.remaining -= take;
          if (this.remaining === 0) this.fragmentDone();
          break;
        }
        case State.Discard: {
          const take = Math.min(end - offset, this.remaining);
          offset += take;
          this.remaining -= take;
          if (this.remaining === 0) this.state = State.Header;
          break;
        }
        case State.Failed:
          return;
      }
    }
  }

  private readHeader(buf: Buffer, at: number): FrameHeader | undefined {
    if (buf[at] !== MAGIC_0 || buf[at + 1] !== MAGIC_1) {
      return this.fail(new HeartlineError('PROTOCOL_ERROR', `bad magic 0x${buf.toString('hex', at, at + 2)}`));
    }
    const version = buf[at + 2]!;
    if (version !== FRAME_VERSION) {
      return this.fail(new HeartlineError('PROTOCOL_ERROR', `unsupported frame version ${version}`));
    }
    const flags = buf[at + 3]!;
    const type = buf[at + 5]!;
    if ((flags & FLAG_RESERVED_MASK) !== 0 || buf[at + 6] !== 0 || buf[at + 7] !== 0 || ((flags & FLAG_MORE) !== 0 && this.reassembly === undefined)) {
      return this.fail(new HeartlineError('PROTOCOL_ERROR', 'reserved header bits are set'));
    }
    // MORE is checked above (only once fragments are agreed) and here (only on Call frames, whose other flags must be legal).
    if (type > MAX_FRAME_TYPE || !LEGAL_FLAGS[type]!.includes((flags & FLAG_MORE) !== 0 && type === FrameType.Call ? flags & ~FLAG_MORE : flags)) {
      return this.fail(new HeartlineError('PROTOCOL_ERROR', `bad flags 0x${flags.toString(16)} for frame type ${type}`));
    }
    const status = buf[at + 4]!;
    // Only a Call response or a Handshake response carries a status.
    if (status !== 0 && ((flags & FLAG_REQUEST) !== 0 || (type !== FrameType.Call && type !== FrameType.Handshake))) {
      return this.fail(new HeartlineError('PROTOCOL_ERROR', `status ${status} on a frame of type ${type} with flags 0x${flags.toString(16)}`));
    }
    const length = buf.readUInt32BE(at + 12);
    if (length !== 0 && (type === FrameType.Heartbeat || type === FrameType.Cancel || type === FrameType.Release)) {
      return this.fail(new HeartlineError('PROTOCOL_ERROR', `body of ${length} bytes on a frame of type ${type}, which has none`));
    }
    return {
      flags,
      status,
      type,
      id: buf.readUInt32BE(at + 8),
      length,
    };
  }

  private startBody(header: FrameHeader): void {
    const r = this.reassembly;
    if (r !== undefined && header.type === FrameType.Call && (r.open || (header.flags & FLAG_MORE) !== 0)) {
      this.startFragment(r, header);
      return;
    }
    this.startWholeBody(header);
  }

  private startWholeBody(header: FrameHeader): void {
    if (header.length > this.maxFrameSize - HEADER_SIZE) {
      this.state = State.Discard;
      this.remaining = header.length;
      this.sink.onOversize(header);
      if (this.remaining === 0) this.state = State.Header;
      return;
    }
    if (header.length === 0) {
      this.sink.onFrame(header, EMPTY);
      return;
    }
    this.header = header;
    this.remaining = header.length;
    this.state = State.Body;
  }

  /** A Call frame while fragments are on and a message is open, or one with MORE (protocol.md 4.9). */
  private startFragment(r: Reassembly, header: FrameHeader): void {
    const kind = r.classify(header.flags, header.status, header.id, header.length, this.maxFrameSize - HEADER_SIZE);
    if (kind === Fragment.Whole) {
      // A whole Call frame between two fragments of another message.
      this.startWholeBody(header);
      return;
    }
    if (kind === Fragment.Broken) {
      const what = (header.flags & FLAG_MORE) !== 0
        ? `a fragment of request id ${header.id} (flags 0x${header.flags.toString(16)}) while the message of id ${r.id} (flags 0x${r.flags.toString(16)}) is open`
        : `the final fragment of id ${header.id} has status ${header.status}, its first had ${r.status}`;
      this.fail(new HeartlineError('PROTOCOL_ERROR', `bad fragment: ${what}`));
      return;
    }
    this.finalFragment = (header.flags & FLAG_MORE) === 0;
    this.remaining = header.length;
    if (kind === Fragment.Skip) {
      this.state = State.Discard;
      if (this.finalFragment) {
        const whole = r.header();
        r.close();
        if (this.remaining === 0) this.state = State.Header;
        this.sink.onOversize(whole);
      } else if (this.remaining === 0) {
        this.state = State.Header;
      }
      return;
    }
    this.state = State.Fragment;
    if (this.remaining === 0) this.fragmentDone();
  }

  /** A kept fragment's body is in: the next header, or (final) the whole message. */
  private fragmentDone(): void {
    this.state = State.Header;
    if (!this.finalFragment) return;
    const r = this.reassembly!;
    const whole = r.header();
    this.sink.onFrame(whole, r.take());
  }

  private finishFrame(body: Buffer): void {
    const header = this.header!;
    this.header = undefined;
    this.remaining = 0;
    this.state = State.Header;
    this.sink.onFrame(header, body);
  }

  private fail(err: HeartlineError): undefined {
    if (this.state === State.Failed) return undefined;
    this.state = State.Failed;
    this.parts = [];
    this.header = undefined;
    // The open message's bytes (up to about 2x maxFrameSize) go now, not when the connection is collected.
    this.reassembly?.close();
    this.sink.onProtocolError(err);
    return undefined;
  }
}
