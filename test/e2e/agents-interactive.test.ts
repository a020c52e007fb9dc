import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { AgentSessionService } from "../../gen/switchyard/agents/v1/agent_session_service_pb.js";
import type { AgentsModule } from "../../src/agents/module.ts";
import { join } from "node:path";
import { preparePython, runPython } from "../../src/testing/python.ts";
import { repoRoot, startTestServer, type TestServer } from "../../src/testing/server.ts";
import { clientFor } from "../../src/testing/clients.ts";
import { rejection } from "../../src/testing/async.ts";
import { startAgentWorker, type AgentWorker } from "./helpers/agent-worker.ts";
import { collect, readSse } from "./helpers/sse.ts";

const KEY = "sk-ant-test-0123456789abcdef";
let server: TestServer;
let python: { python: string; stubs: string };
let worker: AgentWorker | undefined;

beforeAll(async () => {
  [server, python] = await Promise.all([
    startTestServer({ SWITCHYARD_AGENT_WAIT_MS: "1500", SWITCHYARD_AGENT_MAX_CONCURRENT_SESSIONS: "20", SWITCHYARD_RATE_LIMITS: "seed-004=1000/m" }),
    preparePython(),
  ]);
  const res = await fetch(`${server.url}/claude-setup`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ anthropicApiKey: KEY }) });
  expect(res.status).toBe(200);
}, 120_000);
afterAll(async () => {
  await worker?.stop();
  await server.close();
});

const start = (body: Record<string, unknown>, headers: Record<string, string> = {}, signal?: AbortSignal) =>
  fetch(`${server.url}/interactive/start`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body), signal });

