// The subscription contract of exit-child.ts, shared with process-exit.test.ts (its provider).
import { Provider, Service, type Callback } from '../../src/index.js';

type Listener = (n: number) => void;

/** A provider that pushes to its subscriber every `everyMs` until released. */
@Service('test.exit.Ticker', { methods: { subscribe: { callbacks: [1] } } })
export abstract class ExitTicker {
  abstract subscribe(everyMs: number, listener: Listener): Promise<string>;
}

@Provider(ExitTicker)
export class ExitTickerImpl implements ExitTicker {
  async subscribe(everyMs: number, listener: Callback<Listener>): Promise<string> {
    let n = 0;
    const timer = setInterval(() => void listener(++n).catch(() => {}), everyMs);
    listener.onRelease(() => clearInterval(timer));
    return 'subscribed';
  }
}
