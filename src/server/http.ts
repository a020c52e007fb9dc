import type { Socket } from "node:net";
import { createContextValues, cors as connectCors } from "@connectrpc/connect";
import { createAsyncIterable, type UniversalHandler } from "@connectrpc/connect/protocol";
import { universalRequestFromNodeRequest, universalResponseToNodeResponse } from "@connectrpc/connect-node";
import { newId } from "../core/ids.ts";
import type { Logger } from "../core/logger.ts";
import type { HealthMonitor } from "../system/health.ts";
import type { RequestMetrics } from "../system/metrics.ts";
import { callRecordKey, type CallRecord } from "./call-record.ts";
import { HTTP_STATUS, toConnectError } from "./errors.ts";
import { clientGone, headersOf, readBody, send, sendJson, type NodeRequest, type NodeResponse } from "./http-io.ts";
import { DOCS_PAGES, type ApiDocs } from "./docs.ts";
import { authorize, principalFor, type PrincipalResolver } from "./interceptors/auth.ts";
import { gateJsonBody, jsonFraming, preParseErrorKey } from "./json-gate.ts";
import { AppError } from "../core/errors.ts";
import { deadlineTooLong, limitBody, messageTooLarge, requestedTimeoutMs } from "./rpc-limits.ts";
import { createResponseGate, type ResponseGate } from "./response-gate.ts";
import { rpcProtocolOf, sendRpcNotFound } from "./rpc-not-found.ts";
import { sendLegacyError, serveLegacy, type LegacyRouter } from "./legacy/table.ts";
import { sendRestError, transcode } from "./rest/transcode.ts";
import type { RestRouter } from "./rest/routes.ts";
import type { StaticSite } from "./static-site.ts";
import type { ErrorCode } from "../core/errors.ts";
import { edgeRequestKey, type EdgeRequest } from "../edge/context.ts";
import { legacyRouteClasses } from "../edge/rate-limit-spec.ts";
import type { RawRouter } from "./raw-route.ts";
import type { RestShapes } from "./rest/shapes.ts";
import type { LeanGrpc } from "./lean-grpc.ts";

/** The route of a request that matched no route (metrics label). */
export const UNMATCHED = "unmatched";

/** A route that takes over the connection with a WebSocket upgrade (seed 000 mail, seed 001 /ws). */
export interface UpgradeRoute {
  path: string;
  /** For paths with parameters (`/v1/conversations/{id}/stream`): matched when `path` is not equal. */
  matches?(path: string): boolean;
  handle(req: NodeRequest, socket: Socket, head: Buffer): void;
}

export interface HttpDeps {
  /** The OpenAPI document and its HTML index, served at /openapi.json and /docs. */
  docs: ApiDocs | undefined;
  /** Resolves credentials; the docs and legacy routes enforce their policies with it. */
  auth: PrincipalResolver;
  /** WebSocket routes by exact path. */
  upgrades: UpgradeRoute[];
  handlers: Map<string, UniversalHandler>;
  rest: RestRouter;
  legacy: LegacyRouter;
  /** Routes that stream their own bodies (blob upload/download); matched before legacy and REST. */
  raw?: RawRouter;
  /** Per-family REST departures (seed 002 wire rules). */
  shapes?: RestShapes;
  log: Logger;
  metrics: RequestMetrics;
  health: HealthMonitor;
  corsOrigins: string[];
  maxMessageBytes: number;
  maxBodyBytes: number;
  /** The dashboard, served under its prefix (/ui). */
  site?: StaticSite;
  /** Bounds REST and legacy answers in memory (default: 8 × maxMessageBytes reserved or in flight). */
  responses?: ResponseGate;
  /** Longest deadline a client may ask for (refused with DEADLINE_TOO_LONG). */
  maxDeadlineMs?: number;
  /** Binary unary gRPC calls served without Connect's pipeline (lean-grpc.ts); absent: all through Connect. */
  leanGrpc?: LeanGrpc;
}

/** The HTTP request handler shared by the HTTP/1.1 and HTTP/2 servers; counts requests in flight. */
export interface RequestHandler {
  (req: NodeRequest, res: NodeResponse): void;
  readonly inFlight: number;
  /** Serves an HTTP/1.1 Upgrade request (WebSocket) from the upgrade table, or refuses it. */
  upgrade(req: NodeRequest, socket: Socket, head: Buffer): void;
  /** Resolves when no request is in flight. */
  idle(): Promise<void>;
}

const ALLOW_HEADERS = [...connectCors.allowedHeaders, "Authorization", "X-Request-Id", "X-Requested-With"].join(", ");
const EXPOSE_HEADERS = [...connectCors.exposedHeaders, "X-Request-Id", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "Retry-After", "X-Response-Time", "X-Request-Count"].join(", ");
const REQUEST_ID = /^[\w.:-]{1,128}$/;