describe("seed 004 interactive sessions through the reference Python agent worker", () => {
  it("says in an error event that no agent worker took the session within the configured wait", async () => {
    const t0 = Date.now();
    const res = await start({ prompt: "Explain how authentication works", repository: { name: "owner/repo" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toStartWith("text/event-stream");
    const events = await collect(readSse(res));
    expect(events.map((e) => e.event)).toEqual(["connected", "status", "error"]);
    expect(events[0]!.id).toBeUndefined();
    expect(events[1]!.data.message).toContain("no agent worker is connected");
    expect(events[2]!.data).toMatchObject({ reason: "NO_AGENT_WORKERS" });
    expect(events[2]!.data.message).toContain("1.5 s");
    expect(Date.now() - t0).toBeLessThan(15_000);
    const sessionId = events[0]!.data.sessionId as string;
    const status = await (await fetch(`${server.url}/interactive/status?sessionId=${sessionId}`)).json();
    expect(status).toMatchObject({ sessionId, status: "error", currentTurn: 0, repository: { name: "owner/repo", branch: "" } });
    expect(typeof status.createdAt).toBe("number");
    expect(typeof status.completedAt).toBe("number");
  });

  it("relays a session live from the worker: connected, status, claude_start, claude_delta, claude_end, file_change, complete", async () => {
    worker = await startAgentWorker(python.python, python.stubs, server.port, "py-agent-1");
    const res = await start({ prompt: "Refactor this function [turns=2]", repository: { url: "https://github.com/owner/repo", name: "owner/repo", branch: "main" }, options: { maxTurns: 5, createPR: false } });
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("x-response-time")).toMatch(/^\d+ms$/);
    const events = await collect(readSse(res));
    expect(res.headers.get("x-session-id")).toBe(events[0]!.data.sessionId as string);
    const names = events.map((e) => e.event);
    expect(names[0]).toBe("connected");
    expect(names.at(-1)).toBe("complete");
    for (const n of ["status", "claude_start", "claude_delta", "claude_end", "file_change"]) expect(names).toContain(n);
    expect(names.filter((n) => n === "claude_start")).toHaveLength(2);
    // Every stored event has an id, consecutive from 1.
    expect(events.slice(1).map((e) => Number(e.id))).toEqual(events.slice(1).map((_, i) => i + 1));
    const delta = events.find((e) => e.event === "claude_delta")!;
    expect(delta.data).toMatchObject({ turn: 1 });
    expect(typeof delta.data.content).toBe("string");
    expect(delta.data.timestamp).toMatch(/Z$/);
    expect(events.find((e) => e.event === "claude_start")!.data).toMatchObject({ turn: 1, prompt: "Refactor this function [turns=2]" });
    expect(events.find((e) => e.event === "file_change")!.data.workspaceDir).toStartWith("/work/");
    const sessionId = events[0]!.data.sessionId as string;
    expect(events.at(-1)!.data).toMatchObject({ sessionId, turns: 2 });
    const status = await (await fetch(`${server.url}/interactive/status?sessionId=${sessionId}`)).json();
    expect(status).toMatchObject({ sessionId, status: "completed", currentTurn: 2, repository: { name: "owner/repo", branch: "main" }, tokensUsed: 200, workerId: "py-agent-1" });
    // The worker got the stored key through GetSessionCredentials; the server never logged it.
    const done = await worker.waitFor((l) => (l.session_done as { session?: string } | undefined)?.session === sessionId);
    expect(done.session_done).toMatchObject({ key_received: true, result: "completed" });
    expect(JSON.stringify(server.logs)).not.toContain(KEY);
  });

  it("resumes after Last-Event-ID with the events that followed, without gaps or repeats", async () => {
    const body = { sessionId: `resume-${Date.now()}`, prompt: "Long answer [turns=2] [delay=60]", repository: { name: "owner/repo" } };
    const abort = new AbortController();
    const first = readSse(await start(body, {}, abort.signal));
    const seen = await collect(first, (e) => e.event === "claude_delta");
    abort.abort();
    const lastId = seen.at(-1)!.id!;
    const rest = await collect(readSse(await start(body, { "last-event-id": lastId })));
    expect(rest[0]!.event).toBe("connected");
    expect(rest.at(-1)!.event).toBe("complete");
    const ids = [...seen, ...rest].filter((e) => e.id).map((e) => Number(e.id));
    expect(ids).toEqual(ids.map((_, i) => i + 1));
    // The same log over the GET stream (what a browser EventSource reconnects to).
    const again = await collect(readSse(await fetch(`${server.url}/interactive/stream?sessionId=${body.sessionId}`, { headers: { "last-event-id": "2" } })));
    expect(Number(again[1]!.id)).toBe(3);
    expect(again.at(-1)!.event).toBe("complete");
  });

  it("cancels a running session with DELETE /interactive/{sessionId}: the stream ends with an error event and the worker stops", async () => {
    const res = await start({ prompt: "Slow work [turns=10] [delay=150]", repository: { name: "owner/repo" } });
    const events = readSse(res);
    const head = await collect(events, (e) => e.event === "claude_delta");
    const sessionId = head[0]!.data.sessionId as string;
    const del = await fetch(`${server.url}/interactive/${sessionId}`, { method: "DELETE" });
    expect(del.status).toBe(200);
    expect(await del.json()).toMatchObject({ success: true, sessionId, status: "completed", state: "ended" });
    const tail = await collect(events);
    expect(tail.at(-1)).toMatchObject({ event: "error", data: { reason: "SESSION_ENDED" } });
    const status = await (await fetch(`${server.url}/interactive/status?sessionId=${sessionId}`)).json();
    const agents = server.app.modules.agents as AgentsModule;
    const task = await (await fetch(`${server.url}/v1/tasks/${(await agents.sessions.get("default", sessionId)).taskId}`)).json();
    expect(task.task.state).toBe("TASK_STATE_CANCELLED");
    expect(status.state).toBe("ended");
    const done = await worker!.waitFor((l) => (l.session_done as { session?: string } | undefined)?.session === sessionId);
    expect(["cancelled", "refused: FAILED_PRECONDITION"]).toContain((done.session_done as { result: string }).result);
    // Ending it again answers it unchanged.
    expect((await fetch(`${server.url}/interactive/${sessionId}`, { method: "DELETE" })).status).toBe(200);
  });

  it("streams the same session events over Connect and gRPC", async () => {
    for (const protocol of ["connect", "grpc"] as const) {
      const client = clientFor(AgentSessionService, server.url, protocol);
      const names: string[] = [];
      for await (const m of client.startSession({ prompt: `Over ${protocol}`, repository: { name: "owner/repo" } })) names.push(m.event!.payload.case!);
      expect(names[0]).toBe("connected");
      expect(names.at(-1)).toBe("complete");
      expect(names).toContain("claudeDelta");
    }
  });

  it("serves the same stream to a grpcio client, and WatchSession resumes after a sequence", async () => {
    const out = await runPython(python.python, [join(repoRoot, "test/python/agent_session_client.py"), `127.0.0.1:${server.port}`, python.stubs, "From Python [turns=1]"]);
    const started = out.started as [number, string][];
    expect(started[0]).toEqual([0, "connected"]);
    expect(started.at(-1)![1]).toBe("complete");
    expect(started.slice(1).map(([seq]) => seq)).toEqual(started.slice(1).map((_, i) => i + 1));
    const watched = out.watched as [number, string][];
    expect(watched[0]![1]).toBe("connected");
    expect(watched.slice(1)).toEqual(started.filter(([seq]) => seq > 3));
  }, 60_000);

  it("answers bad input in the seed's error body before any stream", async () => {
    for (const [body, field] of [
      [{ repository: { name: "owner/repo" } }, "prompt"],
      [{ prompt: "x", repository: { name: "not a repo" } }, "repository.name"],
      [{ prompt: "x", repository: { name: "o/r" }, anthropicApiKey: "nope" }, "anthropic_api_key"],
      [{ prompt: "x", repository: { name: "o/r" }, options: { permissionMode: "yolo" } }, "options.permissionMode"],
    ] as const) {
      const res = await start(body as Record<string, unknown>);
      expect(res.status).toBe(400);
      const err = await res.json();
      expect(err.error).toBe("VALIDATION_ERROR");
      expect(err.message).toContain(field);
    }
    const taken = await start({ sessionId: (await (await fetch(`${server.url}/v1/agents/sessions?page_size=1`)).json()).sessions[0].id, prompt: "x", repository: { name: "o/r" } });
    expect(taken.status).toBe(409);
    expect(await taken.json()).toMatchObject({ error: "VALIDATION_ERROR" });
    const missing = await fetch(`${server.url}/interactive/status?sessionId=nope`);
    expect(missing.status).toBe(404);
    expect((await missing.json()).error).toBe("NOT_FOUND");
    const noId = await fetch(`${server.url}/interactive/status`);
    expect(noId.status).toBe(400);
  });
});

describe("agent quotas", () => {
  let limited: TestServer;
  beforeAll(async () => {
    limited = await startTestServer({ SWITCHYARD_AGENT_WAIT_MS: "20000", SWITCHYARD_AGENT_MAX_CONCURRENT_SESSIONS: "1" });
    await fetch(`${limited.url}/claude-setup`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ anthropicApiKey: KEY }) });
  });
  afterAll(() => limited.close());

  it("refuses a session over the concurrent-session quota with 429 QUOTA_EXCEEDED, on every protocol, and shows it in /health", async () => {
    const abort = new AbortController();
    const first = await fetch(`${limited.url}/interactive/start`, { method: "POST", body: JSON.stringify({ prompt: "a", repository: { name: "o/r" } }), signal: abort.signal });
    await collect(readSse(first), (e) => e.event === "status");
    const second = await fetch(`${limited.url}/interactive/start`, { method: "POST", body: JSON.stringify({ prompt: "b", repository: { name: "o/r" } }) });
    expect(second.status).toBe(429);
    const body = await second.json();
    expect(body).toMatchObject({ error: "QUOTA_EXCEEDED" });
    expect(body.message).toContain("too many concurrent sessions");
    const client = clientFor(AgentSessionService, limited.url, "connect");
    const error = await rejection((async () => {
      for await (const _ of client.startSession({ prompt: "c", repository: { name: "o/r" } }));
    })());
    expect(error.code).toBe(8); // resource_exhausted
    const health = await (await fetch(`${limited.url}/health`)).json();
    expect(health.quota).toMatchObject({ activeSessions: 1, maxConcurrentSessions: 1, allowed: false, reason: "too many concurrent sessions", maxDailyTokens: 1000000, maxDailyCost: 50 });
    expect(health.status).toBe("degraded");
    abort.abort();
  });
});

