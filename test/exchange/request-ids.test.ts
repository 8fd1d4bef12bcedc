import { describe, expect, it } from 'vitest';
import { RequestIds } from '../../src/exchange/request-ids.js';
import { MAX_REQUEST_ID } from '../../src/protocol/constants.js';

describe('RequestIds', () => {
  it('counts from 1', () => {
    const ids = new RequestIds();
    expect([ids.next(() => false), ids.next(() => false)]).toEqual([1, 2]);
  });

  it('wraps from 2^32-1 to 1, never 0', () => {
    const ids = new RequestIds(MAX_REQUEST_ID - 1);
    expect(ids.next(() => false)).toBe(MAX_REQUEST_ID);
    expect(ids.next(() => false)).toBe(1);
  });

  it('skips ids still in use at wrap-around', () => {
    const ids = new RequestIds(MAX_REQUEST_ID);
    const busy = new Set([1, 2]);
    expect(ids.next((id) => busy.has(id))).toBe(3);
  });
});
