import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorInfoSchema } from "./gen/google/rpc/error_details_pb.js";

/** A call the server refused: the Connect code, the ErrorInfo reason (`TASK_NOT_FOUND`…) and its metadata. */
export class SwitchyardError extends Error {
  override name = "SwitchyardError";
  constructor(
    readonly code: Code,
    readonly reason: string,
    message: string,
    readonly metadata: Record<string, string> = {},
    override readonly cause?: unknown,
  ) {
    super(message);
  }

  /** The code's name as gRPC spells it (`NOT_FOUND`). */
  get codeName(): string {
    return Code[this.code].replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
  }

  static from(e: unknown): SwitchyardError {
    if (e instanceof SwitchyardError) return e;
    const c = ConnectError.from(e);
    const info = c.findDetails(ErrorInfoSchema)[0];
    return new SwitchyardError(c.code, info?.reason ?? "", c.rawMessage, info?.metadata ?? {}, e);
  }
}

/** Codes after which a call is tried again: the server is restarting or unreachable. */
export const TRANSIENT = new Set([Code.Unavailable, Code.DeadlineExceeded, Code.ResourceExhausted, Code.Unknown, Code.Internal, Code.Aborted]);

/** Thrown by a handler to fail the attempt; retryable unless `retryable: false`. */
export class TaskFailure extends Error {
  override name = "TaskFailure";
  readonly retryable: boolean;
  readonly reason: string;
  readonly details?: Record<string, unknown>;
  readonly retryDelayMs?: number;
  constructor(message: string, opts: { retryable?: boolean; reason?: string; details?: Record<string, unknown>; retryDelayMs?: number } = {}) {
    super(message);
    this.retryable = opts.retryable ?? true;
    this.reason = opts.reason ?? "";
    this.details = opts.details;
    this.retryDelayMs = opts.retryDelayMs;
  }
}

/** A failure after which another attempt may succeed. */
export class RetryableError extends TaskFailure {
  override name = "RetryableError";
  constructor(message: string, opts: { reason?: string; details?: Record<string, unknown>; retryDelayMs?: number } = {}) {
    super(message, { ...opts, retryable: true });
  }
}

/** A failure for good: the task goes to the dead-letter set whatever attempts are left. */
export class NonRetryableError extends TaskFailure {
  override name = "NonRetryableError";
  constructor(message: string, opts: { reason?: string; details?: Record<string, unknown> } = {}) {
    super(message, { ...opts, retryable: false });
  }
}
