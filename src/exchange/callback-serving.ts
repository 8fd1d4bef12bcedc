import { hasCode } from '../errors/heartline-error.js';
import { decodeBody } from '../protocol/codec.js';
import { isTwoWay, type FrameHeader } from '../protocol/frame.js';
import { now } from '../transport/clock.js';
import type { Logger } from '../transport/logger.js';
import type { CallbackTable } from './callback-table.js';
import { errorResponse } from './responder.js';

/** What serving the provider's pushes needs of the consumer's connection. */
export interface CallbackLink {
  readonly address: string;
  readonly log: Logger;
  /** The consumer's callbacks passed to this provider. */
  readonly callbacks: CallbackTable;
  /** Largest frame the provider accepts (its handshake answer), in bytes: bounds an answer. */
  readonly peerMaxFrameSize: number;
  /** When the provider last pushed to one of our callbacks (clock ms). */
  lastPushAt: number;
  /** True once the socket is closed: an answer is not written. */
  readonly socketClosed: boolean;
  /** Writes the answer to the push with request id `id`. */
  sendCallbackResponse(id: number, status: number, body: Buffer): void;
  protocolError(message: string): void;
}

/**
 * A provider pushes to one of our callbacks: body `[callbackId, args]`. The
 * listener runs (callback-table.ts); a two-way push is answered with its
 * outcome, a one-way one is not.
 */
export function runCallback(link: CallbackLink, header: FrameHeader, body: Buffer): void {
  link.lastPushAt = now();
  const twoWay = isTwoWay(header.flags);
  let value: unknown;
  try {
    value = body.length === 0 ? null : decodeBody(body); // an empty body is nil: BAD_REQUEST below
  } catch (err) {
    // Valid MessagePack we refuse: answered (two-way) or dropped; malformed: close.
    if (!hasCode(err, 'BAD_REQUEST')) return link.protocolError('undecodable callback request');
    link.log.warn({ err }, `callback request ${header.id} from ${link.address} refused: ${err.message}`);
    if (twoWay) {
      const r = errorResponse('BAD_REQUEST', `malformed callback request: ${err.message}`);
      link.sendCallbackResponse(header.id, r.status, r.body);
    }
    return;
  }
  link.callbacks.serve(value, (outcome) => {
    if (!twoWay || link.socketClosed) return;
    const r = typeof outcome === 'function' ? outcome(link.peerMaxFrameSize) : outcome;
    link.sendCallbackResponse(header.id, r.status, r.body);
  });
}

/** A push over this consumer's frame limit (its body was skipped): a two-way one is answered PAYLOAD_TOO_LARGE. */
export function refuseOversizedCallback(link: CallbackLink, header: FrameHeader): void {
  if (!isTwoWay(header.flags)) return;
  const r = errorResponse('PAYLOAD_TOO_LARGE', `callback request of ${header.length} bytes is over this consumer's limit`);
  link.sendCallbackResponse(header.id, r.status, r.body);
}
