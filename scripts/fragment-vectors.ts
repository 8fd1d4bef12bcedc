/**
 * Adds the fragment vectors of protocol.md 4.9 and 9 to test/vectors/frames.json
 * (replacing them if present; the other vectors are left as they are):
 * the handshake with `fragments: true` both ways, and a call request in two
 * fragments with a whole call request between them.
 * Run: npx tsx scripts/fragment-vectors.ts
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { encodeBody } from '../src/protocol/codec.js';
import { FLAG_MORE, FrameType } from '../src/protocol/constants.js';
import { encodeFrame, FLAGS } from '../src/protocol/frame.js';
import type { Vector } from '../test/protocol/vectors.js';
import { typedFromMsgpack } from '../test/protocol/typed-body.js';

const file = new URL('../test/vectors/frames.json', import.meta.url);
const vectors: Vector[] = JSON.parse(readFileSync(file, 'utf8'));
const NAMES = ['handshake request with fragments', 'handshake response with fragments', 'call request in two fragments, a whole call between them'];

function whole(name: string, flags: number, type: FrameType, id: number, body: Buffer): Vector {
  return { name, flags, status: 0, type, id, body: typedFromMsgpack(body), hex: encodeFrame(flags, 0, type, id, body).toString('hex') };
}

const handshakeRequest = encodeBody({ version: 2, maxFrameSize: 8388608, heartbeat: 0, agent: 'heartline-node', fragments: true });
const handshakeResponse = encodeBody({ version: 2, maxFrameSize: 8388608, heartbeat: 0, idleTimeout: 0, fragments: true });
// The body of the 'call request' vector (with its budget of 2500 ms as uint 32), split after 24 bytes.
const call = vectors.find((v) => v.name === 'call request')!;
const body = Buffer.from(call.hex, 'hex').subarray(16);
const SPLIT = 24;
const between = whole('call request between the fragments', FLAGS.callTwoWay, FrameType.Call, 8, Buffer.from('97ac64656d6f2e47726565746572a5312e302e30a0a873617948656c6c6f91a2426f80c0', 'hex'));
between.request = true;
const first = encodeFrame(FLAGS.callTwoWay | FLAG_MORE, 0, FrameType.Call, 7, body.subarray(0, SPLIT));
const last = encodeFrame(FLAGS.callTwoWay, 0, FrameType.Call, 7, body.subarray(SPLIT));
const fragmented: Vector = {
  name: NAMES[2]!,
  flags: FLAGS.callTwoWay,
  status: 0,
  type: FrameType.Call,
  id: 7,
  request: true,
  body: call.body,
  fragmented: true,
  bodyHex: body.toString('hex'),
  interleaved: [between],
  hex: Buffer.concat([first, Buffer.from(between.hex, 'hex'), last]).toString('hex'),
};

const kept = vectors.filter((v) => !NAMES.includes(v.name));
kept.push(whole(NAMES[0]!, FLAGS.handshake, FrameType.Handshake, 0, handshakeRequest), whole(NAMES[1]!, FLAGS.handshakeResponse, FrameType.Handshake, 0, handshakeResponse), fragmented);
writeFileSync(file, `${JSON.stringify(kept, null, 2)}\n`);
for (const v of kept.slice(-3)) console.log(v.name, v.hex);
