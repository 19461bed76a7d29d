// What every parser fuzz test asserts, and how its inputs are made. A parser of a file or link a
// person hands us may refuse it only with our own error class (no TypeError or RangeError from deep
// inside, no V8 abort), may not allocate a buffer larger than what it was given (plus a small
// slack) before it has checked the sizes, and must answer quickly.
//
// Runs are bounded and seeded so that `vitest run` is repeatable; scripts/fuzz.sh raises FUZZ_RUNS
// and varies FUZZ_SEED for a long run.

import { appendFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll } from 'vitest';

/** Cases per property: the test's own default, or FUZZ_RUNS for a long run. */
export function fuzzRuns(defaultRuns: number): number {
  const runs = Number(process.env.FUZZ_RUNS);
  return Number.isInteger(runs) && runs > 0 ? runs : defaultRuns;
}

/**
 * Cases run in the test file that imports this, appended to FUZZ_COUNT_FILE after its tests, so
 * that scripts/fuzz.sh can say how many cases a long run tried.
 */
let casesRun = 0;
afterAll(() => {
  const countFile = process.env.FUZZ_COUNT_FILE;
  if (countFile) appendFileSync(countFile, `${casesRun}\n`);
});

/** fast-check parameters: a fixed seed per property unless FUZZ_SEED sets another. */
export function fuzzParameters(defaultRuns: number, seed: number): fc.Parameters<unknown> {
  const fromEnv = Number(process.env.FUZZ_SEED);
  return {
    numRuns: fuzzRuns(defaultRuns),
    seed: Number.isInteger(fromEnv) ? (fromEnv ^ seed) | 0 : seed,
    // One asynchronous case longer than this is a hang (synchronous ones are timed below).
    timeout: 5_000,
    endOnFailure: true,
  };
}

/** Thrown by the allocation guard: the parser asked for a buffer larger than its input allows. */
export class AllocationCapExceeded extends Error {
  override name = 'AllocationCapExceeded';
}

const GUARDED = [
  'ArrayBuffer',
  'SharedArrayBuffer',
  'Int8Array',
  'Uint8Array',
  'Uint8ClampedArray',
  'Int16Array',
  'Uint16Array',
  'Int32Array',
  'Uint32Array',
  'Float32Array',
  'Float64Array',
  'BigInt64Array',
  'BigUint64Array',
] as const;

/** Bytes a `new C(...args)` would allocate; a view over an existing buffer allocates none. */
function requestedBytes(name: string, args: unknown[]): number {
  const [first] = args;
  const perElement = name.endsWith('Buffer')
    ? 1
    : ((globalThis as unknown as Record<string, { BYTES_PER_ELEMENT: number }>)[name]?.BYTES_PER_ELEMENT ??
      1);
  if (typeof first === 'number') return first * perElement;
  if (
    first instanceof ArrayBuffer ||
    (typeof SharedArrayBuffer !== 'undefined' && first instanceof SharedArrayBuffer)
  )
    return 0;
  const length = (first as { length?: unknown } | null | undefined)?.length;
  return typeof length === 'number' ? length * perElement : 0;
}

/**
 * Runs `body` with every ArrayBuffer and typed-array constructor refusing more than `capBytes`
 * (parsers find the constructors on the global object when they run, so they see the guard). Typed
 * arrays made by slicing or by host code (Blob.arrayBuffer, TextEncoder) are not seen; those are
 * bounded by what they copy from.
 */
export async function withAllocationCap<T>(capBytes: number, body: () => Promise<T> | T): Promise<T> {
  const global = globalThis as unknown as Record<string, unknown>;
  const originals = GUARDED.map((name) => [name, global[name]] as const);
  for (const [name, original] of originals) {
    if (typeof original !== 'function') continue;
    global[name] = new Proxy(original, {
      construct(target, args, newTarget) {
        const bytes = requestedBytes(name, args);
        if (bytes > capBytes) {
          throw new AllocationCapExceeded(
            `new ${name}(…) asked for ${bytes} bytes, more than the ${capBytes}-byte cap for this input`,
          );
        }
        return Reflect.construct(target, args, newTarget);
      },
    });
  }
  try {
    return await body();
  } finally {
    for (const [name, original] of originals) global[name] = original;
  }
}

