// Shared pieces of the cluster tests: a contract whose provider reports who it
// is and counts what it runs, a way to start named providers (optionally on a
// fixed port, for restarts), and a seeded PRNG.
import { Provider, Server, Service, silentLogger, type BackoffOptions, type ProviderOptions, type ServerOptions } from '../../src/index.js';

export class WorkFailure extends Error {
  override name = 'WorkFailure';
}

@Service('cluster.Work', {
  methods: {
    whoami: {},
    /** Sleeps `ms`, tracking how many run at once. */
    work: {},
    /** Waits until the test opens the provider's gate. */
    hold: {},
    /** Non-idempotent: sleeps `ms`. */
    slow: {},
    /** Declared idempotent on the contract: sleeps `ms`. */
    slowIdem: { idempotent: true },
    /** Throws. */
    boom: {},
    /** Records its argument (in arrival order). */
    record: {},
  },
})
export abstract class Work {
  abstract whoami(): Promise<string>;
  abstract work(ms: number): Promise<string>;
  abstract hold(tag?: unknown): Promise<string>;
  abstract slow(ms: number): Promise<string>;
  abstract slowIdem(ms: number): Promise<string>;
  abstract boom(): Promise<never>;
  abstract record(value: unknown): Promise<string>;
}

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

@Provider(Work)
export class WorkImpl implements Work {
  /** Handler entries per method name. */
  readonly calls: Record<string, number> = {};
  /** `work` handlers running now, and the most ever at once. */
  running = 0;
  maxRunning = 0;
  /** When > 0, `slow` and `slowIdem` sleep this long instead of their argument (a stalled provider). */
  stallMs = 0;
  /** Arguments of `record`, in arrival order. */
  readonly recorded: unknown[] = [];
  private gate: { promise: Promise<void>; open: () => void };

  constructor(readonly name: string) {
    this.gate = newGate();
  }

  private enter(method: string): void {
    this.calls[method] = (this.calls[method] ?? 0) + 1;
  }

  /** Entries of `method` (0 when never called). */
  count(method: string): number {
    return this.calls[method] ?? 0;
  }

  /** Lets every `hold` call (waiting or future) return. */
  openGate(): void {
    this.gate.open();
  }

  /** Future `hold` calls wait again. */
  closeGate(): void {
    this.gate = newGate();
  }

  async whoami(): Promise<string> {
    this.enter('whoami');
    return this.name;
  }

  async work(ms: number): Promise<string> {
    this.enter('work');
    this.running++;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    try {
      await delay(ms);
    } finally {
      this.running--;
    }
    return this.name;
  }

  async hold(): Promise<string> {
    this.enter('hold');
    await this.gate.promise;
    return this.name;
  }

  async slow(ms: number): Promise<string> {
    this.enter('slow');
    await delay(this.stallMs > 0 ? this.stallMs : ms);
    return this.name;
  }

  async slowIdem(ms: number): Promise<string> {
    this.enter('slowIdem');
    await delay(this.stallMs > 0 ? this.stallMs : ms);
    return this.name;
  }

  boom(): Promise<never> {
    this.enter('boom');
    throw new WorkFailure(`boom from ${this.name}`);
  }

  async record(value: unknown): Promise<string> {
    this.enter('record');
    this.recorded.push(value);
    return this.name;
  }
}

function newGate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

export interface WorkProvider {
  name: string;
  server: Server;
  impl: WorkImpl;
  port: number;
  /** `127.0.0.1:<port>` */
  address: string;
  /** Opens the gate (so no `hold` keeps the server waiting) and closes the server. */
  close(): Promise<void>;
}

export interface WorkProviderOptions {
  /** Fixed port (to restart a provider where it was); default 0. */
  port?: number;
  server?: ServerOptions;
  /** Options of `server.register(impl, options)`. */
  provider?: ProviderOptions;
  /** Register nothing (a provider without the service). */
  register?: boolean;
}

/** Starts a provider of `cluster.Work` named `name` on 127.0.0.1. */
export async function startWorkProvider(name: string, options: WorkProviderOptions = {}): Promise<WorkProvider> {
  const impl = new WorkImpl(name);
  const deadline = performance.now() + 2000;
  let server: Server;
  let port: number;
  for (;;) {
    server = new Server({ host: '127.0.0.1', port: options.port ?? 0, logger: silentLogger, closeGracePeriod: 2000, ...options.server });
    if (options.register !== false) server.register(impl, options.provider);
    try {
      ({ port } = await server.listen());
      break;
    } catch (err) {
      // A fixed port may be briefly held by another socket of this machine: retry for a while.
      // LISTEN_FAILED, caused by Node's EADDRINUSE.
      if ((err as { cause?: NodeJS.ErrnoException }).cause?.code !== 'EADDRINUSE' || options.port === undefined || performance.now() > deadline) throw err;
      await delay(20);
    }
  }
  return {
    name,
    server,
    impl,
    port,
    address: `127.0.0.1:${port}`,
    close: async () => {
      impl.openGate();
      await server.close();
    },
  };
}

/** Reconnect within tens of ms. */
export const FAST_RECONNECT: BackoffOptions = { initialDelay: 50, factor: 2, maxDelay: 200, jitter: 0.2 };


export { seededRandom as mulberry32 } from '../helpers/seeded-random.js';

export const sleep = delay;

/** Counts of each value in `values`. */
export function tally(values: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}

/** Kinds of handles a cluster test may open: sockets, servers, child processes and their pipes. */
const HANDLE_KINDS = ['TCPSocketWrap', 'TCPServerWrap', 'ProcessWrap', 'PipeWrap'];

function openHandles(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) if (HANDLE_KINDS.includes(kind)) counts[kind] = (counts[kind] ?? 0) + 1;
  return counts;
}

/** What the test worker itself holds open (its IPC pipes) before any test runs. */
const BASELINE = openHandles();

/** Waits (up to `timeoutMs`) until no socket, server or child process opened by the tests is left, else throws listing them. */
export async function expectNothingOpen(timeoutMs = 1000): Promise<void> {
  const extra = (): string[] => Object.entries(openHandles()).filter(([kind, n]) => n > (BASELINE[kind] ?? 0)).map(([kind, n]) => `${kind} x${n - (BASELINE[kind] ?? 0)}`);
  const deadline = performance.now() + timeoutMs;
  while (extra().length > 0) {
    if (performance.now() > deadline) throw new Error(`left open after the tests: ${extra().join(', ')}`);
    await delay(10);
  }
}
