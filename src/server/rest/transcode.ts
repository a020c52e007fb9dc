import { create, toJson, type DescMessage, type JsonObject, type JsonValue, type Message } from "@bufbuild/protobuf";
import { ConnectError, type ContextValues } from "@connectrpc/connect";
import type { UniversalHandler } from "@connectrpc/connect/protocol";
import { AppError, invalidArgument } from "../../core/errors.ts";
import type { Logger } from "../../core/logger.ts";
import { callRecordKey } from "../call-record.ts";
import { toConnectError } from "../errors.ts";
import { readBody, send, sendJson, type Exchange, type NodeRequest, type NodeResponse } from "../http-io.ts";
import { responseTooLarge, type ResponseGate, type ResponseTurn } from "../response-gate.ts";
import { invokeServerStream, invokeUnary, type InvokeOptions } from "../invoke.ts";
import { decodeStrict, preParseErrorKey } from "../json-gate.ts";
import { restErrorBody, restStatus } from "./rest-errors.ts";
import { findField, setPathParam, setQueryParams } from "./request-json.ts";
import type { RestMatch } from "./routes.ts";
import type { RestShape, RestShapes } from "./shapes.ts";

export interface TranscodeDeps {
  handlers: Map<string, UniversalHandler>;
  log: Logger;
  maxMessageBytes: number;
  maxBodyBytes: number;
  /** Per-family departures from canonical REST (status, JSON, error body); none by default. */
  shapes?: RestShapes;
  /** Bounds the answers built and in flight (unset: unbounded, for tests of other layers). */
  responses?: ResponseGate;
}

export type RestExchange = Exchange;

const HTTP_BODY = "google.api.HttpBody";
/** REST output: proto field names (seed 002's snake_case), zero values included. */
const OUTPUT = { useProtoFieldName: true, alwaysEmitImplicit: true } as const;
/** Seconds between SSE comments that keep idle proxies from closing a quiet stream. */
const SSE_KEEPALIVE_MS = 15_000;

/** Builds the request message JSON from body, path and query, per the route's http rule. */
async function requestJson(match: RestMatch, ex: RestExchange, deps: TranscodeDeps): Promise<JsonObject> {
  const { route, params } = match;
  const input = route.method.input;
  const raw = route.body === "" ? new Uint8Array() : await readBody(ex.req, deps.maxBodyBytes);
  let json: JsonObject = {};
  const bodyTarget: DescMessage | undefined =
    route.body === "*" ? input : route.body === "" ? undefined : findField(input, route.body)?.message;
  if (bodyTarget?.typeName === HTTP_BODY) {
    const body = { content_type: ex.header.get("content-type") ?? "", data: Buffer.from(raw).toString("base64") };
    json = route.body === "*" ? body : { [route.body]: body };
  } else if (raw.byteLength > 0) {
    let parsed: JsonValue;
    try {
      parsed = JSON.parse(new TextDecoder().decode(raw)) as JsonValue;
    } catch (e) {
      throw new AppError("invalid_argument", "INVALID_ARGUMENT", `request body is not JSON: ${(e as Error).message}`);
    }
    if (route.body === "*") {
      if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
        throw new AppError("invalid_argument", "INVALID_ARGUMENT", "request body must be a JSON object");
      }
      json = parsed as JsonObject;
    } else json = { [route.body]: parsed };
  }
  const bound = new Set<string>(route.body !== "" && route.body !== "*" ? [route.body] : []);
  for (const [path, value] of Object.entries(params)) {
    setPathParam(input, json, path, value);
    bound.add(path);
  }
  if (route.body !== "*") setQueryParams(input, json, ex.url.searchParams, bound);
  else if ([...ex.url.searchParams.keys()].length > 0) {
    throw invalidArgument([...ex.url.searchParams.keys()][0]!, "query parameters are not allowed when the body carries the whole request");
  }
  return json;
}

function outputJson(desc: DescMessage, message: Message, responseBody: string): JsonValue {
  const json = toJson(desc, message, OUTPUT) as JsonObject;
  if (responseBody === "") return json;
  const field = findField(desc, responseBody);
  return field ? (json[field.name] ?? null) : null;
}

/** The family's rewrite of an answer's JSON (of the `response_body` field's message when one is named). */
function shaped(shape: RestShape | undefined, json: JsonValue, desc: DescMessage, output: Message, responseBody: string): JsonValue {
  if (!shape?.json) return json;
  const target = responseBody === "" ? desc : findField(desc, responseBody)?.message;
  return target ? shape.json(json, target, output) : json;
}

/**
 * Serves one REST request by transcoding it to its RPC and calling the Connect handler
 * in-process: auth, validation, errors and logging are those of every other protocol.
 */