/** The allocation cap for an input of `bytes` bytes: its size, plus slack for small fixed buffers. */
export const capFor = (bytes: number): number => bytes + 64 * 1024;

/** Synchronous work that takes longer than this on one case counts as a hang. */
export const CASE_TIME_LIMIT_MS = 2_000;

type ErrorClass = abstract new (...args: never[]) => Error;

/**
 * Runs one parse of hostile input: it may succeed, or fail with one of `allowed`; anything else
 * (a TypeError from deep inside, an allocation past the cap, a case that takes too long) is
 * rethrown with what happened, so that fast-check shrinks the input and reports it.
 */
export async function expectOnlyTyped(
  allowed: readonly ErrorClass[],
  inputBytes: number,
  body: () => Promise<unknown> | unknown,
): Promise<void> {
  casesRun++;
  const started = performance.now();
  try {
    await withAllocationCap(capFor(inputBytes), body);
  } catch (error) {
    if (!allowed.some((c) => error instanceof c)) {
      const what = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      throw new Error(`a parser threw ${what} instead of ${allowed.map((c) => c.name).join(' or ')}`, {
        cause: error,
      });
    }
    if (!(error as Error).message) throw new Error(`${(error as Error).name} without a message`);
  }
  const took = performance.now() - started;
  if (took > CASE_TIME_LIMIT_MS) throw new Error(`one case took ${Math.round(took)} ms: a near-hang`);
}

/** Values that break naive parsers: huge, negative, fractional, non-finite-looking, wrong types. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(
    0,
    -1,
    1.5,
    -0.5,
    1e9,
    1e15,
    2 ** 31,
    2 ** 32,
    2 ** 53 + 2,
    1e308,
    -1e308,
    Number.MAX_SAFE_INTEGER,
    '',
    'NaN',
    'Infinity',
    '1e9',
    'constructor',
    '__proto__',
    null,
    true,
    false,
    [],
    {},
    [1e9, 1e9],
    [-1, 2],
    { length: 1e9 },
  ),
  fc.integer(),
  fc.double(),
  fc.string({ maxLength: 12 }),
  fc.array(fc.integer({ min: -5, max: 1 << 20 }), { maxLength: 4 }),
);

type Json = unknown;

/** Every place a value sits in a JSON tree: its container and key. */
function slots(value: Json, out: [Record<string, unknown> | unknown[], string | number][] = []) {
  if (Array.isArray(value)) {
    value.forEach((child, i) => {
      out.push([value, i]);
      slots(child, out);
    });
  } else if (typeof value === 'object' && value !== null) {
    for (const [key, child] of Object.entries(value)) {
      out.push([value as Record<string, unknown>, key]);
      slots(child, out);
    }
  }
  return out;
}

export interface JsonEdit {
  /** Which slot (modulo the count). */
  at: number;
  /** Aim at a slot holding a number: the sizes and ids that parsers allocate by. */
  numeric: boolean;
  kind: 'replace' | 'delete' | 'add';
  value: unknown;
  key: string;
}

const jsonEdit: fc.Arbitrary<JsonEdit> = fc.record({
  at: fc.nat(),
  numeric: fc.boolean(),
  kind: fc.constantFrom('replace', 'replace', 'replace', 'delete', 'add'),
  value: hostileValue,
  key: fc.oneof(fc.constantFrom('__proto__', 'constructor', 'length'), fc.string({ maxLength: 6 })),
});

