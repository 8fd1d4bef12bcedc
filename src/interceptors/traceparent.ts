/**
 * The W3C Trace Context `traceparent` value (https://www.w3.org/TR/trace-context/,
 * section 3.2): `version-traceid-parentid-flags`, for example
 * `00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01`. Pure: no I/O,
 * no clock; randomness comes in as an argument.
 */

/** A parsed `traceparent`, every field in lowercase hex. */
export interface TraceParent {
  /** 2 hex digits; `00` is the version this code writes. */
  readonly version: string;
  /** 32 hex digits (16 bytes), never all zero: the whole trace. */
  readonly traceId: string;
  /** 16 hex digits (8 bytes), never all zero: the caller's span. */
  readonly parentId: string;
  /** 2 hex digits: a bit field; bit 0 (`01`) is "sampled". */
  readonly flags: string;
}

/** Length of a version-00 value: 2 + 1 + 32 + 1 + 16 + 1 + 2. */
const V00_LENGTH = 55;
const V00 = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const ZERO_TRACE_ID = '0'.repeat(32);
const ZERO_PARENT_ID = '0'.repeat(16);

/**
 * Reads a `traceparent` value, or undefined when it is not valid:
 * - version `00`: exactly 55 characters, lowercase hex fields separated by
 *   `-`, a trace-id and a parent-id that are not all zeros;
 * - version `ff` is invalid;
 * - a higher version (`01` .. `fe`): the spec's forward-compatible reading,
 *   the first 55 characters read as version 00, and what follows, if
 *   anything, must start with `-`. The result keeps the version it was sent
 *   with; `childOf` writes `00`.
 * Uppercase hex, surrounding whitespace, or a missing field are invalid.
 */
export function parseTraceparent(value: unknown): TraceParent | undefined {
  if (typeof value !== 'string' || value.length < V00_LENGTH) return undefined;
  let head = value;
  if (value.length > V00_LENGTH) {
    // Only a version above 00 may be longer, and then only with "-" after the 00 part.
    if (value.startsWith('00') || value[V00_LENGTH] !== '-') return undefined;
    head = value.slice(0, V00_LENGTH);
  }
  const m = V00.exec(head);
  if (m === null) return undefined;
  const [, version, traceId, parentId, flags] = m as unknown as [string, string, string, string, string];
  if (version === 'ff' || traceId === ZERO_TRACE_ID || parentId === ZERO_PARENT_ID) return undefined;
  return { version, traceId, parentId, flags };
}

/** True when `value` is a `traceparent` that `parseTraceparent` accepts. */
export function isValidTraceparent(value: unknown): boolean {
  return parseTraceparent(value) !== undefined;
}

/** The `traceparent` value of `tp`, always written as version `00`. */
export function formatTraceparent(tp: Pick<TraceParent, 'traceId' | 'parentId' | 'flags'>): string {
  return `00-${tp.traceId}-${tp.parentId}-${tp.flags}`;
}

/** Fills and returns `n` random bytes (crypto.randomBytes, or a seeded source in tests). */
export type RandomBytes = (n: number) => Uint8Array;

/** `n` random bytes in lowercase hex, drawn again until they are not all zero (the spec forbids all-zero ids). */
export function randomId(bytes: number, random: RandomBytes): string {
  for (;;) {
    const b = random(bytes);
    if (b.length !== bytes) throw new RangeError(`random source gave ${b.length} bytes instead of ${bytes}`);
    if (b.some((x) => x !== 0)) return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
  }
}

/**
 * A new trace: a random trace-id and parent-id, flags `01` when `sampled`,
 * else `00`.
 */
export function newTrace(random: RandomBytes, sampled: boolean): string {
  return formatTraceparent({ traceId: randomId(16, random), parentId: randomId(8, random), flags: sampled ? '01' : '00' });
}

/**
 * The `traceparent` of a call made on behalf of `parent`: the same trace-id
 * and flags, a new random parent-id (the span of this call), version `00`.
 * From a higher version only the sampled bit is kept (the spec: a reader of
 * a version it does not know ignores the other flags).
 */
export function childOf(parent: TraceParent, random: RandomBytes): string {
  const flags = parent.version === '00' ? parent.flags : (parseInt(parent.flags, 16) & 1) === 1 ? '01' : '00';
  return formatTraceparent({ traceId: parent.traceId, parentId: randomId(8, random), flags });
}