describe("agent token budget", () => {
  let budget: TestServer;
  let budgetWorker: AgentWorker | undefined;
  beforeAll(async () => {
    budget = await startTestServer({ SWITCHYARD_AGENT_MAX_DAILY_TOKENS: "150", SWITCHYARD_RATE_LIMITS: "off" });
    await fetch(`${budget.url}/claude-setup`, { method: "POST", body: JSON.stringify({ anthropicApiKey: KEY }) });
    budgetWorker = await startAgentWorker(python.python, python.stubs, budget.port, "py-budget");
  }, 60_000);
  afterAll(async () => {
    await budgetWorker?.stop();
    await budget.close();
  });

  it("stops a running session once the day's tokens are spent (error QUOTA_EXCEEDED) and refuses the next with 429", async () => {
    const res = await fetch(`${budget.url}/interactive/start`, { method: "POST", body: JSON.stringify({ prompt: "Big job [turns=4] [tokens=100]", repository: { name: "o/r" } }) });
    const events = await collect(readSse(res));
    expect(events.at(-1)).toMatchObject({ event: "error", data: { reason: "QUOTA_EXCEEDED" } });
    expect(events.filter((e) => e.event === "claude_end").length).toBeLessThan(4);
    const quota = (await (await fetch(`${budget.url}/v1/agents/quota`)).json()).quota;
    expect(quota).toMatchObject({ allowed: false, reason: "daily token limit reached", max_daily_tokens: "150" });
    expect(Number(quota.daily_tokens)).toBeGreaterThanOrEqual(150);
    const next = await fetch(`${budget.url}/interactive/start`, { method: "POST", body: JSON.stringify({ prompt: "more", repository: { name: "o/r" } }) });
    expect(next.status).toBe(429);
    expect(await next.json()).toMatchObject({ error: "QUOTA_EXCEEDED" });
  });
});
