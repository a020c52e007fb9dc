import { createHash, timingSafeEqual } from "node:crypto";
import type { HandlerContext } from "@connectrpc/connect";
import { AppError } from "../../core/errors.ts";

/** RPCs that stay open when a token is set: health, for probes and load balancers. */
export const OPEN_PROCEDURES = new Set([
  "grpc.health.v1.Health/Check",
  "grpc.health.v1.Health/Watch",
  "switchyard.system.v1.SystemService/GetHealth",
  "switchyard.system.v1.SystemService/WatchHealth",
  // Authenticated by their own proof: the delivery's HMAC signature, the one-time setup state.
  "switchyard.agents.v1.IntegrationService/ReceiveGitHubWebhook",
  "switchyard.agents.v1.IntegrationService/CompleteGitHubSetup",
]);

const digest = (s: string) => createHash("sha256").update(s).digest();

/** True when `header` is `Bearer <token>`; compares in constant time. */
export function bearerMatches(header: string | null | undefined, token: string): boolean {
  const match = /^Bearer\s+(.+)$/i.exec(header?.trim() ?? "");
  // Comparing fixed-length digests keeps the time independent of where the strings differ.
  return match !== null && timingSafeEqual(digest(match[1]!), digest(token));
}

/**
 * A Connect request gate that refuses every call but health without the bearer token, before
 * the request body is read. Returns undefined when no token is configured (open server).
 */
export function createAuthGate(token: string | undefined): ((ctx: HandlerContext) => void) | undefined {
  if (token === undefined) return undefined;
  return (ctx) => {
    if (OPEN_PROCEDURES.has(`${ctx.service.typeName}/${ctx.method.name}`)) return;
    if (!bearerMatches(ctx.requestHeader.get("authorization"), token)) {
      throw new AppError("unauthenticated", "UNAUTHENTICATED", "missing or invalid bearer token");
    }
  };
}
