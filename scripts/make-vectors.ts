/**
 * Writes test/vectors/frames.json: complete frames in hex, used by protocol.md's
 * worked examples (section 9) and by test/protocol/frame-decoder.test.ts.
 * Run: npx tsx scripts/make-vectors.ts
 *
 * Bodies are written in the typed JSON form of test/protocol/typed-body.ts
 * (protocol.md 9.1). Most bodies are encoded here with Heartline's codec; a few
 * give their bytes explicitly:
 * - `canonical: false` vectors show forms a receiver MUST accept but a
 *   canonical encoder never writes (the codec cannot produce them);
 * - the integer vector is built by a tiny independent encoder, so it states
 *   the canonical bytes even while the codec still writes wide integers as
 *   float64 (the generator warns when the codec disagrees).
 * Every body is read back with the independent reader of typed-body.ts and
 * must match its typed form exactly, map key order included.
 */
import { writeFileSync } from 'node:fs';
import { encodeBody } from '../src/protocol/codec.js';
import { FrameType } from '../src/protocol/constants.js';
import { encodeFrame, frameFlags } from '../src/protocol/frame.js';
import type { Vector } from '../test/protocol/vectors.js';
import { fromTyped, typedFromMsgpack, type Typed } from '../test/protocol/typed-body.js';

interface Spec {
  name: string;
  type: FrameType;
  request: boolean;
  twoWay: boolean;
  status: number;
  id: number;
  body?: Typed;
  /** Explicit body bytes in hex instead of the codec's encoding. */
  bodyHex?: string;
  /** The bytes are a valid non-canonical form: receivers accept them, encoders write others. */
  canonical?: false;
}

let warnings = 0;

function v(spec: Spec): Vector {
  const { name, type, request, twoWay, status, id, body } = spec;
  const flags = frameFlags(type, request, twoWay);
  if (body === undefined) {
    return { name, flags, status, type, id, body: null, empty: true, hex: encodeFrame(flags, status, type, id).toString('hex') };
  }
  const bytes = spec.bodyHex !== undefined ? Buffer.from(spec.bodyHex, 'hex') : encodeBody(fromTyped(body));
  const read = JSON.stringify(typedFromMsgpack(bytes));
  if (read !== JSON.stringify(body)) throw new Error(`${name}: the bytes read back as ${read}, not ${JSON.stringify(body)}`);
  if (spec.bodyHex !== undefined && spec.canonical !== false) {
    const codec = encodeBody(fromTyped(body)).toString('hex');
    if (codec !== spec.bodyHex) {
      warnings++;
      console.warn(`WARNING ${name}: the codec writes ${codec}, the canonical form is ${spec.bodyHex}`);
    }
  }
  const hex = encodeFrame(flags, status, type, id, bytes).toString('hex');
  return spec.canonical === false ? { name, flags, status, type, id, body, canonical: false, hex } : { name, flags, status, type, id, body, hex };
}

/** The shortest MessagePack form of a safe integer or a bigint (protocol.md 4.8), independent of msgpackr. */
function canonicalInt(n: number | bigint): string {
  const b = BigInt(n);
  const hex = (v: bigint, bytes: number): string => BigInt.asUintN(bytes * 8, v).toString(16).padStart(bytes * 2, '0');
  if (b >= 0n) {
    if (b <= 0x7fn) return hex(b, 1);
    if (b <= 0xffn) return `cc${hex(b, 1)}`;
    if (b <= 0xffffn) return `cd${hex(b, 2)}`;
    if (b <= 0xffffffffn) return `ce${hex(b, 4)}`;
    return `cf${hex(b, 8)}`;
  }
  if (b >= -32n) return hex(b, 1);
  if (b >= -0x80n) return `d0${hex(b, 1)}`;
  if (b >= -0x8000n) return `d1${hex(b, 2)}`;
  if (b >= -0x80000000n) return `d2${hex(b, 4)}`;
  return `d3${hex(b, 8)}`;
}

const ints: Array<number | bigint> = [
  127, 128, 256, 65536, 4294967295, 5000000000, 9007199254740991, 18446744073709551615n,
  -1, -32, -33, -129, -32769, -2147483649, -5000000000, -9007199254740991, -9223372036854775808n,
];
const typedInts: Typed[] = ints.map((n) => (typeof n === 'bigint' ? { $int: n.toString() } : n));
const intsHex = `dc${ints.length.toString(16).padStart(4, '0')}${ints.map(canonicalInt).join('')}`;

const str = (s: string): string => {
  const b = Buffer.from(s, 'utf8');
  if (b.length > 31) throw new Error('fixstr only');
  return (0xa0 | b.length).toString(16) + b.toString('hex');
};
const ts64 = (sec: bigint, nsec: bigint): string => `d7ff${((nsec << 34n) | sec).toString(16).padStart(16, '0')}`;
const ts96 = (sec: bigint, nsec: bigint): string => `c70cff${nsec.toString(16).padStart(8, '0')}${BigInt.asUintN(64, sec).toString(16).padStart(16, '0')}`;

