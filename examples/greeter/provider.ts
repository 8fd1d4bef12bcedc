import { setTimeout as delay } from 'node:timers/promises';
import { currentCall, Provider, Server } from '../../src/index.js';
import { Greeter, type CountReport, type Order, type Receipt } from './contract.js';

@Provider(Greeter)
export class GreeterImpl implements Greeter {
  sayHello(name: string): Promise<string> {
    // A plain value is fine too; the stub always returns a promise.
    return Promise.resolve(`Hello, ${name}!`);
  }

  async placeOrder(order: Order): Promise<Receipt> {
    const total = order.items.length * 10 + (order.express ? 5 : 0);
    return { orderId: order.id, total, message: `${order.items.length} item(s) on the way` };
  }

  async slowSquare(n: number): Promise<number> {
    await new Promise((resolve) => setTimeout(resolve, 50));
    return n * n;
  }

  async fail(reason: string): Promise<void> {
    throw new RangeError(`cannot do that: ${reason}`);
  }

  async sleep(ms: number): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, ms));
  }

  /** How the last `countTo` ended: a promise, settled once its work has stopped. */
  private last: Promise<CountReport> = Promise.resolve({ counted: 0, stoppedBy: 'not run yet' });

  async countTo(n: number): Promise<number> {
    // The signal of the call being served: it fires when the caller cancels
    // (a Cancel frame), its deadline passes, its connection closes, or the
    // server's grace period ends. Its reason is a HeartlineError.
    const { signal } = currentCall()!;
    const work = countSteps(n, signal);
    this.last = work;
    const report = await work;
    if (report.stoppedBy !== 'done') throw signal.reason; // nobody waits: this answer is not sent
    return report.counted;
  }

  lastCount(): Promise<CountReport> {
    return this.last; // waits until the last countTo has stopped
  }
}

/** `n` steps of 20 ms of "work"; stops at the next step once `signal` fires. */
async function countSteps(n: number, signal: AbortSignal): Promise<CountReport> {
  let counted = 0;
  try {
    for (; counted < n; counted++) await delay(20, undefined, { signal }); // rejects at once when the signal fires
    return { counted, stoppedBy: 'done' };
  } catch {
    return { counted, stoppedBy: (signal.reason as { code?: string } | undefined)?.code ?? String(signal.reason) };
  }
}

/** Starts a provider on `port` (0 picks a free one). */
export async function startProvider(port = 0): Promise<Server> {
  const server = new Server({ host: '127.0.0.1', port });
  server.register(new GreeterImpl());
  await server.listen();
  return server;
}

// Run directly: print the port, serve until SIGTERM/SIGINT, then drain and exit.
if (import.meta.url === `file://${process.argv[1]}`) {
  const server = await startProvider(Number(process.env.PORT ?? 0));
  console.log(`provider listening on ${server.address!.port}`);
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => void server.close().then(() => process.exit(0)));
  }
}
