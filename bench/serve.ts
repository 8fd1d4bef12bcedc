// Server child: `serve.ts <system>`. Reports its port over IPC, exits on 'stop'
// or when the parent goes away. Measures its own GC time and peak RSS over the
// windows the orchestrator opens and closes ('window' messages, see window.ts).
import { WindowMeter } from './meters.js';
import { isSystemName, loadSystem } from './system.js';
import type { WindowAck, WindowRequest } from './window.js';

/** `rssBytes`: the idle server's RSS once listening (after a full GC), the baseline its peaks include. */
export type ServeMessage = { type: 'listening'; port: number; rssBytes: number } | { type: 'error'; message: string } | WindowAck;

function send(msg: ServeMessage): Promise<void> {
  return new Promise((resolve) => process.send!(msg, () => resolve()));
}

async function onWindow(meter: WindowMeter, m: WindowRequest): Promise<void> {
  if (m.phase === 'prepare') (globalThis as { gc?: () => void }).gc?.();
  if (m.phase === 'start') meter.start();
  const stats = m.phase === 'end' ? await meter.stop() : undefined;
  await send({ type: 'window-ack', seq: m.seq, ...(stats ? { stats: [stats] } : {}) });
}

async function main(): Promise<void> {
  const name = process.argv[2] ?? '';
  if (!process.send) throw new Error('serve.ts must be started with an IPC channel');
  if (!isSystemName(name)) throw new Error(`unknown system "${name}"`);
  const server = await (await loadSystem(name)).serve();
  const meter = new WindowMeter();

  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    meter.close();
    const force = setTimeout(() => process.exit(0), 2000);
    force.unref();
    await server.close().catch(() => undefined);
    process.exit(0);
  };
  process.on('message', (m: unknown) => {
    const type = (m as { type?: string })?.type;
    if (type === 'stop') void stop();
    else if (type === 'window') void onWindow(meter, m as WindowRequest);
  });
  process.on('disconnect', () => void stop());
  (globalThis as { gc?: () => void }).gc?.();
  await send({ type: 'listening', port: server.port, rssBytes: process.memoryUsage.rss() });
}

main().catch(async (err: unknown) => {
  const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
  if (process.send) await send({ type: 'error', message });
  else console.error(message);
  process.exit(1);
});
