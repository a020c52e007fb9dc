import { create, fromJson, toJson, type DescMessage, type JsonValue } from "@bufbuild/protobuf";
import { durationFromMs, durationMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { AgentPoolService, AgentWorkerSchema, ProbeTarget } from "../../gen/switchyard/agents/v1/agent_pool_service_pb.js";
import { AgentSessionService } from "../../gen/switchyard/agents/v1/agent_session_service_pb.js";
import {
  AgentSessionSchema,
  ClaudeDeltaSchema,
  ClaudeEndSchema,
  ClaudeStartSchema,
  FileChangeSchema,
  PermissionMode as PbPermissionMode,
  SessionCompleteSchema,
  SessionErrorSchema,
  SessionEventSchema,
  SessionKind as PbSessionKind,
  SessionMessageSchema,
  SessionState as PbSessionState,
  type AgentSession as PbAgentSession,
  type SessionEvent as PbSessionEvent,
  type SessionOptions as PbSessionOptions,
} from "../../gen/switchyard/agents/v1/agents_pb.js";
import { GitHubStatusSchema, IntegrationService, WebhookOutcome } from "../../gen/switchyard/agents/v1/integration_service_pb.js";
import { AgentQuotaSchema, QuotaService, RateLimitWindow, RateLimitWindowStatusSchema } from "../../gen/switchyard/agents/v1/quota_service_pb.js";
import { invalidArgument } from "../core/errors.ts";
import { principalOf, tenantOf } from "../core/principal.ts";
import { clientAddress } from "../edge/client-address.ts";
import { edgeRequestKey, rateLimitKey } from "../edge/context.ts";
import type { RateLimiter } from "../edge/limiter.ts";
import type { GitHubStatus, Integrations } from "./integrations.ts";
import type { Pool } from "./pool.ts";
import type { Quota } from "./quota.ts";
import type { Sessions } from "./sessions.ts";
import { KIND_CODES, STATE_CODES, type AgentQuota, type AgentSession, type JsonObject, type NewSessionEvent, type PermissionMode, type SessionEvent, type SessionEventName, type SessionKind, type SessionOptions, type SessionState } from "./types.ts";

/** Event name ↔ the SessionEvent oneof case and its payload message. */
const PAYLOADS: Record<SessionEventName, { kase: NonNullable<PbSessionEvent["payload"]["case"]>; schema: DescMessage }> = {
  connected: { kase: "connected", schema: SessionMessageSchema },
  status: { kase: "status", schema: SessionMessageSchema },
  claude_start: { kase: "claudeStart", schema: ClaudeStartSchema },
  claude_delta: { kase: "claudeDelta", schema: ClaudeDeltaSchema },
  claude_end: { kase: "claudeEnd", schema: ClaudeEndSchema },
  file_change: { kase: "fileChange", schema: FileChangeSchema },
  complete: { kase: "complete", schema: SessionCompleteSchema },
  error: { kase: "error", schema: SessionErrorSchema },
};
const NAME_BY_CASE = Object.fromEntries(Object.entries(PAYLOADS).filter(([n]) => n !== "connected").map(([n, p]) => [p.kase, n as SessionEventName]));

const PERMISSION: Record<PermissionMode, PbPermissionMode> = {
  default: PbPermissionMode.DEFAULT,
  acceptEdits: PbPermissionMode.ACCEPT_EDITS,
  bypassPermissions: PbPermissionMode.BYPASS_PERMISSIONS,
  plan: PbPermissionMode.PLAN,
};
const PERMISSION_BY_CODE = Object.fromEntries(Object.entries(PERMISSION).map(([k, v]) => [v, k as PermissionMode]));
const STATE_BY_PB = Object.fromEntries(Object.entries(STATE_CODES).map(([k, v]) => [v, k as SessionState]));
const KIND_BY_PB = Object.fromEntries(Object.entries(KIND_CODES).map(([k, v]) => [v, k as SessionKind]));

/** A domain event as the proto SessionEvent. */
export function eventMessage(e: SessionEvent): PbSessionEvent {
  const p = PAYLOADS[e.name];
  return create(SessionEventSchema, {
    sessionId: e.sessionId,
    sequence: BigInt(e.seq),
    timestamp: timestampFromMs(e.time),
    payload: { case: p.kase, value: fromJson(p.schema, e.data as JsonValue, { ignoreUnknownFields: true }) } as PbSessionEvent["payload"],
  });
}

/** A proto SessionEvent reported by a worker as a domain event. */
function eventFromMessage(e: PbSessionEvent, i: number): NewSessionEvent {
  const kase = e.payload.case;
  const name = kase ? NAME_BY_CASE[kase] : undefined;
  if (!name || !e.payload.value) throw invalidArgument(`events[${i}]`, kase === "connected" ? "connected is sent by the server only" : "needs a payload");
  const data = toJson(PAYLOADS[name].schema, e.payload.value as never, { alwaysEmitImplicit: true }) as JsonObject;
  return { name, data, time: e.timestamp ? Number(e.timestamp.seconds) * 1000 + Math.floor(e.timestamp.nanos / 1e6) : undefined };
}

/** A domain session as the proto AgentSession. */
export function sessionMessage(s: AgentSession): PbAgentSession {
  return create(AgentSessionSchema, {
    id: s.id,
    kind: KIND_CODES[s.kind] as PbSessionKind,
    state: STATE_CODES[s.state] as PbSessionState,
    prompt: s.prompt,
    repository: s.repository,
    options: { maxTurns: s.options.maxTurns, permissionMode: PERMISSION[s.options.permissionMode], createPr: s.options.createPr },
    currentTurn: s.currentTurn,
    taskId: s.taskId,
    workerId: s.workerId,
    issueNumber: BigInt(s.issueNumber),
    pullRequestUrl: s.pullRequestUrl,
    lastEventSequence: BigInt(s.lastSeq),
    tokensUsed: BigInt(s.tokensUsed),
    costUsd: s.costUsd,
    createdAt: timestampFromMs(s.createdAt),
    lastActivityAt: timestampFromMs(s.lastActivityAt),
    completedAt: s.completedAt !== undefined ? timestampFromMs(s.completedAt) : undefined,
    errorMessage: s.errorMessage,
  });
}

function optionsOf(o: PbSessionOptions | undefined): Partial<SessionOptions> | undefined {
  if (!o) return undefined;
  return { maxTurns: o.maxTurns, permissionMode: o.permissionMode ? PERMISSION_BY_CODE[o.permissionMode] : undefined, createPr: o.createPr };
}

export function quotaMessage(q: AgentQuota) {
  return create(AgentQuotaSchema, { ...q, dailyTokens: BigInt(q.dailyTokens), maxDailyTokens: BigInt(q.maxDailyTokens), remainingTokens: BigInt(q.remainingTokens), resetsAt: timestampFromMs(q.resetsAt) });
}

function githubMessage(g: GitHubStatus) {
  return create(GitHubStatusSchema, {
    configured: g.configured,
    appId: g.appId,
    owner: g.owner,
    installationId: g.installationId,
    repositoryCount: g.repositoryCount,
    totalWebhooks: BigInt(g.totalWebhooks),
    lastWebhookAt: g.lastWebhookAt !== undefined ? timestampFromMs(g.lastWebhookAt) : undefined,
    refusedWebhooks: Object.fromEntries(Object.entries(g.refused).map(([k, v]) => [k, BigInt(v)])),
  });
}

/** Follows a session: `connected` first (not stored, sequence 0), then its log and live events. */
async function* follow(sessions: Sessions, tenant: string, id: string, after: number, ctx: HandlerContext) {
  yield eventMessage({ sessionId: id, seq: 0, time: Date.now(), name: "connected", data: { message: `Connected to session ${id}` } });
  for await (const e of sessions.watch(tenant, id, after, ctx.signal)) yield eventMessage(e);
}

export function agentSessionService(sessions: Sessions): Partial<ServiceImpl<typeof AgentSessionService>> {
  return {
    async *startSession(req, ctx) {
      const tenant = tenantOf(ctx);
      const { session } = await sessions.start(tenant, {
        sessionId: req.sessionId,
        prompt: req.prompt,
        repository: req.repository ?? {},
        anthropicApiKey: req.anthropicApiKey,
        anthropicBaseUrl: req.anthropicBaseUrl,
        githubToken: req.githubToken,
        options: optionsOf(req.options),
        requestId: req.requestId,
      });
      for await (const event of follow(sessions, tenant, session.id, 0, ctx)) yield { event };
    },
    async *watchSession(req, ctx) {
      for await (const event of follow(sessions, tenantOf(ctx), req.sessionId, Number(req.afterSequence), ctx)) yield { event };
    },
    getSession: async (req, ctx) => ({ session: sessionMessage(await sessions.get(tenantOf(ctx), req.sessionId)) }),
    async listSessions(req, ctx) {
      const page = await sessions.list(tenantOf(ctx), { pageSize: req.pageSize, pageToken: req.pageToken, state: STATE_BY_PB[req.state], kind: KIND_BY_PB[req.kind] });
      return { sessions: page.items.map(sessionMessage), nextPageToken: page.nextPageToken };
    },
    endSession: async (req, ctx) => ({ session: sessionMessage(await sessions.end(tenantOf(ctx), req.sessionId, req.reason)) }),
    async processIssue(req, ctx) {
      const { session, created } = await sessions.processIssue(tenantOf(ctx), {
        repository: req.repository ?? {},
        issueNumber: Number(req.issueNumber),
        issueTitle: req.issueTitle,
        issueBody: req.issueBody,
        options: optionsOf(req.options),
        requestId: req.requestId,
      });
      return { session: sessionMessage(session), created };
    },
    async appendSessionEvents(req, ctx) {
      const events = req.events.map(eventFromMessage);
      const usage = req.usage ? { inputTokens: Number(req.usage.inputTokens), outputTokens: Number(req.usage.outputTokens), costUsd: req.usage.costUsd } : undefined;
      const r = await sessions.appendEvents(tenantOf(ctx), req.sessionId, Number(req.fencingToken), events, usage);
      return { lastSequence: BigInt(r.lastSeq), stop: r.stop };
    },
    async getSessionCredentials(req, ctx) {
      const c = await sessions.credentials(tenantOf(ctx), req.sessionId, Number(req.fencingToken));
      return { anthropicApiKey: c.apiKey, anthropicBaseUrl: c.baseUrl, githubToken: c.githubToken };
    },
  };
}

const TARGETS: Record<number, "any" | "load_balanced" | "singleton"> = {
  [ProbeTarget.UNSPECIFIED]: "any",
  [ProbeTarget.ANY]: "any",
  [ProbeTarget.LOAD_BALANCED]: "load_balanced",
  [ProbeTarget.SINGLETON]: "singleton",
};

export function agentPoolService(pool: Pool): Partial<ServiceImpl<typeof AgentPoolService>> {
  return {
    async getAgentPool(_req, ctx) {
      const p = await pool.info(tenantOf(ctx));
      return { active: p.active, total: p.total, errors: BigInt(p.errors), activeSessions: p.activeSessions, workers: p.workers.map((w) => create(AgentWorkerSchema, w)) };
    },
    async probeAgentPool(req, ctx) {
      const r = await pool.probe(tenantOf(ctx), TARGETS[req.target] ?? "any", req.timeout ? durationMs(req.timeout) : undefined);
      return { healthy: r.healthy, message: r.message, workerId: r.workerId, taskId: r.taskId, latency: durationFromMs(r.latencyMs) };
    },
  };
}

const WINDOWS: Record<string, RateLimitWindow> = { minute: RateLimitWindow.MINUTE, hour: RateLimitWindow.HOUR, day: RateLimitWindow.DAY };

export function quotaService(quota: Quota, limiter: RateLimiter | undefined, trustedProxies: ReadonlySet<string> = new Set()): Partial<ServiceImpl<typeof QuotaService>> {
  return {
    getAgentQuota: async (_req, ctx) => ({ quota: quotaMessage(await quota.get(tenantOf(ctx))) }),
    async getRateLimitStatus(_req, ctx) {
      const edge = ctx.values.get(edgeRequestKey);
      const key = rateLimitKey(principalOf(ctx), clientAddress(edge?.clientAddress ?? "unknown", ctx.requestHeader.get("x-forwarded-for"), trustedProxies));
      const windows = limiter ? await limiter.status(edge?.classes ?? ["api"], key) : [];
      return {
        key,
        windows: windows.map((w) =>
          create(RateLimitWindowStatusSchema, { window: WINDOWS[w.window.name] ?? RateLimitWindow.UNSPECIFIED, limit: w.limit, remaining: w.remaining, resetsAt: timestampFromMs(w.resetAtMs) }),
        ),
      };
    },
  };
}

const OUTCOMES = { session_started: WebhookOutcome.SESSION_STARTED, installation_updated: WebhookOutcome.INSTALLATION_UPDATED, ignored: WebhookOutcome.IGNORED, duplicate: WebhookOutcome.DUPLICATE };

export function integrationService(integrations: Integrations): Partial<ServiceImpl<typeof IntegrationService>> {
  const claude = async (tenant: string) => {
    const c = await integrations.claudeStatus(tenant);
    return { configured: c.configured, setupAt: c.setupAt !== undefined ? timestampFromMs(c.setupAt) : undefined };
  };
  return {
    getIntegrationStatus: async (_req, ctx) => ({ github: githubMessage(await integrations.status(tenantOf(ctx))), claude: await claude(tenantOf(ctx)) }),
    async startGitHubSetup(req, ctx) {
      const r = await integrations.startSetup(tenantOf(ctx), req.redirectUrl);
      return { setupUrl: r.setupUrl, state: r.state, expiresAt: timestampFromMs(r.expiresAt), appExists: r.appExists };
    },
    async completeGitHubSetup(req, ctx) {
      const r = await integrations.completeSetup(tenantOf(ctx), { state: req.state, code: req.code, installationId: req.installationId, setupAction: req.setupAction });
      return { github: githubMessage(r.github), redirectUrl: r.redirectUrl };
    },
    async setClaudeApiKey(req, ctx) {
      await integrations.setClaudeKey(tenantOf(ctx), req.anthropicApiKey);
      return { claude: await claude(tenantOf(ctx)) };
    },
    async receiveGitHubWebhook(req, ctx) {
      const h = ctx.requestHeader;
      const r = await integrations.receiveWebhook(tenantOf(ctx), {
        payload: req.payload?.data ?? new Uint8Array(),
        event: req.event || (h.get("x-github-event") ?? ""),
        deliveryId: req.deliveryId || (h.get("x-github-delivery") ?? ""),
        signature: req.signature256 || (h.get("x-hub-signature-256") ?? ""),
      });
      return { outcome: OUTCOMES[r.outcome], event: r.event, action: r.action, sessionId: r.sessionId };
    },
  };
}

/** A proto SessionEvent as seed 004's SSE event: its name and its payload's JSON fields. */
export function sessionEventJson(e: PbSessionEvent): { name: SessionEventName; seq: number; time: number; data: JsonObject } {
  const kase = e.payload.case;
  const name: SessionEventName = kase === "connected" ? "connected" : (NAME_BY_CASE[kase ?? ""] ?? "status");
  const data = e.payload.value ? (toJson(PAYLOADS[name].schema, e.payload.value as never, { alwaysEmitImplicit: true }) as JsonObject) : {};
  const time = e.timestamp ? Number(e.timestamp.seconds) * 1000 + Math.floor(e.timestamp.nanos / 1e6) : Date.now();
  return { name, seq: Number(e.sequence), time, data };
}
