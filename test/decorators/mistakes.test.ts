// Mistakes the types cannot catch fail at once, with a message naming the call,
// the class and (for a missing method) the contract's method; and the decorators
// work when called in the standard (TC39) form, as tsc emits it without
// experimentalDecorators (vitest compiles this file with the repo's legacy setting,
// so the standard calls are made by hand, with the arguments tsc passes).
import { describe, expect, it } from 'vitest';
import { Consumer, Provider, Server, Service, serviceOf, silentLogger, type Remote } from '../../src/index.js';
import { Calc, Greeter } from '../helpers/contract.js';
import { expectThrowCode, newClient, useCleanup } from '../helpers/server.js';

/** The context tsc passes a standard class decorator. */
function classContext(name: string): ClassDecoratorContext {
  return { kind: 'class', name, addInitializer: () => {}, metadata: undefined as unknown as DecoratorMetadataObject };
}

/** The context tsc passes a standard field decorator; `initializers` collects what the decorator adds. */
function fieldContext(name: string | symbol, initializers: Array<(this: unknown) => void>, flags: { static?: boolean; private?: boolean } = {}) {
  return {
    kind: 'field' as const,
    name,
    static: flags.static ?? false,
    private: flags.private ?? false,
    access: { has: () => true, get: () => undefined, set: () => {} },
    addInitializer: (fn: (this: unknown) => void) => void initializers.push(fn),
    metadata: undefined as unknown as DecoratorMetadataObject,
  } as unknown as ClassFieldDecoratorContext<unknown, Remote<Calc>> & { static: false; private: false };
}

describe('mistakes fail at once, naming the call and the class', () => {
  const defer = useCleanup();

  it('client.refer() of an undecorated class', () => {
    const client = defer(newClient('127.0.0.1:1'), (c) => c.close());
    class Undecorated {}
    const err = expectThrowCode(() => client.refer(Undecorated), 'INVALID_CONFIG');
    expect(err.message).toBe('client.refer(Undecorated): Undecorated is not a service contract: decorate it with @Service(name, { methods })');
  });

  it('server.register() of an instance of an undecorated class, or of an undecorated contract', () => {
    const server = new Server({ port: 0, logger: silentLogger });
    class Undecorated {
      async add(): Promise<number> {
        return 0;
      }
    }
    expect(expectThrowCode(() => server.register(new Undecorated()), 'INVALID_CONFIG').message).toMatch(
      /^server\.register\(new Undecorated\(\)\): Undecorated is not a provider: decorate its class with @Provider\(Contract\)/,
    );
    expect(expectThrowCode(() => server.register(Undecorated, new Undecorated()), 'INVALID_CONFIG').message).toMatch(
      /^server\.register\(Undecorated\): Undecorated is not a service contract/,
    );
    expect(expectThrowCode(() => server.register(Undecorated as never), 'INVALID_CONFIG').message).toMatch(/^server\.register\(Undecorated\): pass an instance/);
  });

  it('server.register() of a provider that leaves out a contract method names the contract, the method and the class', () => {
    const server = new Server({ port: 0, logger: silentLogger });
    @Provider<object>(Greeter) // typed loosely on purpose, as JavaScript would be
    class Incomplete {}
    expect(expectThrowCode(() => server.register(new Incomplete()), 'INVALID_CONFIG').message).toBe(
      'server.register: test.Greeter.greet is declared by the contract but not implemented by Incomplete',
    );
  });

  it('client.inject() of an object with no @Consumer field', () => {
    const client = defer(newClient('127.0.0.1:1'), (c) => c.close());
    class NoFields {
      calc!: Remote<Calc>;
    }
    expect(expectThrowCode(() => client.inject(new NoFields()), 'INVALID_CONFIG').message).toBe(
      'client.inject(NoFields): NoFields has no @Consumer fields: decorate a field with @Consumer(Contract)',
    );
  });

  it('@Provider and @Consumer of an undecorated contract name the decorator', () => {
    class NotAContract {}
    expect(expectThrowCode(() => Provider(NotAContract), 'INVALID_CONFIG').message).toMatch(/^@Provider\(NotAContract\): NotAContract is not a service contract/);
    expect(expectThrowCode(() => Consumer(NotAContract), 'INVALID_CONFIG').message).toMatch(/^@Consumer\(NotAContract\): NotAContract is not a service contract/);
  });

  it('a decorator put on the wrong kind of member (legacy form)', () => {
    const proto = {};
    expect(expectThrowCode(() => (Consumer(Calc) as Function)(proto, 'run', { value: () => {} }), 'INVALID_CONFIG').message).toBe(
      '@Consumer(Calc) decorates an instance field, not a method or accessor (run)',
    );
    expect(expectThrowCode(() => (Consumer(Calc) as Function)(class Host {}, 'calc'), 'INVALID_CONFIG').message).toBe(
      '@Consumer(Calc) decorates an instance field, not a static field (calc)',
    );
    expect(expectThrowCode(() => (Service('test.Misplaced', { methods: {} }) as Function)(proto, 'field'), 'INVALID_CONFIG').message).toBe(
      "@Service('test.Misplaced') decorates a class, not a member (field)",
    );
  });
});

