// The layering rule of the README's Design section, checked on every import in src/.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = join(__dirname, '..', 'src');

/**
 * Each folder of src/ and its rank: a file may import from its own folder and
 * from folders of a lower rank only. consumer/ and provider/ share a rank, so
 * neither imports the other. metrics/ is the `heartline/metrics` subpath: above
 * everything, and never imported by the main entry. cli/ (the `heartline`
 * command) stands above index.ts and imports only the public API: its own
 * folder and index.ts.
 */
const RANK: Record<string, number> = {
  errors: 0,
  protocol: 1,
  contract: 2,
  transport: 3,
  exchange: 4,
  context: 5,
  consumer: 6,
  provider: 6,
  discovery: 7,
  interceptors: 7,
  decorators: 8,
  metrics: 9,
  cli: 10,
};

/** The folders that may import index.ts, and nothing else outside their own folder. */
const PUBLIC_API_ONLY = new Set(['cli']);

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
  });
}

function folderOf(path: string): string {
  return relative(SRC, path).split(/[\\/]/)[0]!;
}

describe('the layering rule', () => {
  it('every folder of src/ has a rank', () => {
    const folders = readdirSync(SRC).filter((name) => statSync(join(SRC, name)).isDirectory());
    expect(folders.filter((f) => RANK[f] === undefined)).toEqual([]);
  });

  it('no file imports from its own layer or a higher one (index.ts excepted); cli/ imports index.ts only, and nothing else imports index.ts', () => {
    const violations: string[] = [];
    for (const file of files(SRC)) {
      const from = folderOf(file);
      if (from === 'index.ts') continue;
      for (const m of readFileSync(file, 'utf8').matchAll(/from '(\.[^']+)'/g)) {
        const target = folderOf(normalize(join(dirname(file), m[1]!)));
        if (target === from) continue;
        const allowed = PUBLIC_API_ONLY.has(from) ? target === 'index.js' : RANK[target]! < RANK[from]!; // imports name index.ts as index.js
        if (!allowed) violations.push(`${relative(SRC, file)} imports ${m[1]}`);
      }
    }
    expect(violations).toEqual([]);
  });

  it('the main entry never loads heartline/metrics, and only src/metrics imports prom-client (an optional peer)', () => {
    const violations: string[] = [];
    for (const file of files(SRC)) {
      const text = readFileSync(file, 'utf8');
      const inMetrics = folderOf(file) === 'metrics';
      if (!inMetrics && /from '(\.\/|\.\.\/)+metrics\//.test(text)) violations.push(`${relative(SRC, file)} imports metrics/`);
      if (!inMetrics && /from 'prom-client'/.test(text)) violations.push(`${relative(SRC, file)} imports prom-client`);
    }
    expect(violations).toEqual([]);
  });
});
