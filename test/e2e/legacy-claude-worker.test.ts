import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { sign, verify } from "@octokit/webhooks-methods";
import { IntegrationService } from "../../gen/switchyard/agents/v1/integration_service_pb.js";
import { rejection } from "../../src/testing/async.ts";
import { clientFor } from "../../src/testing/clients.ts";
import { preparePython } from "../../src/testing/python.ts";
import { startTestServer, type TestServer } from "../../src/testing/server.ts";
import { startAgentWorker, type AgentWorker } from "./helpers/agent-worker.ts";

// GitHub's published example (docs: "Validating webhook deliveries").
const GITHUB_SECRET = "It's a Secret to Everybody";
const GITHUB_PAYLOAD = "Hello, World!";
const GITHUB_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
const KEY = "sk-ant-api03-abcdefghijklmnop";
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

let server: TestServer;
let python: { python: string; stubs: string };
let worker: AgentWorker | undefined;
beforeAll(async () => {
  [server, python] = await Promise.all([
    startTestServer({ SWITCHYARD_GITHUB_WEBHOOK_SECRET: GITHUB_SECRET, SWITCHYARD_GITHUB_APP_ID: "2601422", SWITCHYARD_GITHUB_APP_SLUG: "switchyard-test", SWITCHYARD_RATE_LIMITS: "seed-004=1000/m" }),
    preparePython(),
  ]);
}, 120_000);
afterAll(async () => {
  await worker?.stop();
  await server.close();
});

let deliveries = 0;
async function deliver(event: string, payload: string, opts: { signature?: string | null; delivery?: string } = {}) {
  const headers: Record<string, string> = { "content-type": "application/json", "x-github-event": event, "x-github-delivery": opts.delivery ?? `d-${++deliveries}-${Date.now()}` };
  const signature = opts.signature === undefined ? await sign(GITHUB_SECRET, payload) : opts.signature;
  if (signature !== null) headers["x-hub-signature-256"] = signature;
  const res = await fetch(`${server.url}/webhooks/github`, { method: "POST", headers, body: payload });
  expect(res.status).toBe(200);
  return { delivery: headers["x-github-delivery"]!, body: (await res.json()) as Record<string, unknown> };
}
const webhookStats = async () => (await (await fetch(`${server.url}/metrics`)).json()).webhookStats;
const issueSessions = async () => (await (await fetch(`${server.url}/v1/agents/sessions?kind=SESSION_KIND_ISSUE`)).json()).sessions ?? [];

describe("seed 004 health", () => {
  it("GET /health is degraded (200) when the deployment serves GitHub but neither GitHub nor Claude is configured", async () => {
    const bare = await startTestServer({ SWITCHYARD_GITHUB_WEBHOOK_SECRET: GITHUB_SECRET });
    const res = await fetch(`${bare.url}/health`);
    const body = await res.json();
    await bare.close();
    expect(res.status).toBe(200);
    expect(body.status).toBe("degraded");
    expect(body.components).toMatchObject({ githubApp: { configured: false }, claudeConfig: { configured: false } });
  });

  it("GET /health answers the seed's components, metrics, quota and github blocks", async () => {
    const res = await fetch(`${server.url}/health`);
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.status).toBe("healthy");
    expect(body.components).toMatchObject({
      durableObjects: { status: "operational" },
      containers: { status: "operational", message: "0 active agent workers" },
      githubApp: { status: "configured", configured: true },
      claudeConfig: { status: "not configured", configured: false },
      rateLimit: { status: "configured", configured: true },
    });
    expect(body.metrics.containers).toEqual({ active: 0, total: 0, errors: 0 });
    expect(body.quota).toMatchObject({ dailyTokens: 0, maxDailyTokens: 1000000, remainingTokens: 1000000, dailyCost: 0, maxDailyCost: 50, remainingCost: 50, activeSessions: 0, maxConcurrentSessions: 5, allowed: true });
    expect(body.github).toMatchObject({ appId: "2601422", repositoryCount: 0, totalWebhooks: 0, lastWebhookAt: null });
    for (const h of ["x-content-type-options", "x-frame-options", "x-request-count", "x-response-time"]) expect(res.headers.get(h)).toBeTruthy();
  });
});

