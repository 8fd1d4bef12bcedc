import { FLAG_MORE } from './constants.js';

/** Smallest buffer a reassembly starts with, in bytes (a 1-byte first fragment still grows geometrically from here). */
const MIN_CAPACITY = 16 * 1024;

/** What a fragment's header means for the message being reassembled (protocol.md 4.9). */
export const enum Fragment {
  /** Not part of a fragmented message: an ordinary whole frame. */
  Whole,
  /** A fragment of the open message whose body is to be kept. */
  Keep,
  /** A fragment of the open message, which is past the limit: its body is skipped. */
  Skip,
  /** A second open message (MORE on another flags/id) or a final fragment of another status: a protocol error. */
  Broken,
}

/**
 * The one fragmented message a connection may have open in each direction
 * (protocol.md 4.9): its flags (without MORE), status and id, the bytes
 * received so far, and the owned buffer they are copied into.
 *
 * The buffer is this object's own (fragments are copied out of the socket's
 * chunks, so a tiny fragment never pins a large chunk); it grows geometrically
 * up to the limit, so it holds at most about twice `maxFrameSize` during a
 * growth and work stays proportional to the bytes received. A message past the
 * limit drops its buffer at once and only counts bytes from then on.
 *
 * ```
 *   (none) --MORE--> open --MORE, same flags/id/status--> open
 *     ^                |  \--final, same flags/id/status--> message (or oversize) --> (none)
 *     |                `--MORE of another flags/id, or final of another status--> Broken
 * ```
 */
export class Reassembly {
  /** True between a message's first fragment and its final one. */
  open = false;
  /** Flags of the open message, MORE cleared. */
  flags = 0;
  status = 0;
  id = 0;
  /** Body bytes of the open message announced so far (the fragments' lengths, summed). */
  length = 0;
  /** The open message went past the limit: nothing of it is kept. */
  oversize = false;
  /** Body bytes of the open message copied so far. */
  private fill = 0;
  private buffer: Buffer | undefined;

  /**
   * Reads a Call frame's header against the open message. On Keep or Skip the
   * frame is counted in (`length`), and its body (Keep) must be `append`ed in
   * full before the next header. `maxBody` is the largest reassembled body
   * accepted, in bytes.
   */
  classify(flags: number, status: number, id: number, bodyLength: number, maxBody: number): Fragment {
    const more = (flags & FLAG_MORE) !== 0;
    const base = flags & ~FLAG_MORE;
    if (!this.open) {
      if (!more) return Fragment.Whole;
      this.open = true;
      this.flags = base;
      this.status = status;
      this.id = id;
      this.length = 0;
      this.fill = 0;
      this.oversize = false;
    } else if (base !== this.flags || id !== this.id) {
      return more ? Fragment.Broken : Fragment.Whole;
    } else if (status !== this.status) {
      return Fragment.Broken;
    }
    this.length += bodyLength;
    if (!this.oversize && this.length > maxBody) {
      this.oversize = true;
      this.buffer = undefined;
    }
    if (this.oversize) return Fragment.Skip;
    this.reserve(this.length, maxBody);
    return Fragment.Keep;
  }

  /** Copies `chunk[start, end)` into the message's own buffer. */
  append(chunk: Buffer, start: number, end: number): void {
    chunk.copy(this.buffer!, this.fill, start, end);
    this.fill += end - start;
  }

  /** The final fragment is in: the whole body (owned, never reused here); the message is closed. */
  take(): Buffer {
    const body = this.buffer === undefined ? Buffer.alloc(0) : this.buffer.subarray(0, this.fill);
    this.close();
    return body;
  }

  /** Forgets the open message (its final fragment arrived past the limit, or the stream stopped). */
  close(): void {
    this.open = false;
    this.buffer = undefined;
    this.fill = 0;
    this.length = 0;
    this.oversize = false;
  }

  /** Makes room for `needed` body bytes: doubling, never past `maxBody`, copying what is held. */
  private reserve(needed: number, maxBody: number): void {
    const current = this.buffer;
    if (current !== undefined && current.length >= needed) return;
    const capacity = Math.min(maxBody, Math.max(needed, MIN_CAPACITY, current === undefined ? 0 : current.length * 2));
    const grown = Buffer.allocUnsafe(capacity);
    if (current !== undefined) current.copy(grown, 0, 0, this.fill);
    this.buffer = grown;
  }
}

