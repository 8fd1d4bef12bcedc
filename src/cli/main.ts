#!/usr/bin/env node
// The `heartline` command (package.json `bin`). The commands are in
// program.ts; this file only wires them to the process.
import { run } from './program.js';

// A reader that went away (`heartline ls ... | head -1`) ends the command quietly, as for any Unix tool.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
  });
}

const code = await run(process.argv.slice(2), {
  stdout: (text) => void process.stdout.write(text),
  stderr: (text) => void process.stderr.write(text),
});
process.exitCode = code;
// Every command closes what it opened, so the process ends by itself. Should
// some handle linger anyway (a library's), this unref'd timer ends it, but
// only once stdout and stderr are flushed: a slow reader gets all the output.
await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
setTimeout(() => process.exit(code), 2000).unref();

/** Resolves once everything written to `stream` so far is handed to the OS (or the stream failed). */
function flushed(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    if (stream.writableLength === 0) resolve();
    else stream.write('', () => resolve());
  });
}
