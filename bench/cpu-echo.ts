// The echo service both CPU benches serve, declared with the decorators of the
// checkout they measure (`api` is that checkout's src/index.ts).

/** What the benches need of a checkout's API. */
interface Decorators {
  Service: (name: string, options: { methods: Record<string, object> }) => ClassDecorator;
  Provider: (contract: abstract new () => unknown) => ClassDecorator;
}

/** The `bench.Echo` contract (for `client.refer`) and an instance of its provider (for `server.register`). */
export function echoService(api: Decorators): { Echo: abstract new () => { echo(value: unknown): Promise<unknown> }; provider: object } {
  @api.Service('bench.Echo', { methods: { echo: {} } })
  abstract class Echo {
    abstract echo(value: unknown): Promise<unknown>;
  }

  @api.Provider(Echo)
  class EchoImpl {
    async echo(value: unknown): Promise<unknown> {
      return value;
    }
  }
  return { Echo, provider: new EchoImpl() };
}
