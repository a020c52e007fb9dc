import { create, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { ConnectError } from "@connectrpc/connect";
import { AgentPoolService, ProbeTarget } from "../../../../gen/switchyard/agents/v1/agent_pool_service_pb.js";
import { AgentSessionService, StartSessionRequestSchema, WatchSessionRequestSchema } from "../../../../gen/switchyard/agents/v1/agent_session_service_pb.js";
import { PermissionMode, SessionState, type AgentSession, type SessionEvent } from "../../../../gen/switchyard/agents/v1/agents_pb.js";
import { IntegrationService, ReceiveGitHubWebhookRequestSchema, WebhookOutcome } from "../../../../gen/switchyard/agents/v1/integration_service_pb.js";
import { timestampDate, timestampMs, type Timestamp } from "@bufbuild/protobuf/wkt";
import { sessionEventJson } from "../../../agents/service.ts";
import { AppError, invalidArgument } from "../../../core/errors.ts";
import type { RequestMetrics } from "../../../system/metrics.ts";
import { toConnectError } from "../../errors.ts";
import { readBody } from "../../http-io.ts";
import { invokeServerStream, invokeUnary, type InvokeOptions } from "../../invoke.ts";
import { preParseErrorKey } from "../../json-gate.ts";
import { route, sendLegacyError, type LegacyExchange, type LegacyFamily, type LegacyRequest, type RawLegacyRoute, type RawRouteContext } from "../table.ts";
import { seed004Error } from "./errors.ts";
import { seed004Headers } from "./headers.ts";

const SSE_KEEPALIVE_MS = 15_000;
const iso = (t: Timestamp | undefined) => (t ? timestampDate(t).toISOString() : null);
const ms = (t: Timestamp | undefined) => (t ? timestampMs(t) : null);
const PERMISSION_MODES: Record<string, PermissionMode> = {
  default: PermissionMode.DEFAULT,
  acceptEdits: PermissionMode.ACCEPT_EDITS,
  bypassPermissions: PermissionMode.BYPASS_PERMISSIONS,
  plan: PermissionMode.PLAN,
};
/** Seed 004's status words: queued and processing → processing, completed and ended → completed, failed → error. */
const STATUS_WORDS: Record<number, string> = {
  [SessionState.QUEUED]: "processing",
  [SessionState.PROCESSING]: "processing",
  [SessionState.COMPLETED]: "completed",
  [SessionState.ENDED]: "completed",
  [SessionState.FAILED]: "error",
};
const STATE_NAMES: Record<number, string> = { 1: "queued", 2: "processing", 3: "completed", 4: "failed", 5: "ended" };

const obj = (v: unknown): Record<string, unknown> => (v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
function str(body: Record<string, unknown>, key: string, field = key): string | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw invalidArgument(field, "must be a string");
  return v;
}

/** Seed 004's `/interactive/start` body as a StartSessionRequest. */
function startRequest(raw: unknown) {
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) throw invalidArgument("body", "must be a JSON object");
  const body = raw as Record<string, unknown>;
  const repo = obj(body.repository);
  const options = obj(body.options);
  const mode = options.permissionMode;
  if (mode !== undefined && (typeof mode !== "string" || !(mode in PERMISSION_MODES))) throw invalidArgument("options.permissionMode", `must be one of ${Object.keys(PERMISSION_MODES).join(", ")}`);
  const maxTurns = options.maxTurns;
  if (maxTurns !== undefined && (typeof maxTurns !== "number" || !Number.isInteger(maxTurns))) throw invalidArgument("options.maxTurns", "must be a whole number");
  return create(StartSessionRequestSchema, {
    sessionId: str(body, "sessionId"),
    prompt: str(body, "prompt") ?? "",
    repository: { url: str(repo, "url", "repository.url") ?? "", name: str(repo, "name", "repository.name") ?? "", branch: str(repo, "branch", "repository.branch") ?? "" },
    anthropicApiKey: str(body, "anthropicApiKey"),
    anthropicBaseUrl: str(body, "anthropicBaseUrl"),
    githubToken: str(body, "githubToken"),
    options: { maxTurns: (maxTurns as number | undefined) ?? 0, permissionMode: mode ? PERMISSION_MODES[mode as string] : PermissionMode.UNSPECIFIED, createPr: options.createPR === true },
    requestId: str(body, "requestId") ?? "",
  });
}

