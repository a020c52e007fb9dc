import { create } from "@bufbuild/protobuf";
import type { Interceptor } from "@connectrpc/connect";
import { RetryInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { AppError } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import { principalOf } from "../core/principal.ts";
import { toConnectError } from "../server/errors.ts";
import { clientAddress } from "./client-address.ts";
import { edgeRequestKey, rateLimitKey } from "./context.ts";
import type { RateDecision, RateLimiter } from "./limiter.ts";

const API = ["api"];

/** `X-RateLimit-*` (and `Retry-After` when refused) for a decision; Reset in Unix seconds. */
export function rateLimitHeaders(decision: RateDecision): Record<string, string> {
  const headers: Record<string, string> = {
    "x-ratelimit-limit": String(decision.binding.limit),
    "x-ratelimit-remaining": String(decision.binding.remaining),
    "x-ratelimit-reset": String(Math.ceil(decision.binding.resetAtMs / 1000)),
  };
  if (!decision.allowed) headers["retry-after"] = String(Math.max(1, Math.ceil(decision.retryAfterMs / 1000)));
  return headers;
}

/**
 * Counts every call once per request, on every protocol: gRPC, gRPC-Web and Connect calls in
 * class `api`, legacy and REST routes in the classes the HTTP layer named. The headers go into
 * the RPC's response headers (gRPC: response metadata) or, for in-process calls of a legacy or
 * REST route, onto that route's HTTP answer. Over a limit: `resource_exhausted`,
 * `RATE_LIMIT_EXCEEDED`, with `google.rpc.RetryInfo` and `Retry-After`.
 */
export function rateLimitInterceptor(limiter: RateLimiter, options: { exempt: Set<string>; log: Logger; trustedProxies: ReadonlySet<string> }): Interceptor {
  return (next) => async (req) => {
    const edge = req.contextValues.get(edgeRequestKey);
    if (edge?.counted || options.exempt.has(`${req.service.typeName}.${req.method.name}`)) return next(req);
    if (edge) edge.counted = true;
    const classes = edge?.classes ?? API;
    if (!limiter.limits(classes)) return next(req);
    const address = clientAddress(edge?.clientAddress ?? "unknown", req.header.get("x-forwarded-for"), options.trustedProxies);
    const key = rateLimitKey(principalOf({ values: req.contextValues }), address);
    const decision = await limiter.consume(classes, key);
    if (!decision) return next(req);
    const headers = rateLimitHeaders(decision);
    const apply = (set: (k: string, v: string) => void) => {
      for (const [k, v] of Object.entries(headers)) set(k, v);
    };
    if (!decision.allowed) {
      const { binding } = decision;
      const seconds = Number(headers["retry-after"]);
      const error = toConnectError(
        new AppError("resource_exhausted", "RATE_LIMIT_EXCEEDED", `Rate limit exceeded: ${binding.limit} requests per ${binding.window.name}; retry in ${seconds} s`, {
          route_class: binding.routeClass,
          window: binding.window.name,
          limit: String(binding.limit),
          retry_after_seconds: String(seconds),
        }),
        options.log,
      );
      error.details.push({ desc: RetryInfoSchema, value: create(RetryInfoSchema, { retryDelay: { seconds: BigInt(seconds), nanos: 0 } }) });
      apply((k, v) => error.metadata.set(k, v));
      if (edge?.setHeader) apply(edge.setHeader);
      throw error;
    }
    if (edge?.setHeader) apply(edge.setHeader);
    const res = await next(req);
    if (!edge?.setHeader) apply((k, v) => res.header.set(k, v));
    return res;
  };
}
