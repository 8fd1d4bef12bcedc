/**
 * For an array used as a queue read from `head` (the items before it are
 * done): empties it once every item is done, and drops the done prefix once
 * it is over 1024 items and over half the array, so the array never holds
 * more than about twice the live items. Amortised O(1) per item: a splice
 * moves at most as many items as it drops. Returns the new head.
 */
export function trimHead(items: unknown[], head: number): number {
  if (head === items.length) {
    items.length = 0;
    return 0;
  }
  if (head > 1024 && head * 2 > items.length) {
    items.splice(0, head);
    return 0;
  }
  return head;
}
