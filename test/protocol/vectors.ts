import { readFileSync } from 'node:fs';

/** One worked example of protocol.md: a whole frame in hex and what it decodes to. */
export interface Vector {
  name: string;
  flags: number;
  status: number;
  type: number;
  id: number;
  /** The decoded body; null with `empty: true` for a frame without a body. */
  body: unknown;
  empty?: boolean;
  hex: string;
}

export const vectors: Vector[] = JSON.parse(readFileSync(new URL('../vectors/frames.json', import.meta.url), 'utf8'));
