import { Client, Consumer, hasCode, withOptions, type Remote } from '../../src/index.js';
import { Greeter } from './contract.js';

/** A class whose field receives a stub through `client.inject()`. */
class FrontDesk {
  @Consumer(Greeter)
  greeter!: Remote<Greeter>;
}

/** Makes a few calls against the provider at `address` and prints what happens. */
export async function runConsumer(address: string): Promise<void> {
  const client = new Client({ providers: [address], timeout: 2000 });
  const desk = client.inject(new FrontDesk());
  const greeter = desk.greeter;
  try {
    console.log('sayHello       ->', await greeter.sayHello('Ann'));
    console.log('placeOrder     ->', await greeter.placeOrder({ id: 42, items: ['tea', 'cake'], express: true }));
    console.log('slowSquare x3  ->', await Promise.all([3, 4, 5].map((n) => greeter.slowSquare(n))));
    try {
      await greeter.fail('no stock');
    } catch (err) {
      if (!hasCode(err, 'HANDLER_ERROR')) throw err;
      console.log(`fail           -> ${err.code}: ${err.remoteName}: ${err.message}`);
    }
    try {
      await greeter.sleep(1000);
    } catch (err) {
      if (!hasCode(err, 'TIMEOUT')) throw err;
      console.log(`sleep          -> ${err.code}: ${err.message}`);
    }
    // Cancelling: the caller gives up after 100 ms. The call rejects at once with
    // CANCELLED, a Cancel frame tells the provider, and the handler's signal stops it.
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    try {
      await withOptions(greeter, { signal: controller.signal }).countTo(1000);
    } catch (err) {
      if (!hasCode(err, 'CANCELLED')) throw err;
      const last = await greeter.lastCount();
      console.log(`countTo        -> ${err.code}; the provider stopped after ${last.counted} of 1000 steps (${last.stoppedBy})`);
    }
    // A per-call timeout: the budget travels with the request, so the provider
    // stops the handler when the caller's time is up, not 1000 steps later.
    try {
      await withOptions(greeter, { timeout: 100 }).countTo(1000);
    } catch (err) {
      if (!hasCode(err, 'TIMEOUT')) throw err;
      const last = await greeter.lastCount();
      console.log(`countTo 100 ms -> ${err.code}; the provider stopped after ${last.counted} of 1000 steps (${last.stoppedBy})`);
    }
    console.log('connections    ->', client.connections().map((c) => `${c.address} ${c.state}`));
  } finally {
    await client.close();
  }
}
