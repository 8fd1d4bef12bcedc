/** What a call's `service` and `method` labels become past the cap. */
export const OTHER = '<other>';
/** The `service` or `method` label of a call to something the provider does not serve. */
export const UNKNOWN = '<unknown>';

/** The label values of one (service, method) pair, and one label object per code: made once, reused by every call. */
export class LabelSet {
  private readonly byCode = new Map<string, { service: string; method: string; code: string }>();
  readonly labels: { service: string; method: string };

  constructor(service: string, method: string) {
    this.labels = { service, method };
  }

  /** `{ service, method, code }`; codes are a closed set (the error codes, `OK`, `OTHER`). */
  withCode(code: string): { service: string; method: string; code: string } {
    let l = this.byCode.get(code);
    if (l === undefined) {
      l = { service: this.labels.service, method: this.labels.method, code };
      this.byCode.set(code, l);
    }
    return l;
  }
}

/**
 * Bounds the distinct (service, method) label pairs of one side: the first
 * `max` pairs seen get their own labels, every later one shares
 * `{ service: '<other>', method: '<other>' }`. Memory stays bounded
 * whatever names calls carry. Lookups allocate nothing once a pair is known.
 */
export class LabelCap {
  private readonly services = new Map<string, Map<string, LabelSet>>();
  private size = 0;
  readonly other = new LabelSet(OTHER, OTHER);

  constructor(readonly max: number) {}

  /** Distinct pairs with their own labels so far (at most `max`). */
  get count(): number {
    return this.size;
  }

  of(service: string, method: string): LabelSet {
    let methods = this.services.get(service);
    const known = methods?.get(method);
    if (known !== undefined) return known;
    if (this.size >= this.max) return this.other;
    if (methods === undefined) {
      methods = new Map();
      this.services.set(service, methods);
    }
    const set = new LabelSet(service, method);
    methods.set(method, set);
    this.size++;
    return set;
  }
}