/** One session event as seed 004's SSE frame; `id:` is the event's sequence (for Last-Event-ID). */
function sseFrame(e: SessionEvent): string {
  const { name, seq, time, data } = sessionEventJson(e);
  const payload: Record<string, unknown> = { ...data, timestamp: new Date(time).toISOString() };
  if (name === "connected") payload.sessionId = e.sessionId;
  return `${seq > 0 ? `id: ${seq}\n` : ""}event: ${name}\ndata: ${JSON.stringify(payload)}\n\n`;
}

function invokeOptions(ex: LegacyExchange, ctx: RawRouteContext): InvokeOptions {
  return { header: ex.header, contextValues: ex.contextValues, signal: ex.signal, maxMessageBytes: ctx.deps.maxMessageBytes };
}

/** Relays a session stream as SSE; errors before the first event answer in the seed's error body. */
async function relay(ex: LegacyExchange, ctx: RawRouteContext, stream: AsyncGenerator<{ event?: SessionEvent }>): Promise<void> {
  const { res } = ex;
  let first: IteratorResult<{ event?: SessionEvent }>;
  try {
    first = await stream.next();
  } catch (error) {
    return sendLegacyError(ctx.family, ex, toConnectError(error, ctx.deps.log));
  }
  const sessionId = first.done ? "" : (first.value.event?.sessionId ?? "");
  // As the seed's worker does, the session id also travels in a header (a client can DELETE or poll it without parsing the stream).
  res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", connection: "keep-alive", "x-accel-buffering": "no", "x-session-id": sessionId });
  (res as { flushHeaders?: () => void }).flushHeaders?.();
  const keepalive = setInterval(() => res.write(": keepalive\n\n"), SSE_KEEPALIVE_MS);
  try {
    for (let next = first; !next.done; next = await stream.next()) if (next.value.event) res.write(sseFrame(next.value.event));
  } catch (error) {
    if (!ex.signal.aborted) {
      const e = error instanceof ConnectError ? error : toConnectError(error, ctx.deps.log);
      res.write(`event: error\ndata: ${JSON.stringify({ message: e.rawMessage, timestamp: new Date().toISOString() })}\n\n`);
    }
  } finally {
    clearInterval(keepalive);
    await stream.return(undefined);
    res.end();
  }
}

/** Reads the JSON body; a bad one is judged by the interceptors after auth (as on every legacy route). */
async function jsonBody(ex: LegacyExchange, ctx: RawRouteContext): Promise<unknown> {
  const raw = await readBody(ex.req, ctx.deps.maxBodyBytes);
  if (raw.byteLength === 0) return {};
  try {
    return JSON.parse(new TextDecoder().decode(raw));
  } catch (e) {
    throw new AppError("invalid_argument", "INVALID_ARGUMENT", `request body is not JSON: ${(e as Error).message}`);
  }
}

function deferred<I extends DescMessage>(ex: LegacyExchange, schema: I, build: () => MessageShape<I>): MessageShape<I> {
  try {
    return build();
  } catch (error) {
    ex.contextValues.set(preParseErrorKey, error instanceof AppError ? error : new AppError("invalid_argument", "INVALID_ARGUMENT", String(error)));
    return create(schema);
  }
}

const interactiveStart: RawLegacyRoute = {
  method: "POST",
  path: "/interactive/start",
  async raw(ex, ctx) {
    let body: unknown;
    try {
      body = await jsonBody(ex, ctx);
    } catch (error) {
      if (error instanceof AppError && error.reason === "BODY_TOO_LARGE") return sendLegacyError(ctx.family, ex, toConnectError(error, ctx.deps.log));
      ex.contextValues.set(preParseErrorKey, error as AppError);
      body = {};
    }
    const lastEventId = ex.header.get("last-event-id");
    const sessionId = obj(body).sessionId;
    if (lastEventId && typeof sessionId === "string" && /^\d{1,15}$/.test(lastEventId.trim())) {
      // An EventSource reconnecting: the session exists, send what came after the last event seen.
      const input = create(WatchSessionRequestSchema, { sessionId, afterSequence: BigInt(lastEventId.trim()) });
      return relay(ex, ctx, invokeServerStream(ctx.deps.handlers, AgentSessionService.method.watchSession, input, invokeOptions(ex, ctx)));
    }
    const input = deferred(ex, StartSessionRequestSchema, () => startRequest(body));
    return relay(ex, ctx, invokeServerStream(ctx.deps.handlers, AgentSessionService.method.startSession, input, invokeOptions(ex, ctx)));
  },
};

