/**
 * The one application error kind. Domain code throws it with a stable UPPER_SNAKE reason;
 * the transport maps `code` to a Connect code (with google.rpc.ErrorInfo) or an HTTP status.
 */
export type ErrorCode =
  | "canceled"
  | "unknown"
  | "invalid_argument"
  | "deadline_exceeded"
  | "not_found"
  | "already_exists"
  | "permission_denied"
  | "resource_exhausted"
  | "failed_precondition"
  | "aborted"
  | "out_of_range"
  | "unimplemented"
  | "internal"
  | "unavailable"
  | "data_loss"
  | "unauthenticated";

export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    /** Stable machine-readable reason, e.g. `LEASE_LOST`, `TASK_NOT_FOUND`. */
    readonly reason: string,
    message: string,
    /** Extra string facts for clients (ErrorInfo metadata), e.g. `{ field: "priority" }`. */
    readonly metadata: Record<string, string> = {},
  ) {
    super(message);
    this.name = "AppError";
  }
}

/** A client's mistake in one field: `invalid_argument`, reason `INVALID_ARGUMENT`, naming the field. */
export function invalidArgument(field: string, message: string): AppError {
  return new AppError("invalid_argument", "INVALID_ARGUMENT", `${field}: ${message}`, { field });
}

/** A missing resource: `not_found` with a reason such as `TASK_NOT_FOUND`. */
export function notFound(reason: string, message: string, metadata: Record<string, string> = {}): AppError {
  return new AppError("not_found", reason, message, metadata);
}
