import type { Clock } from "../core/clock.ts";
import { AppError, invalidArgument, notFound } from "../core/errors.ts";
import { newId } from "../core/ids.ts";
import type { Logger } from "../core/logger.ts";
import type { SecretBox } from "../core/secret-box.ts";
import type { Database } from "../db/client.ts";
import type { Quota } from "./quota.ts";
import { utcDay } from "./quota.ts";
import type { AgentStore, SessionRecord } from "./store.ts";
import { SESSION_TASK_TYPE, type AgentTaskEvent, type AgentTaskPort } from "./task-port.ts";
import {
  FINAL_STATES,
  STATE_CODES,
  type AgentSession,
  type JsonObject,
  type NewSessionEvent,
  type Page,
  type PermissionMode,
  type Repository,
  type SessionEvent,
  type SessionKind,
  type SessionOptions,
  type SessionState,
  type SessionUsage,
} from "./types.ts";

export interface StartSessionInput {
  sessionId?: string;
  prompt: string;
  repository: Partial<Repository>;
  anthropicApiKey?: string;
  anthropicBaseUrl?: string;
  githubToken?: string;
  options?: Partial<SessionOptions>;
  requestId?: string;
}

export interface ProcessIssueInput {
  repository: Partial<Repository>;
  issueNumber: number;
  issueTitle?: string;
  issueBody?: string;
  options?: Partial<SessionOptions>;
  requestId?: string;
}

export interface SessionsDeps {
  database: Database;
  store: AgentStore;
  tasks: AgentTaskPort;
  clock: Clock;
  secrets: SecretBox;
  quota: Quota;
  log: Logger;
  /** The tenant's stored Anthropic key (sealed at rest), if any. */
  storedClaudeKey(tenant: string): Promise<string | undefined>;
  hasStoredClaudeKey(tenant: string): boolean;
  /** Longest wait for a worker to take a session. */
  waitMs: number;
  /** Called once a session's task exists: its changes must be followed from then on. */
  onActive(): void;
}

const SESSION_ID = /^[A-Za-z0-9._-]{1,128}$/;
const REPO_NAME = /^[A-Za-z0-9_.-]{1,100}\/[A-Za-z0-9_.-]{1,100}$/;
const API_KEY = /^sk-ant-[A-Za-z0-9_-]{8,250}$/;
const PERMISSION_MODES: PermissionMode[] = ["default", "acceptEdits", "bypassPermissions", "plan"];
const DEFAULT_BASE_URL = "https://api.anthropic.com";
const MAX_EVENTS = 1000;
const MAX_EVENT_BYTES = 256 * 1024;

/** Checks an Anthropic key's shape (`sk-ant-…`); never echoes it. */
export function checkApiKey(field: string, key: string): void {
  if (!API_KEY.test(key)) throw invalidArgument(field, "is not an Anthropic API key (sk-ant-…)");
}

