// Probes that only standard (TC39) decorators can check: under legacy decorators
// TypeScript does not let a decorator see the type of a private or protected field.
import { Consumer, type Remote } from '../../src/index.js';
import { Calc, Greeter } from './probes.js';

export class PrivateShop {
  // @ts-expect-error a private field typed as another contract's Remote
  @Consumer(Greeter) private calc!: Remote<Calc>;
  // @ts-expect-error @Consumer cannot set a #private field (refused at run time too)
  @Consumer(Calc) #hidden!: Remote<Calc>;
  use(): unknown {
    return [this.calc, this.#hidden];
  }
}

export class StaticShop {
  // @ts-expect-error @Consumer decorates instance fields (refused at run time too)
  @Consumer(Calc) static calc: Remote<Calc>;
}
