import { readFileSync } from 'node:fs';
import type { Typed } from './typed-body.js';

/**
 * One worked example of protocol.md: a whole frame in hex and what it decodes
 * to. The file format is documented in protocol.md 9.1.
 */
export interface Vector {
  name: string;
  flags: number;
  status: number;
  type: number;
  id: number;
  /** The body in typed JSON (typed-body.ts); null with `empty: true` for a frame without a body. */
  body: Typed | null;
  /** True for a frame whose length is 0. */
  empty?: true;
  /** False for a valid but non-canonical body: receivers accept it, encoders never write it. */
  canonical?: false;
  /**
   * True for a Call request body (protocol.md 4.1): its budget is a uint 32 in
   * the canonical encoding, so it is re-encoded with the request encoder
   * (requestTuple, writeBudget, asVersion1Request) rather than the generic one.
   */
  request?: true;
  /**
   * True for a fragmented message (protocol.md 4.9): `hex` is several frames,
   * its fragments (MORE set on all but the last) with the `interleaved` whole
   * frames between them, read on a connection that agreed fragments. The other
   * keys describe the reassembled message; its body is `bodyHex`.
   */
  fragmented?: true;
  /** The reassembled body of a fragmented message, in hex. */
  bodyHex?: string;
  /** The whole frames between a fragmented message's fragments, in the order sent (a receiver delivers them first). */
  interleaved?: Vector[];
  hex: string;
}

export const vectors: Vector[] = JSON.parse(readFileSync(new URL('../vectors/frames.json', import.meta.url), 'utf8'));
