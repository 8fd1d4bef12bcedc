/**
 * Wire constants of the Heartline frame. `protocol.md` is the contract; every
 * number here is defined there.
 *
 * ```
 *  0      1      2      3      4      5      6      7
 * +------+------+------+------+------+------+------+------+
 * | magic 0x48 0x4C | ver  | flags| status| type |reserved (0)|
 * +------+------+------+------+------+------+------+------+
 * |       request id (u32 BE)  |      body length (u32 BE)   |
 * +------+------+------+------+------+------+------+------+
 *  8      9      10     11     12     13     14     15
 * ```
 */

export const MAGIC_0 = 0x48; // 'H'
export const MAGIC_1 = 0x4c; // 'L'
/** The header's version byte (byte 2): `0x01` whatever protocol version the handshake agrees. */
export const FRAME_VERSION = 1;
/**
 * The highest protocol version this implementation speaks in the handshake
 * (protocol.md 4.3). Version 2 adds the call's time budget (4.1); a
 * connection that agreed version 1 carries six-item requests.
 */
export const PROTOCOL_VERSION = 2;
/** The lowest handshake version this implementation accepts. */
export const MIN_PROTOCOL_VERSION = 1;
export const HEADER_SIZE = 16;

/** Flag bits of header byte 3. */
export const FLAG_REQUEST = 0x80;
export const FLAG_TWO_WAY = 0x40;
export const FLAG_EVENT = 0x20;
/**
 * MORE: more fragments of this message follow (protocol.md 4.9). Legal only on
 * Call frames of a connection whose handshake agreed `fragments`; elsewhere it
 * is a reserved bit.
 */
export const FLAG_MORE = 0x10;
/** Bits that must be zero in version 1 (MORE aside, see FLAG_MORE). */
export const FLAG_RESERVED_MASK = 0x0f;

/** Frame types (header byte 5). */
export const enum FrameType {
  Call = 0,
  Handshake = 1,
  Heartbeat = 2,
  Drain = 3,
  Cancel = 4,
  /** The consumer no longer serves a callback id (protocol.md 4.7). */
  Release = 5,
}
export const MAX_FRAME_TYPE = FrameType.Release;

/** Largest request id; ids run 1..MAX_REQUEST_ID and then wrap to 1. */
export const MAX_REQUEST_ID = 0xffffffff;

/** Default maximum frame size (header + body), in bytes: 8 MiB, as Dubbo's payload limit. */
export const DEFAULT_MAX_FRAME_SIZE = 8 * 1024 * 1024;
/** Default `fragmentSize`: bodies over it go out as fragments of this many bytes (protocol.md 4.9). */
export const DEFAULT_FRAGMENT_SIZE = 64 * 1024;
/** Smallest non-zero `fragmentSize`, in bytes. */
export const MIN_FRAGMENT_SIZE = 1024;
/** Smallest `maxFrameSize` either side may announce, in bytes. */
export const MIN_MAX_FRAME_SIZE = 1024;

/** Shortest ping interval a consumer accepts from a handshake answer, in ms; smaller answers are raised to it. */
export const HEARTBEAT_FLOOR = 100;
/** Longest delay a Node timer takes, in ms (2^31 - 1); longer intervals are clamped to it. */
export const MAX_TIMER_MS = 2_147_483_647;
/** Pings a peer may send in a burst before the rate limit applies (protocol.md 4.4). */
export const PING_BURST = 10;
/** Deepest nesting of arrays and maps accepted in a body. */
export const MAX_DEPTH = 100;

/**
 * Largest frame (header + body) a provider reads before the handshake has
 * completed, in bytes: the handshake request itself (protocol.md 4.3). A
 * larger frame is refused from its header, never buffered.
 */
export const MAX_HANDSHAKE_FRAME = 16 * 1024;
/** Largest `credentials` value of a handshake request, in UTF-8 bytes (protocol.md 4.3). */
export const MAX_CREDENTIALS_BYTES = 8 * 1024;
