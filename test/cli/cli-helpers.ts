// Shared pieces of the CLI tests: run `heartline` as a child process, and a
// provider with a probe service the tests call through it.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  currentCall,
  Health,
  Provider,
  Reflection,
  serviceOf,
  Service,
  type Contract,
  type ConnectionReport,
  type Server,
  type ServiceDescription,
  type ServiceSummary,
  type ServingStatus,
} from '../../src/index.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Wall time of the whole run, in ms. */
  ms: number;
}

/** Runs `heartline ...args` (`node --import tsx src/cli/main.ts`), to its exit. */
export function heartline(...args: string[]): Promise<CliResult> {
  const started = performance.now();
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr, ms: performance.now() - started }));
  });
}

/** A service for the CLI tests to call. */
@Service('cli.Probe', {
  version: '1.0.0',
  methods: {
    add: {},
    echo: {},
    attachments: {},
    fail: {},
    sleep: { idempotent: true },
    notify: { oneWay: true },
  },
})
export abstract class Probe {
  abstract add(a: number, b: number): Promise<number>;
  abstract echo(value: unknown): Promise<unknown>;
  /** The attachments the call carried. */
  abstract attachments(): Promise<Record<string, string>>;
  /** Throws a RangeError with `message`. */
  abstract fail(message: string): Promise<never>;
  abstract sleep(ms: number): Promise<number>;
  abstract notify(value: unknown): Promise<void>;
}

@Provider(Probe)
export class ProbeImpl implements Probe {
  readonly notified: unknown[] = [];
  async add(a: number, b: number): Promise<number> {
    return a + b;
  }
  async echo(value: unknown): Promise<unknown> {
    return value;
  }
  async attachments(): Promise<Record<string, string>> {
    return { ...currentCall()!.attachments };
  }
  async fail(message: string): Promise<never> {
    throw new RangeError(message);
  }
  async sleep(ms: number): Promise<number> {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return ms;
  }
  async notify(value: unknown): Promise<void> {
    this.notified.push(value);
  }
}

/*
 * STAND-INS for the built-in services (heartline.Reflection, heartline.Health):
 * the provider implements them on branch hl/builtins; until that is merged,
 * the tests register these on the test Server.
 */

function summary(contract: Contract): ServiceSummary {
  const d = serviceOf(contract);
  return { name: d.name, version: d.version, group: d.group, methods: [...d.methods.keys()] };
}

function description(contract: Contract): ServiceDescription {
  const d = serviceOf(contract);
  return {
    name: d.name,
    version: d.version,
    group: d.group,
    methods: [...d.methods].map(([name, m]) => ({
      name,
      ...(m.timeout === undefined ? {} : { timeout: m.timeout }),
      oneWay: m.oneWay ?? false,
      idempotent: m.idempotent ?? false,
      ...(m.retries === undefined ? {} : { retries: m.retries }),
      callbacks: [...(m.callbacks ?? [])],
    })),
  };
}

/** Registers stand-in Reflection and Health services on `server`, serving `contracts` (and themselves). */
export function registerStandIns(server: Server, contracts: Contract[]): { health: StandInHealth } {
  const all = [Reflection, Health, ...contracts];

  @Provider(Reflection)
  class StandInReflection implements Reflection {
    async listServices(): Promise<ServiceSummary[]> {
      return all.map(summary);
    }
    async describeService(name: string, version = '', group = ''): Promise<ServiceDescription> {
      const c = all.find((x) => {
        const d = serviceOf(x);
        return d.name === name && d.version === version && d.group === group;
      });
      if (c === undefined) throw Object.assign(new Error(`no ${name}`), { code: 'SERVICE_NOT_FOUND' });
      return description(c);
    }
    async listConnections(): Promise<ConnectionReport[]> {
      return server.connections().map((c) => ({ id: c.id, peer: c.peer, state: c.state, age: c.age, inFlight: c.inFlight, bytesIn: 0, bytesOut: 0, callsDone: 0 }));
    }
  }

  const health = new StandInHealth(all.map((c) => serviceOf(c).name));
  server.register(new StandInReflection()).register(health);
  return { health };
}

@Provider(Health)
export class StandInHealth implements Health {
  status: ServingStatus = 'SERVING';
  constructor(private readonly names: string[]) {}
  async check(service = ''): Promise<ServingStatus> {
    if (service !== '' && !this.names.includes(service)) return 'UNKNOWN';
    return this.status;
  }
  async watch(service: string): Promise<ServingStatus> {
    return this.check(service);
  }
}
