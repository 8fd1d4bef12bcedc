/**
 * Heartline's one `abort` listener per signal. Every call in flight (or
 * waiting for a slot or a listing) that a signal may cancel is a watcher of
 * it; the signal itself carries a single listener, shared by all of them,
 * added with the first watcher and removed with the last. One controller may
 * thus cancel a batch of thousands of concurrent calls without Node's
 * `MaxListenersExceededWarning`, and a long-lived signal keeps nothing once
 * its calls have settled.
 *
 * ```
 *   watchAbort(s, w) --> watchers.get(s) ?? (new set + s.addEventListener) --> set.add(w)
 *   unwatchAbort(s, w) --> set.delete(w); empty: s.removeEventListener, forget the set
 *   s fires --> each watcher, removed first, gets onAbort(s), once
 * ```
 */

/** What a signal's firing reaches: called at most once per `watchAbort`, after the watcher was removed. */
export interface AbortWatcher {
  onAbort(signal: AbortSignal): void;
}

class SignalWatchers {
  readonly set = new Set<AbortWatcher>();
  constructor(private readonly signal: AbortSignal) {}

  /** The signal's one listener. */
  handleEvent(): void {
    const signal = this.signal;
    let failure: { err: unknown } | undefined;
    // A watcher removed meanwhile (its call settled through another) is skipped; one added cannot be (the signal is aborted).
    for (const w of this.set) {
      this.set.delete(w);
      try {
        w.onAbort(signal);
      } catch (err) {
        failure ??= { err }; // every other watcher still runs; then it is reported as EventTarget reports a listener's
      }
    }
    forget(signal, this);
    if (failure !== undefined) throw failure.err;
  }
}

const registry = new WeakMap<AbortSignal, SignalWatchers>();

function forget(signal: AbortSignal, entry: SignalWatchers): void {
  if (registry.get(signal) !== entry) return;
  registry.delete(signal);
  signal.removeEventListener('abort', entry);
}

/**
 * Calls `watcher.onAbort(signal)` when `signal` fires, unless unwatched
 * first. Does nothing (returns false) when the signal has already fired: the
 * caller checks `aborted` itself.
 */
export function watchAbort(signal: AbortSignal, watcher: AbortWatcher): boolean {
  if (signal.aborted) return false;
  let entry = registry.get(signal);
  if (entry === undefined) {
    entry = new SignalWatchers(signal);
    registry.set(signal, entry);
    signal.addEventListener('abort', entry);
  }
  entry.set.add(watcher);
  return true;
}

/** Stops `watcher` from hearing `signal`; the signal's listener goes with its last watcher. Idempotent. */
export function unwatchAbort(signal: AbortSignal, watcher: AbortWatcher): void {
  const entry = registry.get(signal);
  if (entry === undefined || !entry.set.delete(watcher)) return;
  if (entry.set.size === 0) forget(signal, entry);
}

/** Watchers of `signal` (for tests). */
export function abortWatcherCount(signal: AbortSignal): number {
  return registry.get(signal)?.set.size ?? 0;
}