function protocolOf(contentType: string | null): string {
  const type = (contentType ?? "").toLowerCase();
  if (type.startsWith("application/grpc-web")) return "grpc-web";
  if (type.startsWith("application/grpc")) return "grpc";
  return "connect";
}

/** Creates the handler: CORS, request id, then RPC, health probes, legacy routes, REST, 404. */
export function createRequestHandler(given: HttpDeps): RequestHandler {
  // REST and legacy answers: reservations by route weight within 8 messages' worth of bytes
  // (32 MiB by default), at most 1,024 at once; a request waiting 3 s for room gets 429.
  const responses = given.responses ?? createResponseGate({ maxBytes: 8 * given.maxMessageBytes, maxConcurrent: 1024, maxWaitMs: 3000 });
  const deps: HttpDeps = { ...given, responses };
  const { log } = deps;
  let inFlight = 0;
  let waiters: (() => void)[] = [];
  const anyOrigin = deps.corsOrigins.includes("*");

  function applyCors(req: NodeRequest, res: NodeResponse): boolean {
    const origin = req.headers.origin;
    if (typeof origin !== "string" || !(anyOrigin || deps.corsOrigins.includes(origin))) return false;
    res.setHeader("access-control-allow-origin", origin);
    res.setHeader("vary", "Origin");
    res.setHeader("access-control-expose-headers", EXPOSE_HEADERS);
    if (req.method === "OPTIONS" && req.headers["access-control-request-method"]) {
      res.writeHead(204, {
        "access-control-allow-methods": "GET, POST, PUT, PATCH, DELETE, OPTIONS",
        "access-control-allow-headers": ALLOW_HEADERS,
        "access-control-max-age": "7200",
      });
      res.end();
      return true;
    }
    return false;
  }

  async function serve(req: NodeRequest, res: NodeResponse, record: CallRecord): Promise<void> {
    const contextValues = createContextValues();
    contextValues.set(callRecordKey, record);
    const method = req.method ?? "GET";
    const edge: EdgeRequest = { clientAddress: req.socket?.remoteAddress ?? "unknown", counted: false };
    contextValues.set(edgeRequestKey, edge);
    // RPC paths are matched on the raw path first: no URL or Headers object is built for them
    // (Connect builds its own), which is most of the per-call work done here.
    const raw = req.url ?? "/";
    const q = raw.indexOf("?");
    const rawPath = q < 0 ? raw : raw.slice(0, q);
    const direct = deps.handlers.get(rawPath);
    if (direct) {
      record.protocol = protocolOf(req.headers["content-type"] ?? null);
      record.route = rawPath;
      const lean = deps.leanGrpc?.match(rawPath, req);
      if (lean) {
        const tooLarge = (size: number) => refusal(contextValues, messageTooLarge(size, deps.maxMessageBytes));
        return deps.leanGrpc!.serve(lean, req, res, contextValues, tooLarge, (body) => serveRpc(direct, req, res, () => new URL(raw, "http://switchyard"), contextValues, method, body));
      }
      return serveRpc(direct, req, res, () => new URL(raw, "http://switchyard"), contextValues, method);
    }
    const url = new URL(raw, "http://switchyard");
    const header = headersOf(req);

    const handler = deps.handlers.get(url.pathname);
    if (handler) {
      record.protocol = protocolOf(header.get("content-type"));
      record.route = url.pathname;
      return serveRpc(handler, req, res, () => url, contextValues, method);
    }
    const rpcProtocol = rpcProtocolOf(header);
    if (rpcProtocol && method === "POST") {
      record.protocol = rpcProtocol.startsWith("connect") ? "connect" : rpcProtocol;
      record.code = "unimplemented";
      record.reason = "METHOD_NOT_FOUND";
      return sendRpcNotFound(res, rpcProtocol, url.pathname, header.get("content-type") ?? "", log);
    }
    if (url.pathname === "/healthz") {
      record.protocol = "health";
      record.route = "/healthz";
      return sendJson(res, 200, { status: "ok", timestamp: new Date().toISOString() });
    }
    if (url.pathname === "/readyz") {
      record.protocol = "health";
      record.route = "/readyz";
      const report = deps.health.report();
      return sendJson(res, report.status === "unhealthy" ? 503 : 200, { status: report.status, draining: report.draining });
    }
    const asset = url.pathname.startsWith("/docs/assets/") ? deps.docs?.assets.get(url.pathname) : undefined;
    if (asset) {
      record.protocol = "docs";
      record.route = url.pathname; // one of the docs' own assets
      return send(res, 200, asset.body, { "content-type": asset.contentType, "cache-control": "public, max-age=86400" });
    }
    if ((url.pathname === "/openapi.json" || DOCS_PAGES.has(url.pathname)) && deps.docs) {
      record.protocol = "docs";
      record.route = url.pathname;
      try {
        authorize(await principalFor(deps.auth, contextValues, header.get("authorization"), "authenticated"), "authenticated", deps.auth.open);
      } catch (error) {
        return sendRestError({ res, contextValues }, toConnectError(error, log));
      }
      return url.pathname !== "/openapi.json"
        ? send(res, 200, deps.docs.html, { "content-type": "text/html; charset=utf-8" })
        : send(res, 200, deps.docs.json, { "content-type": "application/json; charset=utf-8" });
    }
    if (deps.site?.serve(req, res, url)) {
      record.protocol = "ui";
      record.route = "/ui";
      return;
    }
    const signal = clientGone(req, res);
    const rawRoute = deps.raw?.match(method, url.pathname);
    if (rawRoute) {
      record.protocol = "rest";
      record.route = `${rawRoute.route.method} ${rawRoute.route.path}`;
      return rawRoute.route.handle({ req, res, url, header, contextValues, signal }, rawRoute.params, deps);
    }
    const legacy = deps.legacy.match(method, url.pathname);
    if (legacy) {
      record.protocol = "legacy";
      if ("methodNotAllowed" in legacy) {
        res.setHeader("allow", legacy.methodNotAllowed.join(", "));
        return sendLegacyError(legacy.family, { res, contextValues }, toConnectError(new AppError("invalid_argument", "METHOD_NOT_ALLOWED", `${method} is not allowed on ${url.pathname}`), log));
      }
      record.route = `${legacy.route.method} ${legacy.route.path}`;
      edge.classes = legacyRouteClasses(legacy.family.name, legacy.route.method, legacy.route.path);
      edge.setHeader = (k, v) => !res.headersSent && res.setHeader(k, v);
      legacy.family.prepare?.(res);
      return serveLegacy(legacy, { req, res, url, header, contextValues, signal }, deps);
    }
    record.protocol = "rest";
    const rest = deps.rest.match(method, url.pathname);
    if (rest && "methodNotAllowed" in rest) {
      if (method === "OPTIONS") {
        // Not a CORS preflight (answered above): which methods the resource takes.
        res.writeHead(204, { allow: [...rest.methodNotAllowed, "OPTIONS"].join(", ") });
        res.end();
        return;
      }
      res.setHeader("allow", rest.methodNotAllowed.join(", "));
      res.statusCode = 405;
      return sendJson(res, 405, {
        error: { code: "unimplemented", status: 405, message: `${method} is not allowed on ${url.pathname}`, reason: "METHOD_NOT_ALLOWED", metadata: {} },
      });
    }
    if (!rest) {
      record.code = "not_found";
      record.reason = "ROUTE_NOT_FOUND";
      return sendJson(res, 404, {
        error: { code: "not_found", status: 404, message: `no route for ${method} ${url.pathname}`, reason: "ROUTE_NOT_FOUND", metadata: { path: url.pathname } },
      });
    }
    record.route = `${rest.route.httpMethod} ${rest.route.template.source}`;
    edge.classes = ["api"];
    edge.setHeader = (k, v) => !res.headersSent && res.setHeader(k, v);
    return transcode(rest, { req, res, url, header, contextValues, signal }, deps);
  }

  /** A refusal at the HTTP boundary: a ConnectError with ErrorInfo, written to the call record. */
  function refusal(contextValues: ReturnType<typeof createContextValues>, error: AppError) {
    const connectError = toConnectError(error, log);
    const record = contextValues.get(callRecordKey);
    if (record) {
      record.code = error.code;
      record.reason = error.reason;
    }
    return connectError;
  }

  async function serveRpc(
    handler: UniversalHandler,
    req: NodeRequest,
    res: NodeResponse,
    urlOf: () => URL,
    contextValues: ReturnType<typeof createContextValues>,
    method: string,
    /** The body when the lean gRPC path already began reading it. */
    given?: AsyncIterable<Uint8Array>,
  ): Promise<void> {
    let uReq = universalRequestFromNodeRequest(req as never, res as never, undefined, contextValues);
    if (given) uReq = { ...uReq, body: given };
    const framing = jsonFraming(req.headers["content-type"] ?? null);
    // Deadline and size are refused here, with ErrorInfo, before Connect refuses them without.
    const refuse = (error: AppError) => refusal(contextValues, error);
    const timeoutMs = requestedTimeoutMs(uReq.header);
    if (deps.maxDeadlineMs !== undefined && timeoutMs !== undefined && timeoutMs > deps.maxDeadlineMs) {
      const error = refuse(deadlineTooLong(timeoutMs, deps.maxDeadlineMs));
      uReq.header.delete("grpc-timeout");
      uReq.header.delete("connect-timeout-ms");
      uReq.header.delete("content-length");
      uReq = { ...uReq, body: (async function* (): AsyncGenerator<Uint8Array> { throw error; })() };
    } else if (method === "POST" && !framing) {
      const enveloped = !(req.headers["content-type"] ?? "").toLowerCase().startsWith("application/proto");
      uReq.header.delete("content-length");
      const body = uReq.body as AsyncIterable<Uint8Array>;
      uReq = { ...uReq, body: limitBody(body, enveloped, deps.maxMessageBytes, (size) => refuse(messageTooLarge(size, deps.maxMessageBytes))) };
    } else if (method === "POST" && framing) {
      let body: Uint8Array;
      try {
        body = await readBody(req, deps.maxMessageBytes + 5);
        const gated = gateJsonBody(handler.method, framing, body);
        if (gated.error) contextValues.set(preParseErrorKey, gated.error);
        body = gated.body;
      } catch (error) {
        contextValues.set(preParseErrorKey, error instanceof AppError ? error : new AppError("invalid_argument", "INVALID_ARGUMENT", String(error)));
        body = framing === "unary" ? new TextEncoder().encode("{}") : new Uint8Array([0, 0, 0, 0, 2, 123, 125]);
      }
      uReq.header.set("content-length", String(body.byteLength));
      uReq = { ...uReq, body: createAsyncIterable([body]) };
    } else if (method === "GET") {
      const url = urlOf();
      if (url.searchParams.get("encoding") === "json" && url.searchParams.has("message")) {
        const gated = gateJsonBody(handler.method, "unary", new TextEncoder().encode(url.searchParams.get("message")!));
        if (gated.error) {
          contextValues.set(preParseErrorKey, gated.error);
          url.searchParams.set("message", "{}");
          uReq = { ...uReq, url: url.toString() };
        }
      }
    }
    const uRes = await handler(uReq);
    await universalResponseToNodeResponse(uRes, res as never);
  }

  const handle = ((req: NodeRequest, res: NodeResponse) => {
    const started = performance.now();
    inFlight++;
    const given = req.headers["x-request-id"];
    const requestId = typeof given === "string" && REQUEST_ID.test(given) ? given : newId("req");
    res.setHeader("x-request-id", requestId);
    const path = req.url?.split("?")[0] ?? "/";
    // `route` is a metric label: a template or RPC once a route matched, one value for all the
    // paths that matched none (a scanner's random paths must not each make a time series).
    const record: CallRecord = { protocol: "other", route: UNMATCHED, code: "ok", requestId };
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      inFlight--;
      if (inFlight === 0) {
        const w = waiters;
        waiters = [];
        for (const resolve of w) resolve();
      }
      const durationMs = performance.now() - started;
      const grpc = record.protocol === "grpc" || record.protocol === "grpc-web";
      const status = grpc ? (record.code === "ok" ? 200 : HTTP_STATUS[record.code as ErrorCode] ?? 500) : res.statusCode;
      deps.metrics.record({ protocol: record.protocol, route: record.route, status, durationMs });
      log.info("request", {
        protocol: record.protocol,
        method: req.method,
        route: record.route,
        path,
        rpc: record.rpc,
        code: record.code === "ok" && status >= 400 && !grpc ? `http_${status}` : record.code,
        reason: record.reason,
        status,
        duration_ms: Math.round(durationMs * 1000) / 1000,
        request_id: requestId,
      });
    };
    res.once("finish", finish);
    res.once("close", finish);
    if (applyCors(req, res)) return;
    serve(req, res, record).catch((error) => {
      const connectError = toConnectError(error, log, { requestId, route: record.route });
      if (!res.headersSent) sendRestError({ res, contextValues: createContextValues() }, connectError);
      else res.destroy();
    });
  }) as RequestHandler;
  Object.defineProperty(handle, "inFlight", { get: () => inFlight });
  handle.upgrade = (req, socket, head) => {
    const path = (req.url ?? "/").split("?")[0];
    const route = deps.upgrades.find((u) => u.path === path || (path !== undefined && u.matches?.(path)));
    if (!route) {
      socket.end("HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");
      return;
    }
    log.info("upgrade", { route: path, request_id: req.headers["x-request-id"] });
    route.handle(req, socket, head);
  };
  handle.idle = () => (inFlight === 0 ? Promise.resolve() : new Promise<void>((resolve) => waiters.push(resolve)));
  return handle;
}
