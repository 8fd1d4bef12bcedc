import { Service, type Attachments, type Client } from '../../index.js';
import { failure } from '../cli-error.js';
import { toJson, type Output } from '../output.js';
import { label, resolveService } from '../services.js';

export interface CallRequest {
  address: string;
  service: string;
  method: string;
  args: unknown[];
  version: string | undefined;
  group: string | undefined;
  attachments: Attachments;
}

/**
 * `heartline call <host:port> <service>.<method> '<json args>'`: one call,
 * its result printed as JSON. The contract is made at run time: a class
 * decorated with `@Service(name, { methods: { [method]: {} } })`, so the call
 * is an ordinary two-way call with the client's defaults; one attempt, on
 * the one provider named.
 */
export async function call(client: Client, r: CallRequest, out: Output): Promise<void> {
  const s = await resolveService(client, r.address, r.service, r.version, r.group);
  if (s.methods !== undefined && !s.methods.includes(r.method)) {
    throw failure('METHOD_NOT_FOUND', `${label(s)} has no method ${r.method}; its methods: ${s.methods.join(', ') || 'none'}`);
  }
  const contract = dynamicContract(s.name, r.method);
  const stub = client.refer(contract, {
    providers: [r.address],
    version: s.version,
    group: s.group,
    cluster: 'failfast',
    retries: 0,
    attachments: r.attachments,
  }) as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  const result = await stub[r.method]!(...r.args);
  out.document({ result: result ?? null });
  out.line(toJson(result, 2));
}

/** A contract class for `service` with the one method `method` (default options), decorated at run time. */
function dynamicContract(service: string, method: string): abstract new () => unknown {
  const contract = class DynamicContract {};
  Service(service, { methods: { [method]: {} } })(contract);
  return contract;
}