/** Extension: `GET /interactive/stream?sessionId=` follows a session (what a browser EventSource can reconnect to). */
const interactiveStream: RawLegacyRoute = {
  method: "GET",
  path: "/interactive/stream",
  async raw(ex, ctx) {
    const sessionId = ex.url.searchParams.get("sessionId") ?? "";
    const after = ex.header.get("last-event-id") ?? ex.url.searchParams.get("lastEventId") ?? "0";
    const input = deferred(ex, WatchSessionRequestSchema, () => {
      if (!sessionId) throw invalidArgument("sessionId", "sessionId is required");
      if (!/^\d{1,15}$/.test(after.trim())) throw invalidArgument("lastEventId", "must be a sequence number");
      return create(WatchSessionRequestSchema, { sessionId, afterSequence: BigInt(after.trim()) });
    });
    return relay(ex, ctx, invokeServerStream(ctx.deps.handlers, AgentSessionService.method.watchSession, input, invokeOptions(ex, ctx)));
  },
};

const githubWebhook: RawLegacyRoute = {
  method: "POST",
  path: "/webhooks/github",
  async raw(ex, ctx) {
    // The exact bytes are what GitHub signed: no JSON parsing before verification.
    let data: Uint8Array;
    try {
      data = await readBody(ex.req, ctx.deps.maxBodyBytes);
    } catch (error) {
      return sendLegacyError(ctx.family, ex, toConnectError(error, ctx.deps.log));
    }
    const input = create(ReceiveGitHubWebhookRequestSchema, { payload: { contentType: ex.header.get("content-type") ?? "application/json", data } });
    let answer: Record<string, unknown>;
    try {
      const out = await invokeUnary(ctx.deps.handlers, IntegrationService.method.receiveGitHubWebhook, input, invokeOptions(ex, ctx));
      answer = { received: true, outcome: WebhookOutcome[out.outcome]?.toLowerCase(), event: out.event, action: out.action, sessionId: out.sessionId || undefined };
    } catch (error) {
      const e = toConnectError(error, ctx.deps.log);
      const body = seed004Error(e, 200).body;
      // Always 200 so GitHub does not retry; what was refused is in the body (and the stats).
      answer = { received: false, ...body };
    }
    ex.res.writeHead(200, { "content-type": "application/json; charset=utf-8" });
    ex.res.end(JSON.stringify({ ...answer, timestamp: new Date().toISOString() }));
  },
};

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const page = (title: string, body: string) =>
  `<!DOCTYPE html>\n<html>\n<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title></head>\n<body style="font-family: sans-serif; max-width: 640px; margin: 40px auto">\n<h1>${escapeHtml(title)}</h1>\n${body}\n</body>\n</html>\n`;

function sessionStatus(s: AgentSession) {
  return {
    sessionId: s.id,
    status: STATUS_WORDS[s.state] ?? "processing",
    currentTurn: s.currentTurn,
    repository: { name: s.repository?.name ?? "", branch: s.repository?.branch ?? "" },
    createdAt: ms(s.createdAt),
    lastActivityAt: ms(s.lastActivityAt),
    completedAt: ms(s.completedAt) ?? undefined,
    errorMessage: s.errorMessage || undefined,
    // Extensions.
    state: STATE_NAMES[s.state],
    kind: s.kind === 2 ? "issue" : "interactive",
    workerId: s.workerId || undefined,
    lastEventId: Number(s.lastEventSequence),
    tokensUsed: Number(s.tokensUsed),
    costUsd: s.costUsd,
    pullRequestUrl: s.pullRequestUrl || undefined,
  };
}

const text = (status: number, body: string, headers: Record<string, string> = {}) => ({ status, body, contentType: "text/plain; charset=utf-8", headers });

function probeRoute(path: string, target: ProbeTarget) {
  return route({
    method: "GET",
    path,
    rpc: AgentPoolService.method.probeAgentPool,
    request: () => ({ target }),
    response: (out) => (out.healthy ? text(200, "Container is healthy", { "x-agent-worker": out.workerId }) : text(503, out.message)),
  });
}

/**
 * Seed 004's Claude Code worker routes beside its operations routes: interactive sessions (SSE),
 * GitHub webhooks, setup and status pages, and the container routes mapped onto the agent pool.
 */
