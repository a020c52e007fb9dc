import type { UrlGuard } from "./ssrf.ts";

/** What one call to a backend endpoint came to. */
export type BackendAnswer =
  | { ok: true; status: number; body: unknown; latencyMs: number }
  | { ok: false; status: number; error: string; timedOut: boolean; latencyMs: number };

const MAX_REDIRECTS = 3;
const MAX_ANSWER_BYTES = 4 * 1024 * 1024;

/**
 * Calls a backend endpoint with the SSRF guard on the URL and on every redirect (followed by
 * hand, at most 3; a redirect into a refused range is an error), a timeout, and the backend's
 * API key as `Authorization: Bearer`. A non-2xx answer, a timeout or a refused URL is an error
 * answer, never a throw.
 */
export async function callBackend(
  guard: UrlGuard,
  url: string,
  options: { method: "GET" | "POST"; body?: unknown; apiKey?: string; timeoutMs: number; headers?: Record<string, string> },
): Promise<BackendAnswer> {
  const started = performance.now();
  const latency = () => Math.round(performance.now() - started);
  const signal = AbortSignal.timeout(options.timeoutMs);
  let target = url;
  try {
    for (let hop = 0; ; hop++) {
      const why = await guard.refusal(target);
      if (why) return { ok: false, status: 0, error: `refused ${hop ? "redirect to " : ""}${target}: ${why}`, timedOut: false, latencyMs: latency() };
      const res = await fetch(target, {
        method: options.method,
        redirect: "manual",
        signal,
        headers: {
          ...(options.body !== undefined ? { "content-type": "application/json" } : {}),
          ...(options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {}),
          ...options.headers,
        },
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
      });
      if (res.status >= 300 && res.status < 400 && res.headers.get("location")) {
        await res.body?.cancel();
        if (hop >= MAX_REDIRECTS) return { ok: false, status: res.status, error: `more than ${MAX_REDIRECTS} redirects`, timedOut: false, latencyMs: latency() };
        target = new URL(res.headers.get("location")!, target).toString();
        continue;
      }
      const text = await res.text();
      if (text.length > MAX_ANSWER_BYTES) return { ok: false, status: res.status, error: `answer larger than ${MAX_ANSWER_BYTES} bytes`, timedOut: false, latencyMs: latency() };
      if (!res.ok) return { ok: false, status: res.status, error: `HTTP ${res.status}${text ? `: ${text.slice(0, 200)}` : ""}`, timedOut: false, latencyMs: latency() };
      let body: unknown = undefined;
      if (text) {
        try {
          body = JSON.parse(text);
        } catch {
          body = text;
        }
      }
      return { ok: true, status: res.status, body, latencyMs: latency() };
    }
  } catch (e) {
    const timedOut = signal.aborted;
    return { ok: false, status: 0, error: timedOut ? `timed out after ${options.timeoutMs} ms` : (e as Error).message, timedOut, latencyMs: latency() };
  }
}
