// Head-of-line case (issue #13): 64 B echo calls, 8 in flight, on one connection,
// alone and then while one 4 MiB bulk call (a Buffer, echoed back) is always in
// flight on the same connection. Reports the small calls' latency and the bulk
// calls completed per second of the measured window.
import type { EchoSystem } from './system.js';
import type { SideMeter, SideStats } from './window.js';
import { closedLoop, makePayload, samePayload, type LoopResult } from './workload.js';

export const HOL_INFLIGHT = 8;
export const BULK_BYTES = 4 * 1024 * 1024;
/** Systems whose EchoClient has `bulk` and whose calls share one connection. */
export const HOL_SYSTEMS = ['floor', 'heartline'] as const;

export type HolPhase = 'alone' | 'bulk';

export interface HolResult extends LoopResult, SideStats {
  system: string;
  phase: HolPhase;
  /** Bulk calls completed inside the measured window (phase 'bulk'). */
  bulkCalls: number;
  bulkPerSec: number;
  bulkErrors: number;
}

function bulkBody(): Buffer {
  const b = Buffer.allocUnsafe(BULK_BYTES);
  for (let i = 0; i < b.length; i += 4) b.writeUInt32LE(i * 2654435761 >>> 0, i);
  return b;
}

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms))),
  ]).finally(() => clearTimeout(timer));
}

export async function holCase(
  sys: EchoSystem,
  cfg: { system: string; ports: number[]; warmupMs: number; measureMs: number },
  phase: HolPhase,
  side: SideMeter,
): Promise<HolResult> {
  const payload = makePayload('64B');
  const client = await within(sys.connect(cfg.ports), 10_000, 'connect');
  try {
    const bulk = client.bulk?.bind(client);
    if (!bulk) throw new Error(`${cfg.system} has no bulk method`);
    const echoed = await within(client.echo(payload), 10_000, 'first call');
    if (!samePayload(payload, echoed)) throw new Error('echo mismatch');
    const body = bulkBody();
    const back = await within(bulk(body), 30_000, 'first bulk call');
    if (!Buffer.isBuffer(back) || !back.equals(body)) throw new Error('bulk echo mismatch');

    let stopBulk = phase !== 'bulk';
    let counting = false;
    let bulkCalls = 0;
    let bulkErrors = 0;
    let firstBulkError: string | undefined;
    const bulkLoop = (async () => {
      while (!stopBulk) {
        try {
          await bulk(body);
          if (counting) bulkCalls++;
        } catch (err) {
          bulkErrors++;
          firstBulkError ??= err instanceof Error ? err.message : String(err);
          if (bulkErrors > 100) stopBulk = true;
        }
      }
    })();

    await side.prepare();
    (globalThis as { gc?: () => void }).gc?.();
    const loop = await closedLoop((p) => client.echo(p), payload, {
      inflight: HOL_INFLIGHT,
      warmupMs: cfg.warmupMs,
      measureMs: cfg.measureMs,
      beforeWindow: async () => {
        await side.hooks.beforeWindow();
        counting = true;
      },
      afterWindow: async () => {
        counting = false;
        await side.hooks.afterWindow();
      },
    });
    stopBulk = true;
    await within(bulkLoop, 30_000, 'last bulk call');
    const result: HolResult = {
      system: cfg.system,
      phase,
      ...loop,
      ...side.stats(loop.calls),
      bulkCalls,
      bulkPerSec: phase === 'bulk' ? bulkCalls / loop.seconds : NaN,
      bulkErrors,
    };
    if (firstBulkError !== undefined && result.firstError === undefined) result.firstError = `bulk: ${firstBulkError}`;
    return result;
  } finally {
    await within(client.close(), 5_000, 'close').catch(() => undefined);
  }
}
