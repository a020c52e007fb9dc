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
import type { ApiDocs } from "./docs.ts";
import { bearerMatches } from "./interceptors/auth.ts";
import { gateJsonBody, jsonFraming, preParseErrorKey } from "./json-gate.ts";
import { AppError } from "../core/errors.ts";
import { sendLegacyError, serveLegacy, type LegacyRouter } from "./legacy/table.ts";
import { sendRestError, transcode } from "./rest/transcode.ts";
import type { RestRouter } from "./rest/routes.ts";
import type { ErrorCode } from "../core/errors.ts";

/** A route that takes over the connection with a WebSocket upgrade (seed 000 mail, seed 001 /ws). */
export interface UpgradeRoute {
  path: string;
  handle(req: NodeRequest, socket: Socket, head: Buffer): void;
}

export interface HttpDeps {
  /** The OpenAPI document and its HTML index, served at /openapi.json and /docs. */
  docs: ApiDocs | undefined;
  /** Bearer token guarding every route but health (undefined: open). */
  apiToken: string | undefined;
  /** WebSocket routes by exact path. */
  upgrades: UpgradeRoute[];
  handlers: Map<string, UniversalHandler>;
  rest: RestRouter;
  legacy: LegacyRouter;
  log: Logger;
  metrics: RequestMetrics;
  health: HealthMonitor;
  corsOrigins: string[];
  maxMessageBytes: number;
  maxBodyBytes: number;
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
const EXPOSE_HEADERS = [...connectCors.exposedHeaders, "X-Request-Id", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"].join(", ");
const REQUEST_ID = /^[\w.:-]{1,128}$/;

function protocolOf(contentType: string | null): string {
  const type = (contentType ?? "").toLowerCase();
  if (type.startsWith("application/grpc-web")) return "grpc-web";
  if (type.startsWith("application/grpc")) return "grpc";
  return "connect";
}

/** Creates the handler: CORS, request id, then RPC, health probes, legacy routes, REST, 404. */
export function createRequestHandler(deps: HttpDeps): RequestHandler {
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
    // RPC paths are matched on the raw path first: no URL or Headers object is built for them
    // (Connect builds its own), which is most of the per-call work done here.
    const raw = req.url ?? "/";
    const q = raw.indexOf("?");
    const rawPath = q < 0 ? raw : raw.slice(0, q);
    const direct = deps.handlers.get(rawPath);
    if (direct) {
      record.protocol = protocolOf(req.headers["content-type"] ?? null);
      record.route = rawPath;
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
    if (url.pathname === "/healthz") {
      record.protocol = "health";
      return sendJson(res, 200, { status: "ok", timestamp: new Date().toISOString() });
    }
    if (url.pathname === "/readyz") {
      record.protocol = "health";
      const report = deps.health.report();
      return sendJson(res, report.status === "unhealthy" ? 503 : 200, { status: report.status, draining: report.draining });
    }
    if ((url.pathname === "/openapi.json" || url.pathname === "/docs") && deps.docs) {
      record.protocol = "docs";
      if (deps.apiToken && !bearerMatches(header.get("authorization"), deps.apiToken)) {
        record.code = "unauthenticated";
        return sendJson(res, 401, { error: { code: "unauthenticated", status: 401, message: "missing or invalid bearer token", reason: "UNAUTHENTICATED", metadata: {} } });
      }
      return url.pathname === "/docs"
        ? send(res, 200, deps.docs.html, { "content-type": "text/html; charset=utf-8" })
        : send(res, 200, deps.docs.json, { "content-type": "application/json; charset=utf-8" });
    }
    const signal = clientGone(req, res);
    const legacy = deps.legacy.match(method, url.pathname);
    if (legacy) {
      record.protocol = "legacy";
      if ("methodNotAllowed" in legacy) {
        res.setHeader("allow", legacy.methodNotAllowed.join(", "));
        return sendLegacyError(legacy.family, { res, contextValues }, toConnectError(new AppError("invalid_argument", "METHOD_NOT_ALLOWED", `${method} is not allowed on ${url.pathname}`), log));
      }
      record.route = `${legacy.route.method} ${legacy.route.path}`;
      return serveLegacy(legacy, { req, res, url, header, contextValues, signal }, deps);
    }
    record.protocol = "rest";
    const rest = deps.rest.match(method, url.pathname);
    if (rest && "methodNotAllowed" in rest) {
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
    return transcode(rest, { req, res, url, header, contextValues, signal }, deps);
  }

  async function serveRpc(
    handler: UniversalHandler,
    req: NodeRequest,
    res: NodeResponse,
    urlOf: () => URL,
    contextValues: ReturnType<typeof createContextValues>,
    method: string,
  ): Promise<void> {
    let uReq = universalRequestFromNodeRequest(req as never, res as never, undefined, contextValues);
    const framing = jsonFraming(req.headers["content-type"] ?? null);
    if (method === "POST" && framing) {
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
    const record: CallRecord = { protocol: "other", route: req.url?.split("?")[0] ?? "/", code: "ok", requestId };
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
    const route = deps.upgrades.find((u) => u.path === path);
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
