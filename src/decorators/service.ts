import { defineService, SERVICE_KEY, type Contract, type ServiceOptions } from './metadata.js';

/**
 * Marks a class (usually abstract) as a service contract shared by provider and
 * consumer:
 *
 * ```ts
 * @Service('demo.Greeter', { version: '1.0.0', methods: { sayHello: {}, slow: { timeout: 500 } } })
 * export abstract class Greeter {
 *   abstract sayHello(name: string): Promise<string>;
 *   abstract slow(): Promise<void>;
 * }
 * ```
 *
 * The method list is required: abstract methods do not exist at run time, and
 * providers expose exactly the listed methods.
 */
export function Service(name: string, options: ServiceOptions): (target: Contract) => void {
  const definition = defineService(name, options);
  return (target) => {
    Reflect.defineMetadata(SERVICE_KEY, definition, target);
  };
}
