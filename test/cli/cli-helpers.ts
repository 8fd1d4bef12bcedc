// Shared pieces of the CLI tests: run `heartline` as a child process, and a
// provider with a probe service the tests call through it.
import { spawn } from 'node:child_process';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { currentCall, Provider, Service } from '../../src/index.js';

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
  return heartlineWith({}, ...args);
}

/** `heartline` with more environment variables. */
export function heartlineWith(env: Record<string, string>, ...args: string[]): Promise<CliResult> {
  const started = performance.now();
  const { HEARTLINE_TOKEN: _ignored, ...inherited } = process.env;
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { cwd: REPO_ROOT, env: { ...inherited, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr, ms: performance.now() - started }));
  });
}

/**
 * `heartline ...args` piped into a slow reader (`sh`: `heartline ... | (sleep; wc -c)`):
 * the reader starts only after `waitSeconds`. Resolves with the number of bytes it
 * read, and the CLI's exit code.
 */
export function heartlineSlowReader(waitSeconds: number, ...args: string[]): Promise<{ bytes: number; code: number }> {
  const { HEARTLINE_TOKEN: _ignored, ...env } = process.env;
  const cli = [process.execPath, '--import', 'tsx', MAIN, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
  const script = `${cli} 2>/dev/null | (sleep ${waitSeconds}; wc -c); exit \${PIPESTATUS[0]}`;
  const child = spawn('bash', ['-c', script], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ bytes: Number(stdout.trim()), code: code ?? -1 }));
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
    /** Contract timeout, shorter than what it sleeps in the tests. */
    bounded: { timeout: 150 },
    subscribe: { callbacks: [0] },
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
  abstract bounded(ms: number): Promise<number>;
  abstract subscribe(onEvent: (event: string) => void): Promise<void>;
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
  /** Sleeps `ms`, or until the call is cancelled (the consumer timed out, the connection closed). */
  async sleep(ms: number): Promise<number> {
    await delay(ms, undefined, { signal: currentCall()!.signal });
    return ms;
  }
  async notify(value: unknown): Promise<void> {
    this.notified.push(value);
  }
  async bounded(ms: number): Promise<number> {
    return this.sleep(ms);
  }
  async subscribe(onEvent: (event: string) => void): Promise<void> {
    onEvent('subscribed');
  }
}
