import { HeartlineError } from '../errors/heartline-error.js';
import { PendingCalls, type PendingCall } from '../exchange/pending-calls.js';
import { encodeBody } from '../protocol/codec.js';
import { HEADER_SIZE } from '../protocol/constants.js';
import { readResponse } from '../protocol/messages.js';
import { checkArgs, OMIT_UNDEFINED, trimArgs } from '../protocol/value-check.js';

/** What pushes need of their connection. */
export interface PushLink {
  readonly peer: string;
  /** True once the connection is closed: a push is not written. */
  readonly isClosed: boolean;
  /** Largest frame the consumer accepts, in bytes. */
  readonly peerMaxFrameSize: number;
  /** Writes a push request; returns its write sequence, 0 when the write bound is reached. */
  sendPush(id: number, body: Buffer): number;
  /** The consumer's answer could not be decoded: close the connection. */
  protocolError(message: string): void;
}

/**
 * The provider's calls to its consumer's callbacks over one connection
 * (body `[callbackId, args]`), each settled once: by the consumer's answer,
 * by `callbackTimeout` (TIMEOUT), or when the connection closes.
 */
export class CallbackPushes {
  private readonly pending = new PendingCalls((c) => this.pending.fail(c, new HeartlineError('TIMEOUT', `${c.request.label}: no answer within ${c.request.timeout} ms`)));

  constructor(
    private readonly link: PushLink,
    /** Timeout of each push, in ms. */
    private readonly timeout: number,
  ) {}

  /** Calls the consumer's callback `callbackId`. */
  push(callbackId: number, args: unknown[]): Promise<unknown> {
    if (this.link.isClosed) return Promise.reject(new HeartlineError('CONNECTION_LOST_UNWRITTEN', 'consumer connection is closed'));
    const label = `callback ${callbackId} of ${this.link.peer}`;
    let body: Buffer;
    try {
      // As a call's: trailing undefined dropped, and refused rather than changed (value-check.ts).
      args = trimArgs(args);
      const check = checkArgs(args);
      if (typeof check === 'string') return Promise.reject(new HeartlineError('SERIALIZATION_ERROR', `${label}: ${check}`));
      body = encodeBody([callbackId, args], check === OMIT_UNDEFINED);
    } catch (err) {
      return Promise.reject(new HeartlineError('SERIALIZATION_ERROR', `${label}: arguments could not be encoded`, { cause: err }));
    }
    if (HEADER_SIZE + body.length > this.link.peerMaxFrameSize) {
      return Promise.reject(new HeartlineError('PAYLOAD_TOO_LARGE', `${label}: push of ${HEADER_SIZE + body.length} bytes is over the consumer's limit`));
    }
    return new Promise((resolve, reject) => {
      const call: PendingCall = { id: this.pending.nextId(), request: { label, timeout: this.timeout, origin: undefined }, seq: 0, deadline: Infinity, resolve, reject };
      this.pending.add(call);
      const seq = this.link.sendPush(call.id, body);
      if (seq === 0) this.pending.fail(call, new HeartlineError('LIMIT_EXCEEDED', `${label}: write queue bound reached`));
      else call.seq = seq;
    });
  }

  /** The consumer answered push `id`; an unknown id (timed out) is ignored. */
  settle(id: number, status: number, body: Buffer): void {
    const call = this.pending.take(id);
    if (call === undefined) return;
    let value: unknown;
    try {
      value = readResponse(status, body);
    } catch (err) {
      // Either refusal of the codec, in any answer: a protocol error.
      call.reject(new HeartlineError('PROTOCOL_ERROR', `${call.request.label}: undecodable answer`, { cause: err }));
      this.link.protocolError('undecodable callback answer');
      return;
    }
    if (value instanceof HeartlineError) call.reject(value);
    else call.resolve(value);
  }

  /** The answer to push `id` is over this provider's frame limit. */
  oversize(id: number): void {
    const push = this.pending.take(id);
    push?.reject(new HeartlineError('PAYLOAD_TOO_LARGE', `${push.request.label}: response over this provider's limit`));
  }

  /** The connection closed: every push fails (written or not, as the writer's `wasWritten` tells). */
  failAll(wasWritten: (seq: number) => boolean, reason: HeartlineError | undefined): void {
    this.pending.failAll(wasWritten, 'consumer connection closed', reason);
  }
}
