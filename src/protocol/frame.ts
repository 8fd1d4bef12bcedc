import {
  FLAG_EVENT,
  FLAG_REQUEST,
  FLAG_TWO_WAY,
  FrameType,
  HEADER_SIZE,
  MAGIC_0,
  MAGIC_1,
  FRAME_VERSION,
} from './constants.js';

/** The fields of a frame header, as read off the wire. */
export interface FrameHeader {
  flags: number;
  status: number;
  type: FrameType;
  id: number;
  length: number;
}

/** A whole frame: its header and its body (which may be empty). */
export interface Frame extends FrameHeader {
  body: Buffer;
}

export function isRequest(flags: number): boolean {
  return (flags & FLAG_REQUEST) !== 0;
}

export function isTwoWay(flags: number): boolean {
  return (flags & FLAG_TWO_WAY) !== 0;
}

/** The flags a frame of `type` carries; events are every type but Call. */
export function frameFlags(type: FrameType, request: boolean, twoWay: boolean): number {
  let flags = 0;
  if (request) flags |= FLAG_REQUEST;
  if (request && twoWay) flags |= FLAG_TWO_WAY;
  if (type !== FrameType.Call) flags |= FLAG_EVENT;
  return flags;
}

/** The flags byte of every frame kind (protocol.md section 3). */
export const FLAGS = Object.freeze({
  callTwoWay: frameFlags(FrameType.Call, true, true),
  callOneWay: frameFlags(FrameType.Call, true, false),
  response: frameFlags(FrameType.Call, false, false),
  handshake: frameFlags(FrameType.Handshake, true, true),
  handshakeResponse: frameFlags(FrameType.Handshake, false, false),
  ping: frameFlags(FrameType.Heartbeat, true, true),
  pong: frameFlags(FrameType.Heartbeat, false, false),
  drain: frameFlags(FrameType.Drain, true, false),
  cancel: frameFlags(FrameType.Cancel, true, false),
  release: frameFlags(FrameType.Release, true, false),
});

/** Writes a 16-byte header into `target` at `offset`. */
export function writeHeader(
  target: Buffer,
  offset: number,
  flags: number,
  status: number,
  type: FrameType,
  id: number,
  length: number,
): void {
  target[offset] = MAGIC_0;
  target[offset + 1] = MAGIC_1;
  target[offset + 2] = FRAME_VERSION;
  target[offset + 3] = flags;
  target[offset + 4] = status;
  target[offset + 5] = type;
  target[offset + 6] = 0;
  target[offset + 7] = 0;
  target.writeUInt32BE(id, offset + 8);
  target.writeUInt32BE(length, offset + 12);
}

/** One frame as a single buffer (header + body). The hot path writes headers in place instead. */
export function encodeFrame(flags: number, status: number, type: FrameType, id: number, body?: Uint8Array): Buffer {
  const length = body?.length ?? 0;
  const out = Buffer.allocUnsafe(HEADER_SIZE + length);
  writeHeader(out, 0, flags, status, type, id, length);
  if (body !== undefined) out.set(body, HEADER_SIZE);
  return out;
}
