import type { ConnectError } from "@connectrpc/connect";
import { codeName, errorInfo, HTTP_STATUS } from "../errors.ts";

/** Reasons whose HTTP status is more precise than their code's. */
const REASON_STATUS: Record<string, number> = { BODY_TOO_LARGE: 413, STORAGE_FULL: 507 };

/** The HTTP status a REST client gets for an error. */
export function restStatus(error: ConnectError): number {
  const info = errorInfo(error);
  return (info && REASON_STATUS[info.reason]) || HTTP_STATUS[codeName(error.code)];
}

/**
 * The canonical REST error body. It extends seed 002's `{ error: { code, message } }` with
 * the HTTP status, the ErrorInfo reason and its metadata (e.g. `field`).
 */
export function restErrorBody(error: ConnectError) {
  const info = errorInfo(error);
  return {
    error: {
      code: codeName(error.code),
      status: restStatus(error),
      message: error.rawMessage,
      reason: info?.reason ?? codeName(error.code).toUpperCase(),
      metadata: info ? { ...info.metadata } : {},
    },
  };
}
