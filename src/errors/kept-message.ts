/** Longest error message a connection keeps as its `lastError`, in characters. */
export const KEPT_MESSAGE_MAX = 512;

/**
 * An error message as a connection keeps it (`lastError` of
 * `connections()`): at most KEPT_MESSAGE_MAX characters, so that a peer
 * answering with a huge message cannot make every connection hold it.
 */
export function keptMessage(message: string): string {
  if (message.length <= KEPT_MESSAGE_MAX) return message;
  // A copy, not slice() alone: V8's sliced strings keep the whole original alive.
  return [...message.slice(0, KEPT_MESSAGE_MAX), '…'].join('');
}
