import { Command, CommanderError, Option } from 'commander';
import { describeFailure, EXIT, UsageError } from './cli-error.js';
import { parseArgs, parseAttachments, parseTarget } from './call-args.js';
import { call } from './commands/call.js';
import { connections } from './commands/connections.js';
import { describe } from './commands/describe.js';
import { etcdLs } from './commands/etcd-ls.js';
import { health } from './commands/health.js';
import { ls } from './commands/ls.js';
import { ping } from './commands/ping.js';
import { DEFAULT_TIMEOUT_MS, parseMs, withClient, type GlobalOptions } from './global-options.js';
import { createOutput, toJson, type Output } from './output.js';

/** Where the CLI writes; `main.ts` passes process.stdout and process.stderr. */
export interface Streams {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const COUNT = (text: string): number => {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 1_000_000) throw new UsageError(`--count must be a whole number >= 1 (got ${JSON.stringify(text)})`);
  return n;
};

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/**
 * Runs `heartline` with `argv` (the arguments after the program name) and
 * resolves with the exit code (`EXIT`). Never throws; every failure is one
 * line on stderr, `error CODE: message`, and with `--json` also a document
 * `{ "error": { code, message } }` on stdout.
 */
export async function run(argv: readonly string[], streams: Streams): Promise<number> {
  let exit: number = EXIT.ok;
  let out: Output = createOutput(argv.includes('--json'), streams.stdout, streams.stderr);
  const program = new Command('heartline');
  /**
   * Runs one command's work with its operands (`args`), its options merged
   * with the global ones (`o`) and the output; a number it returns is the
   * exit code.
   */
  const action =
    <O extends object = object>(work: (args: Array<string | undefined>, o: GlobalOptions & O, out: Output) => Promise<number | void>) =>
    async (...params: unknown[]) => {
      const cmd = params[params.length - 1] as Command;
      const o = cmd.optsWithGlobals<GlobalOptions & O>();
      out = createOutput(o.json === true, streams.stdout, streams.stderr);
      exit = (await work(cmd.args, o, out)) ?? EXIT.ok;
    };

  program
    .description('Ask a Heartline provider what it serves, call its methods, check its health; list what an etcd registry holds.')
    .addOption(new Option('--json', 'machine output: one JSON document on stdout'))
    .addOption(new Option('--timeout <ms>', 'time allowed to connect, and for each call or ping').argParser(parseMs('--timeout', 1)).default(DEFAULT_TIMEOUT_MS))
    .addOption(new Option('--tls', "TLS with Node's bundled CAs (implied by --ca, --cert, --key, --servername)"))
    .addOption(new Option('--ca <file>', 'TLS: PEM file of the CA(s) to trust'))
    .addOption(new Option('--cert <file>', 'mutual TLS: PEM file of the client certificate (with --key)'))
    .addOption(new Option('--key <file>', 'mutual TLS: PEM file of the client key (with --cert)'))
    .addOption(new Option('--servername <name>', "TLS: the name to check the provider's certificate against (SNI)"))
    .addOption(new Option('--token <token>', "the client's credentials, sent in the handshake (prefer the variable: a flag shows in ps)").env('HEARTLINE_TOKEN'))
    .configureHelp({ showGlobalOptions: true })
    .exitOverride()
    .configureOutput({
      writeOut: streams.stdout,
      writeErr: streams.stderr,
      // Commander's own usage errors, in the CLI's one-line form.
      outputError: (text, write) => write(`error USAGE: ${text.replace(/^error: /, '').trim()}\n`),
    })
    .showSuggestionAfterError();

  program
    .command('ls')
    .description('the services a provider serves (name, version, group, methods), or with --etcd every service and provider an etcd registry holds')
    .argument('[host:port]', 'the provider')
    .option('--etcd <hosts>', 'list an etcd registry instead: host:port or http://host:port, comma-separated')
    .option('--etcd-prefix <prefix>', 'key prefix in etcd', '/heartline')
    .action(
      action<{ etcd?: string; etcdPrefix: string }>(async ([address], o, out) => {
        if (o.etcd !== undefined) {
          if (address !== undefined) throw new UsageError('ls takes a provider address or --etcd, not both');
          return etcdLs(o.etcd, o.etcdPrefix.replace(/\/+$/, ''), o.timeout, out);
        }
        if (address === undefined) throw new UsageError('ls needs a provider address (host:port) or --etcd <hosts>');
        return withClient(o, (client) => ls(client, address, out));
      }),
    );

  program
    .command('describe')
    .description("a service's methods with their options")
    .argument('<host:port>', 'the provider')
    .argument('<service>', 'the service name')
    .option('--version <version>', 'the service version (needed only when the provider serves several)')
    .option('--group <group>', 'the service group (needed only when the provider serves several)')
    .action(
      action<{ version?: string; group?: string }>(async ([address, service], o, out) => {
        return withClient(o, (client) => describe(client, address!, service!, o.version, o.group, out));
      }),
    );

  program
    .command('call')
    .description('one call; the result printed as JSON')
    .argument('<host:port>', 'the provider')
    .argument('<service.method>', 'the method, e.g. demo.Greeter.sayHello (or demo.Greeter#sayHello)')
    .argument('[json-args]', 'a JSON array of arguments, or one JSON value for a single argument; none when left out')
    .option('--version <version>', 'the service version (needed only when the provider serves several)')
    .option('--group <group>', 'the service group (needed only when the provider serves several)')
    .option('--attachment <key=value>', 'an attachment sent with the call (repeatable)', collect, [])
    .action(
      action<{ version?: string; group?: string; attachment: string[] }>(async ([address, target, json], o, out) => {
        const { service, method } = parseTarget(target!);
        const args = parseArgs(json);
        const attachments = parseAttachments(o.attachment);
        const timeout = program.getOptionValueSource('timeout') === 'default' ? undefined : o.timeout;
        return withClient(o, (client) => call(client, { address: address!, service, method, args, version: o.version, group: o.group, attachments, timeout }, out));
      }),
    );

  program
    .command('ping')
    .description('connect (reporting how long the handshake took), then heartbeat pings and their round-trip times')
    .argument('<host:port>', 'the provider')
    .option('--count <n>', 'number of pings', COUNT, 4)
    .option('--interval <ms>', 'time between pings (at least half the agreed heartbeat)', parseMs('--interval'), 1000)
    .action(
      action<{ count: number; interval: number }>(async ([address], o, out) => {
        // Propose a heartbeat as fast as the pings, so that the provider's limit on pings allows their pace.
        return withClient(o, (client) => ping(client, address!, o.count, o.interval, out), { heartbeat: Math.max(100, o.interval) });
      }),
    );

  program
    .command('health')
    .description('the health check (heartline.Health): SERVING exits 0, NOT_SERVING or UNKNOWN exits 3')
    .argument('<host:port>', 'the provider')
    .argument('[service]', 'a service name; the provider as a whole when left out')
    .action(
      action(async ([address, service], o, out) => {
        return withClient(o, (client) => health(client, address!, service, out));
      }),
    );

  program
    .command('connections')
    .description("the provider's live consumer connections (heartline.Reflection), this one included")
    .argument('<host:port>', 'the provider')
    .action(
      action(async ([address], o, out) => {
        return withClient(o, (client) => connections(client, address!, out));
      }),
    );

  for (const cmd of program.commands) {
    cmd.exitOverride().configureOutput(program.configureOutput()).showSuggestionAfterError();
  }

  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exit;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help prints and "fails" with a code of 0; no command prints the help as an error; a usage error was printed by outputError.
      if (err.exitCode === 0) return EXIT.ok;
      // No command: commander printed the help and says only "(outputHelp)".
      const message = err.code === 'commander.help' ? 'no command given (heartline --help lists them)' : err.message.replace(/^error: /, '');
      if (out.json) streams.stdout(`${toJson({ error: { code: 'USAGE', message } })}\n`);
      return EXIT.usage;
    }
    // A usage error thrown by an option parser reaches here wrapped by nothing: report it like the rest.
    const { failure, exit: code } = describeFailure(err);
    out.error(`error ${failure.code}: ${failure.message}${failure.remoteName === undefined ? '' : ` (${failure.remoteName})`}`);
    out.document({ error: failure });
    return code;
  }
}