describe("POST /claude-setup", () => {
  it("refuses a key of the wrong format with 400 VALIDATION_ERROR and stores a good one sealed", async () => {
    const bad = await fetch(`${server.url}/claude-setup`, { method: "POST", body: JSON.stringify({ anthropicApiKey: "sk-openai-123" }) });
    expect(bad.status).toBe(400);
    expect((await bad.json()).error).toBe("VALIDATION_ERROR");
    const none = await fetch(`${server.url}/claude-setup`, { method: "POST", body: "{}" });
    expect(none.status).toBe(400);
    const ok = await fetch(`${server.url}/claude-setup`, { method: "POST", body: JSON.stringify({ anthropicApiKey: KEY }) });
    expect(ok.status).toBe(200);
    expect((await ok.json()).setupAt).toMatch(ISO);
    // Sealed at rest: the row holds AES-GCM text, and no file of the database holds the key.
    const { Database } = await import("bun:sqlite");
    const db = new Database(server.config.databasePath, { readonly: true });
    const row = db.query("SELECT sealed, value FROM agent_integrations WHERE name = 'claude'").get() as { sealed: string; value: string };
    db.close();
    expect(row.sealed).toStartWith("v1:");
    expect(row.sealed + row.value).not.toContain(KEY);
    const { existsSync, readFileSync } = await import("node:fs");
    for (const file of [server.config.databasePath, `${server.config.databasePath}-wal`]) {
      if (existsSync(file)) expect(readFileSync(file, "latin1")).not.toContain(KEY);
    }
    const status = await (await fetch(`${server.url}/gh-status`)).json();
    expect(status.claude.configured).toBe(true);
    expect(status.claude.setupAt).toMatch(ISO);
  });
});

