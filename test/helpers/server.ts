import { createServer } from 'node:net';
import { afterEach, expect } from 'vitest';
import { Client, HeartlineError, Server, silentLogger, type ClientOptions, type ErrorCode, type ServerOptions } from '../../src/index.js';
import { CalcImpl, EchoImpl, GreeterImpl } from './contract.js';

export interface StartedServer {
  server: Server;
  /** `127.0.0.1:<port>` */
  address: string;
  port: number;
  /** The registered `test.Echo` implementation, to observe the provider side. */
  echo: EchoImpl;
  close(): Promise<void>;
}

/**
 * Starts a provider on 127.0.0.1, port 0, with `test.Echo`, `test.Calc` and
 * `test.Greeter` registered (unless `register: false`).
 */
export async function startServer(options: ServerOptions & { register?: boolean } = {}): Promise<StartedServer> {
  const { register = true, ...serverOptions } = options;
  const server = new Server({ host: '127.0.0.1', port: 0, logger: silentLogger, closeGracePeriod: 200, ...serverOptions });
  const echo = new EchoImpl();
  if (register) server.register(echo).register(new CalcImpl()).register(new GreeterImpl());
  const { port } = await server.listen();
  return { server, address: `127.0.0.1:${port}`, port, echo, close: () => server.close() };
}

/** A client with the silent logger; `providers` defaults to `[address]` when given. */
export function newClient(address: string | undefined, options: ClientOptions = {}): Client {
  return new Client({ logger: silentLogger, ...(address === undefined ? {} : { providers: [address] }), ...options });
}

/**
 * Registers an afterEach hook in the calling test file that runs the collected
 * disposers (last in, first out), so every test closes what it opened even when
 * it fails. Returns `defer(fn)`; `defer` returns its argument's owner for chaining.
 */
export function useCleanup(): <T>(value: T, dispose: (value: T) => unknown) => T {
  const disposers: Array<() => unknown> = [];
  afterEach(async () => {
    const errors: unknown[] = [];
    while (disposers.length > 0) {
      try {
        await disposers.pop()!();
      } catch (err) {
        errors.push(err);
      }
    }
    if (errors.length > 0) throw errors[0];
  });
  return (value, dispose) => {
    disposers.push(() => dispose(value));
    return value;
  };
}

/** Awaits `promise`, expects it to reject with a HeartlineError of `code`, and returns the error. */
export async function expectCode(promise: Promise<unknown>, code: ErrorCode): Promise<HeartlineError> {
  let outcome: { value: unknown } | { error: unknown };
  try {
    outcome = { value: await promise };
  } catch (error) {
    outcome = { error };
  }
  if (!('error' in outcome)) throw new Error(`expected a rejection with ${code}, got the value ${String(outcome.value)}`);
  const err = outcome.error;
  expect(err, `expected a HeartlineError with code ${code}, got ${String(err)}`).toBeInstanceOf(HeartlineError);
  expect((err as HeartlineError).code, (err as Error).message).toBe(code);
  return err as HeartlineError;
}

/** Awaits `promise`, expects it to reject with a HeartlineError (any code), and returns the error. */
export async function expectFailure(promise: Promise<unknown>): Promise<HeartlineError> {
  let outcome: { value: unknown } | { error: unknown };
  try {
    outcome = { value: await promise };
  } catch (error) {
    outcome = { error };
  }
  if (!('error' in outcome)) throw new Error(`expected a rejection, got the value ${String(outcome.value)}`);
  expect(outcome.error, `expected a HeartlineError, got ${String(outcome.error)}`).toBeInstanceOf(HeartlineError);
  return outcome.error as HeartlineError;
}

/** Calls `fn`, expects it to throw a HeartlineError of `code` synchronously, and returns the error. */
export function expectThrowCode(fn: () => unknown, code: ErrorCode): HeartlineError {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  expect(thrown, `expected a HeartlineError with code ${code} to be thrown`).toBeInstanceOf(HeartlineError);
  expect((thrown as HeartlineError).code, (thrown as Error).message).toBe(code);
  return thrown as HeartlineError;
}

/** Observes a promise without awaiting it (and without leaving its rejection unhandled). */
export function track<T>(promise: Promise<T>): { settled: boolean; value?: T; error?: unknown; at?: number } {
  const state: { settled: boolean; value?: T; error?: unknown; at?: number } = { settled: false };
  promise.then(
    (value) => Object.assign(state, { settled: true, value, at: performance.now() }),
    (error: unknown) => Object.assign(state, { settled: true, error, at: performance.now() }),
  );
  return state;
}

/** Polls `predicate` every 5 ms until it is true; fails after `timeoutMs`. */
export async function waitFor(predicate: () => boolean, timeoutMs = 2000, what = 'condition'): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!predicate()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A port on 127.0.0.1 with nothing listening on it (bound, then released). */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

/** Counts of `process.getActiveResourcesInfo()` by type. */
export function activeResources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const type of process.getActiveResourcesInfo()) counts[type] = (counts[type] ?? 0) + 1;
  return counts;
}
