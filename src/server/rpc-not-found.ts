import { ConnectError } from "@connectrpc/connect";
import { encodeEnvelope } from "@connectrpc/connect/protocol";
import { codeToHttpStatus, endStreamToJson, errorToJsonBytes } from "@connectrpc/connect/protocol-connect";
import { setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { trailerFlag, trailerSerialize } from "@connectrpc/connect/protocol-grpc-web";
import { AppError } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import { toConnectError } from "./errors.ts";
import type { NodeResponse } from "./http-io.ts";

/**
 * The RPC protocol of a request to a path no handler serves, when it is an RPC at all: gRPC and
 * gRPC-Web by content type, Connect by its streaming content types or its protocol header.
 */
export function rpcProtocolOf(header: Headers): "grpc" | "grpc-web" | "connect-unary" | "connect-stream" | undefined {
  const type = (header.get("content-type") ?? "").toLowerCase();
  if (type.startsWith("application/grpc-web")) return "grpc-web";
  if (type.startsWith("application/grpc")) return "grpc";
  if (type.startsWith("application/connect+")) return "connect-stream";
  if (header.get("connect-protocol-version") === "1") return "connect-unary";
  return undefined;
}

/**
 * Answers an RPC to a method this server does not have as its protocol expects, with the
 * ErrorInfo every other refusal carries (`unimplemented`, METHOD_NOT_FOUND), instead of an HTTP
 * 404 that a gRPC client reads as a bare status.
 */
export function sendRpcNotFound(res: NodeResponse, protocol: NonNullable<ReturnType<typeof rpcProtocolOf>>, path: string, contentType: string, log: Logger): void {
  const error: ConnectError = toConnectError(new AppError("unimplemented", "METHOD_NOT_FOUND", `no RPC ${path} on this server`, { path }), log);
  if (protocol === "grpc") {
    const trailer = new Headers();
    setTrailerStatus(trailer, error);
    // A trailers-only answer: the status travels in the headers.
    res.writeHead(200, { "content-type": contentType.toLowerCase().startsWith("application/grpc+json") ? "application/grpc+json" : "application/grpc", ...Object.fromEntries(trailer) });
    res.end();
    return;
  }
  if (protocol === "grpc-web") {
    const trailer = new Headers();
    setTrailerStatus(trailer, error);
    const body = encodeEnvelope(trailerFlag, trailerSerialize(trailer));
    const type = contentType.toLowerCase().startsWith("application/grpc-web+json") ? "application/grpc-web+json" : "application/grpc-web+proto";
    res.writeHead(200, { "content-type": type, "content-length": String(body.byteLength) });
    res.end(body);
    return;
  }
  if (protocol === "connect-stream") {
    const body = encodeEnvelope(0b00000010, new TextEncoder().encode(JSON.stringify(endStreamToJson(new Headers(), error, undefined))));
    // The end-of-stream message is JSON in both codecs; the content type answers the request's.
    const type = contentType.toLowerCase().startsWith("application/connect+proto") ? "application/connect+proto" : "application/connect+json";
    res.writeHead(200, { "content-type": type, "content-length": String(body.byteLength) });
    res.end(body);
    return;
  }
  const body = errorToJsonBytes(error, {});
  res.writeHead(codeToHttpStatus(error.code), { "content-type": "application/json", "content-length": String(body.byteLength) });
  res.end(body);
}
