// Frame generators for the property tests and the provider fuzzer (issue #7 item E).
// Shared by test/protocol/frame-decoder.property.test.ts, test/faults/fuzz.test.ts
// and scripts/fuzz.ts: one table of legal frames, one seeded source of bad ones.
import { encodeBody } from '../../src/protocol/codec.js';
import { FrameType, HEADER_SIZE } from '../../src/protocol/constants.js';
import { encodeFrame, FLAGS } from '../../src/protocol/frame.js';
import { seededRandom } from '../helpers/seeded-random.js';

/**
 * The legal frame kinds of the issue #7 hardening design ("Frame header rules"): the only
 * (type, flags) pairs a decoder with strict header checks accepts, whether the
 * status byte may be non-zero, and whether a body is allowed at all.
 */
export interface LegalKind {
  name: string;
  type: FrameType;
  flags: number;
  /** 'any': a response, whose status byte is a status code; 'zero': MUST be 0. */
  status: 'zero' | 'any';
  /** 'empty': length MUST be 0 (ping, pong, cancel). */
  body: 'any' | 'empty';
}

export const LEGAL_KINDS: readonly LegalKind[] = Object.freeze([
  { name: 'call two-way', type: FrameType.Call, flags: FLAGS.callTwoWay, status: 'zero', body: 'any' },
  { name: 'call one-way', type: FrameType.Call, flags: FLAGS.callOneWay, status: 'zero', body: 'any' },
  { name: 'call response', type: FrameType.Call, flags: FLAGS.response, status: 'any', body: 'any' },
  { name: 'handshake', type: FrameType.Handshake, flags: FLAGS.handshake, status: 'zero', body: 'any' },
  { name: 'handshake response', type: FrameType.Handshake, flags: FLAGS.handshakeResponse, status: 'any', body: 'any' },
  { name: 'ping', type: FrameType.Heartbeat, flags: FLAGS.ping, status: 'zero', body: 'empty' },
  { name: 'pong', type: FrameType.Heartbeat, flags: FLAGS.pong, status: 'zero', body: 'empty' },
  { name: 'drain', type: FrameType.Drain, flags: FLAGS.drain, status: 'zero', body: 'any' },
  { name: 'cancel', type: FrameType.Cancel, flags: FLAGS.cancel, status: 'zero', body: 'empty' },
  { name: 'release', type: FrameType.Release, flags: FLAGS.release, status: 'zero', body: 'empty' },
]);

