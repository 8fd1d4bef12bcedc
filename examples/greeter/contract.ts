import { Service } from '../../src/index.js';

export interface Order {
  id: number;
  items: string[];
  express?: boolean;
}

/** How the last `countTo` call on the provider ended. */
export interface CountReport {
  /** Steps done before it returned or stopped. */
  counted: number;
  /** `'done'`, or the code of its signal's reason (`CANCELLED`, `DEADLINE_EXCEEDED`, ...). */
  stoppedBy: string;
}

export interface Receipt {
  orderId: number;
  total: number;
  message: string;
}

/** The contract both sides share. Abstract methods vanish at run time, so the decorator lists them. */
@Service('demo.Greeter', {
  version: '1.0.0',
  methods: {
    sayHello: {},
    placeOrder: {},
    slowSquare: {},
    fail: {},
    sleep: { timeout: 200 },
    countTo: {},
    lastCount: {},
  },
})
export abstract class Greeter {
  /** A plain return value. */
  abstract sayHello(name: string): Promise<string>;
  /** An object argument and an object result. */
  abstract placeOrder(order: Order): Promise<Receipt>;
  /** An async method on the provider. */
  abstract slowSquare(n: number): Promise<number>;
  /** Always throws on the provider: shows a remote error. */
  abstract fail(reason: string): Promise<void>;
  /** Sleeps longer than its 200 ms timeout: shows a timeout. */
  abstract sleep(ms: number): Promise<void>;
  /** Slow work, one step every 20 ms: stops as soon as its caller gives up. */
  abstract countTo(n: number): Promise<number>;
  /** How the last `countTo` ended, as the provider saw it. */
  abstract lastCount(): Promise<CountReport>;
}
