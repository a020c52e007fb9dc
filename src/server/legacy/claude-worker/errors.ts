import type { ConnectError } from "@connectrpc/connect";
import { codeName, errorInfo } from "../../errors.ts";

/** Seed 004 error codes by Connect code; anything else is INTERNAL_ERROR. */
const SEED_004_CODES: Record<string, string> = {
  invalid_argument: "VALIDATION_ERROR",
  out_of_range: "VALIDATION_ERROR",
  failed_precondition: "VALIDATION_ERROR",
  already_exists: "VALIDATION_ERROR",
  unauthenticated: "UNAUTHORIZED",
  permission_denied: "UNAUTHORIZED",
  not_found: "NOT_FOUND",
  resource_exhausted: "RATE_LIMIT_EXCEEDED",
};

/** Reasons that are their own seed 004 code (and status). */
const BY_REASON: Record<string, { code: string; status?: number }> = {
  QUOTA_EXCEEDED: { code: "QUOTA_EXCEEDED", status: 429 },
  RATE_LIMIT_EXCEEDED: { code: "RATE_LIMIT_EXCEEDED", status: 429 },
  NO_AGENT_WORKERS: { code: "NO_AGENT_WORKERS", status: 503 },
};

/** Seed 004 (Claude Code Worker) error body: `{ error: CODE, message, timestamp }`. */
export function seed004Error(error: ConnectError, status: number) {
  const byReason = BY_REASON[errorInfo(error)?.reason ?? ""];
  return {
    status: byReason?.status ?? status,
    body: { error: byReason?.code ?? SEED_004_CODES[codeName(error.code)] ?? "INTERNAL_ERROR", message: error.rawMessage, timestamp: new Date().toISOString() },
  };
}