/** A seeded source of random choices (mulberry32 underneath): the same seed gives the same bytes. */
export class Rng {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = seededRandom(seed);
  }

  /** Seed of the `index`-th independent stream under `seed`, so that stream can be replayed alone. */
  static streamSeed(seed: number, index: number): number {
    return (seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0;
  }

  float(): number {
    return this.next();
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** An integer in [min, max]. */
  range(min: number, max: number): number {
    return min + this.int(max - min + 1);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  /** Small sizes mostly, now and then a large one: floor(2^(u * bits)). */
  size(bits: number): number {
    return Math.floor(2 ** (this.next() * bits)) - 1;
  }

  u32(): number {
    return (this.int(0x10000) * 0x10000 + this.int(0x10000)) >>> 0;
  }

  bytes(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i += 4) {
      const word = Math.floor(this.next() * 0x100000000);
      for (let j = 0; j < 4 && i + j < n; j++) out[i + j] = (word >>> (8 * j)) & 0xff;
    }
    return out;
  }
}

// ---------------------------------------------------------------------------
// Raw MessagePack, written by hand so that it can be anything the format allows
// (extension types, huge declared lengths, deep nesting), not only what msgpackr writes.

/** Extension types worth trying: the standard timestamp, msgpackr's own ones, and others. */
const EXT_TYPES = [0xff, 0x00, 0x42, 0x62, 0x65, 0x69, 0x70, 0x73, 0x74, 0x78, 0x01, 0x7f, 0x80, 0xd4];
const HUGE_LENGTHS = [0xffffffff, 0x7fffffff, 0x80000000, 0x10000000, 0xffff];

class MsgpackWriter {
  readonly parts: Buffer[] = [];
  bytes = 0;
  push(...values: number[]): void {
    this.add(Buffer.from(values));
  }
  add(buf: Buffer): void {
    this.parts.push(buf);
    this.bytes += buf.length;
  }
  u16(v: number): void {
    const b = Buffer.allocUnsafe(2);
    b.writeUInt16BE(v & 0xffff);
    this.add(b);
  }
  u32(v: number): void {
    const b = Buffer.allocUnsafe(4);
    b.writeUInt32BE(v >>> 0);
    this.add(b);
  }
  finish(): Buffer {
    return Buffer.concat(this.parts);
  }
}

/** One random MessagePack value of about `budget` bytes at most (some of it deliberately broken). */
export function randomMsgpack(rng: Rng, budget = 256, depth = 0): Buffer {
  const w = new MsgpackWriter();
  writeValue(rng, w, budget, depth);
  return w.finish();
}

function writeValue(rng: Rng, w: MsgpackWriter, budget: number, depth: number): void {
  const container = depth < 8 && budget > 8;
  switch (rng.int(container ? 16 : 12)) {
    case 0:
      return w.push(rng.pick([0xc0, 0xc2, 0xc3, 0xc1]));
    case 1:
      return w.push(rng.int(0x80)); // positive fixint
    case 2:
      return w.push(0xe0 | rng.int(32)); // negative fixint
    case 3: {
      const marker = rng.pick([0xcc, 0xcd, 0xce, 0xcf, 0xd0, 0xd1, 0xd2, 0xd3, 0xca, 0xcb]);
      const width = [1, 2, 4, 8, 1, 2, 4, 8, 4, 8][[0xcc, 0xcd, 0xce, 0xcf, 0xd0, 0xd1, 0xd2, 0xd3, 0xca, 0xcb].indexOf(marker)]!;
      w.push(marker);
      return w.add(rng.bytes(width));
    }
    case 4:
    case 5: {
      // str: mostly valid UTF-8 text, sometimes random bytes
      const n = Math.min(rng.size(10), budget);
      const data = rng.chance(0.7) ? Buffer.from('x'.repeat(n)) : rng.bytes(n);
      if (n < 32 && rng.chance(0.5)) w.push(0xa0 | n);
      else if (n < 256 && rng.chance(0.5)) w.push(0xd9, n);
      else if (rng.chance(0.5)) (w.push(0xda), w.u16(n));
      else (w.push(0xdb), w.u32(n));
      return w.add(data);
    }
    case 6: {
      const n = Math.min(rng.size(10), budget);
      if (n < 256 && rng.chance(0.6)) w.push(0xc4, n);
      else if (rng.chance(0.5)) (w.push(0xc5), w.u16(n));
      else (w.push(0xc6), w.u32(n));
      return w.add(rng.bytes(n));
    }
    case 7:
    case 8:
      return writeExt(rng, w, budget, depth);
    case 9: {
      // a huge declared length with (almost) nothing behind it
      w.push(rng.pick([0xdb, 0xc6, 0xdd, 0xdf, 0xc9]));
      w.u32(rng.pick(HUGE_LENGTHS));
      if (rng.chance(0.5)) w.add(rng.bytes(rng.int(8)));
      return;
    }
    case 10:
      return w.add(deepNesting(rng));
    case 11: {
      // a timestamp, as the design allows (ext -1 with 4, 8 or 12 bytes), or a bad one
      const n = rng.pick([4, 8, 12, 1, 2, 16]);
      if (n === 4 || n === 8 || n === 16 || n === 1 || n === 2) w.push([0xd6, 0xd7, 0xd8, 0xd4, 0xd5][[4, 8, 16, 1, 2].indexOf(n)]!, 0xff);
      else w.push(0xc7, n, 0xff);
      return w.add(rng.bytes(n));
    }
    case 12:
    case 13: {
      const n = rng.size(5);
      if (n < 16 && rng.chance(0.7)) w.push(0x90 | n);
      else if (rng.chance(0.5)) (w.push(0xdc), w.u16(n));
      else (w.push(0xdd), w.u32(n));
      const share = Math.floor(budget / Math.max(1, n));
      for (let i = 0; i < n && w.bytes < budget; i++) writeValue(rng, w, share, depth + 1);
      return;
    }
    default: {
      const n = rng.size(4);
      if (n < 16 && rng.chance(0.7)) w.push(0x80 | n);
      else if (rng.chance(0.5)) (w.push(0xde), w.u16(n));
      else (w.push(0xdf), w.u32(n));
      const share = Math.floor(budget / Math.max(1, 2 * n));
      for (let i = 0; i < n && w.bytes < budget; i++) {
        // keys: mostly short strings (with the odd "__proto__"), sometimes anything
        if (rng.chance(0.8)) {
          const key = rng.chance(0.1) ? '__proto__' : rng.pick(['a', 'code', 'message', 'version', 'maxFrameSize', 'constructor', 'k' + rng.int(100)]);
          w.add(encodeBody(key));
        } else writeValue(rng, w, share, depth + 1);
        writeValue(rng, w, share, depth + 1);
      }
    }
  }
}

function writeExt(rng: Rng, w: MsgpackWriter, budget: number, depth: number): void {
  const type = rng.pick(EXT_TYPES);
  // msgpackr's 0x65/0x73/0x78 read the NEXT value as their payload; 0x69 ids the next value
  const fixed = [1, 2, 4, 8, 16];
  if (rng.chance(0.6)) {
    const n = rng.pick(fixed);
    w.push(0xd4 + fixed.indexOf(n), type);
    w.add(rng.chance(0.5) ? rng.bytes(n) : Buffer.alloc(n));
  } else {
    const n = Math.min(rng.size(8), budget);
    if (n < 256) w.push(0xc7, n, type);
    else if (rng.chance(0.5)) (w.push(0xc8), w.u16(n), w.push(type));
    else (w.push(0xc9), w.u32(n), w.push(type));
    w.add(rng.bytes(n));
  }
  if ((type === 0x65 || type === 0x73 || type === 0x78 || type === 0x69) && rng.chance(0.7)) writeValue(rng, w, budget >> 1, depth + 1);
}

/** Arrays or maps nested far deeper than MAX_DEPTH (100), sometimes deeper than the JS stack. */
export function deepNesting(rng: Rng): Buffer {
  const depth = rng.chance(0.1) ? 100_000 : rng.pick([101, 200, 1000, 5000, 20000]);
  // [[[...nil]]] or {a: {a: ...nil}}
  const open = rng.chance(0.5) ? Buffer.from([0x91]) : Buffer.from([0x81, 0xa1, 0x61]);
  const out = Buffer.alloc(depth * open.length + 1, open);
  out[out.length - 1] = 0xc0;
  return out;
}

/**
 * A msgpackr structured-clone "DAG bomb": `levels` objects, each an array holding
 * two pointers (ext 0x70) to the previous one (ext 0x69 ids). About 19 bytes a
 * level, 2^levels leaves for anything that walks or re-encodes the decoded value.
 * Refused as BAD_REQUEST (extension type other than -1) by the codec of the design.
 */
export function dagBomb(levels: number): Buffer {
  const id = (marker: number, n: number): Buffer => {
    const b = Buffer.from([0xd6, marker, 0, 0, 0, 0]);
    b.writeUInt32BE(n, 2);
    return b;
  };
  const parts: Buffer[] = [Buffer.from([0xdc, 0, 0])];
  parts[0]!.writeUInt16BE(levels, 1);
  parts.push(id(0x69, 0), Buffer.from([0x92, 0xc0, 0xc0]));
  for (let k = 1; k < levels; k++) parts.push(id(0x69, k), Buffer.from([0x92]), id(0x70, k - 1), id(0x70, k - 1));
  return Buffer.concat(parts);
}

// ---------------------------------------------------------------------------
// Valid frames of the test contract (test/helpers/contract.ts). Methods that
// keep what they receive (echo, notify) or allocate what they are asked (blob)
// are left out: their growth would be the handler's, not the provider's.

const str = (s: string): Buffer => encodeBody(s);

function requestBody(service: string, version: string, group: string, method: string, args: Buffer[], attachments?: Buffer): Buffer {
  const n = args.length;
  return Buffer.concat([
    Buffer.from([0x96]),
    str(service),
    str(version),
    str(group),
    str(method),
    n < 16 ? Buffer.from([0x90 | n]) : Buffer.from([0xdc, n >> 8, n & 0xff]),
    ...args,
    attachments ?? Buffer.from([0xc0]),
  ]);
}

/** A handshake request: acceptable when `valid`, else as often as not a refused one. */
export function handshakeFrame(rng: Rng, valid = false): Buffer {
  const body = valid || rng.chance(0.5)
    ? encodeBody({ version: 1, maxFrameSize: rng.pick([1024, 65536, 8388608, 0xffffffff]), heartbeat: rng.pick([0, 0, 1, 1000, 15000]), agent: 'fuzz' })
    : encodeBody({ version: rng.pick([0, 1, 2, -1, 1.5, 'x']), maxFrameSize: rng.pick([0, 1023, 1024, 2 ** 53, -5]), heartbeat: rng.pick([0, 1e12, -1]) });
  return encodeFrame(FLAGS.handshake, 0, FrameType.Handshake, 0, body);
}

/** A valid call request to the test contract (sometimes to something that does not exist). */
export function callFrame(rng: Rng, id: number): Buffer {
  const twoWay = rng.chance(0.85);
  const value = (): Buffer => (rng.chance(0.6) ? encodeBody(rng.pick([1, 'x', null, true, { a: [1, 2] }, 'héllo', -7, 2 ** 40])) : randomMsgpack(rng, 128));
  let body: Buffer;
  switch (rng.int(9)) {
    case 0:
      body = requestBody('test.Calc', '1.0.0', '', 'add', [encodeBody(rng.int(1000)), encodeBody(rng.int(1000))]);
      break;
    case 1:
      body = requestBody('test.Greeter', '2.0.0', 'g1', 'greet', [str('fuzz' + rng.int(100))], encodeBody({ traceId: 'fz' }));
      break;
    case 2:
      body = requestBody('test.Echo', '1.0.0', '', 'delayedEcho', [value()]);
      break;
    case 3:
      body = requestBody('test.Echo', '1.0.0', '', 'sleep', [encodeBody(rng.int(30))]);
      break;
    case 4:
      body = requestBody('test.Echo', '1.0.0', '', rng.pick(['fail', 'failAsync', 'symbol', 'size']), [str('boom')]);
      break;
    case 5:
      body = requestBody('test.Echo', '1.0.0', '', rng.pick(['hidden', 'constructor', '__proto__', 'toString', 'nope']), []);
      break;
    case 6:
      body = requestBody(rng.pick(['test.Nope', '__proto__', '']), '1.0.0', '', 'x', []);
      break;
    case 7:
      body = requestBody('test.Calc', '1.0.0', '', 'add', [value(), value()], rng.chance(0.5) ? randomMsgpack(rng, 64) : undefined);
      break;
    default:
      body = rng.chance(0.5) ? randomMsgpack(rng, 512) : Buffer.alloc(0);
  }
  return encodeFrame(twoWay ? FLAGS.callTwoWay : FLAGS.callOneWay, 0, FrameType.Call, id, body);
}

/** Any frame of a legal kind (LEGAL_KINDS), with a fitting status and a random or empty body. */
export function legalFrame(rng: Rng, id: number): Buffer {
  const kind = rng.pick(LEGAL_KINDS);
  const status = kind.status === 'any' && rng.chance(0.5) ? rng.int(256) : 0;
  const body = kind.body === 'empty' || rng.chance(0.2) ? undefined : randomMsgpack(rng, 256);
  return encodeFrame(kind.flags, status, kind.type, id, body);
}

export const pingFrame = (id: number): Buffer => encodeFrame(FLAGS.ping, 0, FrameType.Heartbeat, id);
export const cancelFrame = (id: number): Buffer => encodeFrame(FLAGS.cancel, 0, FrameType.Cancel, id);

// ---------------------------------------------------------------------------
// Mutations of a valid frame.

const INTERESTING = [0x00, 0x01, 0x7f, 0x80, 0xc0, 0xc1, 0xdd, 0xdf, 0xff];

export function mutate(rng: Rng, frame: Buffer, other: Buffer): Buffer {
  const out = Buffer.from(frame);
  switch (rng.int(8)) {
    case 0: {
      // flip bits, mostly in the header
      for (let n = rng.range(1, 4); n > 0; n--) {
        const at = rng.chance(0.6) || out.length <= HEADER_SIZE ? rng.int(HEADER_SIZE) : rng.int(out.length);
        out[at] = out[at]! ^ (1 << rng.int(8));
      }
      return out;
    }
    case 1:
      return out.subarray(0, rng.int(out.length)); // truncated: the next frame's bytes fill in
    case 2: {
      // a different declared length: off by a little, zero, or huge
      const length = out.readUInt32BE(12);
      const lengths = [0, length + 1, Math.max(0, length - 1), length + rng.range(2, 64), 0xffffffff, 0x7fffffff, rng.u32(), 1024 * 1024];
      out.writeUInt32BE(rng.pick(lengths) >>> 0, 12);
      return out;
    }
    case 3: {
      // splice: this header, the other frame's body (length fixed up or not)
      const body = other.subarray(HEADER_SIZE);
      const spliced = Buffer.concat([out.subarray(0, HEADER_SIZE), body.subarray(0, rng.chance(0.5) ? body.length : rng.int(body.length + 1))]);
      if (rng.chance(0.7)) spliced.writeUInt32BE(spliced.length - HEADER_SIZE, 12);
      return spliced;
    }
    case 4: {
      // interesting bytes in the body (or the header if there is no body)
      for (let n = rng.range(1, 3); n > 0; n--) out[rng.int(out.length)] = rng.pick(INTERESTING);
      return out;
    }
    case 5: {
      // insert or duplicate bytes inside the body, length kept (the body now runs over)
      const at = HEADER_SIZE + rng.int(Math.max(1, out.length - HEADER_SIZE));
      return Buffer.concat([out.subarray(0, at), rng.chance(0.5) ? rng.bytes(rng.range(1, 16)) : out.subarray(at, at + rng.range(1, 16)), out.subarray(at)]);
    }
    case 6: {
      // another legal or illegal (type, flags, status) in a valid header
      const kind = rng.pick(LEGAL_KINDS);
      out[3] = rng.chance(0.7) ? kind.flags : rng.int(256) & 0xe0;
      out[5] = rng.chance(0.8) ? kind.type : rng.int(8);
      out[4] = rng.chance(0.5) ? 0 : rng.int(256);
      return out;
    }
    default: {
      // the body replaced by random MessagePack, length fixed up
      const body = randomMsgpack(rng, 512);
      const spliced = Buffer.concat([out.subarray(0, HEADER_SIZE), body]);
      spliced.writeUInt32BE(body.length, 12);
      return spliced;
    }
  }
}

// ---------------------------------------------------------------------------
// What one fuzz connection sends.

/**
 * Kinds of fuzz connection. All but 'mixed' and 'garbage' aim at the known
 * defects of issue #7 (see the hardening design); a fuzz run can leave kinds out with `skip`:
 * - 'dag-bomb': a call whose argument is a msgpackr reference-extension DAG bomb;
 * - 'ping-flood': 1000-5000 pings, read or not; 'ping-storm': 1M pings from a peer that never reads;
 * - 'execution-flood': 500-2000 sleeping calls; 'execution-storm': 300k of them on one socket;
 * - 'fragments': a hello with `fragments: true`, then calls split into fragment frames
 *   (protocol.md 4.9) at random points, whole frames between them, and hostile sequences
 *   (a second open message, a status that changes, MORE where it is not allowed, a message
 *   over the provider's limit, mutated fragments).
 * Every run of 2000 connections has one dag-bomb, ping-storm and execution-storm at a fixed
 * place (indices 500, 1000, 1500 mod 2000), so a short run never misses them.
 */
export const CONNECTION_KINDS = ['mixed', 'garbage', 'dag-bomb', 'ping-flood', 'ping-storm', 'execution-flood', 'execution-storm', 'fragments'] as const;
export type ConnectionKind = (typeof CONNECTION_KINDS)[number];

export interface ConnectionScript {
  index: number;
  kind: ConnectionKind;
  /** Frames (or frame-like pieces) in this script, for counting. */
  frames: number;
  /** The bytes to send, already cut into the writes to make. */
  writes: Buffer[];
  /** Keep reading the provider's answers; false: never read (a peer that does not read). */
  reads: boolean;
  /** A peer that does not read keeps its socket open this long (ms) unless the provider closes it. */
  holdMs: number;
}

/**
 * The `index`-th connection of the fuzz run `seed`: derived from (seed, index)
 * alone, so any one connection can be replayed without the others.
 */
export function connectionScript(seed: number, index: number, skip: ReadonlySet<ConnectionKind> = new Set()): ConnectionScript {
  const rng = new Rng(Rng.streamSeed(seed, index));
  const roll = rng.float();
  const forced = ({ 500: 'dag-bomb', 1000: 'ping-storm', 1500: 'execution-storm' } as Record<number, ConnectionKind>)[index % 2000];
  let kind: ConnectionKind =
    forced ?? (roll < 0.004 ? 'dag-bomb' : roll < 0.01 ? 'ping-flood' : roll < 0.015 ? 'execution-flood' : roll < 0.1 ? 'garbage' : roll < 0.2 ? 'fragments' : 'mixed');
  if (skip.has(kind)) kind = 'mixed';
  const frames: Buffer[] = [];
  const handshake = kind !== 'garbage' && (forced !== undefined || rng.chance(0.9));
  if (handshake && kind === 'fragments') frames.push(fragmentsHello(rng));
  else if (handshake) frames.push(rng.chance(0.9) ? handshakeFrame(rng, true) : mutate(rng, handshakeFrame(rng), callFrame(rng, 1)));
  let id = 1;
  let reads = true;
  switch (kind) {
    case 'dag-bomb':
      frames.push(encodeFrame(FLAGS.callTwoWay, 0, FrameType.Call, id++, requestBody('test.Echo', '1.0.0', '', 'delayedEcho', [dagBomb(rng.range(30, 40))])));
      break;
    case 'ping-flood': {
      reads = rng.chance(0.5);
      const n = rng.range(1000, 5000);
      for (let i = 0; i < n; i++) frames.push(pingFrame(id++));
      break;
    }
    case 'ping-storm':
      reads = false;
      frames.push(repeated(pingFrame(0), 1_000_000));
      return { index, kind, frames: 1_000_001, writes: [frames[0]!, ...pieces(frames[1]!, 64 * 1024)], reads, holdMs: 10_000 };
    case 'execution-storm': {
      const sleep = encodeFrame(FLAGS.callTwoWay, 0, FrameType.Call, 0, requestBody('test.Echo', '1.0.0', '', 'sleep', [encodeBody(2000)]));
      frames.push(repeated(sleep, 300_000));
      return { index, kind, frames: 300_001, writes: [frames[0]!, ...pieces(frames[1]!, 64 * 1024)], reads, holdMs: 0 };
    }
    case 'execution-flood': {
      const n = rng.range(500, 2000);
      const sleep = requestBody('test.Echo', '1.0.0', '', 'sleep', [encodeBody(rng.range(500, 2000))]);
      for (let i = 0; i < n; i++) frames.push(encodeFrame(FLAGS.callTwoWay, 0, FrameType.Call, id++, sleep));
      break;
    }
    case 'garbage': {
      const n = rng.range(1, 8);
      for (let i = 0; i < n; i++) frames.push(rng.chance(0.5) ? rng.bytes(rng.size(12)) : legalFrame(rng, rng.u32()));
      break;
    }
    case 'fragments': {
      const n = rng.size(4) + 1;
      for (let i = 0; i < n; i++) frames.push(...fragmentedMessage(rng, id++));
      break;
    }
    case 'mixed': {
      const n = rng.size(6) + 1;
      for (let i = 0; i < n; i++) {
        const r = rng.float();
        const valid = (): Buffer => (r < 0.5 ? callFrame(rng, id++) : rng.chance(0.5) ? pingFrame(id++) : rng.chance(0.5) ? cancelFrame(rng.int(id + 1)) : legalFrame(rng, id++));
        if (r < 0.45) frames.push(valid());
        else if (r < 0.9) frames.push(mutate(rng, valid(), callFrame(rng, id)));
        else frames.push(legalFrame(rng, id++));
      }
      break;
    }
  }
  return { index, kind, frames: frames.length, writes: cut(rng, Buffer.concat(frames)), reads, holdMs: 200 };
}

/** A hello offering fragments (protocol.md 4.3); now and then one with a `fragments` of the wrong type (refused). */
function fragmentsHello(rng: Rng): Buffer {
  const fragments = rng.chance(0.95) ? true : rng.pick([1, 'yes', null, false]);
  return encodeFrame(FLAGS.handshake, 0, FrameType.Handshake, 0, encodeBody({ version: 2, maxFrameSize: 8388608, heartbeat: 0, agent: 'fuzz', fragments }));
}

/**
 * A call (from `callFrame`) split into fragments at random points, with whole
 * frames between them; in about a third of them, something hostile: a MORE
 * frame of a second message, a fragment with another status, MORE on another
 * type, a message over the provider's 256 KiB limit, or a mutated fragment.
 */
function fragmentedMessage(rng: Rng, id: number): Buffer[] {
  const whole = callFrame(rng, id);
  const flags = whole[3]!;
  const body = whole.subarray(16);
  const oversize = rng.chance(0.05);
  const bytes = oversize ? Buffer.concat([body, Buffer.alloc(300 * 1024)]) : body;
  const cuts = Array.from({ length: rng.size(4) + 1 }, () => rng.int(bytes.length + 1)).sort((a, b) => a - b);
  const out: Buffer[] = [];
  let from = 0;
  for (const to of [...cuts, bytes.length]) {
    const last = to === bytes.length;
    out.push(encodeFrame(last ? flags : flags | 0x10, 0, FrameType.Call, id, bytes.subarray(from, to)));
    if (!last && rng.chance(0.4)) out.push(rng.chance(0.5) ? pingFrame(id + 100_000) : callFrame(rng, id + 100_000));
    from = to;
    if (last) break;
  }
  if (!rng.chance(0.3) || out.length < 2) return out;
  const at = rng.int(out.length - 1);
  switch (rng.int(5)) {
    case 0: // a second open message
      out.splice(at, 0, encodeFrame(flags | 0x10, 0, FrameType.Call, id + 200_000, rng.bytes(rng.size(6))));
      break;
    case 1: // a status that changes mid-message
      out.splice(at + 1, 0, encodeFrame(0x10, 0, FrameType.Call, id, rng.bytes(4)), encodeFrame(0x10, rng.int(255) + 1, FrameType.Call, id, rng.bytes(4)));
      break;
    case 2: // MORE on a frame type that has no fragments
      out.splice(at, 0, encodeFrame(rng.pick([0xf0, 0xb0]), 0, rng.pick([FrameType.Heartbeat, FrameType.Cancel, FrameType.Handshake, FrameType.Release]), id, undefined));
      break;
    case 3: // the message ends early: its final fragment never comes (the connection closes mid-message)
      out.pop();
      break;
    default:
      out[at] = mutate(rng, out[at]!, out[at + 1]!);
  }
  return out;
}

/** `n` copies of `frame`, request ids 1..n. */
function repeated(frame: Buffer, n: number): Buffer {
  const out = Buffer.alloc(frame.length * n, frame);
  for (let i = 0; i < n; i++) out.writeUInt32BE(i + 1, i * frame.length + 8);
  return out;
}

function pieces(bytes: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += size) out.push(bytes.subarray(at, at + size));
  return out;
}

/** Cuts `bytes` into writes: whole, a few random pieces, or a byte at a time for short streams. */
function cut(rng: Rng, bytes: Buffer): Buffer[] {
  const r = rng.float();
  if (r < 0.5 || bytes.length < 2) return [bytes];
  if (r < 0.55 && bytes.length <= 256) return [...bytes].map((b) => Buffer.from([b]));
  const writes: Buffer[] = [];
  let at = 0;
  while (at < bytes.length) {
    const n = Math.min(bytes.length - at, rng.size(16) + 1);
    writes.push(bytes.subarray(at, at + n));
    at += n;
  }
  return writes;
}
