/**
 * What "a reader survives bad input" means, checked on one call: it returns, or it throws one of
 * alexc's own errors (AlexcError) whose exit code the reader documents and whose message is one
 * line that names the file; it finishes within a time bound; and it allocates no typed array or
 * Buffer larger than a budget set by the input's size, so that a header claiming a huge tensor is
 * refused before anything is allocated for it.
 */
import { AlexcError } from "../../../src/graph/errors";

export interface Verdict {
  readonly ok: boolean;
  /** Why the call is a failure (empty when ok). */
  readonly why: string;
  /** The clean error's exit code, or 0 when the reader returned. */
  readonly exitCode: number;
}

export interface Expectation {
  /** The exit codes this reader's errors may carry. */
  readonly exitCodes: readonly number[];
  /** Text every message starts with (the file's name), so the user knows which file is bad. */
  readonly source: string;
  readonly timeLimitMs: number;
  /** The largest single allocation allowed, in bytes, for this input. */
  readonly allocationBudget: number;
}

const TYPED = ["Float32Array", "Float64Array", "Int32Array", "Uint8Array", "BigInt64Array", "Uint16Array", "Int8Array", "Uint32Array"] as const;

/**
 * Runs `fn` with every typed-array constructor and Buffer.alloc* reporting the largest allocation
 * asked for by length (views of existing memory and copies of existing arrays do not count).
 */
export function withAllocationWatch<T>(fn: () => T): { result?: T; error?: unknown; largest: number } {
  const g = globalThis as unknown as Record<string, unknown>;
  const saved = new Map<string, unknown>();
  let largest = 0;
  const note = (bytes: number) => (largest = Math.max(largest, bytes));
  for (const name of TYPED) {
    const Ctor = g[name] as { BYTES_PER_ELEMENT: number } & (new (...a: unknown[]) => unknown);
    saved.set(name, Ctor);
    g[name] = new Proxy(Ctor, {
      construct(target, args, newTarget) {
        if (typeof args[0] === "number") note(args[0] * Ctor.BYTES_PER_ELEMENT);
        return Reflect.construct(target, args, newTarget);
      },
    });
  }
  const buffer = Buffer as unknown as Record<string, (n: number, ...rest: unknown[]) => Buffer>;
  const allocs = ["alloc", "allocUnsafe", "allocUnsafeSlow"].map((k) => [k, buffer[k]] as const);
  for (const [k, f] of allocs) buffer[k] = (n: number, ...rest: unknown[]) => (note(n), f.call(Buffer, n, ...rest));
  try {
    return { result: fn(), largest };
  } catch (error) {
    return { error, largest };
  } finally {
    for (const [name, Ctor] of saved) g[name] = Ctor;
    for (const [k, f] of allocs) buffer[k] = f;
  }
}

/** Judges one call of a reader on (possibly damaged) input. */
export function judge(fn: () => unknown, e: Expectation): Verdict {
  const t0 = performance.now();
  const { error, largest } = withAllocationWatch(fn);
  const ms = performance.now() - t0;
  const fail = (why: string): Verdict => ({ ok: false, why, exitCode: -1 });
  if (largest > e.allocationBudget) return fail(`allocated ${largest} bytes at once, over the budget of ${e.allocationBudget} for this input`);
  if (ms > e.timeLimitMs) return fail(`took ${ms.toFixed(0)} ms, over ${e.timeLimitMs} ms`);
  if (error === undefined) return { ok: true, why: "", exitCode: 0 };
  if (!(error instanceof AlexcError)) return fail(`threw ${(error as Error)?.constructor?.name ?? typeof error}: ${(error as Error)?.stack ?? String(error)}`);
  if (!e.exitCodes.includes(error.exitCode)) return fail(`exit code ${error.exitCode} (${error.name}), expected one of ${e.exitCodes.join(", ")}: ${error.message}`);
  if (/\n/.test(error.message)) return fail(`message of more than one line: ${JSON.stringify(error.message)}`);
  if (!error.message.startsWith(e.source)) return fail(`message does not name the file ${e.source}: ${error.message}`);
  return { ok: true, why: "", exitCode: error.exitCode };
}
