/**
 * Values keyed by request id (an integer from 0 to 2^32 - 1): an open-addressed
 * hash table (linear probing, backward-shift deletion, no tombstones) whose
 * `set` and `delete` allocate nothing. A Map's deletes leave holes that its
 * rehashes then reallocate: with one set and one delete per call, that was
 * about 86 bytes per call and per table (bench/cpu.ts, BENCH_ALLOC).
 *
 * The capacity is a power of two, doubled when the table is half full and
 * halved once it has stayed under a quarter full while as many deletes as it
 * has slots left it under an eighth full (never below MIN_CAPACITY): memory
 * follows the live entries, and a count that swings between empty and a
 * batch (calls in flight arrive and finish in batches) does not resize it
 * back and forth; it never resizes more than once per `capacity` operations. Ids are spread by Fibonacci hashing of the id XORed
 * with a random key per table: the sequential ids of one connection still
 * fill the slots evenly (XOR maps an aligned run of ids onto another), and a
 * peer that does not know the key cannot pick ids that collide to make each
 * lookup of its frames cost O(calls in flight), as it could with a Map (V8
 * hashes integer keys unseeded).
 */
const MIN_CAPACITY = 16;

export class IdTable<V> {
  /** 0 marks an empty slot (0 is never an id). */
  private keys = new Uint32Array(MIN_CAPACITY);
  private vals: (V | undefined)[] = new Array<V | undefined>(MIN_CAPACITY).fill(undefined);
  private shift = 32 - Math.log2(MIN_CAPACITY);
  private count = 0;
  /** XORed into ids before hashing: random per table. */
  private readonly key = (Math.random() * 0x100000000) | 0;
  /** Deletes that left the table under an eighth full since it was last resized or over a quarter full. */
  private lowDeletes = 0;
  /** The value of id 0, which marks empty slots in `keys` (no Heartline call has it, but a peer may send it). */
  private zero: V | undefined = undefined;

  get size(): number {
    return this.count;
  }

  get(id: number): V | undefined {
    if (id === 0) return this.zero;
    const keys = this.keys;
    const mask = keys.length - 1;
    for (let i = this.home(id); ; i = (i + 1) & mask) {
      const k = keys[i]!;
      if (k === id) return this.vals[i];
      if (k === 0) return undefined;
    }
  }

  has(id: number): boolean {
    return this.get(id) !== undefined;
  }

  /** Sets the value of `id` (from 0 to 2^32 - 1), replacing any; `value` is never undefined. */
  set(id: number, value: V): void {
    if (id === 0) {
      if (this.zero === undefined) this.count++;
      this.zero = value;
      return;
    }
    const keys = this.keys;
    const mask = keys.length - 1;
    let i = this.home(id);
    for (; ; i = (i + 1) & mask) {
      const k = keys[i]!;
      if (k === id) {
        this.vals[i] = value;
        return;
      }
      if (k === 0) break;
    }
    keys[i] = id;
    this.vals[i] = value;
    this.count++;
    const n = this.inTable();
    if (n * 2 > keys.length) this.resize(keys.length * 2);
    else if (n * 4 > keys.length) this.lowDeletes = 0; // busy again: the quiet spell a shrink waits for starts over
  }

  /** Removes `id`; false when it was absent. */
  delete(id: number): boolean {
    if (id === 0) {
      if (this.zero === undefined) return false;
      this.zero = undefined;
      this.count--;
      return true;
    }
    const keys = this.keys;
    const vals = this.vals;
    const mask = keys.length - 1;
    let i = this.home(id);
    for (; ; i = (i + 1) & mask) {
      const k = keys[i]!;
      if (k === id) break;
      if (k === 0) return false;
    }
    // Backward shift: move up every entry of the run after `i` that may live at `i`, so no lookup stops early.
    let hole = i;
    for (let j = (i + 1) & mask; keys[j] !== 0; j = (j + 1) & mask) {
      const home = this.home(keys[j]!);
      // The entry at j may fill the hole unless its home lies cyclically in (hole, j].
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        keys[hole] = keys[j]!;
        vals[hole] = vals[j];
        hole = j;
      }
    }
    keys[hole] = 0;
    vals[hole] = undefined;
    this.count--;
    if (this.inTable() * 8 < keys.length && keys.length > MIN_CAPACITY && ++this.lowDeletes >= keys.length) this.resize(keys.length / 2);
    return true;
  }

  /** The values, in no particular order (a copy: the table may change while the caller goes through them). */
  values(): V[] {
    const out: V[] = this.zero === undefined ? [] : [this.zero];
    const keys = this.keys;
    for (let i = 0; i < keys.length; i++) if (keys[i] !== 0) out.push(this.vals[i]!);
    return out;
  }

  /** The ids, in no particular order (a copy). */
  ids(): number[] {
    const out: number[] = this.zero === undefined ? [] : [0];
    for (const k of this.keys) if (k !== 0) out.push(k);
    return out;
  }

  clear(): void {
    this.keys = new Uint32Array(MIN_CAPACITY);
    this.vals = new Array<V | undefined>(MIN_CAPACITY).fill(undefined);
    this.shift = 32 - Math.log2(MIN_CAPACITY);
    this.count = 0;
    this.zero = undefined;
  }

  /** Entries in `keys` (id 0 is not). */
  private inTable(): number {
    return this.zero === undefined ? this.count : this.count - 1;
  }

  private home(id: number): number {
    return Math.imul(id ^ this.key, 0x9e3779b1) >>> this.shift;
  }

  private resize(capacity: number): void {
    this.lowDeletes = 0;
    const keys = this.keys;
    const vals = this.vals;
    this.keys = new Uint32Array(capacity);
    this.vals = new Array<V | undefined>(capacity).fill(undefined);
    this.shift = 32 - Math.log2(capacity);
    const mask = capacity - 1;
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]!;
      if (k === 0) continue;
      let j = this.home(k);
      while (this.keys[j] !== 0) j = (j + 1) & mask;
      this.keys[j] = k;
      this.vals[j] = vals[i];
    }
  }
}
