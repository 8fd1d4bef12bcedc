import { MAX_DEPTH } from './constants.js';

/**
 * The check every application value passes before it is encoded (protocol.md
 * 4.8, README "Values"): what MessagePack carries faithfully goes as is, and
 * everything else is refused at the sender with a reason that names its path,
 * instead of arriving changed (a Map as an object, an Error as an array, a
 * function as nil).
 *
 * Sent as is: null, booleans, numbers, strings, bigints in the int64/uint64
 * range, Uint8Array (Buffer included), valid Dates, arrays, and plain objects
 * (prototype Object.prototype or null). undefined is nil in an array and
 * omitted from an object (the encoder is told so: OMIT_UNDEFINED).
 *
 * One pass, no copy, nothing allocated unless the value is refused. The walk
 * recurses, bounded by MAX_VALUE_DEPTH; a circular value is found when it
 * reaches that bound (a cycle is infinitely deep), so a value that is fine
 * pays nothing for the cycle check.
 */

/** The value can be encoded as it is. */
export const AS_IS = 0;
/** The value can be encoded once its undefined object properties are omitted (see codec.ts). */
export const OMIT_UNDEFINED = 1;
/** What checkValue and checkArgs return: AS_IS, OMIT_UNDEFINED, or the refusal message. */
type Sendable = typeof AS_IS | typeof OMIT_UNDEFINED;
export type ValueCheck = Sendable | string;

/**
 * Deepest nesting of arrays and objects in a value, the value itself being
 * level 1: a request (and a push) holds its arguments two levels down
 * (`[service, ..., [args], ...]`), and the receiver refuses past MAX_DEPTH.
 */
export const MAX_VALUE_DEPTH = MAX_DEPTH - 2;

/**
 * Most values (objects, array slots, properties) one check visits: every
 * value costs at least one encoded byte, so this is more than a default 8 MiB
 * frame can carry. It bounds the walk of a value that shares subtrees (a DAG
 * is walked once per path) or claims a huge sparse length, which would
 * otherwise block the event loop.
 */
export const MAX_VALUES = 1 << 24;

/** Values visited by the check under way (reset at each entry point; the walk is synchronous). */
let visited = 0;

const enum Kind {
  Refused,
  TooDeep,
}

/** A refusal on its way up: path segments and the containers holding them, innermost first. */
class Fault {
  readonly keys: Array<string | number> = [];
  readonly containers: object[] = [];
  constructor(
    readonly kind: Kind,
    readonly reason: string,
  ) {}
}

/**
 * Checks one value (a result, an argument); `where` starts the message
 * (`result`, `argument 2`). The top level may be undefined: the caller
 * decides what that means. `level` is the nesting level the value itself
 * counts as (default 1): a value placed deeper in a body than a result or
 * an argument (the details of an error's cause, protocol.md 4.2) starts
 * lower, so that the whole body stays within MAX_DEPTH. Throws only what a
 * getter or proxy of `value` throws.
 */
export function checkValue(value: unknown, where: string, level = 1): ValueCheck {
  visited = 0;
  const t = typeof value;
  if (t === 'string' || t === 'number' || t === 'boolean' || value === null || value === undefined) return AS_IS;
  const r = t === 'object' ? checkObject(value as object, level) : checkOther(value, t);
  return typeof r === 'number' ? r : describe(where, r);
}

/**
 * Checks the arguments of a call or a push, except the positions in
 * `callbacks` (declared callbacks, encoded as ids). An undefined argument is
 * nil (trailing ones are dropped before, see trimArgs). A function at another
 * position is refused with a hint about declaring it.
 */
export function checkArgs(args: readonly unknown[], callbacks?: readonly number[]): ValueCheck {
  visited = 0;
  let found: ValueCheck = AS_IS;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const t = typeof arg;
    if (t === 'string' || t === 'number' || t === 'boolean' || arg === null || arg === undefined) continue;
    if (callbacks !== undefined && callbacks.includes(i)) continue;
    if (t === 'function') return `argument ${i}: a function cannot be sent; declare a callback at this position (callbacks: [${i}]) to pass one`;
    const r = t === 'object' ? checkObject(arg as object, 1) : checkOther(arg, t);
    if (r === OMIT_UNDEFINED) found = OMIT_UNDEFINED;
    else if (r !== AS_IS) return describe(`argument ${i}`, r as Fault);
  }
  return found;
}

