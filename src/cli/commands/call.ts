import { hasCode, Service, type Attachments, type Client, type MethodDescription, type MethodOptions } from '../../index.js';
import { failure, UsageError } from '../cli-error.js';
import { toJson, type Output } from '../output.js';
import { label, reflection, resolveService, type ResolvedService } from '../services.js';

export interface CallRequest {
  address: string;
  service: string;
  method: string;
  args: unknown[];
  version: string | undefined;
  group: string | undefined;
  attachments: Attachments;
  /** `--timeout` given on the command line: it wins over the contract's timeout. */
  timeout: number | undefined;
}

/**
 * `heartline call <host:port> <service>.<method> '<json args>'`: one call,
 * its result printed as JSON. The contract is made at run time: a class
 * decorated with `@Service(name, { methods: { [method]: options } })`, with
 * the method's contract options as the provider describes them (its
 * timeout, one-way), so the call is the one a stub of the real contract
 * makes; `--timeout`, when given, wins. One attempt, on the one provider
 * named. A method that takes callbacks cannot be called from here.
 */
export async function call(client: Client, r: CallRequest, out: Output): Promise<void> {
  const s = await resolveService(client, r.address, r.service, r.version, r.group);
  if (s.methods !== undefined && !s.methods.includes(r.method)) {
    throw failure('METHOD_NOT_FOUND', `${label(s)} has no method ${r.method}; its methods: ${s.methods.join(', ') || 'none'}`);
  }
  const options = await methodOptions(client, r.address, s, r.method);
  const contract = dynamicContract(s.name, r.method, options);
  const stub = client.refer(contract, {
    providers: [r.address],
    version: s.version,
    group: s.group,
    cluster: 'failfast',
    retries: 0,
    attachments: r.attachments,
    ...(r.timeout === undefined ? {} : { methods: { [r.method]: { timeout: r.timeout } } }),
  }) as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  const result = await stub[r.method]!(...r.args);
  out.document({ result: result ?? null });
  out.line(toJson(result, 2));
}

/**
 * The contract options of `method` (timeout, one-way) as the provider
 * describes them; none when it does not serve `heartline.Reflection`; no
 * timeout when it says 0 (none) or an impossible one. A method that takes
 * callbacks: a usage error.
 */
async function methodOptions(client: Client, address: string, s: ResolvedService, method: string): Promise<MethodOptions> {
  if (s.methods === undefined) return {};
  let m: MethodDescription | undefined;
  try {
    m = (await reflection(client, address).describeService(s.name, s.version, s.group)).methods.find((x) => x.name === method);
  } catch (err) {
    if (hasCode(err, 'SERVICE_NOT_FOUND')) return {}; // gone since it was listed: the call itself will say
    throw err;
  }
  if (m === undefined) return {};
  if (m.callbacks.length > 0) throw new UsageError(`${label(s)}#${method} takes callbacks (arguments ${m.callbacks.join(', ')}): it cannot be called from the command line`);
  // A timeout of 0 (none) would let a call wait forever: it gives way to the
  // client's (--timeout, default 5000 ms), as does one no contract can hold
  // (the provider's description is not the user's mistake).
  const t = m.timeout;
  const timeout = typeof t === 'number' && Number.isInteger(t) && t >= 1 && t <= 2_147_483_647 ? t : undefined;
  return { ...(timeout === undefined ? {} : { timeout }), oneWay: m.oneWay === true };
}

/** A contract class for `service` with the one method `method`, decorated at run time. */
function dynamicContract(service: string, method: string, options: MethodOptions): abstract new () => unknown {
  const contract = class DynamicContract {};
  Service(service, { methods: { [method]: options } })(contract);
  return contract;
}
