import type { Socket } from 'node:net';
import { FLAG_MORE, FLAG_REQUEST, FrameType, HEADER_SIZE } from '../protocol/constants.js';
import { writeHeader } from '../protocol/frame.js';
import { now } from './clock.js';

/** Fields per queued frame in the flat data queue: flags, status, type, id, body. */
const STRIDE = 5;
/** Fields per queued frame in the flat control queue: flags, type, id (no status, no body). */
const CONTROL_STRIDE = 3;
/** Slots of the data queue a flush keeps for the next tick (1024 frames); a larger one is let go. */
const MAX_KEPT_QUEUE = 1024 * STRIDE;

/**
 * A Call body over `fragmentSize` (only Call frames are fragmented) waiting
 * in the large FIFO (protocol.md 4.9): it goes out one fragment per flush. `trailer` holds body-less frames (flags,
 * type, id: a Cancel of its request, a Release) that must not overtake its
 * last fragment; they follow it in the same write.
 */
interface LargeMessage {
  flags: number;
  status: number;
  id: number;
  body: Buffer;
  seq: number;
  /** Body bytes already handed to the socket. */
  sent: number;
  trailer: number[] | undefined;
}

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
 *
 * **Fragments** (protocol.md 4.9; on once the handshake agreed them and
 * `fragmentSize` > 0). A Call body over `fragmentSize` bytes goes into a FIFO
 * of large messages instead, and each flush writes every whole frame queued
 * plus one fragment of the first large message. While fragments remain, the
 * next flush is scheduled with `setImmediate` (reads and other work run in
 * between) or, when the socket is full, on `'drain'`. So a small call waits
 * for at most one fragment, never for a whole large body.
 *
 * ```
 *   write(small) -------------> data  [call, resp, ...] --.
 *   write(body > fragmentSize) -> large [msg A, msg B] ---+--> flush: control, data, one fragment of A
 *                                                              (A done: its trailer, then B next time)
 * ```
 *
 * A large message's sequence number counts as flushed (`onFlush`,
 * `wasWritten`) only once its last fragment went out: the peer reads only
 * whole messages, so one cut before its final fragment was never received.
 * `flushedSeq` alone cannot tell (whole frames queued after a large message
 * go out before it): read `wasWritten` when the connection is lost.
 */
export class FrameWriter {
  private readonly socket: Socket;
  private readonly maxQueuedBytes: number;
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
  /**
   * Called after each flush with the sequence number up to which every frame
   * is wholly written (a large message counts once its last fragment is).
   */
  onFlush: ((flushedSeq: number) => void) | undefined = undefined;
  /** Bodies over this many bytes go out as fragments; 0 never fragments. Set once the handshake agreed fragments. */
  fragmentSize = 0;
  /** Large messages waiting or open, first in first out; the head is the one being sent. */
  private large: LargeMessage[] = [];
  /** Bytes of large messages not yet handed to the socket (headers of their remaining fragments excluded). */
  private largeBytes = 0;
  /** A `setImmediate` flush is scheduled for the next fragment. */
  private nextFragment = false;
  /** `end()` waits for the large messages to go out: called then, once. */
  private ending: (() => void) | undefined = undefined;
  /** Sequence numbers of the large messages `close()` dropped before their last fragment. */
  private cut: ReadonlySet<number> | undefined = undefined;

  constructor(socket: Socket, maxQueuedBytes: number) {
    this.socket = socket;
    this.maxQueuedBytes = maxQueuedBytes;
    socket.on('drain', () => {
      this.blocked = false;
      // 'drain' may come in the same turn as the write (the kernel took it at once): the next
      // fragment waits for the next turn, so reads and other work run between fragments.
      if (this.large.length !== 0) this.scheduleFragment();
      else this.flush();
    });
  }

  /** Bytes waiting to be sent: queued here plus buffered in the socket. */
  get pendingBytes(): number {
    return this.queueBytes + this.largeBytes + this.socket.writableLength;
  }