/**
 * `args` without its trailing undefined elements, so that the handler's
 * parameter defaults apply; the same array when there are none.
 */
export function trimArgs(args: unknown[]): unknown[] {
  let n = args.length;
  while (n > 0 && args[n - 1] === undefined) n--;
  return n === args.length ? args : args.slice(0, n);
}

const BUFFER_PROTOTYPE: unknown = Buffer.prototype;
const INT64_MIN = -(2n ** 63n);
const UINT64_MAX = 2n ** 64n - 1n;

/** A value that is neither an object, null, undefined nor a string, number or boolean. */
function checkOther(value: unknown, t: string): Sendable | Fault {
  if (t === 'bigint') {
    const v = value as bigint;
    return v >= INT64_MIN && v <= UINT64_MAX ? AS_IS : new Fault(Kind.Refused, 'a bigint beyond 64 bits cannot be sent (int64/uint64 range); send it as a string');
  }
  if (t === 'function') return new Fault(Kind.Refused, 'a function cannot be sent (only as a declared callback argument)');
  return new Fault(Kind.Refused, `a ${t} cannot be sent`); // symbol
}

/** A non-null object at nesting level `depth`. */
function checkObject(value: object, depth: number): Sendable | Fault {
  if (depth > MAX_VALUE_DEPTH) {
    const f = new Fault(Kind.TooDeep, `nesting deeper than ${MAX_VALUE_DEPTH} levels cannot be sent`);
    f.containers.push(value);
    return f;
  }
  if (++visited > MAX_VALUES) return tooLarge();
  let found: Sendable = AS_IS;
  // Tested by prototype first: plain objects, arrays and Buffers cost one lookup each.
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) {
    // for-in, not Object.keys (a third cheaper: no array): the same keys, the encoder's,
    // unless Object.prototype was given enumerable keys, which are then checked too.
    for (const key in value) {
      if (++visited > MAX_VALUES) return tooLarge();
      if (key === '__proto__') return up(new Fault(Kind.Refused, 'an own key "__proto__" cannot be sent (receivers refuse it)'), key, value);
      const item: unknown = (value as Record<string, unknown>)[key];
      const t = typeof item;
      if (t === 'string' || t === 'number' || t === 'boolean' || item === null) continue;
      if (item === undefined) {
        found = OMIT_UNDEFINED; // omitted, as JSON.stringify does
        continue;
      }
      const r = t === 'object' ? checkObject(item as object, depth + 1) : checkOther(item, t);
      if (r === AS_IS) continue;
      if (r === OMIT_UNDEFINED) {
        found = OMIT_UNDEFINED;
        continue;
      }
      return up(r as Fault, key, value);
    }
    return found;
  }
  if (proto === Array.prototype && Array.isArray(value)) {
    // msgpackr picks the encoding by `value.constructor`: an own `constructor` would make it write a map.
    if ((value as { constructor?: unknown }).constructor !== Array) return new Fault(Kind.Refused, 'an array with its own "constructor" property cannot be sent');
    // Counted before the loop, so a huge sparse length is refused at once.
    if ((visited += value.length) > MAX_VALUES) return tooLarge();
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      const t = typeof item;
      // undefined in an array is nil, as in JSON.
      if (t === 'string' || t === 'number' || t === 'boolean' || item === null || item === undefined) continue;
      const r = t === 'object' ? checkObject(item as object, depth + 1) : checkOther(item, t);
      if (r === AS_IS) continue;
      if (r === OMIT_UNDEFINED) {
        found = OMIT_UNDEFINED;
        continue;
      }
      return up(r as Fault, i, value);
    }
    return found;
  }
  if (proto === BUFFER_PROTOTYPE || value instanceof Uint8Array) return AS_IS; // bin
  // Exactly a Date: msgpackr encodes a subclass through its toJSON(), which this check never saw.
  if (proto === Date.prototype) return Number.isNaN((value as Date).getTime()) ? new Fault(Kind.Refused, 'an invalid Date cannot be sent') : AS_IS;
  return new Fault(Kind.Refused, objectReason(value));
}

