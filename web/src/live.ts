import { useEffect, useRef, useState } from "react";
import { describeError } from "./transport.ts";

export type StreamState = "connecting" | "live" | "reconnecting" | "stopped" | "ended";

/**
 * Runs a server stream and keeps it alive: on a lost stream it waits (1 s, doubling to 15 s)
 * and opens it again; `open` receives the abort signal and whatever cursor the caller keeps, so
 * a subscriber can resume where it stopped. Permanent errors (unimplemented, unauthenticated)
 * stop the loop and are reported.
 */
export function useStream(
  open: (signal: AbortSignal) => AsyncIterable<unknown> | Promise<void>,
  deps: unknown[],
  options: { ended?: () => boolean } = {},
): { state: StreamState; error: string } {
  const endedRef = useRef(options.ended);
  endedRef.current = options.ended;
  const [state, setState] = useState<StreamState>("connecting");
  const [error, setError] = useState("");
  const openRef = useRef(open);
  openRef.current = open;
  useEffect(() => {
    const abort = new AbortController();
    let delay = 1000;
    (async () => {
      while (!abort.signal.aborted) {
        try {
          setState("connecting");
          const result = openRef.current(abort.signal);
          setState("live");
          setError("");
          if (result && Symbol.asyncIterator in (result as object)) {
            for await (const _ of result as AsyncIterable<unknown>) delay = 1000;
          } else await result;
          // A stream with a natural end (a finished session) is not reopened.
          if (endedRef.current?.()) {
            setState("ended");
            return;
          }
        } catch (e) {
          if (abort.signal.aborted) return;
          const d = describeError(e);
          setError(d.reason ? `${d.reason}: ${d.message}` : d.message);
          if (d.unimplemented || d.unauthenticated) {
            setState("stopped");
            return;
          }
        }
        if (abort.signal.aborted) return;
        setState("reconnecting");
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 15_000);
      }
    })();
    return () => abort.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  return { state, error };
}
