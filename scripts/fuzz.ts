/**
 * A long fuzz run against a provider child process (issue #7 item E):
 *
 *   npm run fuzz -- --seed 123 --count 1000000
 *   npm run fuzz -- --seed 123 --only 4711,4712      replay those connections alone
 *   npm run fuzz -- --seed 123 --hex 4711            print what connection 4711 sends, in hex
 *   npm run fuzz -- --skip dag-bomb,ping-flood       leave out connection kinds
 *
 * Options may also come from the environment: FUZZ_SEED, FUZZ_COUNT, FUZZ_SKIP.
 * Prints progress and a summary; exits 1 on any failure (crash, RSS over the
 * bound, a well-behaved call that failed).
 */
import { parseArgs } from 'node:util';
import { formatSummary, runFuzz } from '../test/fuzz/campaign.js';
import { CONNECTION_KINDS, connectionScript, type ConnectionKind } from '../test/fuzz/generators.js';

const { values } = parseArgs({
  options: {
    seed: { type: 'string' },
    count: { type: 'string' },
    concurrency: { type: 'string' },
    skip: { type: 'string' },
    only: { type: 'string' },
    hex: { type: 'string' },
    'rss-limit-mib': { type: 'string' },
  },
});

const seed = Number(values.seed ?? process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const count = Number(values.count ?? process.env.FUZZ_COUNT ?? 1_000_000);
const skipNames = (values.skip ?? process.env.FUZZ_SKIP ?? '').split(',').filter((s) => s !== '');
for (const name of skipNames) {
  if (!(CONNECTION_KINDS as readonly string[]).includes(name)) throw new Error(`unknown --skip kind ${name}; kinds: ${CONNECTION_KINDS.join(', ')}`);
}
const skip = new Set(skipNames as ConnectionKind[]);
if (!Number.isSafeInteger(seed) || !Number.isSafeInteger(count) || count < 1) throw new Error('--seed and --count must be integers');

process.stdout.on('error', () => undefined); // `--hex ... | head` closes the pipe early

if (values.hex !== undefined) {
  for (const index of values.hex.split(',').map(Number)) {
    const script = connectionScript(seed, index, skip);
    console.log(`# seed ${seed} connection ${index}: ${script.kind}, ${script.frames} frames, ${script.reads ? 'reads' : 'never reads'}`);
    console.log(Buffer.concat(script.writes).toString('hex'));
  }
} else {
  await fuzz();
}

async function fuzz(): Promise<void> {
  console.log(`fuzz: seed ${seed}, ${count} random/mutated frames${skip.size > 0 ? `, skipping ${[...skip].join(', ')}` : ''}`);
  const summary = await runFuzz({
    seed,
    count,
    skip,
    ...(values.concurrency === undefined ? {} : { concurrency: Number(values.concurrency) }),
    ...(values['rss-limit-mib'] === undefined ? {} : { rssGrowthLimit: Number(values['rss-limit-mib']) * 1024 * 1024 }),
    ...(values.only === undefined ? {} : { only: values.only.split(',').map(Number) }),
    onProgress: (s) => {
      const rss = Number.isFinite(s.rssMax) ? `${(s.rssMax / 1024 / 1024).toFixed(0)} MiB` : 'n/a';
      console.log(`  ${(s.elapsedMs / 1000).toFixed(0)} s: ${s.fuzzFrames} random/mutated frames (${s.framesSent} in all), ${s.connections} connections, RSS max ${rss}, good ${s.goodOk} ok / ${s.goodFailed} failed`);
    },
  });
  console.log(formatSummary(summary));
  process.exitCode = summary.failures.length === 0 ? 0 : 1;
}
