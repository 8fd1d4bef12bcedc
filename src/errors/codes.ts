/**
 * The registry of Heartline error codes. Each code has a fixed wire status
 * (header byte 4 of a response) and says whether a consumer may safely send the
 * same call again, to this or another provider: "safe" means the provider
 * certainly did not run the handler (and retrying may help).
 *
 * `protocol.md` lists the same table; `test/errors/codes-doc.test.ts` keeps
 * the two in step both ways. Code branches on `code`, never on message text.
 */

/** Status byte of a successful response. */
export const STATUS_OK = 0;

interface CodeInfo {
  /** Wire status byte. */
  readonly status: number;
  /** True when the handler certainly did not run, so a retry is safe. */
  readonly retrySafe: boolean;
  /** True when a provider may send this status in a response frame. */
  readonly onWire: boolean;
}

export const ERROR_CODES = {
  TIMEOUT: { status: 1, retrySafe: false, onWire: false },
  CONNECTION_LOST_UNWRITTEN: { status: 2, retrySafe: true, onWire: false },
  CONNECTION_LOST_WRITTEN: { status: 3, retrySafe: false, onWire: false },
  CONNECT_FAILED: { status: 4, retrySafe: true, onWire: false },
  SERVICE_NOT_FOUND: { status: 5, retrySafe: true, onWire: true },
  METHOD_NOT_FOUND: { status: 6, retrySafe: true, onWire: true },
  BAD_REQUEST: { status: 7, retrySafe: false, onWire: true },
  HANDLER_ERROR: { status: 8, retrySafe: false, onWire: true },
  LIMIT_EXCEEDED: { status: 9, retrySafe: true, onWire: true },
  PAYLOAD_TOO_LARGE: { status: 10, retrySafe: false, onWire: true },
  PROTOCOL_ERROR: { status: 11, retrySafe: false, onWire: true },
  UNAVAILABLE: { status: 12, retrySafe: true, onWire: true },
  CANCELLED: { status: 13, retrySafe: false, onWire: false },
  CLIENT_CLOSED: { status: 14, retrySafe: false, onWire: false },
  SERIALIZATION_ERROR: { status: 15, retrySafe: false, onWire: true },
  INVALID_CONFIG: { status: 16, retrySafe: false, onWire: false },
  CALLBACK_RELEASED: { status: 17, retrySafe: false, onWire: true },
  SERVER_CLOSED: { status: 18, retrySafe: false, onWire: false },
  LISTEN_FAILED: { status: 19, retrySafe: false, onWire: false },
  DEADLINE_EXCEEDED: { status: 20, retrySafe: true, onWire: true },
  UNAUTHENTICATED: { status: 21, retrySafe: false, onWire: true },
  PERMISSION_DENIED: { status: 22, retrySafe: false, onWire: true },
} as const satisfies Record<string, CodeInfo>;

export type ErrorCode = keyof typeof ERROR_CODES;

const byStatus = new Map<number, ErrorCode>();
for (const code of Object.keys(ERROR_CODES) as ErrorCode[]) byStatus.set(ERROR_CODES[code].status, code);

/** The code for a wire status, or undefined for an unknown status. */
export function codeForStatus(status: number): ErrorCode | undefined {
  return byStatus.get(status);
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CODES, value);
}
