// Runs tsc over the type probes in test/types/ under both decorator semantics.
// Every mistake there is marked `@ts-expect-error`, and tsc fails on an unused
// one, so success means each mistake was refused and each positive case compiled.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
const tsc = fileURLToPath(new URL('../../node_modules/.bin/tsc', import.meta.url));

async function typecheck(project: string): Promise<{ code: number; output: string }> {
  try {
    await run(tsc, ['-p', project], { cwd: root });
    return { code: 0, output: '' };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

describe('type probes (tsc over test/types)', () => {
  it.concurrent.each([
    ['standard decorators', 'test/types/tsconfig.json'],
    ['legacy decorators (experimentalDecorators)', 'test/types/tsconfig.legacy.json'],
  ])('%s: every mistake is refused, every positive case compiles', async (_mode, project) => {
    expect(await typecheck(project)).toEqual({ code: 0, output: '' });
  }, 60_000);
});
