import { createContextKey } from "@connectrpc/connect";
import type { Principal } from "../core/principal.ts";

/** What the HTTP layer tells the rate-limit interceptor about a request. */
export interface EdgeRequest {
  /** The client's address (the key of anonymous callers). */
  clientAddress: string;
  /** Route classes of a legacy or REST route; absent for gRPC, gRPC-Web and Connect (`api`). */
  classes?: string[];
  /** Sets a header on the HTTP answer of a legacy or REST route (in-process RPC calls). */
  setHeader?: (name: string, value: string) => void;
  /** Set once the request was counted: the further in-process calls of one route count nothing. */
  counted: boolean;
}

/** Carries the EdgeRequest from the HTTP layer into the interceptor chain. */
export const edgeRequestKey = createContextKey<EdgeRequest | undefined>(undefined, { description: "edge request" });

/** The key a caller is counted under: its principal, or its address when anonymous. */
export function rateLimitKey(principal: Principal, clientAddress: string): string {
  if (principal.kind === "anonymous") return `ip:${clientAddress}`;
  return `principal:${principal.tenant}/${principal.user || principal.kind}`;
}
