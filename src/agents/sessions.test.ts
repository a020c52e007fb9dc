import { afterEach, beforeAll, beforeEach, expect, it } from "bun:test";
import { AppError } from "../core/errors.ts";
import { describeDialects } from "../testing/dialects.ts";
import { sharedPostgres } from "../testing/postgres.ts";
import { createAgentsModule } from "./module.ts";
import { openAgentsFixture } from "./testing.ts";

const KEY = "sk-ant-session-key-0001";
let f: Awaited<ReturnType<typeof openAgentsFixture>>;

const reason = async (p: Promise<unknown> | (() => unknown)) => {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    if (e instanceof AppError) return e.reason;
    throw e;
  }
  throw new Error("expected an AppError");
};
const until = async (cond: () => boolean | Promise<boolean>) => {
  for (let i = 0; i < 500 && !(await cond()); i++) await Bun.sleep(5);
  expect(await cond()).toBe(true);
};
const start = (tenant: string, extra: Record<string, unknown> = {}) =>
  f.agents.sessions.start(tenant, { prompt: "do it", repository: { name: "o/r" }, anthropicApiKey: KEY, ...extra }).then((r) => r.session);

/** Claims the session's task as a worker would and waits for the session to see it. */
async function claim(tenant: string, id: string, leaseMs?: number) {
  const s = await f.agents.sessions.get(tenant, id);
  const { lease } = await f.engine.scoped(tenant).claimTask({ id: s.taskId, workerId: "w1", leaseMs });
  await until(async () => (await f.agents.sessions.get(tenant, id)).state === "processing");
  return lease.fencingToken;
}

