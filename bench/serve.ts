// Server child: `serve.ts <system>`. Reports its port over IPC, exits on 'stop'
// or when the parent goes away.
import { isSystemName, loadSystem } from './system.js';

export type ServeMessage = { type: 'listening'; port: number } | { type: 'error'; message: string };

function send(msg: ServeMessage): Promise<void> {
  return new Promise((resolve) => process.send!(msg, () => resolve()));
}

async function main(): Promise<void> {
  const name = process.argv[2] ?? '';
  if (!process.send) throw new Error('serve.ts must be started with an IPC channel');
  if (!isSystemName(name)) throw new Error(`unknown system "${name}"`);
  const server = await (await loadSystem(name)).serve();

  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    const force = setTimeout(() => process.exit(0), 2000);
    force.unref();
    await server.close().catch(() => undefined);
    process.exit(0);
  };
  process.on('message', (m: unknown) => {
    if ((m as { type?: string })?.type === 'stop') void stop();
  });
  process.on('disconnect', () => void stop());
  await send({ type: 'listening', port: server.port });
}

main().catch(async (err: unknown) => {
  const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
  if (process.send) await send({ type: 'error', message });
  else console.error(message);
  process.exit(1);
});
