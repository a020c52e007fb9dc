/**
 * Operations that run on both dialects.
 *
 * A domain writes its reads and writes once, as generator functions over its store. Each store
 * call is delegated to with `yield*`; a SQLite store answers synchronously (its generator
 * returns without yielding), a PostgreSQL store yields the promise of its query and gets the
 * rows back. The same operation therefore runs
 *
 * - **synchronously** on SQLite (`runSync`): a group-commit transaction still runs in one turn of
 *   the event loop, so no other code ever sees a half-done group, exactly as before; and
 * - **asynchronously** on PostgreSQL (`runAsync`): each yielded promise is awaited on the
 *   group's connection.
 *
 * Only store methods yield. Domain rules (checks, state transitions, event buffers) stay plain
 * code between the `yield*`s.
 */
export type Op<T> = Generator<unknown, T, unknown>;

/** A step that the driver settles: a plain value (answered at once) or a promise (awaited). */
export function* step<T>(value: T | PromiseLike<T>): Op<T> {
  return (yield value) as T;
}

/** An operation that does nothing but answer `value` (for stores that answer synchronously). */
// eslint-disable-next-line require-yield
export function* done<T>(value: T): Op<T> {
  return value;
}

const isThenable = (v: unknown): v is PromiseLike<unknown> =>
  v !== null && (typeof v === "object" || typeof v === "function") && typeof (v as { then?: unknown }).then === "function";

/** Raised when an operation meant for SQLite yields a promise (a store that is not synchronous). */
export class AsyncStepError extends Error {
  constructor() {
    super("a synchronous (SQLite) operation yielded a promise");
    this.name = "AsyncStepError";
  }
}

/** Runs an operation to its end in this turn; every step must be a plain value. */
export function runSync<T>(op: Op<T>): T {
  let r = op.next();
  while (!r.done) {
    if (isThenable(r.value)) {
      // Settle the stray promise's rejection so that it is not reported as unhandled.
      (r.value as Promise<unknown>).then(undefined, () => {});
      op.return(undefined as never);
      throw new AsyncStepError();
    }
    r = op.next(r.value);
  }
  return r.value;
}

/** Runs an operation, awaiting each step that is a promise; a rejected step is thrown into it. */
export async function runAsync<T>(op: Op<T>): Promise<T> {
  let r = op.next();
  while (!r.done) {
    let value: unknown;
    if (isThenable(r.value)) {
      try {
        value = await r.value;
      } catch (error) {
        r = op.throw(error);
        continue;
      }
    } else value = r.value;
    r = op.next(value);
  }
  return r.value;
}

/** Runs several operations one after another, collecting their answers. */
export function* sequence<T>(ops: Op<T>[]): Op<T[]> {
  const out: T[] = [];
  for (const op of ops) out.push(yield* op);
  return out;
}
