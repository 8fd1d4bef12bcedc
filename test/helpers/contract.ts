// The shared test contracts and their provider implementations. Imported by the
// in-process tests and by the child-process provider (test/helpers/child-provider.ts).
import { Provider, Service } from '../../src/index.js';

/** A handler error with its own `name`, so tests can check `remoteName`. */
export class TestFailure extends Error {
  override name = 'TestFailure';
}

@Service('test.Echo', {
  version: '1.0.0',
  methods: {
    echo: {},
    delayedEcho: {},
    fail: {},
    failAsync: {},
    sleep: {},
    notify: { oneWay: true },
    /** Contract-level timeout, shorter than any reference/client default used in the tests. */
    bounded: { timeout: 80 },
    /** Contract-level timeout, longer than the reference timeouts used in the tests. */
    patient: { timeout: 2000 },
    blob: {},
    size: {},
    symbol: {},
  },
})
export abstract class Echo {
  abstract echo(value: unknown): Promise<unknown>;
  /** Answers after a random delay of 0-20 ms. */
  abstract delayedEcho(value: unknown): Promise<unknown>;
  /** Throws synchronously. */
  abstract fail(message: string): Promise<never>;
  /** Rejects asynchronously. */
  abstract failAsync(message: string): Promise<never>;
  /** Resolves with `ms` after `ms` milliseconds. */
  abstract sleep(ms: number): Promise<number>;
  /** One-way: records `value` after `delayMs`. */
  abstract notify(value: unknown, delayMs: number): Promise<void>;
  abstract bounded(ms: number): Promise<number>;
  abstract patient(ms: number): Promise<number>;
  /** A string of `size` bytes. */
  abstract blob(size: number): Promise<string>;
  /** The length of `data`. */
  abstract size(data: string): Promise<number>;
  /** Returns a value MessagePack cannot carry. */
  abstract symbol(): Promise<unknown>;
  /** Implemented by the provider but NOT listed in `methods`: must not be callable. */
  abstract hidden(): Promise<string>;
}

@Service('test.Calc', { version: '1.0.0', methods: { add: {} } })
export abstract class Calc {
  abstract add(a: number, b: number): Promise<number>;
}

@Service('test.Greeter', { version: '2.0.0', group: 'g1', methods: { greet: {} } })
export abstract class Greeter {
  abstract greet(name: string): Promise<string>;
}

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

@Provider(Echo)
export class EchoImpl implements Echo {
  /** Every `echo` argument list as received, for checks on the provider side. */
  readonly received: unknown[][] = [];
  readonly notified: unknown[] = [];
  /** Number of `sleep`/`bounded`/`patient` handlers started and finished. */
  sleepsStarted = 0;
  sleepsFinished = 0;
  hiddenCalls = 0;

  async echo(...args: unknown[]): Promise<unknown> {
    this.received.push(args);
    return args[0];
  }

  async delayedEcho(value: unknown): Promise<unknown> {
    await delay(Math.floor(Math.random() * 21));
    return value;
  }

  fail(message: string): Promise<never> {
    throw new TestFailure(message);
  }

  async failAsync(message: string): Promise<never> {
    await delay(1);
    throw new TestFailure(message);
  }

  async sleep(ms: number): Promise<number> {
    this.sleepsStarted++;
    await delay(ms);
    this.sleepsFinished++;
    return ms;
  }

  async notify(value: unknown, delayMs: number): Promise<void> {
    await delay(delayMs);
    this.notified.push(value);
  }

  bounded(ms: number): Promise<number> {
    return this.sleep(ms);
  }

  patient(ms: number): Promise<number> {
    return this.sleep(ms);
  }

  async blob(size: number): Promise<string> {
    return 'x'.repeat(size);
  }

  async size(data: string): Promise<number> {
    return data.length;
  }

  async symbol(): Promise<unknown> {
    return Symbol('not encodable');
  }

  async hidden(): Promise<string> {
    this.hiddenCalls++;
    return 'should never be reachable';
  }
}

@Provider(Calc)
export class CalcImpl implements Calc {
  async add(a: number, b: number): Promise<number> {
    return a + b;
  }
}

@Provider(Greeter)
export class GreeterImpl implements Greeter {
  async greet(name: string): Promise<string> {
    return `hello ${name}`;
  }
}
