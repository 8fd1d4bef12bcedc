// Client child: `drive.ts <json DriveConfig>`. Runs each case over its own single
// connection and streams results to the parent over IPC. Part 'echo' runs the
// (size, in-flight) cells; part 'hol' the head-of-line case (hol.ts). Each case's
// measured window is announced to the server child(ren) through the parent
// (window.ts), so both sides measure GC and the provider its peak RSS over it.
import { holCase, type HolPhase, type HolResult } from './hol.js';
import { WindowMeter } from './meters.js';
import { isSystemName, loadSystem } from './system.js';
import { WindowClient, sideMeter, type SideStats, type WindowRequest } from './window.js';
import { closedLoop, makePayload, samePayload, type LoopResult, type SizeName } from './workload.js';

export interface DriveConfig {
  system: string;
  ports: number[];
  part: 'echo' | 'hol';
  /** Part 'echo' only. */
  cases: { size: SizeName; inflight: number }[];
  warmupMs: number;
  measureMs: number;
}

export interface CaseResult extends LoopResult, SideStats {
  system: string;
  size: SizeName;
}

export type DriveMessage =
  | { type: 'result'; result: CaseResult }
  | { type: 'hol-result'; result: HolResult }
  | { type: 'case-error'; system: string; size: SizeName | HolPhase; inflight: number; message: string }
  | { type: 'done' }
  | WindowRequest;

function send(msg: DriveMessage): Promise<void> {
  return new Promise((resolve) => process.send!(msg, () => resolve()));
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

async function main(): Promise<void> {
  if (!process.send) throw new Error('drive.ts must be started with an IPC channel');
  process.on('disconnect', () => process.exit(1)); // the orchestrator is gone
  const cfg = JSON.parse(process.argv[2] ?? '{}') as DriveConfig;
  if (!isSystemName(cfg.system)) throw new Error(`unknown system "${cfg.system}"`);
  const sys = await loadSystem(cfg.system);
  const gc = (globalThis as { gc?: () => void }).gc;
  const windows = new WindowClient(withTimeout);
  const meter = new WindowMeter();
  const side = () => sideMeter(windows, meter);

  if (cfg.part === 'hol') {
    for (const phase of ['alone', 'bulk'] as const) {
      try {
        const result = await holCase(sys, cfg, phase, side());
        await send({ type: 'hol-result', result });
      } catch (err) {
        await send({ type: 'case-error', system: cfg.system, size: phase, inflight: 8, message: errorText(err) });
      }
    }
  }

  for (const { size, inflight } of cfg.part === 'echo' ? cfg.cases : []) {
    const payload = makePayload(size);
    try {
      const client = await withTimeout(sys.connect(cfg.ports), 10_000, 'connect');
      try {
        const echoed = await withTimeout(client.echo(payload), 10_000, 'first call');
        if (!samePayload(payload, echoed)) throw new Error(`echo mismatch: ${JSON.stringify(echoed).slice(0, 200)}`);
        const m = side();
        await m.prepare();
        gc?.();
        const loop = await closedLoop((p) => client.echo(p), payload, {
          inflight,
          warmupMs: cfg.warmupMs,
          measureMs: cfg.measureMs,
          ...m.hooks,
        });
        await send({ type: 'result', result: { system: cfg.system, size, ...loop, ...m.stats(loop.calls) } });
      } finally {
        await withTimeout(client.close(), 5_000, 'close').catch(() => undefined);
      }
    } catch (err) {
      await send({ type: 'case-error', system: cfg.system, size, inflight, message: errorText(err) });
    }
  }
  meter.close();
  await send({ type: 'done' });
}

main()
  .catch(async (err: unknown) => {
    console.error(`[drive] ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exitCode = 1;
  })
  .finally(() => process.exit());
