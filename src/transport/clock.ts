/**
 * The one time seam of Heartline: a monotonic clock in ms. Timers use the
 * global `setTimeout`; tests replace both with fake timers (faking
 * `performance` as well).
 */
export function now(): number {
  return performance.now();
}
