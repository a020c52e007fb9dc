import { ConnectError } from "@connectrpc/connect";

/** Reads `n` items from an iterator (shared across calls), failing after `ms`; fewer if it ends. */
export async function take<T>(iterator: AsyncIterator<T>, n: number, ms = 10_000): Promise<T[]> {
  const out: T[] = [];
  const deadline = Date.now() + ms;
  while (out.length < n) {
    const next = await Promise.race([iterator.next(), Bun.sleep(Math.max(0, deadline - Date.now())).then(() => "timeout" as const)]);
    if (next === "timeout") throw new Error(`timed out after ${out.length} of ${n}`);
    if (next.done) break;
    out.push(next.value);
  }
  return out;
}

/** The ConnectError a call failed with; throws when it succeeded. */
export async function rejection(p: Promise<unknown>): Promise<ConnectError> {
  try {
    await p;
  } catch (e) {
    return ConnectError.from(e);
  }
  throw new Error("expected the call to fail");
}
