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
  hex: string;
}

export const vectors: Vector[] = JSON.parse(readFileSync(new URL('../vectors/frames.json', import.meta.url), 'utf8'));