function checkRepository(field: string, r: Partial<Repository> | undefined): Repository {
  const name = r?.name ?? "";
  if (!REPO_NAME.test(name)) throw invalidArgument(`${field}.name`, "must be owner/repo");
  const url = r?.url || `https://github.com/${name}`;
  if (!/^https:\/\/[^\s]{1,500}$/.test(url)) throw invalidArgument(`${field}.url`, "must be an https URL");
  const branch = r?.branch ?? "";
  if (branch.length > 255 || /[\s~^:?*[\\]/.test(branch)) throw invalidArgument(`${field}.branch`, "is not a branch name");
  return { url, name, branch };
}

function checkOptions(o: Partial<SessionOptions> | undefined, createPrDefault: boolean): SessionOptions {
  const maxTurns = o?.maxTurns ?? 0;
  if (!Number.isInteger(maxTurns) || maxTurns < 0 || maxTurns > 100) throw invalidArgument("options.max_turns", "must be 0 to 100");
  const permissionMode = o?.permissionMode ?? "acceptEdits";
  if (!PERMISSION_MODES.includes(permissionMode)) throw invalidArgument("options.permission_mode", `must be one of ${PERMISSION_MODES.join(", ")}`);
  return { maxTurns: maxTurns || 10, permissionMode, createPr: o?.createPr ?? createPrDefault };
}

function checkRequestId(requestId: string | undefined): string | undefined {
  if (!requestId) return undefined;
  if (requestId.length > 128) throw invalidArgument("request_id", "at most 128 characters");
  return requestId;
}

const sessionNotFound = (id: string) => notFound("SESSION_NOT_FOUND", `session not found: ${id}`, { session_id: id });

/** Strips what must never leave the domain (sealed credentials, request id). */
function publicSession(s: SessionRecord): AgentSession {
  const { sealedApiKey: _k, sealedGithubToken: _g, requestId: _r, ...rest } = s;
  return rest;
}

/** Checks a worker's event: its name, payload size and the fields its kind needs. */
function checkEvent(e: NewSessionEvent, i: number): void {
  const field = `events[${i}]`;
  if (!e || typeof e.name !== "string" || !e.data || typeof e.data !== "object") throw invalidArgument(field, "needs a payload");
  if (e.name === "connected") throw invalidArgument(field, "connected is sent by the server only");
  if (!["status", "claude_start", "claude_delta", "claude_end", "file_change", "complete", "error"].includes(e.name)) throw invalidArgument(field, `unknown event ${e.name}`);
  if (JSON.stringify(e.data).length > MAX_EVENT_BYTES) throw invalidArgument(field, `payload over ${MAX_EVENT_BYTES} bytes`);
}

/**
 * Agent sessions: a session is a task (`agents.session`, queue `agents`) plus its ordered event
 * log. The worker appends events with its fencing token; watchers replay the log after a
 * sequence and then follow it live. Task changes the worker did not report (lease lost,
 * timeout, cancel) end the session with an `error` event; a session no worker takes within
 * `waitMs` ends with `NO_AGENT_WORKERS`.
 */
export function createSessions(deps: SessionsDeps) {
  const { database, store, tasks, clock, secrets, quota, log } = deps;
  const waiters = new Map<string, Set<() => void>>();
  const timers = new Map<string, ReturnType<typeof setTimeout>>();
  const keyOf = (tenant: string, id: string) => `${tenant}\u0000${id}`;

  function notify(tenant: string, id: string): void {
    const set = waiters.get(keyOf(tenant, id));
    if (!set) return;
    waiters.delete(keyOf(tenant, id));
    for (const wake of set) wake();
  }

  function get(tenant: string, id: string): SessionRecord {
    const s = store.getSession(tenant, id);
    if (!s) throw sessionNotFound(id);
    return s;
  }

  /** Appends events inside the current write; answers the last sequence. */
  function appendInTx(s: SessionRecord, events: NewSessionEvent[], now: number): number {
    let seq = store.getSession(s.tenant, s.id)!.lastSeq;
    for (const e of events) store.insertEvent(s.tenant, { sessionId: s.id, seq: ++seq, time: e.time ?? now, name: e.name, data: e.data });
    store.updateSession(s.tenant, s.id, { last_seq: seq, last_activity_at: now });
    return seq;
  }

  /** Makes a session final with its last event, erasing its own credentials. */
  async function finish(s: SessionRecord, state: SessionState, event: NewSessionEvent, errorMessage = ""): Promise<boolean> {
    const now = clock.now();
    const done = await database.committer.run(() => {
      const current = store.getSession(s.tenant, s.id);
      if (!current || FINAL_STATES.has(current.state)) return false;
      appendInTx(current, [event], now);
      store.updateSession(s.tenant, s.id, {
        state: STATE_CODES[state],
        completed_at: now,
        error_message: errorMessage,
        active_issue_key: null,
        sealed_api_key: null,
        sealed_github_token: null,
      });
      return true;
    });
    clearTimer(s.tenant, s.id);
    notify(s.tenant, s.id);
    return done;
  }

  function clearTimer(tenant: string, id: string): void {
    const t = timers.get(keyOf(tenant, id));
    if (t) clearTimeout(t);
    timers.delete(keyOf(tenant, id));
  }

  function armWait(tenant: string, id: string, ms: number): void {
    clearTimer(tenant, id);
    const timer = setTimeout(() => {
      timers.delete(keyOf(tenant, id));
      void (async () => {
        const s = store.getSession(tenant, id);
        if (!s || s.state !== "queued") return;
        const seconds = Math.round(deps.waitMs / 100) / 10;
        const message = `No agent worker took the session within ${seconds} s`;
        if (await finish(s, "failed", { name: "error", data: { message, reason: "NO_AGENT_WORKERS" } }, message)) {
          await tasks.cancelTask(tenant, s.taskId, "no agent worker took the session").catch(() => {});
        }
      })().catch((error) => log.error("agents: session wait failed", { session_id: id, error: String(error) }));
    }, ms);
    timer.unref?.();
    timers.set(keyOf(tenant, id), timer);
  }

  async function createSession(
    tenant: string,
    s: {
      id: string;
      kind: SessionKind;
      prompt: string;
      repository: Repository;
      options: SessionOptions;
      issueNumber: number;
      apiKey: string | undefined;
      githubToken: string | undefined;
      baseUrl: string;
      requestId: string | undefined;
    },
  ): Promise<SessionRecord> {
    if (!s.apiKey && !deps.hasStoredClaudeKey(tenant)) {
      throw new AppError("failed_precondition", "CLAUDE_NOT_CONFIGURED", "no Anthropic API key given and none stored (POST /claude-setup)");
    }
    const context = `agents.session:${tenant}/${s.id}`;
    const sealedApiKey = s.apiKey ? await secrets.seal(s.apiKey, context) : undefined;
    const sealedGithubToken = s.githubToken ? await secrets.seal(s.githubToken, `${context}:github`) : undefined;
    const taskId = newId("task");
    const now = clock.now();
    const activeIssueKey = s.kind === "issue" ? `${s.repository.name}#${s.issueNumber}` : undefined;
    const noWorker = tasks.workers(tenant).length === 0;
    await database.committer.run(() => {
      if (store.getSession(tenant, s.id)) throw new AppError("already_exists", "SESSION_ALREADY_EXISTS", `session ${s.id} already exists`, { session_id: s.id });
      // Checked in the same write as the insert, so two starts cannot both take the last place.
      const q = quota.get(tenant);
      if (!q.allowed) throw new AppError("resource_exhausted", "QUOTA_EXCEEDED", `Daily quota exceeded: ${q.reason}`, { reason: q.reason });
      store.insertSession({ tenant, ...s, taskId, activeIssueKey, now, sealedApiKey, sealedGithubToken });
      const waiting = noWorker
        ? s.kind === "interactive"
          ? `no agent worker is connected; waiting up to ${Math.round(deps.waitMs / 1000)} s`
          : "no agent worker is connected; waiting for one"
        : "waiting for an agent worker";
      appendInTx(store.getSession(tenant, s.id)!, [{ name: "status", data: { message: `Session queued: ${waiting}` } }], now);
    });
    const created = get(tenant, s.id);
    try {
      await tasks.createTask({
        tenant,
        id: taskId,
        type: SESSION_TASK_TYPE,
        payload: {
          sessionId: s.id,
          kind: s.kind,
          prompt: s.prompt,
          repository: { ...s.repository },
          options: { ...s.options },
          issueNumber: s.issueNumber,
          anthropicBaseUrl: s.baseUrl,
        },
      });
    } catch (error) {
      await finish(created, "failed", { name: "error", data: { message: "the session's task could not be created", reason: "AGENT_FAILED" } }, String(error));
      throw error;
    }
    // Follow the task from now on; a change made before the follower subscribed is caught up by its reconcile.
    deps.onActive();
    // Nobody streams an issue session: it waits in the queue for a worker however long it takes.
    if (s.kind === "interactive") armWait(tenant, s.id, deps.waitMs);
    return get(tenant, s.id);
  }

  async function onTaskEvent(ev: AgentTaskEvent): Promise<void> {
    const s = store.sessionByTask(ev.task.id);
    if (!s || FINAL_STATES.has(s.state)) return;
    const t = ev.task;
    switch (ev.kind) {
      case "claimed": {
        clearTimer(s.tenant, s.id);
        const now = clock.now();
        await database.committer.run(() => {
          const cur = store.getSession(s.tenant, s.id);
          if (!cur || FINAL_STATES.has(cur.state)) return;
          store.updateSession(s.tenant, s.id, { state: STATE_CODES.processing, worker_id: t.workerId ?? "" });
          appendInTx(cur, [{ name: "status", data: { message: `Agent worker ${t.workerId ?? ""} started the session` } }], now);
        });
        notify(s.tenant, s.id);
        return;
      }
      case "succeeded":
        await finish(s, "completed", { name: "complete", data: { sessionId: s.id, turns: s.currentTurn, pullRequestUrl: s.pullRequestUrl } });
        return;
      case "failed":
      case "timed_out":
      case "lease_expired": {
        if (ev.kind === "lease_expired" && t.state === "pending") return; // redelivered to another worker
        const reason = ev.kind === "timed_out" ? "TASK_TIMED_OUT" : ev.kind === "lease_expired" || t.errorReason === "LEASE_EXPIRED" ? "WORKER_LOST" : "AGENT_FAILED";
        const message = t.errorMessage || (reason === "WORKER_LOST" ? "the agent worker stopped answering" : reason === "TASK_TIMED_OUT" ? "the session ran out of time" : "the agent failed");
        await finish(s, "failed", { name: "error", data: { message, reason } }, message);
        return;
      }
      case "cancelled":
      case "deleted":
        await finish(s, "ended", { name: "error", data: { message: "Session ended: its task was cancelled", reason: "SESSION_ENDED" } }, "task cancelled");
        return;
      default:
        return;
    }
  }

  return {
    onTaskEvent,

    /** Applies the current state of every active session's task (what events may have been missed). */
    async reconcile(): Promise<void> {
      for (const { tenant, id } of store.activeSessions()) {
        const s = store.getSession(tenant, id);
        if (!s) continue;
        const task = await tasks.getTask(tenant, s.taskId);
        if (!task) {
          await onTaskEvent({ kind: "deleted", task: { id: s.taskId, tenant, state: "cancelled", fencingToken: undefined, workerId: undefined, result: undefined, errorMessage: undefined, errorReason: undefined } });
          continue;
        }
        const kind = ({ running: s.state === "queued" ? "claimed" : undefined, succeeded: "succeeded", failed: "failed", timed_out: "timed_out", cancelled: "cancelled" } as const)[task.state as "running"];
        if (kind) await onTaskEvent({ kind, task });
      }
    },

    /** Re-arms the no-worker wait of sessions still queued (after a restart). */
    resume(): void {
      for (const { tenant, id } of store.activeSessions()) {
        const s = store.getSession(tenant, id);
        if (s?.state === "queued" && s.kind === "interactive") armWait(tenant, id, deps.waitMs);
      }
    },

    close(): void {
      for (const t of timers.values()) clearTimeout(t);
      timers.clear();
      for (const set of waiters.values()) for (const wake of set) wake();
      waiters.clear();
    },

    /** Starts an interactive session; a retry with the same request id answers the first. */
    async start(tenant: string, input: StartSessionInput): Promise<{ session: AgentSession; replayed: boolean }> {
      const requestId = checkRequestId(input.requestId);
      if (requestId) {
        const first = store.sessionByRequestId(tenant, requestId);
        if (first) return { session: publicSession(first), replayed: true };
      }
      if (input.sessionId !== undefined && !SESSION_ID.test(input.sessionId)) throw invalidArgument("session_id", "1 to 128 of A-Z a-z 0-9 . _ -");
      const prompt = input.prompt ?? "";
      if (prompt.trim() === "" || prompt.length > 100_000) throw invalidArgument("prompt", "is required (at most 100000 characters)");
      const repository = checkRepository("repository", input.repository);
      const options = checkOptions(input.options, false);
      if (input.anthropicApiKey !== undefined) checkApiKey("anthropic_api_key", input.anthropicApiKey);
      const baseUrl = input.anthropicBaseUrl || DEFAULT_BASE_URL;
      if (!/^https:\/\/[^\s]{1,500}$/.test(baseUrl)) throw invalidArgument("anthropic_base_url", "must be an https URL");
      if (input.githubToken !== undefined && (input.githubToken.length === 0 || input.githubToken.length > 500)) throw invalidArgument("github_token", "1 to 500 characters");
      const session = await createSession(tenant, {
        id: input.sessionId ?? newId("ses"),
        kind: "interactive",
        prompt,
        repository,
        options,
        issueNumber: 0,
        apiKey: input.anthropicApiKey,
        githubToken: input.githubToken,
        baseUrl,
        requestId,
      });
      return { session: publicSession(session), replayed: false };
    },

    /** Starts (or answers the running) issue session for a repository's issue. */
    async processIssue(tenant: string, input: ProcessIssueInput): Promise<{ session: AgentSession; created: boolean }> {
      const requestId = checkRequestId(input.requestId);
      if (requestId) {
        const first = store.sessionByRequestId(tenant, requestId);
        if (first) return { session: publicSession(first), created: false };
      }
      const repository = checkRepository("repository", input.repository);
      if (!Number.isSafeInteger(input.issueNumber) || input.issueNumber <= 0) throw invalidArgument("issue_number", "must be positive");
      const running = store.activeIssueSession(tenant, `${repository.name}#${input.issueNumber}`);
      if (running) return { session: publicSession(running), created: false };
      const title = (input.issueTitle ?? "").slice(0, 1000);
      const body = (input.issueBody ?? "").slice(0, 60_000);
      const prompt = `Work on GitHub issue #${input.issueNumber} in ${repository.name}${title ? `: ${title}` : ""}${body ? `\n\n${body}` : ""}`;
      const session = await createSession(tenant, {
        id: newId("ses"),
        kind: "issue",
        prompt,
        repository,
        options: checkOptions(input.options, true),
        issueNumber: input.issueNumber,
        apiKey: undefined,
        githubToken: undefined,
        baseUrl: DEFAULT_BASE_URL,
        requestId,
      });
      return { session: publicSession(session), created: true };
    },

    get: (tenant: string, id: string): AgentSession => publicSession(get(tenant, id)),

    list(tenant: string, f: { pageSize?: number; pageToken?: string; state?: SessionState; kind?: SessionKind }): Page<AgentSession> {
      const size = f.pageSize ?? 0;
      if (!Number.isInteger(size) || size < 0 || size > 1000) throw invalidArgument("page_size", "must be 0 to 1000");
      const limit = size || 50;
      let after: [number, string] | undefined;
      if (f.pageToken) {
        try {
          const t = JSON.parse(Buffer.from(f.pageToken, "base64url").toString()) as { c: number; i: string; s?: string; k?: string };
          if (typeof t.c !== "number" || typeof t.i !== "string" || (t.s ?? "") !== (f.state ?? "") || (t.k ?? "") !== (f.kind ?? "")) throw new Error();
          after = [t.c, t.i];
        } catch {
          throw invalidArgument("page_token", "was not issued by this server for these filters");
        }
      }
      const rows = store.listSessions(tenant, { state: f.state, kind: f.kind, after, limit: limit + 1 });
      const items = rows.slice(0, limit);
      const last = items[items.length - 1];
      const nextPageToken =
        rows.length > limit && last ? Buffer.from(JSON.stringify({ c: last.createdAt, i: last.id, s: f.state ?? "", k: f.kind ?? "" })).toString("base64url") : "";
      return { items: items.map(publicSession), nextPageToken };
    },

    /** Ends a session (idempotent on a final one); its task is cancelled and its streams told. */
    async end(tenant: string, id: string, reason = ""): Promise<AgentSession> {
      const s = get(tenant, id);
      if (reason.length > 1000) throw invalidArgument("reason", "at most 1000 characters");
      if (FINAL_STATES.has(s.state)) return publicSession(s);
      const message = reason || "Session ended by the client";
      await finish(s, "ended", { name: "error", data: { message, reason: "SESSION_ENDED" } }, message);
      await tasks.cancelTask(tenant, s.taskId, message).catch((error) => log.warn("agents: task of an ended session not cancelled", { session_id: id, error: String(error) }));
      return publicSession(get(tenant, id));
    },

    /** The events after `afterSeq`, then live ones until the session is final. */
    async *watch(tenant: string, id: string, afterSeq: number, signal: AbortSignal): AsyncGenerator<SessionEvent> {
      if (!Number.isInteger(afterSeq) || afterSeq < 0) throw invalidArgument("after_sequence", "must not be negative");
      get(tenant, id);
      let after = afterSeq;
      while (!signal.aborted) {
        let wake!: () => void;
        const woken = new Promise<void>((resolve) => (wake = resolve));
        const key = keyOf(tenant, id);
        let set = waiters.get(key);
        if (!set) waiters.set(key, (set = new Set()));
        set.add(wake);
        const onAbort = () => wake();
        signal.addEventListener("abort", onAbort, { once: true });
        try {
          const events = store.eventsAfter(tenant, id, after, 500);
          for (const e of events) {
            yield e;
            after = e.seq;
          }
          if (events.length === 500) continue;
          const s = store.getSession(tenant, id);
          if (!s || (FINAL_STATES.has(s.state) && s.lastSeq <= after)) return;
          if (events.length === 0) await woken;
        } finally {
          set.delete(wake);
          signal.removeEventListener("abort", onAbort);
        }
      }
    },

    /** Worker side: appends the events it reports, with its usage; answers whether to stop. */
    async appendEvents(tenant: string, id: string, fencingToken: number, events: NewSessionEvent[], usage: SessionUsage | undefined): Promise<{ lastSeq: number; stop: boolean }> {
      const s = get(tenant, id);
      const task = await tasks.getTask(tenant, s.taskId);
      if (!task || task.state !== "running" || task.fencingToken !== fencingToken) {
        throw new AppError("failed_precondition", "LEASE_LOST", `the caller does not hold the task of session ${id}`, { session_id: id, task_id: s.taskId });
      }
      if (FINAL_STATES.has(s.state)) throw new AppError("failed_precondition", "SESSION_FINISHED", `session ${id} is ${s.state}`, { session_id: id, state: s.state });
      if (!Array.isArray(events) || events.length === 0 || events.length > MAX_EVENTS) throw invalidArgument("events", `1 to ${MAX_EVENTS} events`);
      events.forEach(checkEvent);
      if (usage) {
        for (const [f, v] of [["usage.input_tokens", usage.inputTokens], ["usage.output_tokens", usage.outputTokens], ["usage.cost_usd", usage.costUsd]] as const) {
          if (!Number.isFinite(v) || v < 0) throw invalidArgument(f, "must not be negative");
        }
      }
      const now = clock.now();
      const result = await database.committer.run(() => {
        const cur = store.getSession(tenant, id);
        if (!cur || FINAL_STATES.has(cur.state)) throw new AppError("failed_precondition", "SESSION_FINISHED", `session ${id} is final`, { session_id: id });
        const lastSeq = appendInTx(cur, events, now);
        const patch: Record<string, string | number | null> = {};
        let turn = cur.currentTurn;
        let final: SessionState | undefined;
        let errorMessage = "";
        for (const e of events) {
          const d = e.data as JsonObject;
          if (e.name === "claude_start" && typeof d.turn === "number") turn = Math.max(turn, d.turn);
          if (e.name === "complete") {
            final = "completed";
            if (typeof d.pullRequestUrl === "string" && d.pullRequestUrl) patch.pull_request_url = d.pullRequestUrl;
          }
          if (e.name === "error") {
            final = "failed";
            errorMessage = typeof d.message === "string" ? d.message : "the agent failed";
          }
          if (final) break;
        }
        patch.current_turn = turn;
        // The worker may report before the claim's task event reached this domain.
        if (cur.state === "queued") Object.assign(patch, { state: STATE_CODES.processing, worker_id: task.workerId ?? "" });
        if (final) Object.assign(patch, { state: STATE_CODES[final], completed_at: now, error_message: errorMessage, active_issue_key: null, sealed_api_key: null, sealed_github_token: null });
        store.updateSession(tenant, id, patch);
        if (usage && (usage.inputTokens || usage.outputTokens || usage.costUsd)) {
          store.addSessionUsage(tenant, id, usage.inputTokens, usage.outputTokens, usage.costUsd);
          store.addUsage(tenant, utcDay(now), usage.inputTokens + usage.outputTokens, usage.costUsd);
        }
        return { lastSeq, final };
      });
      clearTimer(tenant, id);
      notify(tenant, id);
      return { lastSeq: result.lastSeq, stop: !result.final && quota.spent(tenant) };
    },

    /** Worker side: the credentials of the session whose task the caller holds. */
    async credentials(tenant: string, id: string, fencingToken: number): Promise<{ apiKey: string; baseUrl: string; githubToken: string }> {
      const s = get(tenant, id);
      const task = await tasks.getTask(tenant, s.taskId);
      if (!task || task.state !== "running" || task.fencingToken !== fencingToken) {
        throw new AppError("failed_precondition", "LEASE_LOST", `the caller does not hold the task of session ${id}`, { session_id: id, task_id: s.taskId });
      }
      const context = `agents.session:${tenant}/${s.id}`;
      const apiKey = s.sealedApiKey ? await secrets.open(s.sealedApiKey, context) : await deps.storedClaudeKey(tenant);
      if (!apiKey) throw new AppError("failed_precondition", "CLAUDE_NOT_CONFIGURED", "no Anthropic API key given and none stored");
      const githubToken = s.sealedGithubToken ? await secrets.open(s.sealedGithubToken, `${context}:github`) : "";
      return { apiKey, baseUrl: s.baseUrl, githubToken };
    },
  };
}

export type Sessions = ReturnType<typeof createSessions>;