const vectors: Vector[] = [
  v({ name: 'handshake request', type: FrameType.Handshake, request: true, twoWay: true, status: 0, id: 0, body: { version: 1, maxFrameSize: 8388608, heartbeat: 0, agent: 'heartline-node' } }),
  v({ name: 'handshake response', type: FrameType.Handshake, request: false, twoWay: false, status: 0, id: 0, body: { version: 1, maxFrameSize: 8388608, heartbeat: 0, idleTimeout: 0 } }),
  v({ name: 'call request', type: FrameType.Call, request: true, twoWay: true, status: 0, id: 1, body: ['demo.Greeter', '1.0.0', '', 'sayHello', ['Ann'], { traceId: 'abc' }] }),
  v({ name: 'ok response', type: FrameType.Call, request: false, twoWay: false, status: 0, id: 1, body: 'Hello, Ann' }),
  v({ name: 'one-way call request', type: FrameType.Call, request: true, twoWay: false, status: 0, id: 2, body: ['demo.Greeter', '1.0.0', '', 'notify', [{ id: 7, tags: ['a'] }], null] }),
  v({ name: 'error response', type: FrameType.Call, request: false, twoWay: false, status: 6, id: 3, body: { code: 'METHOD_NOT_FOUND', message: "demo.Greeter has no method 'toString'" } }),
  v({ name: 'ping', type: FrameType.Heartbeat, request: true, twoWay: true, status: 0, id: 9 }),
  v({ name: 'pong', type: FrameType.Heartbeat, request: false, twoWay: false, status: 0, id: 9 }),
  v({ name: 'drain', type: FrameType.Drain, request: true, twoWay: false, status: 0, id: 0 }),
  v({ name: 'cancel', type: FrameType.Cancel, request: true, twoWay: false, status: 0, id: 4 }),
  v({ name: 'release', type: FrameType.Release, request: true, twoWay: false, status: 0, id: 1 }),
  v({ name: 'drain with body', type: FrameType.Drain, request: true, twoWay: false, status: 0, id: 0, body: { reason: 'shutting down', deadline: 10000 } }),
  v({ name: 'handshake refusal', type: FrameType.Handshake, request: false, twoWay: false, status: 9, id: 0, body: { code: 'LIMIT_EXCEEDED', message: 'provider accepts at most 100 connections' } }),
  v({ name: 'callback push', type: FrameType.Call, request: true, twoWay: true, status: 0, id: 1, body: [1, [{ price: 10 }]] }),
  v({ name: 'callback push answer', type: FrameType.Call, request: false, twoWay: false, status: 0, id: 1, body: null }),
  v({ name: 'payload too large response', type: FrameType.Call, request: false, twoWay: false, status: 10, id: 5, body: { code: 'PAYLOAD_TOO_LARGE', message: "request of 9000016 bytes is over this provider's limit of 8388608 bytes" } }),
  v({ name: 'floats', type: FrameType.Call, request: false, twoWay: false, status: 0, id: 10, body: [{ $float: 1.5 }, { $float: -2.25 }, { $float: 0.1 }] }),
  v({ name: 'str and bin', type: FrameType.Call, request: false, twoWay: false, status: 0, id: 11, body: ['héllo ✓', { $bin: '00ff10' }, { $bin: '' }] }),
  v({ name: 'integers', type: FrameType.Call, request: false, twoWay: false, status: 0, id: 12, body: typedInts, bodyHex: intsHex }),
  v({ name: 'timestamps', type: FrameType.Call, request: false, twoWay: false, status: 0, id: 13, body: [
    { $timestamp: [0, 0] }, { $timestamp: [1700000000, 0] }, { $timestamp: [1700000000, 123000000] }, { $timestamp: [-1, 999000000] }, { $timestamp: [17179869184, 0] },
  ] }),
  v({ name: 'timestamps with nanoseconds', type: FrameType.Call, request: false, twoWay: false, status: 0, id: 14, canonical: false,
    body: [{ $timestamp: [1700000000, 123456789] }, { $timestamp: [1700000000, 999999999] }, { $timestamp: [-1, 999999999] }],
    bodyHex: `93${ts64(1700000000n, 123456789n)}${ts64(1700000000n, 999999999n)}${ts96(-1n, 999999999n)}` }),
  v({ name: 'handshake response, wider forms', type: FrameType.Handshake, request: false, twoWay: false, status: 0, id: 0, canonical: false,
    body: { version: 1, maxFrameSize: { $float: 8388608 }, heartbeat: 0, idleTimeout: { $float: 0 } },
    bodyHex: `84${str('version')}cc01${str('maxFrameSize')}cb4160000000000000${str('heartbeat')}d10000${str('idleTimeout')}ca00000000` }),
];

writeFileSync(new URL('../test/vectors/frames.json', import.meta.url), `${JSON.stringify(vectors, null, 2)}\n`);
for (const x of vectors) console.log(`${x.name}: ${x.hex}`);
if (warnings > 0) console.warn(`${warnings} vector(s) state bytes the codec does not write yet; their re-encoding test fails until it does`);
