import type { ConnectError } from "@connectrpc/connect";
import type { LegacyReply } from "./table.ts";

/**
 * Seed 000 (Jetpack worker API) error body: `{ "error": "<message>" }` with the HTTP status
 * (the public worker-api answers `{ error: 'Task not found' }` with 404, `{ error: 'Unauthorized' }`
 * with 401, and so on).
 */
export function jetpackError(error: ConnectError, status: number): LegacyReply {
  return { status, body: { error: status === 401 ? "Unauthorized" : error.rawMessage } };
}
