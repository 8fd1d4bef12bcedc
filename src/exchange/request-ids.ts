import { MAX_REQUEST_ID } from '../protocol/constants.js';

/**
 * Request ids of one connection and direction: 1, 2, ... 2^32-1, then 1 again.
 * 0 is never used. An id still in use (a call that has waited 2^32 calls long)
 * is skipped at wrap-around.
 */
export class RequestIds {
  private lastId: number;

  constructor(start = 0) {
    this.lastId = start;
  }

  /** The id `next` gave last (`start` before the first). */
  get last(): number {
    return this.lastId;
  }

  next(inUse: (id: number) => boolean): number {
    let id = this.lastId;
    do {
      id = id >= MAX_REQUEST_ID ? 1 : id + 1;
    } while (inUse(id));
    this.lastId = id;
    return id;
  }
}
