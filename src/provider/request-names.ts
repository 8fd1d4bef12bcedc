import type { ExportedMethod } from './service-registry.js';

/** Most name prefixes a server keeps (server-wide): enough for the methods a hot loop calls; the oldest is replaced. */
const MAX_NAMES = 16;
/** Longest name prefix kept, in bytes: a peer's long names are decoded each time, never held. */
export const MAX_NAME_BYTES = 256;

/**
 * The four names of a request (service, version, group, method) as their
 * bytes came, decoded once, and the method they name once it was found.
 * Names that named nothing are not cached with a method (a service may be
 * registered later); a method found stays valid (nothing is unregistered).
 */
export class RequestName {
  /** @internal The method these names resolve to, once found. */
  method: ExportedMethod | undefined;

  constructor(
    /** The encoded names: the bytes after the array header, up to the args. */
    readonly bytes: Uint8Array,
    readonly service: string,
    readonly version: string,
    readonly group: string,
    readonly name: string,
  ) {}
}

/**
 * The name prefixes of the requests a server received last: a request whose
 * names are byte for byte those of a recent one reuses its strings and its
 * method (no string decoded, no lookup). Bounded at MAX_NAMES entries.
 */
export class RequestNames {
  private readonly entries: RequestName[] = [];
  private next = 0;
  /** @internal What the last `decodeRequest` found or added here; undefined when it took the general path. */
  lastHit: RequestName | undefined;

  /** The entry whose bytes are `body[start, end)`, or undefined. */
  find(body: Uint8Array, start: number, end: number): RequestName | undefined {
    const length = end - start;
    for (const entry of this.entries) {
      const bytes = entry.bytes;
      if (bytes.length !== length) continue;
      let i = 0;
      while (i < length && bytes[i] === body[start + i]) i++;
      if (i === length) return entry;
    }
    return undefined;
  }

  /** Keeps `body[start, end)` (a copy: the body is a view of a socket chunk) with its decoded names. */
  add(body: Uint8Array, start: number, end: number, service: string, version: string, group: string, method: string): RequestName {
    const entry = new RequestName(Uint8Array.prototype.slice.call(body, start, end), service, version, group, method);
    if (this.entries.length < MAX_NAMES) this.entries.push(entry);
    else {
      this.entries[this.next] = entry;
      this.next = (this.next + 1) % MAX_NAMES;
    }
    return entry;
  }
}
