// One fuzz run against a real provider in a child process: raw sockets send
// scripted bad input (test/fuzz/generators.ts) while a well-behaved Client
// calls the same provider the whole time. Used by test/faults/fuzz.test.ts
// (a short run) and scripts/fuzz.ts (`npm run fuzz`, as long as you like).
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { Client, silentLogger, type ServerOptions } from '../../src/index.js';
import { startChildProvider } from '../helpers/child-process.js';
import { Calc, Echo, Greeter } from '../helpers/contract.js';
import { CONNECTION_KINDS, connectionScript, type ConnectionKind, type ConnectionScript } from './generators.js';

export interface FuzzOptions {
  seed: number;
  /** Random and mutated frames to send (flood connections not counted); the run ends once this many went out. */
  count: number;
  /** Raw sockets open at once. Default 12. */
  concurrency?: number;
  /** Well-behaved callers running side by side. Default 4. */
  goodCallers?: number;
  /** Timeout of each well-behaved call, in ms. Default 3000 (the Client's default). */
  goodCallTimeout?: number;
  /** Largest allowed growth of the provider's RSS over its size after start-up, in bytes. Default 256 MiB. */
  rssGrowthLimit?: number;
  /** The run fails if it is not done after this many ms. Default: no limit. */
  timeLimitMs?: number;
  /**
   * The run fails if it makes no progress (no fuzz frame sent, no good call
   * answered) for this many ms: a provider that hangs or blocks its event
   * loop. Unlike `timeLimitMs`, a slow (loaded) machine does not trip it.
   * Default: no limit.
   */
  stallLimitMs?: number;
  /** Connection kinds not to send (the known-defect ones, to tell them apart). */
  skip?: ReadonlySet<ConnectionKind>;
  /** Options of the provider child (JSON-serialisable). */
  serverOptions?: ServerOptions;
  /** Called every `progressEveryMs` (default 2000) with the counts so far. */
  onProgress?: (summary: FuzzSummary) => void;
  progressEveryMs?: number;
  /** Replay only these connection indices (their scripts), then stop. */
  only?: readonly number[];
}

export interface FuzzSummary {
  seed: number;
  /** Every frame sent, flood frames included. */
  framesSent: number;
  /** Frames of the 'mixed' and 'garbage' connections: random, mutated and valid ones. */
  fuzzFrames: number;
  bytesSent: number;
  connections: number;
  byKind: Record<ConnectionKind, number>;
  /** Connections the provider left open for 3 s after our FIN (then destroyed by us). */
  lingering: number;
  /** Provider RSS: after start-up, smallest and largest sample, and the kernel's high-water mark (VmHWM). */
  rssStart: number;
  rssMin: number;
  rssMax: number;
  rssPeak: number;
  goodOk: number;
  goodFailed: number;
  /** Slowest well-behaved call that succeeded, in ms. */
  goodMaxMs: number;
  elapsedMs: number;
  /** Empty when the run passed. */
  failures: string[];
  /** Connections open while the first failure came about: replay them with --only. */
  suspects: Array<{ index: number; kind: ConnectionKind; frames: number }>;
}

const LINGER_MS = 3000;

const isPlain = (s: ConnectionScript): boolean => s.kind === 'mixed' || s.kind === 'garbage';
const MIB = 1024 * 1024;

/** VmRSS and VmHWM of `pid` from /proc, in bytes (Linux). */
function memoryOf(pid: number): { rss: number; peak: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
    return { rss: kb('VmRSS'), peak: kb('VmHWM') };
  } catch {
    return undefined;
  }
}

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());

/** Sends one script over a fresh socket; resolves once the socket is gone. */
async function sendScript(port: number, script: ConnectionScript, isStopped: () => boolean): Promise<'closed' | 'lingering' | 'refused'> {
  const socket = connect({ host: '127.0.0.1', port });
  socket.setNoDelay(true);
  socket.on('error', () => undefined); // resets by the provider are the expected outcome
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const connected = await Promise.race([new Promise<boolean>((resolve) => socket.once('connect', () => resolve(true))), closed.then(() => false)]);
  if (!connected) return 'refused';
  if (script.reads) socket.resume();
  else socket.pause();
  for (const chunk of script.writes) {
    if (socket.destroyed || isStopped()) break;
    socket.write(chunk);
  }
  if (!script.reads) {
    await Promise.race([closed, delay(script.holdMs)]);
    socket.destroy();
    return 'closed';
  }
  socket.end();
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([closed.then(() => 'closed' as const), new Promise<'lingering'>((resolve) => (timer = setTimeout(() => resolve('lingering'), LINGER_MS)))]);
  clearTimeout(timer);
  socket.destroy();
  return outcome;
}