describe("POST /webhooks/github", () => {
  it("verifies GitHub's published test vector (library and route)", async () => {
    expect(await verify(GITHUB_SECRET, GITHUB_PAYLOAD, GITHUB_SIGNATURE)).toBe(true);
    expect(await sign(GITHUB_SECRET, GITHUB_PAYLOAD)).toBe(GITHUB_SIGNATURE);
    const before = await webhookStats();
    // The signature verifies; the body is then refused as not JSON (not as a bad signature).
    const { body } = await deliver("ping", GITHUB_PAYLOAD, { signature: GITHUB_SIGNATURE });
    expect(body).toMatchObject({ received: false, error: "VALIDATION_ERROR" });
    const after = await webhookStats();
    expect(after.refused.bad_request).toBe((before.refused.bad_request ?? 0) + 1);
    expect(after.refused.bad_signature ?? 0).toBe(before.refused.bad_signature ?? 0);
    expect(after.totalWebhooks).toBe(before.totalWebhooks);
  });

  it("records the installation and its repositories", async () => {
    const installation = { action: "created", installation: { id: 789012, account: { login: "octo-org" } }, repositories: [{ id: 1, full_name: "octo-org/a" }, { id: 2, full_name: "octo-org/b" }] };
    expect((await deliver("installation", JSON.stringify(installation))).body).toMatchObject({ received: true, outcome: "installation_updated", action: "created" });
    const added = { action: "added", installation: { id: 789012 }, repositories_added: [{ id: 3, full_name: "octo-org/c" }], repositories_removed: [{ id: 1, full_name: "octo-org/a" }] };
    expect((await deliver("installation_repositories", JSON.stringify(added))).body).toMatchObject({ outcome: "installation_updated" });
    const status = await (await fetch(`${server.url}/gh-status`)).json();
    expect(status.github).toMatchObject({ configured: true, appId: "2601422", owner: "octo-org", repositoryCount: 2, installationId: "789012" });
  });

  it("starts one issue session for an opened issue, deduplicates a redelivery, and answers the running session for an edit", async () => {
    const issue = (action: string) => JSON.stringify({ action, issue: { number: 42, title: "Crash on start", body: "Steps…" }, repository: { full_name: "octo-org/b", html_url: "https://github.com/octo-org/b" } });
    const statsBefore = await webhookStats();
    const first = await deliver("issues", issue("opened"));
    expect(first.body).toMatchObject({ received: true, outcome: "session_started", event: "issues", action: "opened" });
    const sessionId = first.body.sessionId as string;
    expect(sessionId).toStartWith("ses_");
    const replay = await deliver("issues", issue("opened"), { delivery: first.delivery });
    expect(replay.body).toMatchObject({ received: true, outcome: "duplicate", sessionId });
    const edited = await deliver("issues", issue("edited"));
    expect(edited.body).toMatchObject({ outcome: "session_started", sessionId });
    expect(await deliver("issues", JSON.stringify({ action: "closed" }))).toMatchObject({ body: { outcome: "ignored" } });
    const sessions = await issueSessions();
    expect(sessions).toHaveLength(1);
    expect(sessions[0]).toMatchObject({ id: sessionId, kind: "SESSION_KIND_ISSUE", issue_number: "42", repository: { name: "octo-org/b" }, options: { create_pr: true } });
    expect(sessions[0].prompt).toContain("Crash on start");
    const stats = await webhookStats();
    expect(stats.totalWebhooks).toBe(statsBefore.totalWebhooks + 3);
    expect(stats.refused.duplicate).toBe((statsBefore.refused.duplicate ?? 0) + 1);
    expect(stats.lastWebhookAt).toMatch(ISO);
  });

  it("refuses tampered and unsigned deliveries (still 200) and creates nothing", async () => {
    const payload = JSON.stringify({ action: "opened", issue: { number: 7, title: "x" }, repository: { full_name: "octo-org/evil" } });
    const signature = await sign(GITHUB_SECRET, payload);
    const before = await webhookStats();
    const tampered = await deliver("issues", payload.replace("evil", "evi1"), { signature });
    expect(tampered.body).toMatchObject({ received: false, error: "UNAUTHORIZED" });
    const unsigned = await deliver("issues", payload, { signature: null });
    expect(unsigned.body).toMatchObject({ received: false, error: "UNAUTHORIZED" });
    const wrongSecret = await deliver("issues", payload, { signature: await sign("another secret", payload) });
    expect(wrongSecret.body.received).toBe(false);
    expect(await issueSessions()).toHaveLength(1);
    const after = await webhookStats();
    expect(after.totalWebhooks).toBe(before.totalWebhooks);
    expect(after.refused.bad_signature).toBe((before.refused.bad_signature ?? 0) + 2);
    expect(after.refused.missing_signature).toBe((before.refused.missing_signature ?? 0) + 1);
    // The RPC itself says why, over Connect.
    const error = await rejection(clientFor(IntegrationService, server.url, "connect").receiveGitHubWebhook({ payload: { contentType: "application/json", data: new TextEncoder().encode(payload) }, event: "issues", deliveryId: "x1", signature256: "sha256=00" }));
    expect(error.code).toBe(16); // unauthenticated
    expect(error.rawMessage).toContain("does not match");
  });
});

describe("with SWITCHYARD_API_TOKEN set", () => {
  it("still takes GitHub's signed deliveries (HMAC is their authentication) and refuses unsigned ones", async () => {
    const guarded = await startTestServer({ SWITCHYARD_API_TOKEN: "a-token-of-16-chars-or-more", SWITCHYARD_GITHUB_WEBHOOK_SECRET: GITHUB_SECRET });
    try {
      const payload = JSON.stringify({ action: "created", installation: { id: 1, account: { login: "me" } } });
      const post = async (signature?: string) =>
        (await fetch(`${guarded.url}/webhooks/github`, {
          method: "POST",
          headers: { "x-github-event": "installation", "x-github-delivery": `g-${Math.random()}`, ...(signature ? { "x-hub-signature-256": signature } : {}) },
          body: payload,
        })).json();
      expect(await post(await sign(GITHUB_SECRET, payload))).toMatchObject({ received: true, outcome: "installation_updated" });
      expect(await post()).toMatchObject({ received: false, error: "UNAUTHORIZED", message: "X-Hub-Signature-256 is missing" });
      expect((await fetch(`${guarded.url}/gh-status`)).status).toBe(401);
    } finally {
      await guarded.close();
    }
  });
});

