import { Health } from '../contract/health.js';
import { Reflection } from '../contract/reflection.js';
import { serviceOf } from '../contract/service-definition.js';
import { HeartlineError } from '../errors/heartline-error.js';
import { HealthService } from './builtin-health.js';
import { describeGuard, ReflectionService, type ReflectionSource } from './builtin-reflection.js';
import type { ServingStatusTable } from './serving-status.js';
import type { ExportedService, ServiceRegistry } from './service-registry.js';

/** The names of the built-in services (protocol.md 10). */
const BUILTIN_SERVICE_NAMES: ReadonlySet<string> = new Set([serviceOf(Reflection).name, serviceOf(Health).name]);

/** The built-in services of one server, as registered. */
export interface BuiltinServices {
  /** Their registry entries: counted by `listServices`, never published in a registry. */
  readonly exported: ReadonlySet<ExportedService>;
  readonly health: HealthService;
}

/**
 * Registers `heartline.Reflection` and `heartline.Health` (version `''`,
 * group `''`) first, so that `listServices` lists them first. They are
 * ordinary services: a call to them takes the ordinary path, and a call to
 * any other service pays nothing for them.
 */
export function registerBuiltins(registry: ServiceRegistry, source: ReflectionSource, status: ServingStatusTable): BuiltinServices {
  const health = new HealthService(status);
  const exported = new Set([registry.register(Reflection, new ReflectionService(source), { interceptors: [describeGuard(source)] }), registry.register(Health, health)]);
  return { exported, health };
}

/**
 * Refuses a user service that takes a built-in's name while the built-ins
 * are on (whatever its version and group: `heartline.Health` checks by name).
 */
export function refuseBuiltinName(name: string): void {
  if (BUILTIN_SERVICE_NAMES.has(name)) {
    throw new HeartlineError('INVALID_CONFIG', `server.register: ${name} is a built-in service of this server; to serve your own, create the Server with builtinServices: false`);
  }
}
