import { FLAG_MORE, FrameType } from './constants.js';
import type { FrameHeader } from './frame.js';

/** First and largest size of a staging buffer for small parts, in bytes (doubling in between). */
const MIN_STAGING = 256;
const MAX_STAGING = 64 * 1024;
/** Smallest part of a socket chunk held as a view rather than copied, in bytes. */
const MIN_VIEW = 4096;

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
 * (protocol.md 4.9): its flags (without MORE), status and id, and the bytes
 * received so far.
 *
 * A part of a socket chunk that fills at least half of the chunk (and
 * MIN_VIEW bytes) is held as a view; a smaller one is copied into a small
 * owned staging buffer, so a tiny fragment never pins a large chunk and a
 * kept chunk carries at least half its bytes for the message. The body is
 * copied once, at the final fragment (one allocation of its exact size).
 * Memory held: at most about twice `maxFrameSize` (three times during that
 * last copy); work proportional to the bytes received. (Measured against a
 * buffer grown by doubling, bench/hol-quick.ts SMALL=0: about 30% less CPU
 * and 40% fewer mark-compacts per 4 MiB message; the doubling allocated
 * twice the body and copied it twice.) A message past the limit drops what
 * it holds at once and only counts bytes from then on.
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
  /** Body bytes of the open message held so far. */
  private fill = 0;
  /** The bytes held, in order: views of large parts of socket chunks, and owned copies of small ones. */
  private pieces: Buffer[] = [];
  /** The owned buffer small parts are copied into (the last piece while it has room). */
  private staging: Buffer | undefined;
  private stagingFill = 0;

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
      this.drop();
    }
    return this.oversize ? Fragment.Skip : Fragment.Keep;
  }

  /**
   * Holds `chunk[start, end)`: a view when it is at least half of the chunk
   * (and MIN_VIEW bytes), so a kept chunk is at most twice what it carries;
   * else a copy into the owned staging buffer (a tiny fragment pins nothing).
   */
  append(chunk: Buffer, start: number, end: number): void {
    const n = end - start;
    this.fill += n;
    if (n >= MIN_VIEW && 2 * n >= chunk.length) {
      // A chunk is kept for a part of at least half of it: at most twice the bytes it carries.
      this.staging = undefined;
      this.pieces.push(chunk.subarray(start, end));
      return;
    }
    let staging = this.staging;
    if (staging === undefined || staging.length - this.stagingFill < n) {
      // Doubling while small parts follow each other; small again after a view, so no part wastes much.
      const capacity = staging === undefined ? MIN_STAGING : Math.min(MAX_STAGING, staging.length * 2);
      staging = Buffer.allocUnsafeSlow(Math.max(n, capacity));
      this.staging = staging;
      this.stagingFill = 0;
      this.pieces.push(staging.subarray(0, 0));
    }
    chunk.copy(staging, this.stagingFill, start, end);
    this.stagingFill += n;
    this.pieces[this.pieces.length - 1] = staging.subarray(0, this.stagingFill);
  }

  /** The header of the whole message: its flags (without MORE), status and id, with the total length. */
  header(): FrameHeader {
    return { flags: this.flags, status: this.status, type: FrameType.Call, id: this.id, length: this.length };
  }

  /** The final fragment is in: the whole body, one buffer of its own (never reused here); the message is closed. */
  take(): Buffer {
    const pieces = this.pieces;
    // One piece is a whole fragment's view of a chunk it fills at least half of (or an owned copy): as a whole frame's body is.
    const body = pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces, this.fill);
    this.close();
    return body;
  }

  /** Forgets the open message (its final fragment arrived past the limit, or the stream stopped). */
  close(): void {
    this.open = false;
    this.drop();
    this.length = 0;
    this.oversize = false;
  }

  private drop(): void {
    this.pieces = [];
    this.staging = undefined;
    this.stagingFill = 0;
    this.fill = 0;
  }
}
