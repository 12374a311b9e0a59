// A small validator for control API requests: checks untrusted JSON and names the offending field; types are inferred.

export type Checked<T> = { ok: true; value: T } | { ok: false; field: string; message: string };

export interface Schema<T> {
  readonly optional: boolean;
  /** What the value must be, for messages ("a string of at most 64 characters"). */
  readonly expected: string;
  check(v: unknown, field: string): Checked<T>;
}

export type Infer<S> = S extends Schema<infer T> ? T : never;

const fail = (field: string, message: string): Checked<never> => ({ ok: false, field, message });
const describe = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'string' ? 'a string' : typeof v === 'object' ? 'an object' : typeof v);

function schema<T>(expected: string, check: (v: unknown, field: string) => Checked<T>): Schema<T> {
  return { optional: false, expected, check };
}

export function string(opts: { min?: number; max?: number; pattern?: RegExp; what?: string } = {}): Schema<string> {
  const max = opts.max ?? 256;
  const min = opts.min ?? 0;
  const expected = opts.what ?? `a string of ${min > 0 ? `${min} to ` : 'at most '}${max} characters`;
  return schema(expected, (v, field) => {
    if (typeof v !== 'string') return fail(field, `must be ${expected} (got ${describe(v)})`);
    if (v.length < min || v.length > max) return fail(field, `must be ${expected} (got ${v.length} characters)`);
    if (opts.pattern && !opts.pattern.test(v)) return fail(field, `must be ${expected}`);
    return { ok: true, value: v };
  });
}

export function oneOf<const T extends string>(values: readonly T[]): Schema<T> {
  const expected = `one of ${values.map((v) => `"${v}"`).join(', ')}`;
  return schema(expected, (v, field) => ((values as readonly unknown[]).includes(v) ? { ok: true, value: v as T } : fail(field, `must be ${expected}${typeof v === 'string' ? ` (got "${v.slice(0, 40)}")` : ''}`)));
}

export function int(opts: { min?: number; max?: number } = {}): Schema<number> {
  const min = opts.min ?? 0;
  const max = opts.max ?? Number.MAX_SAFE_INTEGER;
  const expected = `an integer from ${min} to ${max}`;
  return schema(expected, (v, field) => (typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max ? { ok: true, value: v } : fail(field, `must be ${expected}`)));
}

export function boolean(): Schema<boolean> {
  return schema('true or false', (v, field) => (typeof v === 'boolean' ? { ok: true, value: v } : fail(field, 'must be true or false')));
}

export function array<T>(item: Schema<T>, opts: { max?: number } = {}): Schema<T[]> {
  const max = opts.max ?? 64;
  return schema(`a list of at most ${max} items, each ${item.expected}`, (v, field) => {
    if (!Array.isArray(v)) return fail(field, `must be a list (got ${describe(v)})`);
    if (v.length > max) return fail(field, `must have at most ${max} items`);
    const out: T[] = [];
    for (let i = 0; i < v.length; i++) {
      const r = item.check(v[i], `${field}[${i}]`);
      if (!r.ok) return r;
      out.push(r.value);
    }
    return { ok: true, value: out };
  });
}

export interface OptionalSchema<T> extends Schema<T | undefined> {
  readonly optional: true;
}

export function optional<T>(s: Schema<T>): OptionalSchema<T> {
  return { ...s, optional: true, check: (v, field) => (v === undefined ? { ok: true, value: undefined } : s.check(v, field)) };
}

type Shape = Record<string, Schema<unknown>>;
type OptionalKeys<S extends Shape> = { [K in keyof S]: S[K] extends OptionalSchema<unknown> ? K : never }[keyof S];
type Simplify<T> = { [K in keyof T]: T[K] };
export type ObjectOf<S extends Shape> = Simplify<
  { [K in Exclude<keyof S, OptionalKeys<S>>]: Infer<S[K]> } & { [K in OptionalKeys<S>]?: Exclude<Infer<S[K]>, undefined> }
>;

/** A JSON object with exactly these keys (unknown keys are errors, so a typo never silently does nothing). */
export function object<S extends Shape>(shape: S): Schema<ObjectOf<S>> & { shape: S } {
  const keys = Object.keys(shape);
  const s = schema<ObjectOf<S>>('an object', (v, field) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return fail(field, `must be an object (got ${describe(v)})`);
    const rec = v as Record<string, unknown>;
    for (const k of Object.keys(rec)) {
      if (!keys.includes(k)) return fail(field ? `${field}.${k}` : k, `unknown field${keys.length ? ` (expected ${keys.join(', ')})` : ' (this command takes no arguments)'}`);
    }
    const out: Record<string, unknown> = {};
    for (const k of keys) {
      const sub = shape[k] as Schema<unknown>;
      const path = field ? `${field}.${k}` : k;
      if (rec[k] === undefined && !sub.optional) return fail(path, `is required (${sub.expected})`);
      const r = sub.check(rec[k], path);
      if (!r.ok) return r;
      if (r.value !== undefined) out[k] = r.value;
    }
    return { ok: true, value: out as ObjectOf<S> };
  });
  return { ...s, shape };
}
