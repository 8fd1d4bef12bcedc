// Hostile MessagePack bodies built by hand, byte for byte.

/**
 * A "DAG bomb" in msgpackr's private reference extensions: an array of
 * `levels + 1` definitions, def0 = [nil] and def(i) = [p(i-1), p(i-1)], where
 * `d6 69 <u32 id>` defines the value that follows and `d6 70 <u32 id>` points
 * to a defined one. The bytes grow linearly with `levels`; the decoded value,
 * walked as a tree, has 2^levels leaves.
 */
export function dagBomb(levels: number): Buffer {
  const parts: Buffer[] = [arrayHeader(levels + 1)];
  for (let i = 0; i <= levels; i++) {
    parts.push(ext4(0x69, i + 1));
    if (i === 0) parts.push(Buffer.from([0x91, 0xc0]));
    else parts.push(Buffer.from([0x92]), ext4(0x70, i), ext4(0x70, i));
  }
  return Buffer.concat(parts);
}

/** `levels` arrays nested in one another, the innermost empty: `[[[...[]...]]]`. */
export function nestedArrays(levels: number): Buffer {
  return Buffer.concat([Buffer.alloc(levels - 1, 0x91), Buffer.from([0x90])]);
}

/** A fixext4 of `type` holding the u32 `value` (msgpackr's reference ids). */
function ext4(type: number, value: number): Buffer {
  const b = Buffer.alloc(6);
  b[0] = 0xd6;
  b[1] = type;
  b.writeUInt32BE(value, 2);
  return b;
}

function arrayHeader(n: number): Buffer {
  if (n < 16) return Buffer.from([0x90 | n]);
  const b = Buffer.alloc(3);
  b[0] = 0xdc;
  b.writeUInt16BE(n, 1);
  return b;
}

/** A MessagePack request body `[service, version, group, method, [arg], nil]` with `arg` given as raw bytes. */
export function requestWithRawArg(service: string, method: string, arg: Buffer): Buffer {
  const str = (s: string): Buffer => Buffer.concat([Buffer.from([0xa0 | s.length]), Buffer.from(s)]);
  return Buffer.concat([Buffer.from([0x96]), str(service), str('1.0.0'), str(''), str(method), Buffer.from([0x91]), arg, Buffer.from([0xc0])]);
}