describe("GitHub setup pages", () => {
  it("GET /gh-setup answers an HTML page with the installation link and a one-time state; the callback verifies it", async () => {
    const res = await fetch(`${server.url}/gh-setup?redirect_url=${encodeURIComponent("https://example.com/done")}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toStartWith("text/html");
    const html = await res.text();
    const link = /href="(https:\/\/github\.com\/apps\/switchyard-test\/installations\/new\?state=([\w-]+))"/.exec(html);
    expect(link).not.toBeNull();
    const state = link![2]!;
    const forged = await fetch(`${server.url}/gh-setup/callback?state=forged&installation_id=1`, { redirect: "manual" });
    expect(forged.status).toBe(403);
    expect((await forged.json()).error).toBe("UNAUTHORIZED");
    const ok = await fetch(`${server.url}/gh-setup/callback?state=${state}&installation_id=555&setup_action=install`, { redirect: "manual" });
    expect(ok.status).toBe(302);
    expect(ok.headers.get("location")).toBe("https://example.com/done");
    expect((await (await fetch(`${server.url}/gh-status`)).json()).github.installationId).toBe("555");
    const plain = /state=([\w-]+)/.exec(await (await fetch(`${server.url}/gh-setup`)).text())![1]!;
    const page = await fetch(`${server.url}/gh-setup/callback?state=${plain}&installation_id=556`);
    expect(await page.text()).toContain("556");
    expect((await fetch(`${server.url}/gh-setup?redirect_url=ftp://x`)).status).toBe(400);
  });
});

describe("seed 004 container routes on the agent pool", () => {
  it("answers /container 503 without an agent worker, then 200 with one; /lb and /singleton are probes through the pool", async () => {
    const none = await fetch(`${server.url}/container`);
    expect(none.status).toBe(503);
    expect((await fetch(`${server.url}/lb`)).status).toBe(503);
    worker = await startAgentWorker(python.python, python.stubs, server.port, "py-pool-1");
    const res = await fetch(`${server.url}/container`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("Container is healthy");
    const lb = await fetch(`${server.url}/lb`);
    expect(lb.status).toBe(200);
    expect(await lb.text()).toBe("Container is healthy");
    expect(lb.headers.get("x-agent-worker")).toBe("py-pool-1");
    const single = await fetch(`${server.url}/singleton`);
    expect(single.status).toBe(200);
    expect(single.headers.get("x-agent-worker")).toBe("py-pool-1");
    const pool = await (await fetch(`${server.url}/v1/agents/pool`)).json();
    expect(pool).toMatchObject({ active: 1, total: 1 });
    expect(pool.workers[0]).toMatchObject({ worker_id: "py-pool-1" });
  });

  it("POST /container/process-issue starts an issue session that the worker runs to completion", async () => {
    const res = await fetch(`${server.url}/container/process-issue`, { method: "POST", body: JSON.stringify({ repositoryName: "octo-org/c", issueNumber: 9, issueTitle: "Add docs" }) });
    expect(res.status).toBe(202);
    const body = await res.json();
    expect(body).toMatchObject({ success: true, created: true, status: "processing", repository: { name: "octo-org/c" } });
    const done = await worker!.waitFor((l) => (l.session_done as { session?: string } | undefined)?.session === body.sessionId);
    expect(done.session_done).toMatchObject({ result: "completed", key_received: true });
    const bad = await fetch(`${server.url}/container/process-issue`, { method: "POST", body: JSON.stringify({ repositoryName: "octo-org/c" }) });
    expect(bad.status).toBe(400);
  });

  it("GET /metrics and /metrics/prometheus show containers, deploymentStartTime, webhookStats and the claude_code_ series", async () => {
    const m = await (await fetch(`${server.url}/metrics`)).json();
    expect(m.containers).toMatchObject({ active: 1, total: 1 });
    expect(m.deploymentStartTime).toMatch(ISO);
    expect(m.webhookStats.totalWebhooks).toBeGreaterThanOrEqual(5);
    const text = await (await fetch(`${server.url}/metrics/prometheus`)).text();
    expect(text).toContain("# TYPE claude_code_requests_total counter");
    expect(text).toMatch(/^claude_code_containers_active 1$/m);
    expect(text).toMatch(/^claude_code_average_response_time_ms \d+\.\d\d$/m);
    expect(text).toContain("switchyard_requests_total");
    const health = await (await fetch(`${server.url}/health`)).json();
    expect(health.status).toBe("healthy");
    expect(health.components.githubApp.configured).toBe(true);
    expect(health.github).toMatchObject({ installationId: "556" });
  });
});
