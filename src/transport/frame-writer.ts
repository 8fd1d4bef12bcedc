import type { Socket } from 'node:net';
import { HEADER_SIZE, type FrameType } from '../protocol/constants.js';
import { writeHeader } from '../protocol/frame.js';
import { now } from './clock.js';

/** Fields per queued frame in the flat data queue: flags, status, type, id, body. */
const STRIDE = 5;
/** Fields per queued frame in the flat control queue: flags, type, id (no status, no body). */
const CONTROL_STRIDE = 3;
/** Slots of the data queue a flush keeps for the next tick (1024 frames); a larger one is let go. */
const MAX_KEPT_QUEUE = 1024 * STRIDE;

/**
 * Batches the frames queued during one tick into a single `socket.write()`,
 * writing each header straight into the outgoing buffer, and respects
 * backpressure: while the socket reports a full buffer, frames wait here for
 * `'drain'`.
 *
 * Two queues, both append-only until a flush empties them at once:
 *
 * ```
 *   writeUrgent() --> control [pong, pong]  --.
 *                                              +--> flush: control first, then data --> socket.write()
 *   write() -------> data    [call, resp, ...] -'
 * ```
 *
 * Pongs go in the control queue so that a peer measuring liveness never waits
 * behind a backlog. Every operation is O(1) per frame (no unshift). The bytes
 * waiting, in both queues and in the socket, are bounded by `maxQueuedBytes`;
 * past it a write of either kind is refused.
 *
 * Every queued frame gets a sequence number; `flushedSeq` is the last one handed
 * to the socket, so a caller can tell later whether its frame was written.
 */
export class FrameWriter {
  private readonly socket: Socket;
  private readonly maxQueuedBytes: number;
  /** Queued data frames, flattened (STRIDE slots each) so queuing allocates no object. */
  /**
   * Queued data frames, flattened (STRIDE slots each): the first `dataLength`
   * slots are in use. Never `push` onto it: a flush resets `dataLength` and
   * keeps the array (a new [] per tick grew again from nothing: ~87 B per frame).
   */
  private data: Array<number | Buffer | undefined> = [];
  private dataLength = 0;
  /** Queued control frames (pongs), flattened (CONTROL_STRIDE slots each); flushed ahead of `data`. */
  private control: number[] = [];
  private queueBytes = 0;
  private scheduled = false;
  private blocked = false;
  private closed = false;
  private seq = 0;
  /** Sequence number of the last frame handed to `socket.write()`. */
  flushedSeq = 0;
  /** When bytes were last handed to the socket (clock ms). */
  lastWriteAt = now();
  /** Bytes handed to the socket since it opened, frame headers included. */
  bytesOut = 0;
  /** Called after each flush with the new `flushedSeq` (the owner settles what was waiting for its write). */
  onFlush: ((flushedSeq: number) => void) | undefined = undefined;

  constructor(socket: Socket, maxQueuedBytes: number) {
    this.socket = socket;
    this.maxQueuedBytes = maxQueuedBytes;
    socket.on('drain', () => {
      this.blocked = false;
      this.flush();
    });
  }

  /** Bytes waiting to be sent: queued here plus buffered in the socket. */
  get pendingBytes(): number {
    return this.queueBytes + this.socket.writableLength;
  }

  /** True once `close()` was called: every write is refused. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** True while the socket asked us to wait for `'drain'`. */
  get isBlocked(): boolean {
    return this.blocked;
  }

  /**
   * Queues one frame. Returns its sequence number, or 0 when it was refused
   * because the writer is closed or the bytes waiting would pass the bound.
   */
  write(flags: number, status: number, type: FrameType, id: number, body?: Buffer): number {
    const size = HEADER_SIZE + (body === undefined ? 0 : body.length);
    if (!this.fits(size)) return 0;
    const q = this.data;
    const n = this.dataLength;
    q[n] = flags;
    q[n + 1] = status;
    q[n + 2] = type;
    q[n + 3] = id;
    q[n + 4] = body;
    this.dataLength = n + STRIDE;
    this.queueBytes += size;
    return this.queued();
  }

  /**
   * Queues a body-less control frame (a pong) ahead of every data frame
   * waiting: a peer measuring liveness must not wait behind a backlog. It counts
   * against the same bound; same return as `write()`.
   */
  writeUrgent(flags: number, type: FrameType, id: number): number {
    if (!this.fits(HEADER_SIZE)) return 0;
    this.control.push(flags, type, id);
    this.queueBytes += HEADER_SIZE;
    return this.queued();
  }

  /** False when closed, or when `size` more bytes would pass the bound. */
  private fits(size: number): boolean {
    if (this.closed) return false;
    const pending = this.pendingBytes;
    // One frame always fits into an empty pipe, so a frame larger than the bound still goes.
    return pending === 0 || pending + size <= this.maxQueuedBytes;
  }

  /** A frame was queued: schedule the flush for the end of this tick; returns its sequence number. */
  private queued(): number {
    if (!this.scheduled && !this.blocked) {
      this.scheduled = true;
      process.nextTick(flushTick, this);
    }
    return ++this.seq;
  }

  /** Hands everything queued to the socket now, unless it is blocked. */
  flush(): void {
    this.scheduled = false;
    if (this.blocked || this.closed || this.queueBytes === 0) return;
    const out = Buffer.allocUnsafe(this.queueBytes);
    let offset = 0;
    const c = this.control;
    for (let i = 0; i < c.length; i += CONTROL_STRIDE) {
      writeHeader(out, offset, c[i]!, 0, c[i + 1] as FrameType, c[i + 2]!, 0);
      offset += HEADER_SIZE;
    }
    const q = this.data;
    const n = this.dataLength;
    for (let i = 0; i < n; i += STRIDE) {
      const body = q[i + 4] as Buffer | undefined;
      q[i + 4] = undefined; // the array is kept: it must not keep the body
      const length = body === undefined ? 0 : body.length;
      writeHeader(out, offset, q[i] as number, q[i + 1] as number, q[i + 2] as FrameType, q[i + 3] as number, length);
      offset += HEADER_SIZE;
      if (body !== undefined) {
        body.copy(out, offset);
        offset += length;
      }
    }
    this.control = [];
    if (n > MAX_KEPT_QUEUE) this.data = []; // after a burst, not kept at its size
    this.dataLength = 0;
    this.queueBytes = 0;
    this.flushedSeq = this.seq;
    this.lastWriteAt = now();
    this.bytesOut += out.length;
    if (!this.socket.write(out)) this.blocked = true;
    this.onFlush?.(this.flushedSeq);
  }

  /** Drops whatever is queued; later writes are refused. */
  close(): void {
    this.closed = true;
    this.data = [];
    this.dataLength = 0;
    this.control = [];
    this.queueBytes = 0;
  }
}

function flushTick(writer: FrameWriter): void {
  writer.flush();
}
