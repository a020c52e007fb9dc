import { fromJson, type DescMessage, type DescMethod, type JsonValue, type MessageShape } from "@bufbuild/protobuf";
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
  let parsed: unknown;
  try {
    parsed = text.trim() === "" ? {} : JSON.parse(text);
  } catch (e) {
    return refuse(new AppError("invalid_argument", "INVALID_ARGUMENT", `request body is not JSON: ${(e as Error).message}`));
  }
  try {
    decodeStrict(method.input, parsed);
    return { body };
  } catch (error) {
    return refuse(error as AppError);
  }

  function refuse(error: AppError) {
    const empty = new TextEncoder().encode("{}");
    return { body: framing === "enveloped" ? encodeEnvelope(0, empty) : empty, error };
  }
}

/**
 * Decodes request JSON with the strict options every protocol shares (unknown fields refused);
 * a failure is `invalid_argument` naming the field at fault when it can be found.
 */
export function decodeStrict<D extends DescMessage>(desc: D, json: unknown): MessageShape<D> {
  try {
    return fromJson(desc, json as JsonValue, { ignoreUnknownFields: false });
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    const field = fieldOfDecodeError(message) ?? locateDecodeError(desc, json);
    throw field ? invalidArgument(field, message) : new AppError("invalid_argument", "INVALID_ARGUMENT", message);
  }
}
