// The worked example of protocol.md 10.3, byte for byte: its request bytes are
// sent to a Node provider serving only the built-in services, which must
// answer exactly its response bytes (and the typed form given there).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeBody, encodeBody } from '../../src/protocol/codec.js';
import { DEFAULT_MAX_FRAME_SIZE, FrameType } from '../../src/protocol/constants.js';
import { encodeFrame, frameFlags } from '../../src/protocol/frame.js';
import { RawConnection } from '../helpers/raw-socket.js';
import { startServer, useCleanup } from '../helpers/server.js';

/** The code blocks of protocol.md section 10.3, in order: request hex, response hex, typed JSON. */
function section103(): string[] {
  const text = readFileSync(new URL('../../protocol.md', import.meta.url), 'utf8');
  const start = text.indexOf('### 10.3 ');
  expect(start, 'protocol.md has a section 10.3').toBeGreaterThan(0);
  const next = text.indexOf('\n#', start + 1);
  const section = text.slice(start, next === -1 ? undefined : next);
  return [...section.matchAll(/```(?:json)?\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

const hex = (block: string): string => block.replace(/\s+/g, '');

describe('protocol.md 10.3: listServices, byte for byte', () => {
  const defer = useCleanup();

  it('a provider serving only the built-ins answers the documented bytes', async () => {
    const [request, response, typed] = section103();
    expect(typed).toBeDefined();
    const srv = defer(await startServer({ register: false }), (s) => s.close());
    const raw = defer(await RawConnection.open(srv.port, { handshake: false }), (r) => r.destroy());
    // A version-2 handshake, as the example says.
    raw.send(encodeFrame(frameFlags(FrameType.Handshake, true, true), 0, FrameType.Handshake, 0, encodeBody({ version: 2, maxFrameSize: DEFAULT_MAX_FRAME_SIZE, heartbeat: 0 })));
    const hello = await raw.nextFrame();
    expect(decodeBody(hello!.body)).toMatchObject({ version: 2 });

    raw.send(Buffer.from(hex(request!), 'hex'));
    const frame = (await raw.nextFrame())!;
    const answered = encodeFrame(frame.flags, frame.status, frame.type, frame.id, frame.body).toString('hex');
    expect(answered).toBe(hex(response!));
    expect(decodeBody(frame.body)).toEqual(JSON.parse(typed!));
  });
});
