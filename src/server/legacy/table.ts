import { create, type DescMessage, type DescMethodUnary, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import { ConnectError, type ContextValues } from "@connectrpc/connect";
import type { UniversalHandler } from "@connectrpc/connect/protocol";
import { AppError } from "../../core/errors.ts";
import type { Logger } from "../../core/logger.ts";
import { callRecordKey } from "../call-record.ts";
import { codeName, errorInfo, toConnectError } from "../errors.ts";
import { candidatesByPrefix, literalSegments } from "../route-index.ts";
import { readBody, send, type Exchange, type NodeRequest, type NodeResponse } from "../http-io.ts";
import { invokeUnary } from "../invoke.ts";
import { preParseErrorKey } from "../json-gate.ts";
import { restStatus } from "../rest/rest-errors.ts";
import { authorize, policyCheckedKey, principalFor, type PrincipalResolver } from "../interceptors/auth.ts";
import type { AccessPolicy } from "../policy.ts";
import { responseTooLarge, type ResponseGate, type ResponseTurn } from "../response-gate.ts";

/** What a legacy request adapter sees. */
export interface LegacyRequest {
  params: Record<string, string>;
  query: URLSearchParams;
  /** Parsed JSON body (undefined when empty). */
  body: unknown;
  header: Headers;
}

/** A legacy answer: status, body (JSON unless `contentType` says otherwise), headers. */
export interface LegacyReply {
  status?: number;
  body: unknown;
  contentType?: string;
  headers?: Record<string, string>;
}

/** Calls further RPCs from a response adapter, with the caller's credentials. */
export type LegacyCall = <I extends DescMessage, O extends DescMessage>(
  method: DescMethodUnary<I, O>,
  input: MessageInitShape<I>,
) => Promise<MessageShape<O>>;

/** One documented route of a seed, mapped to the RPC that serves it. */
export interface LegacyRoute<I extends DescMessage = DescMessage, O extends DescMessage = DescMessage> {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  /** Express-style path as the seed documents it: `/api/tasks/:id/claim`. */
  path: string;
  /**
   * Other paths (and methods) the same route answers on, when the replaced system's public
   * server or clients use another spelling than its document (same parameter names).
   */
  aliases?: { method?: "GET" | "POST" | "PUT" | "PATCH" | "DELETE"; path: string }[];
  /** The answer may wait (a long poll): it does not hold one of the response gate's turns. */
  waits?: boolean;
  rpc: DescMethodUnary<I, O>;
  /**
   * Who may call the route (default `authenticated`), checked before the body is read; the RPC's
   * own policy applies as well, except on a route declared `public` (a seed leaves it open).
   */
  policy?: AccessPolicy;
  /** Request adapter: seed shape → RPC request. Throw AppError for bad input. */
  request?: (req: LegacyRequest) => MessageInitShape<I>;
  /** Response adapter: RPC answer → seed shape. */
  response: (out: MessageShape<O>, req: LegacyRequest, call: LegacyCall) => LegacyReply | Promise<LegacyReply>;
}

/** What a raw route is given besides the exchange. */
export interface RawRouteContext {
  params: Record<string, string>;
  deps: LegacyDeps;
  family: LegacyFamily;
}

/** A route whose answer is not one JSON reply (a stream of events, an exact signed body): it serves the exchange itself, calling RPCs in-process. */
export interface RawLegacyRoute {
  method: LegacyRoute["method"];
  path: string;
  aliases?: LegacyRoute["aliases"];
  raw(ex: LegacyExchange, ctx: RawRouteContext): Promise<void>;
}

/** The routes of one seed family, with that family's error body. */
export interface LegacyFamily {
  /** e.g. "seed-004-operations": shows in logs and metrics as the protocol detail. */
  name: string;
  routes: (LegacyRoute | RawLegacyRoute)[];
  /** The family's error body and status for an error. */
  error(error: ConnectError, status: number): LegacyReply;
  /** Called before a route of the family is served (headers every answer of the family carries). */
  prepare?(res: NodeResponse): void;
  /** The tag its routes carry in /openapi.json (the replaced system's own tags); default: the name. */
  docTag?(route: LegacyRoute | RawLegacyRoute): string;
}

/** Declares a route with its types checked against its RPC. */
export function route<I extends DescMessage, O extends DescMessage>(r: LegacyRoute<I, O>): LegacyRoute {
  return r as unknown as LegacyRoute;
}

interface CompiledRoute {
  family: LegacyFamily;
  route: LegacyRoute | RawLegacyRoute;
  method: string;
  regex: RegExp;
  names: string[];
  /** The spelling compiled: the route's path or one of its aliases. */
  path: string;
}

export interface LegacyMatch {
  family: LegacyFamily;
  route: LegacyRoute | RawLegacyRoute;
  params: Record<string, string>;
}

/** Route table over every family; first declared wins. */
export interface LegacyRouter {
  match(method: string, path: string): LegacyMatch | { methodNotAllowed: string[]; family: LegacyFamily } | undefined;
}

export function createLegacyRouter(families: LegacyFamily[]): LegacyRouter {
  const compiled: CompiledRoute[] = [];
  const spellings = (r: LegacyRoute | RawLegacyRoute) => [{ method: r.method, path: r.path }, ...(r.aliases ?? []).map((a) => ({ method: a.method ?? r.method, path: a.path }))];
  for (const family of families) {
    for (const r of family.routes) for (const { method, path } of spellings(r)) {
      const names: string[] = [];
      const pattern = path
        .split("/")
        .map((seg) => {
          if (seg.startsWith(":")) {
            names.push(seg.slice(1));
            return "([^/]+)";
          }
          return seg.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
        })
        .join("/");
      compiled.push({ family, route: r, method, regex: new RegExp(`^${pattern}/?$`), names, path });
    }
  }
  // REST calls pass through here first: each path is tried only against the routes its
  // leading segments can match, still in declaration order.
  const candidates = candidatesByPrefix(compiled, (c) => literalSegments(c.path, (seg) => seg.startsWith(":")));
  return {
    match(method, path) {
      const allowed: string[] = [];
      let family: LegacyFamily | undefined;
      for (const c of candidates(path)) {
        const m = c.regex.exec(path);
        if (!m) continue;
        if (c.method === method || (method === "HEAD" && c.method === "GET")) {
          const params: Record<string, string> = {};
          c.names.forEach((n, i) => (params[n] = decodeURIComponent(m[i + 1]!)));
          return { family: c.family, route: c.route, params };
        }
        allowed.push(c.method);
        family ??= c.family;
      }
      return family ? { methodNotAllowed: allowed, family } : undefined;
    },
  };
}

export type LegacyExchange = Exchange;

export interface LegacyDeps {
  auth: PrincipalResolver;
  handlers: Map<string, UniversalHandler>;
  log: Logger;
  maxMessageBytes: number;
  maxBodyBytes: number;
  /** Bounds the answers built and in flight (unset: unbounded). */
  responses?: ResponseGate;
}

/** A reply's bytes and content type. */
function encodeReply(r: LegacyReply): { body: Uint8Array; contentType: string } {
  if (r.contentType && typeof r.body === "string") return { body: Buffer.from(r.body), contentType: r.contentType };
  return { body: Buffer.from(JSON.stringify(r.body)), contentType: "application/json; charset=utf-8" };
}

function reply(res: NodeResponse, r: LegacyReply): void {
  const { body, contentType } = encodeReply(r);
  send(res, r.status ?? 200, body, { "content-type": contentType, ...r.headers });
}

/** Answers an error in the family's shape, and notes it for the request log. */
export function sendLegacyError(family: LegacyFamily, ex: Pick<LegacyExchange, "res" | "contextValues">, error: ConnectError): void {
  const record = ex.contextValues.get(callRecordKey);
  if (record && record.code === "ok") {
    record.code = codeName(error.code);
    record.reason = errorInfo(error)?.reason;
  }
  reply(ex.res, family.error(error, restStatus(error)));
}

/** Serves one legacy route: adapt the request, call the RPC in-process, adapt the answer. */
export async function serveLegacy(match: LegacyMatch, ex: LegacyExchange, deps: LegacyDeps): Promise<void> {
  const { family, route: r } = match;
  if ("raw" in r) return r.raw(ex, { params: match.params, deps, family });
  const options = { header: ex.header, contextValues: ex.contextValues, signal: ex.signal, maxMessageBytes: deps.maxMessageBytes };
  const call: LegacyCall = (method, input) => invokeUnary(deps.handlers, method, create(method.input, input), options);
  let request: LegacyRequest = { params: match.params, query: ex.url.searchParams, body: undefined, header: ex.header };
  const policy = r.policy ?? "authenticated";
  try {
    authorize(await principalFor(deps.auth, ex.contextValues, ex.header.get("authorization"), policy), policy, deps.auth.open);
  } catch (error) {
    return sendLegacyError(family, ex, toConnectError(error, deps.log));
  }
  if (r.policy === "public") ex.contextValues.set(policyCheckedKey, true);
  let input;
  try {
    if (r.method !== "GET") {
      const raw = await readBody(ex.req, deps.maxBodyBytes);
      if (raw.byteLength > 0 && /^application\/x-www-form-urlencoded/i.test(ex.header.get("content-type") ?? "")) {
        // OAuth clients (RFC 6749 §4.1.3, RFC 8628 §3.4) post forms; adapters see an object.
        request = { ...request, body: Object.fromEntries(new URLSearchParams(new TextDecoder().decode(raw))) };
      } else if (raw.byteLength > 0) {
        try {
          request = { ...request, body: JSON.parse(new TextDecoder().decode(raw)) };
        } catch (e) {
          throw new AppError("invalid_argument", "INVALID_ARGUMENT", `request body is not JSON: ${(e as Error).message}`);
        }
      }
    }
    input = create(r.rpc.input, r.request ? r.request(request) : {});
  } catch (error) {
    if (error instanceof AppError && error.reason === "BODY_TOO_LARGE") return sendLegacyError(family, ex, toConnectError(error, deps.log));
    // As on REST: auth runs first, then the adapter's complaint is thrown by the interceptors.
    ex.contextValues.set(preParseErrorKey, error instanceof AppError ? error : new AppError("invalid_argument", "INVALID_ARGUMENT", String(error)));
    input = create(r.rpc.input);
  }
  let turn: ResponseTurn | undefined;
  try {
    turn = r.waits ? undefined : await deps.responses?.enter(ex.signal, `${r.method} ${r.path}`);
    const output = await invokeUnary(deps.handlers, r.rpc, input, options);
    // The waiver of a public route covers its own RPC only; further calls are checked as usual.
    ex.contextValues.set(policyCheckedKey, false);
    const answer = await r.response(output, request, call);
    const { body, contentType } = encodeReply(answer);
    // The write limit of every other protocol holds for legacy answers too.
    if (body.byteLength > deps.maxMessageBytes) throw responseTooLarge(body.byteLength, deps.maxMessageBytes);
    turn?.sending(ex.res, body.byteLength);
    send(ex.res, answer.status ?? 200, body, { "content-type": contentType, ...answer.headers });
  } catch (error) {
    turn?.leave();
    sendLegacyError(family, ex, toConnectError(error, deps.log));
  }
}
