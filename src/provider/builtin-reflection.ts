import type { MethodOptions } from '../contract/method-options.js';
import type { ConnectionReport, MethodDescription, Reflection, ServiceDescription, ServiceSummary } from '../contract/reflection.js';
import { HeartlineError } from '../errors/heartline-error.js';
import { connectionReport } from './connection-report.js';
import type { ServerConnectionInfo } from './server.js';
import type { ServerInterceptor } from './server-interceptor.js';
import type { ExportedService } from './service-registry.js';

/** What `heartline.Reflection` reads of its server. */
export interface ReflectionSource {
  /** Every registered service, in registration order. */
  services(): readonly ExportedService[];
  lookup(name: string, version: string, group: string): ExportedService | undefined;
  connections(): readonly ServerConnectionInfo[];
}

/**
 * The provider's `heartline.Reflection` (protocol.md 10): what it serves and
 * its live connections, read from the server when asked (nothing is kept).
 */
export class ReflectionService implements Reflection {
  constructor(private readonly source: ReflectionSource) {}

  async listServices(): Promise<ServiceSummary[]> {
    return this.source.services().map((s) => ({ name: s.definition.name, version: s.version, group: s.group, methods: [...s.definition.methods.keys()] }));
  }

  async describeService(name: string, version?: string, group?: string): Promise<ServiceDescription> {
    // describeGuard refused an unknown service before this ran; a registration cannot be undone, so it is still there.
    const s = this.source.lookup(name, version ?? '', group ?? '')!;
    return { name: s.definition.name, version: s.version, group: s.group, methods: [...s.definition.methods].map(([m, o]) => describeMethod(m, o)) };
  }

  async listConnections(): Promise<ConnectionReport[]> {
    return this.source.connections().map(connectionReport);
  }
}

/**
 * Reflection's own interceptor: checks `describeService`'s arguments and
 * refuses a service that is not served with SERVICE_NOT_FOUND before the
 * handler runs. A handler cannot send that code (it is retry-safe, so a
 * handler's is turned into HANDLER_ERROR: protocol.md 4.2); a refusal before
 * the handler keeps it, and it is true (nothing ran; another provider may
 * serve the service).
 */
export function describeGuard(source: ReflectionSource): ServerInterceptor {
  return (call, next) => {
    if (call.method !== 'describeService') return next();
    const [name, version = '', group = ''] = call.args.map((a) => (a === null ? undefined : a));
    if (typeof name !== 'string' || typeof version !== 'string' || typeof group !== 'string') {
      return Promise.reject(new HeartlineError('BAD_REQUEST', 'heartline.Reflection#describeService takes (name: string, version?: string, group?: string)'));
    }
    if (source.lookup(name, version, group) === undefined) {
      return Promise.reject(new HeartlineError('SERVICE_NOT_FOUND', `no service ${name} version '${version}' group '${group}'`));
    }
    return next();
  };
}

function describeMethod(name: string, o: Readonly<MethodOptions>): MethodDescription {
  const d: MethodDescription = { name, oneWay: o.oneWay === true, idempotent: o.idempotent === true, callbacks: o.callbacks === undefined ? [] : [...o.callbacks] };
  if (o.timeout !== undefined) d.timeout = o.timeout;
  if (o.retries !== undefined) d.retries = o.retries;
  if (o.actives !== undefined) d.actives = o.actives;
  return d;
}
