// vitest global setup: says once, for the whole run, whether the etcd tests
// run. Without etcd they are skipped with one line; with CI=true a missing
// etcd fails the run instead.
import { ETCD_BIN, ETCD_MISSING, etcdAvailable } from './etcd.js';

export default function setup(): void {
  if (etcdAvailable()) return;
  if (process.env.CI === 'true') throw new Error(`CI=true: the etcd tests must run, and '${ETCD_BIN}' does not (install etcd-server, as .ci/run does, or set ETCD_BIN)`);
  console.log(ETCD_MISSING);
}
