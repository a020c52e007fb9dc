import { create, fromJson, type DescMessage, type JsonValue } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorInfoSchema, type ErrorInfo } from "../../gen/google/rpc/error_details_pb.js";
import { AppError, type ErrorCode } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";

/** ErrorInfo.domain of every Switchyard error. */
export const ERROR_DOMAIN = "switchyard";

const CODES: Record<ErrorCode, Code> = {
  canceled: Code.Canceled,
  unknown: Code.Unknown,
  invalid_argument: Code.InvalidArgument,
  deadline_exceeded: Code.DeadlineExceeded,
  not_found: Code.NotFound,
  already_exists: Code.AlreadyExists,
  permission_denied: Code.PermissionDenied,
  resource_exhausted: Code.ResourceExhausted,
  failed_precondition: Code.FailedPrecondition,
  aborted: Code.Aborted,
  out_of_range: Code.OutOfRange,
  unimplemented: Code.Unimplemented,
  internal: Code.Internal,
  unavailable: Code.Unavailable,
  data_loss: Code.DataLoss,
  unauthenticated: Code.Unauthenticated,
};

/** The Connect code string ("not_found") of a Code. */
export function codeName(code: Code): ErrorCode {
  return (Object.entries(CODES).find(([, c]) => c === code)?.[0] ?? "unknown") as ErrorCode;
}

/** The HTTP status REST and legacy routes answer for each code (as google.api and Connect map them). */
export const HTTP_STATUS: Record<ErrorCode, number> = {
  canceled: 499,
  unknown: 500,
  invalid_argument: 400,
  deadline_exceeded: 504,
  not_found: 404,
  already_exists: 409,
  permission_denied: 403,
  resource_exhausted: 429,
  failed_precondition: 400,
  aborted: 409,
  out_of_range: 400,
  unimplemented: 501,
  internal: 500,
  unavailable: 503,
  data_loss: 500,
  unauthenticated: 401,
};

/** The ErrorInfo carried by an error, if any. */
export function errorInfo(error: ConnectError): ErrorInfo | undefined {
  return error.findDetails(ErrorInfoSchema)[0];
}

function withInfo(message: string, code: Code, reason: string, metadata: Record<string, string>, cause?: unknown): ConnectError {
  const info = create(ErrorInfoSchema, { reason, domain: ERROR_DOMAIN, metadata });
  return new ConnectError(message, code, undefined, [{ desc: ErrorInfoSchema, value: info }], cause);
}

/**
 * Turns anything thrown below the transport into a ConnectError with an ErrorInfo reason.
 * AppErrors keep code, reason and metadata; ConnectErrors raised by the framework get a reason
 * named after their code; anything else is a bug: logged once with its cause, answered as a
 * generic `internal` error.
 */
export function toConnectError(error: unknown, log: Logger, context: Record<string, unknown> = {}): ConnectError {
  if (error instanceof AppError) return withInfo(error.message, CODES[error.code], error.reason, error.metadata, error);
  if (error instanceof ConnectError) {
    if (errorInfo(error)) return error;
    const reason = frameworkReason(error);
    const metadata: Record<string, string> = {};
    const field = fieldOfDecodeError(error.rawMessage);
    if (field) metadata.field = field;
    const wrapped = withInfo(error.rawMessage, error.code, reason, metadata, error.cause);
    error.metadata.forEach((v, k) => wrapped.metadata.append(k, v));
    return wrapped;
  }
  log.error("internal error", { ...context, error });
  return withInfo("internal error", Code.Internal, "INTERNAL", {});
}

/**
 * The reason of a refusal raised by Connect itself, named as Switchyard names the same refusal
 * (a size limit is BODY_TOO_LARGE on every protocol); otherwise the code in UPPER_SNAKE.
 */
function frameworkReason(error: ConnectError): string {
  const message = error.rawMessage;
  if (error.code === Code.ResourceExhausted && /readMaxBytes|larger than configured read/i.test(message)) return "BODY_TOO_LARGE";
  if (error.code === Code.ResourceExhausted && /writeMaxBytes/i.test(message)) return "RESPONSE_TOO_LARGE";
  if (error.code === Code.InvalidArgument && /^timeout \d+ms must be/.test(message)) return "DEADLINE_TOO_LONG";
  return codeName(error.code).toUpperCase();
}

/** The field named by a protobuf-es JSON decoding error, if the message names one. */
export function fieldOfDecodeError(message: string): string | undefined {
  const unknownKey = /key "([^"]+)" is unknown/.exec(message);
  if (unknownKey) return unknownKey[1];
  const field = /cannot decode field ([\w.]+) from JSON/.exec(message);
  if (field) return field[1]!.split(".").pop();
  return undefined;
}

/**
 * The dotted path of the field that fails to decode when the decoder's message names none
 * (bad enum names, timestamps, durations, structs): each top-level key is decoded alone.
 */
export function locateDecodeError(desc: DescMessage, json: unknown, prefix = ""): string | undefined {
  if (json === null || typeof json !== "object" || Array.isArray(json)) return undefined;
  for (const [key, value] of Object.entries(json)) {
    const field = desc.fields.find((f) => f.name === key || f.jsonName === key);
    if (!field) continue;
    try {
      fromJson(desc, { [key]: value } as JsonValue, { ignoreUnknownFields: false });
      continue;
    } catch {
      const path = prefix ? `${prefix}.${field.name}` : field.name;
      const nested = field.fieldKind === "message" && !field.message.typeName.startsWith("google.protobuf.");
      return (nested ? locateDecodeError(field.message, value, path) : undefined) ?? path;
    }
  }
  return undefined;
}
