import { createContextKey } from "@connectrpc/connect";

/** What the request log and metrics learn about one request while it is served. */
export interface CallRecord {
  /** grpc, grpc-web, connect, rest, legacy, health, other. */
  protocol: string;
  /** Route template (REST, legacy) or procedure (RPC). */
  route: string;
  /** Fully-qualified RPC, when one was called. */
  rpc?: string;
  /** Connect code name of the outcome ("ok" when it succeeded). */
  code: string;
  /** ErrorInfo reason of a failure. */
  reason?: string;
  /** Request id: the client's `x-request-id` or a new one. */
  requestId: string;
}

/** Carries the CallRecord from the HTTP layer into interceptors and in-process calls. */
export const callRecordKey = createContextKey<CallRecord | undefined>(undefined, { description: "call record" });