export async function transcode(match: RestMatch, ex: RestExchange, deps: TranscodeDeps): Promise<void> {
  const { route } = match;
  const method = route.method;
  const shape = deps.shapes?.(method);
  let input: Message;
  try {
    input = decodeStrict(method.input, await requestJson(match, ex, deps));
  } catch (error) {
    if (error instanceof AppError && error.reason === "BODY_TOO_LARGE") return sendRestError(ex, toConnectError(error, deps.log), shape);
    // Hand the mistake to the RPC's interceptors: auth is checked first, then it is thrown
    // there, so the answer is the one a gRPC or Connect client would get.
    ex.contextValues.set(preParseErrorKey, error instanceof AppError ? error : new AppError("invalid_argument", "INVALID_ARGUMENT", String(error)));
    input = create(method.input);
  }
  const options: InvokeOptions = { header: ex.header, contextValues: ex.contextValues, signal: ex.signal, maxMessageBytes: deps.maxMessageBytes };
  if (method.methodKind === "unary") {
    let turn: ResponseTurn | undefined;
    try {
      turn = await deps.responses?.enter(ex.signal, `${route.httpMethod} ${route.template.source}`);
    } catch (error) {
      return sendRestError(ex, toConnectError(error, deps.log), shape);
    }
    let output: Message;
    try {
      output = await invokeUnary(deps.handlers, method, input as never, options);
    } catch (error) {
      turn?.leave();
      return sendRestError(ex, toConnectError(error, deps.log), shape);
    }
    let body: Uint8Array;
    let contentType = "application/json; charset=utf-8";
    if (method.output.typeName === HTTP_BODY) {
      const http = output as unknown as { contentType: string; data: Uint8Array };
      body = http.data;
      contentType = http.contentType || "application/octet-stream";
    } else body = Buffer.from(JSON.stringify(shaped(shape, outputJson(method.output, output, route.responseBody), method.output, output, route.responseBody)));
    // The write limit of every other protocol holds for REST answers too.
    if (body.byteLength > deps.maxMessageBytes) {
      turn?.leave();
      return sendRestError(ex, toConnectError(responseTooLarge(body.byteLength, deps.maxMessageBytes), deps.log), shape);
    }
    turn?.sending(ex.res, body.byteLength);
    return send(ex.res, shape?.status?.(output) ?? 200, body, { "content-type": contentType, ...shape?.headers });
  }
  if (method.methodKind === "server_streaming") return streamSse(ex, deps, method.output, invokeServerStream(deps.handlers, method, input as never, options), route.responseBody, shape);
  sendRestError(ex, toConnectError(new AppError("unimplemented", "STREAMING_NOT_SUPPORTED", "client and bidi streams are not served over REST"), deps.log));
}

/** Sends a server stream as Server-Sent Events: one `message` event per message, `error` at a failure. */
async function streamSse(ex: RestExchange, deps: TranscodeDeps, desc: DescMessage, stream: AsyncGenerator<Message>, responseBody: string, shape?: RestShape): Promise<void> {
  const { res } = ex;
  let first: IteratorResult<Message>;
  try {
    // Wait for the first message (or an immediate error) so an error can still be a plain HTTP error.
    first = await stream.next();
  } catch (error) {
    return sendRestError(ex, toConnectError(error, deps.log), shape);
  }
  res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", "x-accel-buffering": "no" });
  (res as { flushHeaders?: () => void }).flushHeaders?.();
  const keepalive = setInterval(() => res.write(": keepalive\n\n"), SSE_KEEPALIVE_MS);
  let id = 0;
  try {
    for (let next = first; !next.done; next = await stream.next()) {
      const json = outputJson(desc, next.value, responseBody);
      res.write(`id: ${++id}\nevent: message\ndata: ${JSON.stringify(shaped(shape, json, desc, next.value, responseBody))}\n\n`);
    }
    res.write("event: end\ndata: {}\n\n");
  } catch (error) {
    if (!ex.signal.aborted) {
      const connectError = error instanceof ConnectError ? error : toConnectError(error, deps.log);
      res.write(`event: error\ndata: ${JSON.stringify(shape?.error ? shape.error(connectError, restStatus(connectError)).body : restErrorBody(connectError))}\n\n`);
    }
  } finally {
    clearInterval(keepalive);
    await stream.return(undefined);
    res.end();
  }
}

/** Answers a REST error: the HTTP status of its code, the canonical error body. */
export function sendRestError(ex: Pick<RestExchange, "res" | "contextValues">, error: ConnectError, shape?: RestShape): void {
  const record = ex.contextValues.get(callRecordKey);
  const body = restErrorBody(error);
  if (record && record.code === "ok") {
    record.code = body.error.code;
    record.reason = body.error.reason;
  }
  const retry: Record<string, string> = body.error.reason === "RESPONSES_IN_FLIGHT" ? { "retry-after": "1" } : {};
  if (shape?.error) {
    const shaped = shape.error(error, restStatus(error));
    return sendJson(ex.res, shaped.status, shaped.body, retry);
  }
  sendJson(ex.res, restStatus(error), body, retry);
}