function tooLarge(): Fault {
  return new Fault(Kind.Refused, `a value of more than ${MAX_VALUES} parts (objects, properties, array slots) cannot be sent: larger than any frame carries`);
}

function up(f: Fault, key: string | number, container: object): Fault {
  f.keys.push(key);
  f.containers.push(container);
  return f;
}

/** Why an object that is not plain data is refused, with how to send it instead. */
function objectReason(value: object): string {
  if (value instanceof Map) return 'a Map cannot be sent; convert it with Object.fromEntries(map)';
  if (value instanceof Set) return 'a Set cannot be sent; convert it with [...set]';
  if (value instanceof WeakMap) return 'a WeakMap cannot be sent';
  if (value instanceof WeakSet) return 'a WeakSet cannot be sent';
  if (value instanceof Error) return `${safeName(value) === 'Error' ? 'an Error' : `an Error (${safeName(value)})`} cannot be sent; send a plain object such as { name: err.name, message: err.message }, or throw it to fail the call`;
  if (value instanceof RegExp) return 'a RegExp cannot be sent; send its source as a string';
  if (value instanceof Promise) return 'a Promise cannot be sent; await it first';
  if (ArrayBuffer.isView(value)) return `${article(safeName(value))} cannot be sent (of the typed arrays, only Uint8Array and Buffer); send its bytes, e.g. Buffer.from(view.buffer, view.byteOffset, view.byteLength)`;
  if (value instanceof ArrayBuffer || (typeof SharedArrayBuffer === 'function' && value instanceof SharedArrayBuffer)) {
    return `${article(safeName(value))} cannot be sent; wrap it in a Uint8Array (new Uint8Array(buffer))`;
  }
  return classReason(value);
}

function classReason(value: object): string {
  const name = safeName(value);
  // Object.create(proto) inherits Object as its constructor.
  const what = name === 'Object' ? 'an object whose prototype is not Object.prototype' : `an instance of ${name}`;
  return `${what} cannot be sent; send a plain object instead, e.g. { ...value }`;
}

function article(name: string): string {
  return /^[AEIO]/.test(name) ? `an ${name}` : `a ${name}`;
}

/** The constructor's name, read without trusting the object (getters and proxies may throw or lie). */
function safeName(value: object): string {
  try {
    const name: unknown = (value as { constructor?: { name?: unknown } }).constructor?.name;
    return typeof name === 'string' && name !== '' ? clip(name) : 'a class';
  } catch {
    return 'a class';
  }
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

function clip(s: string): string {
  return s.length > 40 ? `${s.slice(0, 40)}...` : s;
}

/** `<where> <path>: <reason>`; a value too deep because it is circular says so, at the path where it comes back. */
function describe(where: string, f: Fault): string {
  const keys = f.keys.reverse();
  let reason = f.reason;
  if (f.kind === Kind.TooDeep) {
    // containers[i] (outermost first) is reached by keys[0..i); the first one already on the path closes a cycle.
    const containers = f.containers.reverse();
    const seen = new Set<object>();
    for (let i = 0; i < containers.length; i++) {
      if (seen.has(containers[i]!)) {
        keys.length = i;
        reason = 'a circular reference cannot be sent';
        break;
      }
      seen.add(containers[i]!);
    }
  }
  const segments = keys.map((key) => (typeof key === 'number' ? `[${key}]` : IDENTIFIER.test(key) ? `.${clip(key)}` : `[${JSON.stringify(clip(key))}]`));
  // A path hundreds of levels long says no more than its two ends.
  if (segments.length > 16) segments.splice(8, segments.length - 12, `...${segments.length - 12} more...`);
  const path = segments.join('');
  return path === '' ? `${where}: ${reason}` : `${where} ${path}: ${reason}`;
}
