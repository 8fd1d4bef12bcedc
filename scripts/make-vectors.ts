/**
 * Writes test/vectors/frames.json: complete frames in hex, used by protocol.md's
 * worked examples and by test/protocol/vectors.test.ts. Run: npx tsx scripts/make-vectors.ts
 */
import { writeFileSync } from 'node:fs';
import { encodeBody } from '../src/protocol/codec.js';
import { FrameType } from '../src/protocol/constants.js';
import { encodeFrame, frameFlags } from '../src/protocol/frame.js';
import type { Vector } from '../test/protocol/vectors.js';


function v(name: string, type: FrameType, request: boolean, twoWay: boolean, status: number, id: number, body?: unknown): Vector {
  const flags = frameFlags(type, request, twoWay);
  const bytes = body === undefined ? undefined : encodeBody(body);
  const hex = encodeFrame(flags, status, type, id, bytes).toString('hex');
  return body === undefined ? { name, flags, status, type, id, body: null, empty: true, hex } : { name, flags, status, type, id, body, hex };
}

const vectors: Vector[] = [
  v('handshake request', FrameType.Handshake, true, true, 0, 0, { version: 1, maxFrameSize: 8388608, heartbeat: 0, agent: 'heartline-node' }),
  v('handshake response', FrameType.Handshake, false, false, 0, 0, { version: 1, maxFrameSize: 8388608, heartbeat: 0, idleTimeout: 0 }),
  v('call request', FrameType.Call, true, true, 0, 1, ['demo.Greeter', '1.0.0', '', 'sayHello', ['Ann'], { traceId: 'abc' }]),
  v('ok response', FrameType.Call, false, false, 0, 1, 'Hello, Ann'),
  v('one-way call request', FrameType.Call, true, false, 0, 2, ['demo.Greeter', '1.0.0', '', 'notify', [{ id: 7, tags: ['a'] }], null]),
  v('error response', FrameType.Call, false, false, 6, 3, { code: 'METHOD_NOT_FOUND', message: "demo.Greeter has no method 'toString'" }),
  v('ping', FrameType.Heartbeat, true, true, 0, 9),
  v('pong', FrameType.Heartbeat, false, false, 0, 9),
  v('drain', FrameType.Drain, true, false, 0, 0),
  v('cancel', FrameType.Cancel, true, false, 0, 4),
];

writeFileSync(new URL('../test/vectors/frames.json', import.meta.url), `${JSON.stringify(vectors, null, 2)}\n`);
for (const x of vectors) console.log(`${x.name}: ${x.hex}`);