export async function runFuzz(options: FuzzOptions): Promise<FuzzSummary> {
  const started = performance.now();
  const { seed, count, concurrency = 12, goodCallers = 4, goodCallTimeout = 3000, rssGrowthLimit = 256 * MIB, skip = new Set(), progressEveryMs = 2000 } = options;
  const summary: FuzzSummary = {
    seed,
    framesSent: 0,
    fuzzFrames: 0,
    bytesSent: 0,
    connections: 0,
    byKind: Object.fromEntries(CONNECTION_KINDS.map((k) => [k, 0])) as Record<ConnectionKind, number>,
    lingering: 0,
    rssStart: 0,
    rssMin: Infinity,
    rssMax: 0,
    rssPeak: 0,
    goodOk: 0,
    goodFailed: 0,
    goodMaxMs: 0,
    elapsedMs: 0,
    failures: [],
    suspects: [],
  };
  // Recent connections with their start and end times, to name the suspects of a failure.
  const log: Array<{ script: ConnectionScript; startedAt: number; endedAt: number }> = [];
  /**
   * `since`: when the failure may have begun (a failed call: when it was made; else 2 s ago).
   * The suspects are the connections open from then on.
   */
  const fail = (why: string, since?: number): void => {
    if (summary.failures.length === 0) {
      const to = performance.now();
      const from = since === undefined ? to - 2000 : since - 500;
      summary.suspects = log
        .filter((e) => e.startedAt <= to && e.endedAt >= from)
        // the kinds aimed at known defects first, then the latest
        .sort((x, y) => Number(isPlain(x.script)) - Number(isPlain(y.script)) || y.startedAt - x.startedAt)
        .slice(0, 20)
        .map(({ script: s }) => ({ index: s.index, kind: s.kind, frames: s.frames }));
    }
    if (summary.failures.length < 20) summary.failures.push(`${Math.round(performance.now() - started)} ms: ${why}`);
  };
  const isStopped = (): boolean => summary.failures.length > 0;

  const provider = await startChildProvider(0, { maxFrameSize: 256 * 1024, ...options.serverOptions });
  let disposing = false;
  let stderr = '';
  provider.child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  void provider.exited.then((how) => {
    if (!disposing) fail(`provider process exited (${String(how)}); stderr: ${stderr}`);
  });
  const pid = provider.child.pid!;

  const client = new Client({ providers: [provider.address], logger: silentLogger, timeout: goodCallTimeout });
  const calc = client.refer(Calc);
  const greeter = client.refer(Greeter);
  const echo = client.refer(Echo);
  await calc.add(1, 2); // connected before the baseline is taken
  summary.rssStart = memoryOf(pid)?.rss ?? 0;

  const sample = (): void => {
    const m = memoryOf(pid);
    if (m === undefined || Number.isNaN(m.rss)) return;
    summary.rssMin = Math.min(summary.rssMin, m.rss);
    summary.rssMax = Math.max(summary.rssMax, m.rss);
    summary.rssPeak = Math.max(summary.rssPeak, m.peak);
    if (m.rss > summary.rssStart + rssGrowthLimit && !isStopped()) {
      fail(`provider RSS ${(m.rss / MIB).toFixed(0)} MiB is over its start ${(summary.rssStart / MIB).toFixed(0)} MiB + ${(rssGrowthLimit / MIB).toFixed(0)} MiB`);
    }
  };
  const sampler = setInterval(sample, 100);
  const progress = options.onProgress === undefined ? undefined : setInterval(() => options.onProgress!({ ...summary, elapsedMs: performance.now() - started }), progressEveryMs);
  const limit = options.timeLimitMs === undefined ? undefined : setTimeout(() => fail(`not done within ${options.timeLimitMs} ms`), options.timeLimitMs);
  let seen = -1;
  let progressAt = performance.now();
  const stallLimit = options.stallLimitMs;
  const watchdog = stallLimit === undefined ? undefined : setInterval(() => {
    const now = summary.fuzzFrames + summary.connections + summary.goodOk + summary.goodFailed;
    if (now !== seen) {
      seen = now;
      progressAt = performance.now();
    } else if (performance.now() - progressAt > stallLimit && !isStopped()) {
      fail(`no progress for ${stallLimit} ms (${summary.fuzzFrames} fuzz frames sent, ${summary.goodOk} good calls answered)`);
    }
  }, 100);

  let fuzzing = true;
  const good = async (worker: number): Promise<void> => {
    for (let i = 0; fuzzing && !isStopped(); i++) {
      const n = worker * 1_000_000 + i;
      const calledAt = performance.now();
      try {
        let ok: boolean;
        switch (i % 3) {
          case 0:
            ok = (await calc.add(n, 7)) === n + 7;
            break;
          case 1:
            ok = (await greeter.greet(`w${n}`)) === `hello w${n}`;
            break;
          default: {
            const value = { n, tags: ['a', 'b'], nested: { at: n } };
            ok = JSON.stringify(await echo.delayedEcho(value)) === JSON.stringify(value);
          }
        }
        summary.goodMaxMs = Math.max(summary.goodMaxMs, performance.now() - calledAt);
        if (ok) summary.goodOk++;
        else {
          summary.goodFailed++;
          fail(`well-behaved call ${n} returned a wrong result`, calledAt);
        }
      } catch (err) {
        summary.goodFailed++;
        fail(`well-behaved call ${n} failed: ${(err as { code?: string }).code ?? ''} ${(err as Error).message}`, calledAt);
      }
    }
  };
  const goodDone = Promise.all(Array.from({ length: goodCallers }, (_, w) => good(w)));

  let next = 0;
  const only = options.only;
  const lane = async (): Promise<void> => {
    while (!isStopped() && (only === undefined ? summary.fuzzFrames < count : next < only.length)) {
      const script = connectionScript(seed, only === undefined ? next++ : only[next++]!, skip);
      summary.framesSent += script.frames;
      if (isPlain(script)) summary.fuzzFrames += script.frames;
      summary.bytesSent += script.writes.reduce((n, w) => n + w.length, 0);
      summary.byKind[script.kind]++;
      const entry = { script, startedAt: performance.now(), endedAt: Infinity };
      log.push(entry);
      if (log.length > 4096) log.splice(0, 2048);
      const outcome = await sendScript(provider.port, script, isStopped);
      entry.endedAt = performance.now();
      summary.connections++;
      if (outcome === 'lingering') summary.lingering++;
    }
  };
  try {
    await Promise.all(Array.from({ length: only === undefined ? concurrency : 1 }, lane));
    // The provider still serves after the last bad byte.
    if (!isStopped()) {
      try {
        if ((await calc.add(40, 2)) !== 42) fail('well-behaved call after the fuzz returned a wrong result');
      } catch (err) {
        fail(`well-behaved call after the fuzz failed: ${(err as Error).message}`);
      }
    }
    fuzzing = false;
    await goodDone;
    sample();
  } finally {
    fuzzing = false;
    clearInterval(sampler);
    if (progress !== undefined) clearInterval(progress);
    if (limit !== undefined) clearTimeout(limit);
    if (watchdog !== undefined) clearInterval(watchdog);
    await client.close();
    disposing = true;
    await provider.dispose();
  }
  summary.elapsedMs = performance.now() - started;
  return summary;
}

