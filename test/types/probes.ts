// Type probes, compiled by tsc under both decorator semantics (tsconfig.json:
// standard; tsconfig.legacy.json: experimentalDecorators). Each
// `@ts-expect-error` marks a mistake the types must refuse; tsc fails on an
// unused one, so a probe cannot pass vacuously. Never run, only compiled
// (test/decorators/types.test.ts).
//
// Mistakes the types cannot see, checked at run time instead
// (test/decorators/mistakes.test.ts): refer()/register()/inject of an
// undecorated class, and a method a provider leaves out when it is typed loosely.
import {
  Client,
  Consumer,
  Health,
  Provider,
  Reflection,
  Server,
  Service,
  withOptions,
  type CallOptions,
  type ClientCall,
  type ClientInterceptor,
  type ConnectionReport,
  type MethodDescription,
  type Remote,
  type ServiceDescription,
  type ServiceSummary,
  type ServingStatus,
} from '../../src/index.js';

// ---- Positive cases: what README and examples do must compile. ----

@Service('probe.Greeter', { version: '1.0.0', methods: { sayHello: {}, slow: { timeout: 500 } } })
export abstract class Greeter {
  abstract sayHello(name: string): Promise<string>;
  abstract slow(): Promise<void>;
  /** Not listed: allowed (it is simply not remote). */
  helper(): string {
    return 'local';
  }
}

@Service('probe.Calc', { methods: { add: {} } })
export abstract class Calc {
  abstract add(a: number, b: number): Promise<number>;
}

/** A contract whose method is a function-typed property. */
@Service('probe.Prop', { methods: { run: {} } })
export abstract class Prop {
  abstract run: (n: number) => Promise<number>;
}

@Provider(Greeter)
export class GreeterImpl extends Greeter {
  async sayHello(name: string): Promise<string> {
    return `Hello, ${name}!`;
  }
  async slow(): Promise<void> {}
}

@Provider(Calc, { executes: 10 })
export class CalcImpl implements Calc {
  add(a: number, b: number): Promise<number> {
    return Promise.resolve(a + b);
  }
}

export class Shop {
  @Consumer(Greeter, { loadbalance: 'leastactive' }) greeter!: Remote<Greeter>;
  @Consumer(Calc) calc?: Remote<Calc>;
  @Consumer(Calc) protected protectedCalc!: Remote<Calc>;
  @Consumer(Calc) private privateCalc!: Remote<Calc>;
  /** A wider type accepts the stub. */
  @Consumer(Calc) anything!: object;
  total(): Promise<number> {
    return this.privateCalc.add(1, this.protectedCalc === undefined ? 0 : 1);
  }
}

export class SpecialShop extends Shop {
  @Consumer(Prop) prop!: Remote<Prop>;
}

export async function positive(client: Client, server: Server): Promise<string> {
  server.register(new GreeterImpl()).register(Calc, { add: async (a: number, b: number) => a + b });
  const shop = client.inject(new SpecialShop());
  const n: number = await shop.prop.run(1);
  const sum: number = await client.refer(Calc).add(n, 2);
  return `${await shop.greeter.sayHello('Ann')} ${sum}`;
}

// ---- Mistakes: @Service ----

// @ts-expect-error a typo in methods (sayHelo): the class has no such method
@Service('probe.Typo', { methods: { sayHelo: {} } })
export abstract class Typo {
  abstract sayHello(name: string): Promise<string>;
}

// @ts-expect-error a method listed that the class does not declare (watch)
@Service('probe.Missing', { methods: { get: {}, watch: {} } })
export abstract class Missing {
  abstract get(): Promise<string>;
}

// @ts-expect-error a listed name that is not a method (a plain property)
@Service('probe.NotAMethod', { methods: { count: {} } })
export abstract class NotAMethod {
  abstract count: number;
}

// @ts-expect-error a reserved name (also refused at run time)
@Service('probe.Reserved', { methods: { toString: {} } })
export abstract class Reserved {
  abstract toString(): string;
}

// @ts-expect-error an unknown method option (typo of timeout)
@Service('probe.BadOption', { methods: { add: { timout: 5 } } })
export abstract class BadOption {
  abstract add(a: number, b: number): Promise<number>;
}