/** Applies edits to a deep copy: a value replaced by a hostile one, a key deleted or added. */
export function applyJsonEdits(original: Json, edits: readonly JsonEdit[]): Json {
  const root = structuredClone(original);
  for (const edit of edits) {
    // A copy: constant values are shared between cases, and a later edit may reach inside this one.
    const value = structuredClone(edit.value);
    const all = slots(root);
    const numbers = all.filter(([c, k]) => typeof (c as Record<string | number, unknown>)[k] === 'number');
    const places = edit.numeric && numbers.length > 0 ? numbers : all;
    if (places.length === 0) break;
    const [container, key] = places[edit.at % places.length] as (typeof places)[number];
    if (edit.kind === 'replace') (container as Record<string | number, unknown>)[key] = value;
    else if (edit.kind === 'delete') {
      if (Array.isArray(container)) container.splice(key as number, 1);
      else delete container[key as string];
    } else if (!Array.isArray(container)) {
      // defineProperty, so that "__proto__" becomes an own key as JSON.parse would make it.
      Object.defineProperty(container, edit.key, {
        value,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    } else container.push(value);
  }
  return root;
}

/** Mutations of a valid JSON document, as the text a file would hold (sometimes cut short). */
export function mutatedJsonText(valid: Json): fc.Arbitrary<string> {
  return fc
    .tuple(
      fc.array(jsonEdit, { minLength: 1, maxLength: 4 }),
      // One document in six is cut short.
      fc.oneof({ arbitrary: fc.constant(null), weight: 5 }, { arbitrary: fc.nat(), weight: 1 }),
    )
    .map(([edits, cut]) => {
      const text = JSON.stringify(applyJsonEdits(valid, edits));
      return cut === null ? text : text.slice(0, cut % (text.length + 1));
    });
}

/** Mutations of a valid JSON document as a parsed value (for parsers handed objects). */
export function mutatedJson(valid: Json): fc.Arbitrary<Json> {
  return fc.array(jsonEdit, { minLength: 1, maxLength: 4 }).map((edits) => applyJsonEdits(valid, edits));
}

export interface ByteEdit {
  at: number;
  kind: 'flip' | 'int32' | 'uint64' | 'truncate' | 'append';
  value: number;
}

const INTERESTING_INTS = [0, 1, -1, 0x7fffffff, -0x80000000, 1e9, 65536, 28, 255];

const byteEdit: fc.Arbitrary<ByteEdit> = fc.record({
  at: fc.nat(),
  kind: fc.constantFrom('flip', 'flip', 'int32', 'int32', 'uint64', 'truncate', 'append'),
  value: fc.oneof(fc.constantFrom(...INTERESTING_INTS), fc.integer()),
});

/** Applies byte edits to a copy: bits flipped, little-endian fields overwritten, cut or extended. */
export function applyByteEdits(original: Uint8Array, edits: readonly ByteEdit[]): Uint8Array {
  let bytes = original.slice();
  for (const edit of edits) {
    const n = bytes.length;
    if (edit.kind === 'truncate') {
      bytes = bytes.slice(0, n === 0 ? 0 : edit.at % n);
      continue;
    }
    if (edit.kind === 'append') {
      const extra = new Uint8Array((edit.at % 64) + 1).fill(edit.value & 0xff);
      const joined = new Uint8Array(n + extra.length);
      joined.set(bytes);
      joined.set(extra, n);
      bytes = joined;
      continue;
    }
    if (n === 0) continue;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    // Fields sit at 4-byte boundaries in both binary formats fuzzed, so aim there most of the time.
    const at = edit.at % n;
    if (edit.kind === 'flip') bytes[at] = (bytes[at] as number) ^ (1 << (edit.value & 7));
    else if (edit.kind === 'int32' && n >= 4)
      view.setInt32(Math.min(at - (at % 4), n - 4), edit.value | 0, true);
    else if (edit.kind === 'uint64' && n >= 8) {
      view.setBigUint64(Math.min(at - (at % 8), n - 8), BigInt(Math.abs(edit.value)) * 4099n, true);
    }
  }
  return bytes;
}

/** Mutations of a valid binary file. */
export function mutatedBytes(valid: Uint8Array): fc.Arbitrary<Uint8Array> {
  return fc.array(byteEdit, { minLength: 1, maxLength: 5 }).map((edits) => applyByteEdits(valid, edits));
}

/** Random bytes, and random bytes that begin like the valid file (so the magic/length parses). */
export function randomBytes(valid: Uint8Array, prefixBytes: number): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    fc.uint8Array({ maxLength: 256 }),
    fc.uint8Array({ maxLength: 256 }).map((tail) => {
      const out = new Uint8Array(prefixBytes + tail.length);
      out.set(valid.subarray(0, prefixBytes));
      out.set(tail, prefixBytes);
      return out;
    }),
  );
}