  /**
   * True when the frame numbered `seq` (a `write()` result) was wholly handed
   * to the socket: a large message only once its last fragment was, also
   * after `close()` dropped it. For the calls failed when the connection is lost.
   */
  wasWritten(seq: number): boolean {
    if (seq === 0 || seq > this.flushedSeq) return false;
    if (this.cut !== undefined) return !this.cut.has(seq);
    for (const m of this.large) if (m.seq === seq) return false;
    return true;
  }

  /** True once `close()` or `end()` was called: every write is refused (not for being over the bound). */
  get isClosed(): boolean {
    return this.closed || this.ending !== undefined;
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
    if (body !== undefined && this.fragmentSize !== 0 && body.length > this.fragmentSize && type === FrameType.Call) return this.queueLarge(flags, status, id, body);
    // A Cancel or Release must not overtake a large request still being sent: it follows it.
    if (this.large.length !== 0 && (type === FrameType.Cancel || type === FrameType.Release)) return this.holdBack(flags, type, id, size);
    this.pushData(flags, status, type, id, body);
    this.queueBytes += size;
    return this.queued();
  }

  /** Appends one data frame's slots (the array is kept across flushes: indexed writes, never `push`). */
  private pushData(flags: number, status: number, type: FrameType, id: number, body: Buffer | undefined): void {
    const q = this.data;
    const n = this.dataLength;
    q[n] = flags;
    q[n + 1] = status;
    q[n + 2] = type;
    q[n + 3] = id;
    q[n + 4] = body;
    this.dataLength = n + STRIDE;
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

  private queueLarge(flags: number, status: number, id: number, body: Buffer): number {
    const seq = this.queued();
    this.large.push({ flags, status, id, body, seq, sent: 0, trailer: undefined });
    this.largeBytes += body.length;
    return seq;
  }

  /**
   * A Cancel for a large request: a request not started is dropped with its
   * Cancel (the peer never heard of it); one started carries the Cancel after
   * its last fragment. A Release follows every large message queued.
   */
  private holdBack(flags: number, type: FrameType, id: number, size: number): number {
    const large = this.large;
    let target = large[large.length - 1]!;
    if (type === FrameType.Cancel) {
      let i = 0;
      while (i < large.length && !(large[i]!.id === id && (large[i]!.flags & FLAG_REQUEST) !== 0)) i++;
      if (i === large.length) {
        // Not a large request: the Cancel goes out now, like any frame.
        this.pushData(flags, 0, type, id, undefined);
        this.queueBytes += size;
        return this.queued();
      }
      target = large[i]!;
      if (target.sent === 0) {
        large.splice(i, 1);
        this.largeBytes -= target.body.length;
        // Frames it held back (a Release) now follow the large message before it, or go now.
        const held = target.trailer;
        if (held !== undefined) {
          const before = large[i - 1];
          if (before !== undefined) (before.trailer ??= []).push(...held);
          else this.release(held);
        }
        return ++this.seq;
      }
    }
    (target.trailer ??= []).push(flags, type, id);
    this.largeBytes += size;
    return this.queued();
  }

  /** Body-less frames (flags, type, id) held back behind a large message that no longer holds them: queued now. */
  private release(held: number[]): void {
    for (let i = 0; i < held.length; i += CONTROL_STRIDE) this.pushData(held[i]!, 0, held[i + 1] as FrameType, held[i + 2]!, undefined);
    const bytes = (held.length / CONTROL_STRIDE) * HEADER_SIZE;
    this.largeBytes -= bytes;
    this.queueBytes += bytes;
    this.queued();
  }

  /** False when closed, or when `size` more bytes would pass the bound. */
  private fits(size: number): boolean {
    if (this.closed || this.ending !== undefined) return false;
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

  /** Hands everything queued to the socket now (and one fragment of the first large message), unless it is blocked. */
  flush(): void {
    this.scheduled = false;
    if (this.blocked || this.closed) return;
    const head = this.large.length === 0 ? undefined : this.large[0];
    if (this.queueBytes === 0 && head === undefined) return;
    let size = this.queueBytes;
    let fragment = 0;
    let last = false;
    if (head !== undefined) {
      fragment = Math.min(this.fragmentSize, head.body.length - head.sent);
      last = head.sent + fragment === head.body.length;
      // The fragment's header goes here; its body is written as a view of the message (no copy), then the trailer.
      size += HEADER_SIZE;
    }
    const out = Buffer.allocUnsafe(size);
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
    if (this.control.length !== 0) this.control = [];
    if (n > MAX_KEPT_QUEUE) this.data = []; // after a burst, not kept at its size
    this.dataLength = 0;
    this.queueBytes = 0;
    this.flushedSeq = this.seq;
    this.lastWriteAt = now();
    if (head === undefined) {
      this.bytesOut += out.length;
      if (!this.socket.write(out)) this.blocked = true;
    } else {
      this.writeFragment(out, offset, head, fragment, last);
    }
    if (this.large.length !== 0 && !this.blocked) this.scheduleFragment();
    this.onFlush?.(this.large.length === 0 ? this.seq : this.large[0]!.seq - 1);
    if (this.ending !== undefined && this.large.length === 0) this.finishEnd();
  }

  /**
   * Writes what is queued, large messages to their last fragment (waiting
   * for 'drain' while the socket is full), then calls `done` (once; never if
   * `close()` comes first). Later writes are refused.
   */
  end(done: () => void): void {
    if (this.closed) return;
    this.ending = done;
    this.flush();
    // A blocked socket kept the whole frames queued too: they go on 'drain', as large messages do.
    if (this.ending !== undefined && this.large.length === 0 && this.queueBytes === 0) this.finishEnd();
  }

  private finishEnd(): void {
    const done = this.ending!;
    this.close();
    done();
  }

  /**
   * Writes `out` (the whole frames, room left at `offset` for one header),
   * the next `fragment` bytes of `head` as a fragment (MORE unless `last`),
   * and, after the last one, its trailer: corked, so the socket gathers them
   * into one writev without copying the fragment's bytes.
   */
  private writeFragment(out: Buffer, offset: number, head: LargeMessage, fragment: number, last: boolean): void {
    writeHeader(out, offset, last ? head.flags : head.flags | FLAG_MORE, head.status, FrameType.Call, head.id, fragment);
    const socket = this.socket;
    socket.cork();
    socket.write(out);
    let ok = socket.write(head.body.subarray(head.sent, head.sent + fragment));
    head.sent += fragment;
    this.largeBytes -= fragment;
    let written = out.length + fragment;
    if (last) {
      this.large.shift();
      const t = head.trailer;
      if (t !== undefined) {
        const tail = Buffer.allocUnsafe((t.length / CONTROL_STRIDE) * HEADER_SIZE);
        for (let i = 0, at = 0; i < t.length; i += CONTROL_STRIDE, at += HEADER_SIZE) writeHeader(tail, at, t[i]!, 0, t[i + 1] as FrameType, t[i + 2]!, 0);
        this.largeBytes -= tail.length;
        written += tail.length;
        ok = socket.write(tail);
      }
    }
    socket.uncork();
    this.bytesOut += written;
    if (!ok) this.blocked = true;
  }

  /** The next fragment goes in the next turn of the event loop (with whatever is queued by then). */
  private scheduleFragment(): void {
    if (this.nextFragment) return;
    this.nextFragment = true;
    setImmediate(fragmentTick, this);
  }

  /** @internal The `setImmediate` scheduled for the next fragment. */
  fragmentDue(): void {
    this.nextFragment = false;
    this.flush();
  }

  /** Drops whatever is queued; later writes are refused. */
  close(): void {
    if (!this.closed && this.large.length !== 0) this.cut = new Set(this.large.map((m) => m.seq));
    this.closed = true;
    this.data = [];
    this.dataLength = 0;
    this.control = [];
    this.queueBytes = 0;
    this.large = [];
    this.largeBytes = 0;
    this.ending = undefined;
  }
}

function flushTick(writer: FrameWriter): void {
  writer.flush();
}

function fragmentTick(writer: FrameWriter): void {
  writer.fragmentDue();
}