/** The summary as a few lines of text. */
export function formatSummary(s: FuzzSummary): string {
  const mib = (n: number): string => (Number.isFinite(n) ? `${(n / MIB).toFixed(1)} MiB` : 'n/a');
  const kinds = Object.entries(s.byKind)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
  const lines = [
    `seed ${s.seed}: ${s.framesSent} frames (${s.fuzzFrames} random/mutated, ${mib(s.bytesSent)}) over ${s.connections} connections (${kinds}), ${s.lingering} lingering`,
    `provider RSS: start ${mib(s.rssStart)}, min ${mib(s.rssMin)}, max ${mib(s.rssMax)}, peak (VmHWM) ${mib(s.rssPeak)}`,
    `good calls: ${s.goodOk} ok, ${s.goodFailed} failed, slowest ${s.goodMaxMs.toFixed(0)} ms; elapsed ${(s.elapsedMs / 1000).toFixed(1)} s`,
  ];
  if (s.failures.length > 0) {
    lines.push(`FAILED (replay with: npm run fuzz -- --seed ${s.seed} --only <index>):`, ...s.failures.map((f) => `  ${f}`));
    lines.push(`  suspects: ${s.suspects.map((x) => `#${x.index} ${x.kind} (${x.frames} frames)`).join(', ')}`);
  }
  return lines.join('\n');
}
