// A consumer script that never calls client.close(), run in its own process by
// process-exit.test.ts:
//   node --import tsx test/lifecycle/exit-child.ts <scenario> <provider address>
// Prints `RESULT <json>` when its work is done (and `TICK <n>` per push), then
// does nothing more: whether the process ends is what the test checks.
import { Client, hasCode, silentLogger } from '../../src/index.js';
import { Echo } from '../helpers/contract.js';
import { ExitTicker } from './exit-ticker.js';

const print = (line: string): void => void process.stdout.write(`${line}\n`);

async function main(scenario: string, address: string): Promise<void> {
  const client = new Client({
    providers: [address],
    logger: silentLogger,
    cluster: 'failfast',
    keepProcessAlive: scenario === 'keep-alive' ? true : undefined,
    // provider-down: each attempt gives up quickly and the next comes soon.
    connectTimeout: 300,
    reconnect: { initialDelay: 50, maxDelay: 100 },
  });
  const echo = client.refer(Echo, { timeout: 10_000 });
  switch (scenario) {
    case 'one-call':
    case 'keep-alive':
      print(`RESULT ${JSON.stringify(await echo.echo('hi'))}`);
      return;
    case 'one-way':
      await echo.notify('fire and forget', 0);
      print('RESULT "sent"');
      return;
    case 'slow':
      print('CALLING');
      print(`RESULT ${JSON.stringify(await echo.sleep(Number(process.env.SLEEP_MS ?? 1500)))}`);
      return;
    case 'subscribe':
    case 'subscribe-release': {
      const listener = (n: number): void => {
        print(`TICK ${n}`);
        if (scenario === 'subscribe-release' && n === 3) {
          client.releaseCallback(listener);
          print('RESULT "released"');
        }
      };
      print(`RESULT ${JSON.stringify(await client.refer(ExitTicker).subscribe(100, listener))}`);
      return;
    }
    case 'provider-down':
      try {
        await echo.echo('anyone?');
        print('RESULT "unexpected success"');
      } catch (err) {
        print(`RESULT ${JSON.stringify(hasCode(err, 'CONNECT_FAILED') || hasCode(err, 'UNAVAILABLE') ? 'failed' : String(err))}`);
      }
      // Other work for a second, while the client reconnects in the background (several attempts).
      await new Promise((resolve) => setTimeout(resolve, 1000));
      print('DONE');
      return;
    default:
      throw new Error(`unknown scenario ${scenario}`);
  }
}

await main(process.argv[2]!, process.argv[3]!);