export function claudeWorkerFamily(deps: { environment: string; metrics: RequestMetrics }): LegacyFamily {
  return {
    name: "seed-004-claude-worker",
    error: seed004Error,
    prepare: seed004Headers(deps.metrics),
    routes: [
      interactiveStart,
      interactiveStream,
      route({
        method: "GET",
        path: "/interactive/status",
        rpc: AgentSessionService.method.getSession,
        request(req: LegacyRequest) {
          const sessionId = req.query.get("sessionId");
          if (!sessionId) throw invalidArgument("sessionId", "sessionId is required");
          return { sessionId };
        },
        response: (out) => ({ body: sessionStatus(out.session!) }),
      }),
      route({
        method: "DELETE",
        path: "/interactive/:sessionId",
        rpc: AgentSessionService.method.endSession,
        request: (req) => ({ sessionId: req.params.sessionId!, reason: "Session ended by the client" }),
        response: (out) => ({ body: { success: true, message: "Session ended", ...sessionStatus(out.session!) } }),
      }),
      githubWebhook,
      route({
        method: "GET",
        path: "/gh-status",
        rpc: IntegrationService.method.getIntegrationStatus,
        response: (out) => ({
          body: {
            github: {
              configured: out.github?.configured ?? false,
              appId: out.github?.appId || undefined,
              owner: out.github?.owner || undefined,
              repositoryCount: out.github?.repositoryCount ?? 0,
              installationId: out.github?.installationId || undefined,
            },
            claude: { configured: out.claude?.configured ?? false, setupAt: iso(out.claude?.setupAt) ?? undefined },
          },
        }),
      }),
      route({
        method: "GET",
        path: "/gh-setup",
        rpc: IntegrationService.method.startGitHubSetup,
        request: (req) => ({ redirectUrl: req.query.get("redirect_url") ?? undefined }),
        response: (out) => ({
          contentType: "text/html; charset=utf-8",
          body: page(
            "GitHub App setup",
            `<p>${out.appExists ? "Install the GitHub App on your account or organization:" : "Create the GitHub App, then install it:"}</p>\n` +
              `<p><a id="install" href="${escapeHtml(out.setupUrl)}">${out.appExists ? "Install the GitHub App" : "Create the GitHub App"}</a></p>\n` +
              `<p>This link is valid until ${escapeHtml(iso(out.expiresAt) ?? "")}.</p>`,
          ),
        }),
      }),
      route({
        method: "GET",
        path: "/gh-setup/callback",
        rpc: IntegrationService.method.completeGitHubSetup,
        request: (req) => ({
          state: req.query.get("state") ?? "",
          code: req.query.get("code") ?? "",
          installationId: req.query.get("installation_id") ?? "",
          setupAction: req.query.get("setup_action") ?? "",
        }),
        response: (out) =>
          out.redirectUrl
            ? { status: 302, body: "", contentType: "text/plain", headers: { location: out.redirectUrl } }
            : {
                contentType: "text/html; charset=utf-8",
                body: page(
                  "GitHub App installed",
                  `<p><strong>Installation ID:</strong> ${escapeHtml(out.github?.installationId ?? "")}</p>\n<p><a href="/gh-status">Check system status</a></p>`,
                ),
              },
      }),
      route({
        method: "POST",
        path: "/claude-setup",
        rpc: IntegrationService.method.setClaudeApiKey,
        request(req) {
          const body = obj(req.body);
          const key = body.anthropicApiKey;
          if (typeof key !== "string" || key === "") throw invalidArgument("anthropicApiKey", "anthropicApiKey is required");
          return { anthropicApiKey: key };
        },
        response: (out) => ({ body: { success: true, message: "Claude API key stored (encrypted)", setupAt: iso(out.claude?.setupAt) } }),
      }),
      route({
        method: "GET",
        path: "/container",
        rpc: AgentPoolService.method.getAgentPool,
        response: (out) => (out.active > 0 ? text(200, "Container is healthy") : text(503, "No agent worker is connected")),
      }),
      probeRoute("/lb", ProbeTarget.LOAD_BALANCED),
      probeRoute("/singleton", ProbeTarget.SINGLETON),
      route({
        method: "POST",
        path: "/container/process-issue",
        rpc: AgentSessionService.method.processIssue,
        request(req) {
          const body = obj(req.body);
          const repo = obj(body.repository);
          const number = body.issueNumber;
          if (typeof number !== "number" && typeof number !== "string") throw invalidArgument("issueNumber", "issueNumber is required");
          if (!/^\d{1,15}$/.test(String(number))) throw invalidArgument("issueNumber", "must be a positive number");
          return {
            repository: {
              name: str(repo, "name", "repository.name") ?? str(body, "repositoryName") ?? "",
              url: str(repo, "url", "repository.url") ?? str(body, "repositoryUrl") ?? "",
              branch: str(repo, "branch", "repository.branch") ?? "",
            },
            issueNumber: BigInt(number),
            issueTitle: str(body, "issueTitle") ?? "",
            issueBody: str(body, "issueBody") ?? "",
            requestId: str(body, "requestId") ?? "",
          };
        },
        response: (out) => ({ status: out.created ? 202 : 200, body: { success: true, created: out.created, ...sessionStatus(out.session!) } }),
      }),
    ],
  };
}

