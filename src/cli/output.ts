/**
 * What the commands print: aligned tables and lines for people, or, with
 * `--json`, one JSON document on stdout. Errors go to stderr, one line.
 */

/** Where a command writes (stdout and stderr in `main.ts`). */
export interface Output {
  readonly json: boolean;
  /** One line (or block) of human output; ignored under `--json`. */
  line(text: string): void;
  /** The JSON document of the command; printed only under `--json`. */
  document(value: unknown): void;
  /** A line on stderr. */
  error(text: string): void;
}

export function createOutput(json: boolean, stdout: (s: string) => void, stderr: (s: string) => void): Output {
  return {
    json,
    line: (text) => {
      if (!json) stdout(`${printable(text, true)}\n`);
    },
    document: (value) => {
      if (json) stdout(`${toJson(value)}\n`);
    },
    error: (text) => stderr(`${printable(text)}\n`),
  };
}

/** C0 and C1 controls, DEL, and the bidi overrides: what a terminal may act on rather than print. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/**
 * `text` safe for a terminal: every control character (a foreign provider's
 * service name or error message may carry escape sequences) written as
 * `\uXXXX`, as in JSON. Newlines stay when `keepNewlines` (a block of lines
 * of our own).
 */
export function printable(text: string, keepNewlines = false): string {
  return text.replace(CONTROL, (c) => (keepNewlines && c === '\n' ? c : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
}

/**
 * JSON for any value a call may return: a bigint becomes its decimal digits
 * (a string), binary (Buffer, Uint8Array) its base64 (a string); `undefined`
 * alone is `null`. `indent` 2 for people, none for `--json`.
 */
export function toJson(value: unknown, indent?: number): string {
  return JSON.stringify(value ?? null, replacer, indent) ?? 'null';
}

function replacer(this: unknown, key: string, value: unknown): unknown {
  const raw = (this as Record<string, unknown>)[key];
  if (typeof value === 'bigint') return value.toString();
  if (raw instanceof Uint8Array) return Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64');
  return value;
}

/**
 * An aligned table: columns padded to their widest cell, two spaces apart,
 * the header first; the last column is not padded. Empty cells print `-`;
 * control characters in a cell (a newline too) print escaped (`printable`).
 */
export function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const cells = [header, ...rows.map((r) => r.map((c) => (c === '' ? '-' : printable(c))))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells
    .map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd())
    .join('\n');
}

/** A duration in ms for people: `0.214 ms`, `12.3 ms`, `1204 ms`. */
export function ms(value: number): string {
  if (value < 1) return `${value.toFixed(3)} ms`;
  if (value < 100) return `${value.toFixed(1)} ms`;
  return `${Math.round(value)} ms`;
}

/** An age for people: `850 ms`, `12.3 s`, `4m 05s`, `3h 12m`. */
export function age(msValue: number): string {
  if (msValue < 1000) return `${Math.round(msValue)} ms`;
  const s = msValue / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(Math.floor(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
}
