// The package as a user meets it: `npm pack` (which runs prepack: a clean build),
// the tarball unpacked into node_modules/heartline of throwaway projects, its two
// dependencies linked from this repository (no network), then:
//   - a CommonJS project that require()s it (Node >= 20.19: require(esm));
//   - an ESM TypeScript project compiled by plain tsc with experimentalDecorators;
//   - the same with standard (TC39) decorators, a new TypeScript 5 project's default.
// Each starts a Server and a Client, makes one call and must exit 0.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], cwd: string, timeout = 60_000): Promise<Run> {
  return new Promise((resolve) => {
    const env = { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' };
    execFile(file, args, { cwd, timeout, env }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : null;
      resolve({ code, stdout, stderr });
    });
  });
}

let tmp: string;
let tarball: string;

/** A project with the packed heartline and the given dependencies linked from this repo's node_modules. */
async function project(name: string, files: Record<string, string>, links: string[]): Promise<string> {
  const dir = join(tmp, name);
  const pkg = join(dir, 'node_modules', 'heartline');
  await mkdir(pkg, { recursive: true });
  const untar = await run('tar', ['-xzf', tarball, '-C', pkg, '--strip-components=1'], dir);
  if (untar.code !== 0) throw new Error(`tar: ${untar.stderr}`);
  for (const link of links) {
    const to = join(dir, 'node_modules', link);
    await mkdir(join(to, '..'), { recursive: true });
    await symlink(await realpath(join(root, 'node_modules', link)), to, 'dir');
  }
  for (const [file, text] of Object.entries(files)) {
    await mkdir(join(dir, file, '..'), { recursive: true });
    await writeFile(join(dir, file), text);
  }
  return dir;
}

const RUNTIME_DEPS = ['msgpackr', 'reflect-metadata'];

const CJS_MAIN = `'use strict';
const { Client, Provider, Server, Service, silentLogger } = require('heartline');

class Greeter {}
Service('pack.Greeter', { methods: { hello: {} } })(Greeter);
class GreeterImpl {
  async hello(name) { return 'hello ' + name; }
}
Provider(Greeter)(GreeterImpl);

(async () => {
  const server = new Server({ host: '127.0.0.1', port: 0, logger: silentLogger });
  server.register(new GreeterImpl());
  await server.listen();
  const client = new Client({ providers: ['127.0.0.1:' + server.address.port], logger: silentLogger });
  console.log(await client.refer(Greeter).hello('cjs'), require.resolve('heartline'));
  await client.close();
  await server.close();
})().catch((err) => { console.error(err); process.exitCode = 1; });
`;

const METRICS_MAIN = `import { Client, Provider, Server, Service, silentLogger } from 'heartline';
import { collectMetrics } from 'heartline/metrics';
import { Registry } from 'prom-client';

class Greeter {}
Service('pack.Greeter', { methods: { hello: {} } })(Greeter);
class GreeterImpl {
  async hello(name) { return 'hello ' + name; }
}
Provider(Greeter)(GreeterImpl);

const server = new Server({ host: '127.0.0.1', port: 0, logger: silentLogger });
server.register(new GreeterImpl());
await server.listen();
const client = new Client({ providers: ['127.0.0.1:' + server.address.port], logger: silentLogger });
const registry = new Registry();
const metrics = collectMetrics({ registry, clients: [client] });
await client.refer(Greeter).hello('metrics');
console.log((await registry.metrics()).split('\\n').find((l) => l.startsWith('heartline_client_calls_total{')));
metrics.close();
await client.close();
await server.close();
`;

const TS_MAIN = (mode: string): string => `import { Client, Consumer, Provider, Server, Service, silentLogger, type Remote } from 'heartline';

@Service('pack.Greeter', { version: '1.0.0', methods: { hello: {} } })
export abstract class Greeter {
  abstract hello(name: string): Promise<string>;
}

@Provider(Greeter)
export class GreeterImpl implements Greeter {
  async hello(name: string): Promise<string> {
    return \`hello \${name}\`;
  }
}

export class Shop {
  @Consumer(Greeter, { timeout: 5000 }) greeter!: Remote<Greeter>;
  @Consumer(Greeter) private quiet!: Remote<Greeter>;
  twice(name: string): Promise<string> {
    return this.quiet.hello(name);
  }
}

const server = new Server({ host: '127.0.0.1', port: 0, logger: silentLogger });
server.register(new GreeterImpl());
await server.listen();
const client = new Client({ providers: [\`127.0.0.1:\${server.address!.port}\`], logger: silentLogger });
const shop = client.inject(new Shop());
console.log(await shop.greeter.hello('${mode}'), await shop.twice('again'));
await client.close();
await server.close();
`;

