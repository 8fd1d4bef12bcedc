// vitest global setup: says once, for the whole run, whether the etcd tests
// run. Without etcd they are skipped with one line; with CI=true a missing
// etcd fails the run instead.
import { ETCD_MISSING, etcdAvailable } from './etcd.js';

export default function setup(): void {
  if (etcdAvailable()) return;
  if (process.env.CI === 'true') throw new Error(`CI=true and no etcd: ${ETCD_MISSING}`);
  console.log(ETCD_MISSING);
}
