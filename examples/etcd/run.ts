/**
 * `npm run example:etcd`: starts etcd (or uses ETCD_HOSTS), two providers
 * that publish in it and a consumer that finds them there; kills one provider
 * with SIGKILL and shows the consumer carry on. Exits 0 when no call failed
 * after the kill had been noticed (1 otherwise).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Client, EtcdRegistry, serviceOf, silentLogger } from '../../src/index.js';
import { startEtcd, type EtcdServer } from '../../test/helpers/etcd.js';
import { Greeter } from '../greeter/contract.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function startProvider(name: string, hosts: string): Promise<ChildProcess> {
  const file = fileURLToPath(new URL('./provider.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', file, name, hosts], { stdio: ['ignore', 'pipe', 'inherit'] });
  for await (const line of createInterface({ input: child.stdout! })) {
    console.log(`  [${name}] ${line}`);
    if (line.includes('listening')) return child;
  }
  throw new Error(`${name} did not start`);
}

let etcd: EtcdServer | undefined;
const children: ChildProcess[] = [];
let registry: EtcdRegistry | undefined;
let client: Client | undefined;
try {
  let hosts = process.env.ETCD_HOSTS;
  if (hosts === undefined) {
    etcd = await startEtcd(); // `etcd` from the PATH (apt-get install etcd-server), on free ports, in a temp dir
    hosts = etcd.hosts;
    console.log(`etcd started at ${hosts} (pid ${etcd.pid})`);
  } else {
    console.log(`using etcd at ${hosts}`);
  }
  children.push(await startProvider('alpha', hosts), await startProvider('beta', hosts));

  registry = new EtcdRegistry({ hosts, logger: silentLogger });
  client = new Client({ registry, timeout: 2000 });
  // sayHello is safe to run twice: a call caught on alpha's socket as it dies is retried on beta instead of failing.
  const greeter = client.refer(Greeter, { methods: { sayHello: { idempotent: true } } });
  const { name, version, group } = serviceOf(Greeter);
  const directory = registry.directory(name, version, group); // the one the reference follows
  directory.subscribe((list) => console.log(`consumer: the registry lists ${list.map((p) => p.address.key).join(', ') || 'nobody'}`));

  let failed = 0;
  let failedAfterDrop = 0;
  let dropped = false;
  const seen = new Map<string, number>();
  const started = Date.now();
  let killedAt = 0;
  while (Date.now() - started < 8000) {
    if (killedAt === 0 && Date.now() - started > 1500) {
      killedAt = Date.now();
      console.log(`killing alpha with SIGKILL (pid ${children[0]!.pid}): its lease expires within 3 s`);
      children[0]!.kill('SIGKILL');
    }
    if (killedAt > 0 && !dropped && directory.list().length === 1) {
      dropped = true;
      console.log(`consumer: alpha dropped ${Date.now() - killedAt} ms after the kill`);
    }
    try {
      const answer = await greeter.sayHello('etcd');
      const who = /from (\w+)/.exec(answer)?.[1] ?? '?';
      seen.set(who, (seen.get(who) ?? 0) + 1);
    } catch (err) {
      failed++;
      if (dropped) failedAfterDrop++;
      console.log(`call failed: ${(err as Error).message}`);
    }
    await sleep(50);
  }
  console.log(`answers: ${[...seen].map(([who, n]) => `${who} ${n}`).join(', ')}; failed calls: ${failed}`);
  if (!dropped || failedAfterDrop > 0 || (seen.get('beta') ?? 0) === 0) process.exitCode = 1;
  else console.log('the consumer carried on with beta');
} catch (err) {
  console.error('example failed:', err);
  process.exitCode = 1;
} finally {
  await client?.close();
  await registry?.close();
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) {
      c.kill('SIGTERM');
      await once(c, 'exit');
    }
  }
  await etcd?.dispose();
}
