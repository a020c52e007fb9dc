import type { RequestMetrics } from "../../../system/metrics.ts";
import type { NodeResponse } from "../../http-io.ts";

/** The security headers seed 004's worker answers with. */
export const SECURITY_HEADERS: Record<string, string> = {
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "strict-origin-when-cross-origin",
  "x-xss-protection": "0",
};

/**
 * Seed 004's per-answer headers: the security headers, `X-Request-Count` (requests answered by
 * this process, this one included) and `X-Response-Time` (`<ms>ms`, measured when the head is
 * written, so a stream reports its time to first byte).
 */
export function seed004Headers(metrics: RequestMetrics) {
  return (res: NodeResponse) => {
    const started = performance.now();
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
    res.setHeader("x-request-count", String(metrics.snapshot().total + 1));
    const writeHead = res.writeHead.bind(res) as (...args: unknown[]) => NodeResponse;
    (res as { writeHead: (...args: unknown[]) => NodeResponse }).writeHead = (...args: unknown[]) => {
      if (!res.headersSent) res.setHeader("x-response-time", `${Math.round(performance.now() - started)}ms`);
      return writeHead(...args);
    };
  };
}
