import { describe, expect, it } from 'vitest';
import { Consumer, Provider, Server, Service, serviceOf, silentLogger, type Remote, type ServiceOptions } from '../../src/index.js';
import { Calc, Echo, Greeter } from '../helpers/contract.js';
import { expectCode, expectThrowCode, newClient, startServer, useCleanup } from '../helpers/server.js';

class Shop {
  @Consumer(Echo) echo!: Remote<Echo>;
  @Consumer(Calc) calc!: Remote<Calc>;
  @Consumer(Echo, { timeout: 60 }) impatientEcho!: Remote<Echo>;
  notInjected = 'left alone';
}

class PatientShop extends Shop {
  @Consumer(Echo, { timeout: 5000 }) override impatientEcho: Remote<Echo> = undefined as never; // declared again: this one wins
}

class SpecialShop extends Shop {
  @Consumer(Greeter) greeter!: Remote<Greeter>;
}

describe('decorators', () => {
  const defer = useCleanup();

  it('client.inject fills @Consumer fields with working stubs', async () => {
    const { address } = defer(await startServer(), (s) => s.close());
    const client = defer(newClient(address), (c) => c.close());
    const shop = new Shop();
    expect(client.inject(shop)).toBe(shop);

    expect(await shop.echo.echo('hi')).toBe('hi');
    expect(await shop.calc.add(2, 2)).toBe(4);
    expect(shop.notInjected).toBe('left alone');
    // The @Consumer options apply to that field only.
    await expectCode(shop.impatientEcho.sleep(300), 'TIMEOUT');
    expect(await shop.echo.sleep(100)).toBe(100);
  });

  it('a field a subclass declares again is recorded once, the subclass winning: one stub per field', async () => {
    const srv = defer(await startServer(), (s) => s.close());
    const client = defer(newClient(srv.address), (c) => c.close());
    const referred: unknown[] = [];
    const refer = client.refer.bind(client);
    client.refer = ((contract: never, options?: never) => (referred.push(options), refer(contract, options))) as typeof client.refer;
    const shop = client.inject(new PatientShop());
    expect(referred).toHaveLength(3); // echo, calc, impatientEcho: not 4
    expect(referred).toContainEqual({ timeout: 5000 });
    expect(referred).not.toContainEqual({ timeout: 60 });
    expect(await shop.impatientEcho.echo('x')).toBe('x');
  });

  it('client.inject fills inherited @Consumer fields too', async () => {
    const { address } = defer(await startServer(), (s) => s.close());
    const client = defer(newClient(address), (c) => c.close());
    const shop = client.inject(new SpecialShop());
    expect(await shop.greeter.greet('Bo')).toBe('hello Bo');
    expect(await shop.echo.echo(1)).toBe(1);
    // The parent class did not get the child's field.
    expect((client.inject(new Shop()) as Partial<SpecialShop>).greeter).toBeUndefined();
  });

  it('server.register(Contract, plainObject) serves a plain object', async () => {
    const { server, address } = defer(await startServer({ register: false }), (s) => s.close());
    server.register(Calc, { add: async (a: number, b: number) => a * 100 + b });
    const client = defer(newClient(address), (c) => c.close());
    expect(await client.refer(Calc).add(1, 2)).toBe(102);
  });

  it('registering an implementation without a declared method throws INVALID_CONFIG', () => {
    const server = new Server({ port: 0, logger: silentLogger });
    expectThrowCode(() => server.register(Calc, {} as Calc), 'INVALID_CONFIG');
    expectThrowCode(() => server.register(Calc, { add: 'not a function' } as unknown as Calc), 'INVALID_CONFIG');

    @Provider<object>(Greeter) // typed loosely on purpose: it does not implement greet()
    class Incomplete {}
    expectThrowCode(() => server.register(new Incomplete()), 'INVALID_CONFIG');
  });

  it('registering an object of a class without @Provider throws INVALID_CONFIG', () => {
    const server = new Server({ port: 0, logger: silentLogger });
    class Undecorated {
      async add(): Promise<number> {
        return 0;
      }
    }
    expectThrowCode(() => server.register(new Undecorated()), 'INVALID_CONFIG');
  });

  it('@Service without methods throws INVALID_CONFIG', () => {
    expectThrowCode(() => {
      @Service('test.NoMethods', {} as ServiceOptions)
      abstract class NoMethods {}
      return NoMethods;
    }, 'INVALID_CONFIG');
    expectThrowCode(() => Service('test.NoOptions', undefined as unknown as ServiceOptions), 'INVALID_CONFIG');
  });

  it.each(['constructor', '__proto__', 'then', 'toString', 'hasOwnProperty'])('a method listed as %s throws INVALID_CONFIG', (name) => {
    const methods = JSON.parse(`{${JSON.stringify(name)}: {}}`) as ServiceOptions['methods'];
    expect(Object.keys(methods)).toEqual([name]);
    expectThrowCode(() => Service('test.Reserved', { methods }), 'INVALID_CONFIG');
  });

  it('a method listed as constructor in an object literal throws', () => {
    expectThrowCode(() => {
      // @ts-expect-error TypeScript refuses a reserved name too; this checks the run-time guard
      @Service('test.Ctor', { methods: { constructor: {} } })
      abstract class Ctor {}
      return Ctor;
    }, 'INVALID_CONFIG');
  });

  it('@Consumer and @Provider reject a class that is not a @Service contract', () => {
    class NotAContract {}
    expectThrowCode(() => Consumer(NotAContract), 'INVALID_CONFIG');
    expectThrowCode(() => Provider(NotAContract), 'INVALID_CONFIG');
    expectThrowCode(() => serviceOf(NotAContract), 'INVALID_CONFIG');
  });

  it('@Service records the name, version, group and methods', () => {
    const def = serviceOf(Greeter);
    expect(def.name).toBe('test.Greeter');
    expect(def.version).toBe('2.0.0');
    expect(def.group).toBe('g1');
    expect([...def.methods.keys()]).toEqual(['greet']);
    expect(serviceOf(Echo).methods.get('notify')).toEqual({ oneWay: true });
    expect(serviceOf(Echo).methods.has('hidden')).toBe(false);
  });
});
