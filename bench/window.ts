// The measured-window protocol between the three processes. The client child opens
// and closes each case's window; the orchestrator relays every step to the server
// child(ren) and answers the client once all of them acknowledged, with their
// stats on 'end'. 'prepare' (before the warm-up) lets each server collect garbage,
// so one case's leftovers weigh less on the next case's peak RSS.
import type { WindowMeter, WindowStats } from './meters.js';
import type { LoopOptions } from './workload.js';

export type WindowPhase = 'prepare' | 'start' | 'end';

/** Client → orchestrator → each server. */
export interface WindowRequest {
  type: 'window';
  seq: number;
  phase: WindowPhase;
}

/** Server → orchestrator (one entry in `stats`), orchestrator → client (one per server). */
export interface WindowAck {
  type: 'window-ack';
  seq: number;
  stats?: WindowStats[];
}

/** Several providers' stats as one: the highest peak RSS (per provider), the summed GC time. */
export function combineStats(all: WindowStats[]): WindowStats | undefined {
  if (all.length === 0) return undefined;
  return {
    gcMs: all.reduce((s, x) => s + x.gcMs, 0),
    gcCount: all.reduce((s, x) => s + x.gcCount, 0),
    peakRssBytes: Math.max(...all.map((x) => x.peakRssBytes)),
  };
}

/** GC and RSS over a case's measured window, both sides (see meters.ts). */
export interface SideStats {
  clientGcMs: number;
  clientGcCount: number;
  clientPeakRssBytes: number;
  /** GC ms per 1000 calls of the window (= µs per call). */
  clientGcMsPer1k?: number;
  /** Summed over the providers (heartline3 has three). */
  serverGcMs?: number;
  serverGcCount?: number;
  /** The highest of the providers' peaks. */
  serverPeakRssBytes?: number;
  serverGcMsPer1k?: number;
  /** The provider's RSS when it started listening, idle, after a full GC (the highest of the providers'); set by run.ts. */
  serverIdleRssBytes?: number;
}

/** Client child: asks the parent to relay a window step to the server(s); resolves with their acknowledgement. */
export class WindowClient {
  private seq = 0;
  private readonly waiting = new Map<number, (ack: WindowAck) => void>();

  constructor(private readonly withTimeout: <T>(p: Promise<T>, ms: number, what: string) => Promise<T>) {
    process.on('message', (m: unknown) => {
      const ack = m as WindowAck;
      if (ack?.type !== 'window-ack') return;
      this.waiting.get(ack.seq)?.(ack);
      this.waiting.delete(ack.seq);
    });
  }

  step(phase: WindowPhase): Promise<WindowAck> {
    const seq = ++this.seq;
    const acked = new Promise<WindowAck>((resolve) => this.waiting.set(seq, resolve));
    process.send!({ type: 'window', seq, phase } satisfies WindowRequest);
    return this.withTimeout(acked, 10_000, `window ${phase}`).finally(() => this.waiting.delete(seq));
  }
}

/**
 * The hooks a closed loop needs to measure both sides over its window, and the
 * stats once it closed. `prepare()` before the warm-up.
 */
export function sideMeter(windows: WindowClient, meter: WindowMeter) {
  let stats: SideStats | undefined;
  return {
    prepare: () => windows.step('prepare'),
    hooks: {
      beforeWindow: async () => {
        await windows.step('start');
        meter.start();
      },
      afterWindow: async () => {
        const [mine, ack] = await Promise.all([meter.stop(), windows.step('end')]);
        const server = combineStats(ack.stats ?? []);
        stats = { clientGcMs: mine.gcMs, clientGcCount: mine.gcCount, clientPeakRssBytes: mine.peakRssBytes };
        if (server) {
          stats.serverGcMs = server.gcMs;
          stats.serverGcCount = server.gcCount;
          stats.serverPeakRssBytes = server.peakRssBytes;
        }
      },
    } satisfies Pick<LoopOptions, 'beforeWindow' | 'afterWindow'>,
    /** The window's stats, with GC per 1000 of the window's `calls`. */
    stats: (calls: number): SideStats => {
      const s = stats ?? { clientGcMs: NaN, clientGcCount: NaN, clientPeakRssBytes: NaN };
      const per1k = (ms: number | undefined) => (ms !== undefined && calls > 0 ? (ms / calls) * 1000 : NaN);
      return { ...s, clientGcMsPer1k: per1k(s.clientGcMs), ...(s.serverGcMs !== undefined ? { serverGcMsPer1k: per1k(s.serverGcMs) } : {}) };
    },
  };
}
export type SideMeter = ReturnType<typeof sideMeter>;