function tsconfig(experimentalDecorators: boolean): string {
  const options = {
    target: 'ES2022',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    lib: ['ES2022'],
    types: ['node'],
    strict: true,
    outDir: 'dist',
    ...(experimentalDecorators ? { experimentalDecorators: true } : {}),
  };
  return JSON.stringify({ compilerOptions: options, include: ['src'] }, null, 2);
}

const tsProject = (mode: string, experimentalDecorators: boolean): Promise<string> =>
  project(
    mode,
    {
      'package.json': JSON.stringify({ name: `heartline-${mode}`, private: true, type: 'module' }),
      'tsconfig.json': tsconfig(experimentalDecorators),
      'src/main.ts': TS_MAIN(mode),
    },
    [...RUNTIME_DEPS, '@types/node'],
  );

describe('the packed package', () => {
  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'heartline-pack-'));
    const packed = await run('npm', ['pack', '--pack-destination', tmp, '--silent'], root, 120_000);
    if (packed.code !== 0) throw new Error(`npm pack failed:\n${packed.stdout}${packed.stderr}`);
    const name = (await readdir(tmp)).find((f) => f.endsWith('.tgz'));
    if (name === undefined) throw new Error(`npm pack wrote no tarball:\n${packed.stdout}`);
    tarball = join(tmp, name);
  }, 120_000);

  afterAll(async () => {
    if (tmp !== undefined) await rm(tmp, { recursive: true, force: true });
  });

  it('require() works from a CommonJS project: a Server, a Client, one call', async () => {
    const dir = await project('cjs', { 'package.json': JSON.stringify({ name: 'heartline-cjs', private: true, type: 'commonjs' }), 'main.js': CJS_MAIN }, RUNTIME_DEPS);
    const result = await run(process.execPath, ['main.js'], dir, 30_000);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toBe(`hello cjs ${join(dir, 'node_modules', 'heartline', 'dist', 'index.js')}\n`);
  }, 40_000);

  it('the heartline bin: declared in package.json, a node shebang, and it runs (--help) with commander installed', async () => {
    const dir = await project('bin', { 'package.json': JSON.stringify({ name: 'heartline-bin', private: true }) }, [...RUNTIME_DEPS, 'commander']);
    const pkg = JSON.parse(await readFile(join(dir, 'node_modules', 'heartline', 'package.json'), 'utf8')) as { bin?: Record<string, string> };
    expect(pkg.bin).toEqual({ heartline: './dist/cli/main.js' });
    const main = join(dir, 'node_modules', 'heartline', 'dist', 'cli', 'main.js');
    expect((await readFile(main, 'utf8')).split('\n')[0]).toBe('#!/usr/bin/env node');
    const result = await run(process.execPath, [main, '--help'], dir, 30_000);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toMatch(/^Usage: heartline \[options\] \[command\]/);
  }, 40_000);

  it('heartline/metrics resolves by import and require() when prom-client is installed (the CommonJS test above runs without it)', async () => {
    const dir = await project(
      'metrics',
      {
        'package.json': JSON.stringify({ name: 'heartline-metrics', private: true, type: 'module' }),
        'main.mjs': METRICS_MAIN,
        'require.cjs': "const m = require('heartline/metrics'); console.log(typeof m.collectMetrics, require.resolve('heartline/metrics'));\n",
      },
      [...RUNTIME_DEPS, 'prom-client'],
    );
    const esm = await run(process.execPath, ['main.mjs'], dir, 30_000);
    expect(esm).toEqual({ code: 0, stdout: 'heartline_client_calls_total{service="pack.Greeter",method="hello",code="OK"} 1\n', stderr: '' });
    const cjs = await run(process.execPath, ['require.cjs'], dir, 30_000);
    expect(cjs).toEqual({ code: 0, stdout: `function ${join(dir, 'node_modules', 'heartline', 'dist', 'metrics', 'index.js')}\n`, stderr: '' });
  }, 40_000);

  it.concurrent.each([
    ['legacy', true],
    ['standard', false],
  ])('an ESM project compiled by tsc (%s decorators) uses @Service, @Provider, @Consumer and client.inject', async (mode, legacy) => {
    const dir = await tsProject(mode, legacy);
    const compiled = await run(process.execPath, [tsc, '-p', '.'], dir, 90_000);
    expect(compiled, 'tsc').toMatchObject({ code: 0, stdout: '', stderr: '' });
    const result = await run(process.execPath, ['dist/main.js'], dir, 30_000);
    expect(result).toEqual({ code: 0, stdout: `hello ${mode} hello again\n`, stderr: '' });
  }, 120_000);
});
