import { HeartlineError } from '../errors/heartline-error.js';
import type { Contract } from '../contract/service-definition.js';
import type { Authorize } from './authorization.js';
import type { ServerInterceptor } from './server-interceptor.js';

/** Options of `@Provider(Contract, options)` and `server.register(...)`. */
export interface ProviderOptions {
  /** Overrides the contract's version for this implementation. */
  version?: string;
  /** Overrides the contract's group for this implementation. */
  group?: string;
  /**
   * Cap on concurrent executions of this service, across all connections. Over
   * it a call is refused at once with LIMIT_EXCEEDED, before the handler runs
   * (after the interceptors: they see the refusal). Default none.
   */
  executes?: number;
  /** Per-method caps on concurrent executions (`{ sayHello: { executes: 10 } }`). Default none. */
  methods?: Record<string, { executes?: number }>;
  /**
   * This service's interceptors, outermost first. They run after the
   * server-wide ones (`server.use`) and, like them, before `executes` and the
   * callback cap are taken (see `ServerInterceptor`). Default none.
   */
  interceptors?: readonly ServerInterceptor[];
  /**
   * Decides, per call, whether the caller may call this service: `true` (or
   * a promise of it) lets the call on; `false`, any other answer, a throw or
   * a rejection refuses it with PERMISSION_DENIED (a throw or rejection is
   * logged at warn; the consumer gets a generic message). Runs after the
   * server's own `authorize`, before any interceptor, the `executes` and
   * callback caps and the handler, inside the call's scope. Typically it
   * reads `call.principal` (set by the server's `authenticate`) and
   * `call.method`. Default none: every call is allowed.
   */
  authorize?: Authorize;
}

/** What `@Provider` records on an implementation class. */
export interface ProviderRecord {
  readonly contract: Contract;
  readonly options: Readonly<ProviderOptions>;
}

const PROVIDER_KEY = 'heartline:provider';

/** Records `record` on the class `target` (`@Provider`). */
export function recordProvider(target: Function, record: ProviderRecord): void {
  Reflect.defineMetadata(PROVIDER_KEY, record, target);
}

/**
 * The `@Provider` record of an instance's class; throws INVALID_CONFIG when there
 * is none. `caller` names the API in the message (`server.register`).
 */
export function providerOf(instance: object, caller = 'providerOf'): ProviderRecord {
  const ctor: unknown = instance?.constructor;
  const record: ProviderRecord | undefined = typeof ctor === 'function' ? Reflect.getMetadata(PROVIDER_KEY, ctor) : undefined;
  if (record === undefined) {
    const name = typeof ctor === 'function' && ctor.name !== '' ? ctor.name : undefined;
    throw new HeartlineError(
      'INVALID_CONFIG',
      `${caller}(${name === undefined ? 'object' : `new ${name}()`}): ${name ?? 'its class'} is not a provider: decorate its class with @Provider(Contract), or call ${caller}(Contract, implementation)`,
    );
  }
  return record;
}