describe('standard (TC39) decorator form', () => {
  const defer = useCleanup();

  it('@Service and @Provider record their class from (class, context)', () => {
    abstract class Contract {
      abstract run(): Promise<string>;
    }
    Service('std.Run', { version: '3', methods: { run: {} } })(Contract, classContext('Contract'));
    expect(serviceOf(Contract).name).toBe('std.Run');
    expect(serviceOf(Contract).version).toBe('3');

    class Impl {
      async run(): Promise<string> {
        return 'ran';
      }
    }
    Provider(Contract)(Impl, classContext('Impl'));
    const server = new Server({ port: 0, logger: silentLogger });
    expect(server.register(new Impl())).toBe(server);
  });

  it('@Consumer fields are recorded per instance by their initializer, inherited fields included, and client.inject fills them', () => {
    const client = defer(newClient('127.0.0.1:1'), (c) => c.close());
    const parentInit: Array<(this: unknown) => void> = [];
    const childInit: Array<(this: unknown) => void> = [];
    // As tsc does: the decorators run once per class, their initializers once per instance.
    (Consumer(Calc, { timeout: 50 }) as Function)(undefined, fieldContext('calc', parentInit));
    (Consumer(Greeter) as Function)(undefined, fieldContext('greeter', childInit));
    class Shop {
      calc!: Remote<Calc>;
      constructor() {
        for (const init of parentInit) init.call(this);
      }
    }
    class SpecialShop extends Shop {
      greeter!: Remote<Greeter>;
      constructor() {
        super();
        for (const init of childInit) init.call(this);
      }
    }
    const special = client.inject(new SpecialShop());
    expect(Object.prototype.toString.call(special.calc)).toBe('[object Remote<test.Calc>]');
    expect(Object.prototype.toString.call(special.greeter)).toBe('[object Remote<test.Greeter>]');
    const shop = client.inject(new Shop());
    expect(Object.prototype.toString.call(shop.calc)).toBe('[object Remote<test.Calc>]');
    expect((shop as Partial<SpecialShop>).greeter).toBeUndefined();
  });

  it('@Consumer refuses a static or #private field, and a method', () => {
    const unused: Array<(this: unknown) => void> = [];
    expect(expectThrowCode(() => Consumer(Calc)(undefined, fieldContext('calc', unused, { static: true })), 'INVALID_CONFIG').message).toBe(
      '@Consumer(Calc) decorates an instance field, not a static field (calc)',
    );
    expect(expectThrowCode(() => Consumer(Calc)(undefined, fieldContext('#calc', unused, { private: true })), 'INVALID_CONFIG').message).toMatch(
      /^@Consumer\(Calc\) decorates an instance field, not a #private field \(#calc\)/,
    );
    const method = { ...fieldContext('run', unused), kind: 'method' };
    expect(expectThrowCode(() => (Consumer(Calc) as Function)(() => {}, method), 'INVALID_CONFIG').message).toBe(
      '@Consumer(Calc) decorates an instance field, not a method (run)',
    );
    expect(unused).toEqual([]);
  });

  it('@Service refuses a member in the standard form', () => {
    const method = { kind: 'method', name: 'run', addInitializer: () => {} };
    expect(expectThrowCode(() => (Service('test.Misplaced2', { methods: {} }) as Function)(() => {}, method), 'INVALID_CONFIG').message).toBe(
      "@Service('test.Misplaced2') decorates a class, not a method (run)",
    );
  });
});
