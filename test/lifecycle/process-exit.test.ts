// Issue #12.4: a consumer script that never calls client.close() ends when its
// work ends, as a grpc-js client does. A connection's socket keeps the process
// alive only while a call is pending or waiting for it, or a callback is
// registered on it (`keepProcessAlive: true` keeps the old behaviour). Each
// scenario runs test/lifecycle/exit-child.ts in its own process.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, startServer, useCleanup, waitFor, type StartedServer } from '../helpers/server.js';
import { ExitTickerImpl } from './exit-ticker.js';

const CHILD_FILE = fileURLToPath(new URL('./exit-child.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The bound: a script must end within 2 s of the end of its work. */
const EXIT_WITHIN_MS = 2000;
/** Starting a child (node + tsx) is slow on a loaded machine; this bounds only the start. */
const START_MS = 15_000;

interface Script {
  child: ChildProcess;
  /** stdout lines so far. */
  lines: string[];
  /** When each line arrived (ms, performance.now()). */
  at: Map<string, number>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  alive(): boolean;
}

const started: Script[] = [];

function run(scenario: string, address: string, env: Record<string, string> = {}): Script {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD_FILE, scenario, address], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  const lines: string[] = [];
  const at = new Map<string, number>();
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    let nl: number;
    while ((nl = out.indexOf('\n')) >= 0) {
      const line = out.slice(0, nl);
      out = out.slice(nl + 1);
      lines.push(line);
      if (!at.has(line)) at.set(line, performance.now());
    }
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.once('exit', (code, signal) => {
      if (code !== 0 && signal === null) console.error(`exit-child ${scenario} exited with ${code}: ${stderr}`);
      resolve({ code, signal, at: performance.now() });
    }),
  );
  const script: Script = { child, lines, at, exited, alive: () => child.exitCode === null && child.signalCode === null };
  started.push(script);
  return script;
}

/** Waits for a stdout line starting with `prefix`; returns when it arrived. */
async function line(script: Script, prefix: string, timeoutMs = START_MS): Promise<{ text: string; at: number }> {
  await waitFor(() => script.lines.some((l) => l.startsWith(prefix)) || !script.alive(), timeoutMs, `a line "${prefix}..." from the child`);
  const text = script.lines.find((l) => l.startsWith(prefix));
  if (text === undefined) throw new Error(`the child exited without printing "${prefix}": ${script.lines.join(' | ')}`);
  return { text, at: script.at.get(text)! };
}

/** Resolves with the exit once it comes, or 'alive' if the child still runs after `ms`. */
async function exitWithin(script: Script, ms: number): Promise<{ code: number | null; at: number } | 'alive'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'alive'>((resolve) => (timer = setTimeout(() => resolve('alive'), ms)));
  const outcome = await Promise.race([script.exited, timeout]);
  clearTimeout(timer);
  return outcome;
}

afterEach(async () => {
  // Only the children this file started, each by its own pid.
  for (const s of started.splice(0)) {
    if (s.alive()) s.child.kill('SIGKILL');
    await s.exited;
  }
});

describe('a consumer process ends when its work ends (keepProcessAlive: false)', () => {
  const defer = useCleanup();
  const provider = async (): Promise<StartedServer> => {
    const srv = defer(await startServer(), (s) => s.close());
    srv.server.register(new ExitTickerImpl());
    return srv;
  };

  it('a script that makes one call and never closes exits by itself within 2 s', async () => {
    const srv = await provider();
    const script = run('one-call', srv.address);
    const result = await line(script, 'RESULT');
    expect(result.text).toBe('RESULT "hi"');
    const exit = await exitWithin(script, EXIT_WITHIN_MS);
    expect(exit, 'the child still runs 2 s after its call settled').not.toBe('alive');
    expect((exit as { code: number }).code).toBe(0);
  });

  it('a one-way call: the script exits once the call is written', async () => {
    const srv = await provider();
    const script = run('one-way', srv.address);
    await line(script, 'RESULT');
    expect(await exitWithin(script, EXIT_WITHIN_MS)).toMatchObject({ code: 0 });
    await waitFor(() => srv.echo.notified.length === 1, 2000, 'the one-way call at the provider');
  });

  it('keepProcessAlive: true keeps the old behaviour: the script stays alive (killed after 2 s)', async () => {
    const srv = await provider();
    const script = run('keep-alive', srv.address);
    await line(script, 'RESULT');
    expect(await exitWithin(script, EXIT_WITHIN_MS)).toBe('alive');
  });

  it('a registered callback keeps the script alive while the provider pushes; releasing it lets the script end', async () => {
    const srv = await provider();
    const subscriber = run('subscribe', srv.address);
    const releasing = run('subscribe-release', srv.address);
    await line(subscriber, 'RESULT "subscribed"');
    expect(await exitWithin(subscriber, EXIT_WITHIN_MS)).toBe('alive');
    // It kept receiving pushes all along (one per 100 ms).
    expect(subscriber.lines.filter((l) => l.startsWith('TICK')).length).toBeGreaterThanOrEqual(5);

    // The other script releases its callback after the third push: nothing holds it any longer.
    const released = await line(releasing, 'RESULT "released"');
    const exit = await exitWithin(releasing, EXIT_WITHIN_MS);
    expect(exit).toMatchObject({ code: 0 });
    expect((exit as { at: number }).at - released.at).toBeLessThan(EXIT_WITHIN_MS);
  });

  it('a call in flight to a slow provider: the script does not exit before the call settles', async () => {
    const srv = await provider();
    const script = run('slow', srv.address, { SLEEP_MS: '1500' });
    await line(script, 'CALLING');
    await waitFor(() => srv.echo.sleepsStarted === 1 || !script.alive(), START_MS, 'the slow call at the provider');
    const exit = await exitWithin(script, 10_000);
    expect(exit).toMatchObject({ code: 0 });
    // It exited because the call settled, not before: the result was printed.
    expect(script.lines).toContain('RESULT 1500');
    expect(srv.echo.sleepsFinished).toBe(1);
  });

  it('a script whose provider is down (reconnect backoff running) still exits: refused, or accepting and silent', async () => {
    // Down and refusing: nothing listens on the port.
    const refused = run('provider-down', `127.0.0.1:${await freePort()}`);
    // Down and silent, as a frozen provider: the kernel accepts, nothing answers the handshake,
    // so each reconnect attempt holds a socket open until connectTimeout.
    const sockets = new Set<Socket>();
    const silent = defer(createServer((s) => sockets.add(s.on('close', () => sockets.delete(s)))), (srv) => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => srv.close(resolve));
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const frozen = run('provider-down', `127.0.0.1:${(silent.address() as AddressInfo).port}`);
    for (const script of [refused, frozen]) {
      expect((await line(script, 'RESULT')).text).toBe('RESULT "failed"');
      await line(script, 'DONE');
      expect(await exitWithin(script, EXIT_WITHIN_MS)).toMatchObject({ code: 0 });
    }
  });
});
