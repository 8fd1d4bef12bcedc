import { EventEmitter } from 'node:events';

/** A socket stand-in for writer tests: records writes, reports a full buffer past `highWater` bytes. */
export class FakeSocket extends EventEmitter {
  writes: Buffer[] = [];
  writableLength = 0;
  constructor(private readonly highWater = Infinity) {
    super();
  }

  /** Writes between cork() and uncork(), recorded as one (as a socket's writev sends them). */
  private corked: Buffer[] | undefined;

  write(chunk: Buffer): boolean {
    if (this.corked !== undefined) this.corked.push(chunk);
    else this.writes.push(chunk);
    this.writableLength += chunk.length;
    return this.writableLength < this.highWater;
  }

  cork(): void {
    this.corked ??= [];
  }

  uncork(): void {
    if (this.corked === undefined) return;
    this.writes.push(Buffer.concat(this.corked));
    this.corked = undefined;
  }

  /** The kernel took everything. */
  drainAll(): void {
    this.writableLength = 0;
    this.emit('drain');
  }
}

/** Resolves after the current tick's nextTick queue (when a FrameWriter flushes). */
export const tick = (): Promise<void> => new Promise((resolve) => process.nextTick(resolve));