// ---- Mistakes: @Provider ----

// @ts-expect-error the class does not implement the contract's slow()
@Provider(Greeter)
export class IncompleteImpl {
  async sayHello(name: string): Promise<string> {
    return name;
  }
}

// @ts-expect-error a method with the wrong signature
@Provider(Calc)
export class WrongImpl {
  async add(a: string): Promise<string> {
    return a;
  }
}

// ---- Mistakes: @Consumer ----

export class WrongShop {
  // @ts-expect-error a field typed as another contract's Remote
  @Consumer(Greeter) calc!: Remote<Calc>;
  // @ts-expect-error a field typed as the contract itself, not its Remote (helper() is local: the stub's returns a promise)
  @Consumer(Greeter) greeter!: Greeter;
  // @ts-expect-error a field of an unrelated type
  @Consumer(Calc) count!: number;
  // @ts-expect-error a field typed with a contract that has more methods than the one injected
  @Consumer(Calc) wider!: Remote<Calc & Greeter>;
}

// ---- Mistakes: stubs ----

export async function stubs(client: Client): Promise<void> {
  const calc = client.refer(Calc);
  // @ts-expect-error a method the contract does not have
  await calc.subtract(1, 2);
  // @ts-expect-error wrong argument types
  await calc.add('1', 2);
  // @ts-expect-error a stub's method returns a promise
  const n: number = calc.add(1, 2);
  void n;
}

// ---- Per-call options (withOptions) and interceptors ----

export async function callOptions(client: Client, signal: AbortSignal): Promise<number> {
  const calc = client.refer(Calc);
  // The view has the stub's type: same methods, same arguments, same results.
  const view: Remote<Calc> = withOptions(calc, { signal, timeout: 500, attachments: { trace: 't' } });
  const sum: number = await view.add(1, 2);
  const nested: Remote<Calc> = withOptions(withOptions(calc, { timeout: 100 }), {});
  const logged: ClientInterceptor = async (call: ClientCall, next) => {
    const result = await next(call.with({ attachments: { ...call.attachments, user: 'ann' }, timeout: call.timeLeft }));
    return result;
  };
  client.use(logged);
  client.refer(Calc, { interceptors: [logged] });
  const options: CallOptions = { timeout: 0 };
  // @ts-expect-error the view keeps the contract's argument types
  await view.add('1', 2);
  // @ts-expect-error the view has no method the contract lacks
  await view.subtract(1, 2);
  // @ts-expect-error an unknown call option (typo of timeout)
  withOptions(calc, { timout: 5 });
  // @ts-expect-error attachments are strings
  withOptions(calc, { attachments: { n: 1 } });
  return sum + (await nested.add(0, 0)) + (options.timeout ?? 0);
}

// ---- The built-in services, through ordinary stubs ----

export async function builtins(client: Client, server: Server): Promise<string> {
  const reflection: Remote<Reflection> = client.refer(Reflection);
  const health: Remote<Health> = client.refer(Health);
  const services: ServiceSummary[] = await reflection.listServices();
  const described: ServiceDescription = await reflection.describeService('demo.Greeter', '1.0.0');
  const first: MethodDescription | undefined = described.methods[0];
  const connections: ConnectionReport[] = await reflection.listConnections();
  const status: ServingStatus = await health.check();
  const watched: ServingStatus = await health.watch('demo.Greeter', (s: ServingStatus) => void s);
  server.setServingStatus('demo.Greeter', 'NOT_SERVING');
  // @ts-expect-error describeService takes the name first, a string
  await reflection.describeService(1);
  // @ts-expect-error check takes a service name
  await health.check(2);
  // @ts-expect-error the watch listener receives a ServingStatus, not a number
  await health.watch('', (n: number) => void n);
  // @ts-expect-error UNKNOWN is what Health answers for a name not served, not a status to set
  server.setServingStatus('', 'UNKNOWN');
  // @ts-expect-error a ServiceSummary has no 'methodz'
  void services[0]?.methodz;
  return `${services.length}${first?.name}${connections[0]?.tls?.version}${status}${watched}`;
}
