// Tracks the sockets, servers and timers created while it is enabled, through
// async_hooks: unlike process.getActiveResourcesInfo(), it also sees unref'd
// timers and handles, which keep nothing alive but are still leaks.
import { createHook } from 'node:async_hooks';

const TRACKED = new Set(['TCPWRAP', 'TCPSERVERWRAP', 'TCPCONNECTWRAP', 'Timeout']);

export interface ResourceTracker {
  /** Types of the resources created since `trackResources()` that are not destroyed yet. */
  alive(): string[];
  stop(): void;
}

export function trackResources(): ResourceTracker {
  const live = new Map<number, string>();
  const hook = createHook({
    init(asyncId, type) {
      if (TRACKED.has(type)) live.set(asyncId, type);
    },
    destroy(asyncId) {
      live.delete(asyncId);
    },
  });
  hook.enable();
  return {
    alive: () => [...live.values()],
    stop: () => hook.disable(),
  };
}

/** Lets libuv finish closing handles and Node deliver the destroy hooks (both lag one loop turn or two). */
export async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
}