// The agents' store on each dialect (on PostgreSQL the task engine stays on its SQLite file: it has no PostgreSQL store yet).
describeDialects("agent sessions", (open, dialect) => {
  // Starting the test PostgreSQL (initdb) may take longer than a hook's default 5 s on a busy machine.
  if (dialect === "postgres") beforeAll(async () => void (await sharedPostgres()), 120_000);
  beforeEach(async () => {
    const env = { SWITCHYARD_AGENT_MAX_DAILY_TOKENS: "100", SWITCHYARD_AGENT_MAX_CONCURRENT_SESSIONS: "3" };
    f = await openAgentsFixture(env, dialect === "postgres" ? { database: await open() } : {});
  });
  afterEach(() => f.close());
  it("keeps tenants apart: another tenant's session is not found, lists and quotas are per tenant", async () => {
    const a = await start("a");
    expect(await reason(() => f.agents.sessions.get("b", a.id))).toBe("SESSION_NOT_FOUND");
    expect(await reason(f.agents.sessions.end("b", a.id))).toBe("SESSION_NOT_FOUND");
    expect((await f.agents.sessions.list("b", {})).items).toEqual([]);
    expect((await f.agents.sessions.list("a", {})).items.map((s) => s.id)).toEqual([a.id]);
    const token = await claim("a", a.id);
    await f.agents.sessions.appendEvents("a", a.id, token, [{ name: "status", data: { message: "x" } }], { inputTokens: 60, outputTokens: 60, costUsd: 1 });
    expect(await f.agents.quota.get("a")).toMatchObject({ dailyTokens: 120, allowed: false, reason: "daily token limit reached" });
    expect(await f.agents.quota.get("b")).toMatchObject({ dailyTokens: 0, activeSessions: 0, allowed: true });
    // The stored Claude key is per tenant too.
    await f.agents.integrations.setClaudeKey("a", KEY);
    expect(await reason(f.agents.sessions.start("b", { prompt: "p", repository: { name: "o/r" } }))).toBe("CLAUDE_NOT_CONFIGURED");
  });

  it("numbers events from 1 without gaps, follows turns, becomes final on complete and refuses stale holders and late events", async () => {
    const s = await start("t");
    const token = await claim("t", s.id);
    const r1 = await f.agents.sessions.appendEvents("t", s.id, token, [
      { name: "claude_start", data: { turn: 1, prompt: "do it" } },
      { name: "claude_delta", data: { turn: 1, content: "hi" } },
    ], undefined);
    expect(await reason(f.agents.sessions.appendEvents("t", s.id, token + 1, [{ name: "status", data: { message: "x" } }], undefined))).toBe("LEASE_LOST");
    expect(await reason(f.agents.sessions.appendEvents("t", s.id, token, [{ name: "connected", data: { message: "x" } }], undefined))).toBe("INVALID_ARGUMENT");
    expect(await reason(f.agents.sessions.appendEvents("t", s.id, token, [], undefined))).toBe("INVALID_ARGUMENT");
    const r2 = await f.agents.sessions.appendEvents("t", s.id, token, [{ name: "complete", data: { sessionId: s.id, turns: 1, pullRequestUrl: "https://github.com/o/r/pull/1" } }], undefined);
    expect(r2.lastSeq).toBe(r1.lastSeq + 1);
    expect(await f.agents.sessions.get("t", s.id)).toMatchObject({ state: "completed", currentTurn: 1, pullRequestUrl: "https://github.com/o/r/pull/1" });
    expect(await reason(f.agents.sessions.appendEvents("t", s.id, token, [{ name: "status", data: { message: "late" } }], undefined))).toBe("SESSION_FINISHED");
    const replay = [];
    for await (const e of f.agents.sessions.watch("t", s.id, 0, new AbortController().signal)) replay.push(e);
    expect(replay.map((e) => e.seq)).toEqual(replay.map((_, i) => i + 1));
    expect(replay.map((e) => e.name)).toEqual(["status", "status", "claude_start", "claude_delta", "complete"]);
    // The session's own key is erased once it is final (and this tenant stored none).
    expect(await reason(f.agents.sessions.credentials("t", s.id, token))).toBe("CLAUDE_NOT_CONFIGURED");
  });

  it("hands the session's key only to the holder of its task", async () => {
    const s = await start("t", { anthropicBaseUrl: "https://proxy.example.com" });
    expect(await reason(f.agents.sessions.credentials("t", s.id, 1))).toBe("LEASE_LOST");
    const token = await claim("t", s.id);
    expect(await f.agents.sessions.credentials("t", s.id, token)).toEqual({ apiKey: KEY, baseUrl: "https://proxy.example.com", githubToken: "" });
  });

  it("tells a worker over the daily token budget to stop, refuses new sessions until the next UTC day", async () => {
    const s = await start("t");
    const token = await claim("t", s.id);
    const r = await f.agents.sessions.appendEvents("t", s.id, token, [{ name: "claude_end", data: { turn: 1 } }], { inputTokens: 50, outputTokens: 70, costUsd: 0.5 });
    expect(r.stop).toBe(true);
    expect(await f.agents.sessions.get("t", s.id)).toMatchObject({ tokensUsed: 120, costUsd: 0.5 });
    expect(await reason(start("t"))).toBe("QUOTA_EXCEEDED");
    f.clock.advance(24 * 3600_000);
    expect(await f.agents.quota.get("t")).toMatchObject({ dailyTokens: 0, allowed: true });
  });

  it("refuses a session beyond the concurrent-session quota", async () => {
    for (let i = 0; i < 3; i++) await start("t");
    expect(await reason(start("t"))).toBe("QUOTA_EXCEEDED");
    expect(await f.agents.quota.get("t")).toMatchObject({ activeSessions: 3, reason: "too many concurrent sessions" });
  });

  it("ends a session whose worker lost its lease with WORKER_LOST", async () => {
    const s = await start("t");
    await claim("t", s.id, 1000);
    f.clock.advance(5000);
    await f.engine.tick();
    await until(async () => (await f.agents.sessions.get("t", s.id)).state === "failed");
    const events = [];
    for await (const e of f.agents.sessions.watch("t", s.id, 0, new AbortController().signal)) events.push(e);
    expect(events.at(-1)).toMatchObject({ name: "error", data: { reason: "WORKER_LOST" } });
  });

  it("follows the task hub only while a session is active, so other queues' events cost nothing", async () => {
    expect(f.hub.watchers).toBe(0);
    const s = await start("t");
    expect(f.hub.watchers).toBe(1);
    const token = await claim("t", s.id);
    await f.agents.sessions.appendEvents("t", s.id, token, [{ name: "complete", data: { sessionId: s.id, turns: 0 } }], undefined);
    await f.engine.scoped("t").completeTask({ id: s.taskId, fencingToken: token });
    await until(() => f.hub.watchers === 0);
  });

  it("catches up at start with task changes made while nothing followed them (a restart)", async () => {
    const s = await start("t");
    const token = await claim("t", s.id);
    await f.agents.close!();
    await f.engine.scoped("t").failTask({ id: s.taskId, fencingToken: token, error: { message: "worker crashed", retryable: false } });
    const again = createAgentsModule(f.ctx, { tasks: f.tasks });
    again.start!();
    await until(async () => (await again.sessions.get("t", s.id)).state === "failed");
    expect((await again.sessions.get("t", s.id)).errorMessage).toBe("worker crashed");
    await again.close!();
  });

  it("answers the first session for a retried request id and one running session per issue", async () => {
    const a = await f.agents.sessions.start("t", { prompt: "p", repository: { name: "o/r" }, anthropicApiKey: KEY, requestId: "r1" });
    const b = await f.agents.sessions.start("t", { prompt: "p", repository: { name: "o/r" }, anthropicApiKey: KEY, requestId: "r1" });
    expect(b).toMatchObject({ replayed: true, session: { id: a.session.id } });
    await f.agents.integrations.setClaudeKey("t", KEY);
    const i1 = await f.agents.sessions.processIssue("t", { repository: { name: "o/r" }, issueNumber: 5, issueTitle: "Bug" });
    const i2 = await f.agents.sessions.processIssue("t", { repository: { name: "o/r" }, issueNumber: 5 });
    expect(i1.created).toBe(true);
    expect(i2).toMatchObject({ created: false, session: { id: i1.session.id } });
    await f.agents.sessions.end("t", i1.session.id);
    expect((await f.agents.sessions.processIssue("t", { repository: { name: "o/r" }, issueNumber: 5 })).created).toBe(true);
  });
});
