import { readFileSync } from 'node:fs';

export interface Vector {
  name: string;
  flags: number;
  status: number;
  type: number;
  id: number;
  body: unknown;
  empty?: boolean;
  hex: string;
}

export const vectors: Vector[] = JSON.parse(readFileSync(new URL('../vectors/frames.json', import.meta.url), 'utf8'));
