import { fromJsonString, type DescMethod } from "@bufbuild/protobuf";
import { createContextKey, type Interceptor } from "@connectrpc/connect";
import { encodeEnvelope } from "@connectrpc/connect/protocol";
import { AppError, invalidArgument } from "../core/errors.ts";
import { fieldOfDecodeError, locateDecodeError } from "./errors.ts";

/**
 * Connect parses JSON request bodies before any interceptor runs, so a bad JSON body would
 * fail without our error shape. The gate parses JSON bodies first, with the same strict
 * options REST uses; a body that fails is replaced by `{}` and its error handed to
 * `preParseInterceptor`, which throws it inside the interceptor chain: the client then gets
 * the same code and ErrorInfo reason on every protocol.
 */
export const preParseErrorKey = createContextKey<AppError | undefined>(undefined, { description: "pre-parse error" });

/** Throws the error the JSON gate found, if any. */
export function preParseInterceptor(): Interceptor {
  return (next) => async (req) => {
    const error = req.contextValues.get(preParseErrorKey);
    if (error) throw error;
    return next(req);
  };
}

/** Which JSON framing a content type uses, if it is JSON at all. */
export function jsonFraming(contentType: string | null): "unary" | "enveloped" | undefined {
  const type = (contentType ?? "").split(";")[0]!.trim().toLowerCase();
  if (type === "application/json") return "unary";
  if (type === "application/connect+json" || type === "application/grpc+json" || type === "application/grpc-web+json") {
    return "enveloped";
  }
  return undefined;
}

/** Checks a JSON request body; returns the body to hand on and the error it holds, if any. */
export function gateJsonBody(
  method: DescMethod,
  framing: "unary" | "enveloped",
  body: Uint8Array,
): { body: Uint8Array; error?: AppError } {
  let json: Uint8Array = body;
  if (framing === "enveloped") {
    // One envelope: flags (1 byte), length (4 bytes, big endian), data. A compressed or
    // malformed envelope is left for the framework to judge.
    if (body.length < 5 || (body[0]! & 0x01) !== 0) return { body };
    const length = new DataView(body.buffer, body.byteOffset, body.byteLength).getUint32(1);
    if (body.length !== 5 + length) return { body };
    json = body.subarray(5);
  }
  const text = new TextDecoder().decode(json);
  try {
    fromJsonString(method.input, text.trim() === "" ? "{}" : text, { ignoreUnknownFields: false });
    return { body };
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    const field = fieldOfDecodeError(message) ?? locateDecodeError(method.input, parsed);
    const error = field
      ? invalidArgument(field, message)
      : new AppError("invalid_argument", "INVALID_ARGUMENT", `request body is not valid JSON for ${method.input.typeName}: ${message}`);
    const empty = new TextEncoder().encode("{}");
    return { body: framing === "enveloped" ? encodeEnvelope(0, empty) : empty, error };
  }
}
