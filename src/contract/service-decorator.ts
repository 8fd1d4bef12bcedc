import { checkClassTarget } from './decorator-form.js';
import { defineService, SERVICE_KEY, type Contract, type ServiceMethods, type ServiceOptions } from './service-definition.js';

/**
 * What `@Service(name, { methods })` returns: a class decorator, legacy or
 * standard, that accepts only a class whose instances have every listed method.
 */
export type ServiceDecorator<M extends string> = (target: Contract<ServiceMethods<M>>, context?: ClassDecoratorContext) => void;

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
 * providers expose exactly the listed methods. TypeScript refuses a listed name
 * that the class does not declare as a method.
 */
export function Service<M extends string>(name: string, options: ServiceOptions<M>): ServiceDecorator<M> {
  const definition = defineService(name, options);
  return (target: Contract, context?: unknown) => {
    checkClassTarget(`@Service('${definition.name}')`, target, context);
    Reflect.defineMetadata(SERVICE_KEY, definition, target);
  };
}
