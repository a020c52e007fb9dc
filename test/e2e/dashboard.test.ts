import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { TaskService } from "../../gen/switchyard/tasks/v1/tasks_service_pb.js";
import { QueueService } from "../../gen/switchyard/tasks/v1/queues_service_pb.js";
import { TaskState } from "../../gen/switchyard/tasks/v1/tasks_pb.js";
import { LoadBalancerService, ServerService } from "../../gen/switchyard/servers/v1/servers_service_pb.js";
import { LoadBalancerAlgorithm, ServerKind, ServerStatus } from "../../gen/switchyard/servers/v1/servers_pb.js";
import { cliManifest } from "./helpers/fastest-cli.ts";
import { startAgentWorker } from "./helpers/agent-worker.ts";
import { makeKey, nowS, signHs256, signWith, startJwksServer, type TestKey } from "../../src/testing/jwt.ts";
import { clientFor } from "../../src/testing/clients.ts";
import { preparePython } from "../../src/testing/python.ts";
import { repoRoot, startTestServer, type TestServer } from "../../src/testing/server.ts";

// The dashboard in a real browser (Debian's Chromium driven by playwright-core) against a real
// server on a free port; data created and changed over gRPC and by a Python worker.
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const TOKEN = "dashboard-test-token-0123456789";

let server: TestServer;
let guarded: TestServer;
let identity: TestServer;
let googleKey: TestKey;
let jwks: { url: string; stop(): void };
const JWT_SECRET = "dashboard-jwt-secret-0123456789";
const GOOGLE_CLIENT = "dash-test.apps.googleusercontent.com";
let browser: Browser;

async function open(url: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.setDefaultTimeout(15_000);
  await page.goto(url);
  return page;
}

async function screenshotOk(page: Page, name: string): Promise<void> {
  const png = await page.screenshot({ fullPage: true, path: process.env.SCREENSHOT_DIR ? join(process.env.SCREENSHOT_DIR, `${name}.png`) : undefined });
  expect(png.byteLength).toBeGreaterThan(8_000);
  // Not a blank page: the main region holds rendered text.
  expect((await page.locator("main").innerText()).trim().length).toBeGreaterThan(10);
}

beforeAll(async () => {
  // Builds only when web/dist is missing or older than its sources (npm test has done it already).
  const build = Bun.spawnSync(["bash", join(repoRoot, "scripts/build-web.sh")], { stderr: "inherit", env: { ...process.env, PATH: `${join(repoRoot, ".tools/bin")}:${process.env.PATH}` } });
  if (build.exitCode !== 0 || !existsSync(join(repoRoot, "web/dist/index.html"))) throw new Error("dashboard build failed");
  server = await startTestServer();
  guarded = await startTestServer({ SWITCHYARD_API_TOKEN: TOKEN });
  googleKey = await makeKey("RS256", "dash-g1");
  jwks = startJwksServer({ "/certs": [googleKey] });
  identity = await startTestServer({ SWITCHYARD_JWT_SECRET: JWT_SECRET, SWITCHYARD_GOOGLE_CLIENT_ID: GOOGLE_CLIENT, SWITCHYARD_GOOGLE_JWKS_URL: `${jwks.url}/certs` });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await guarded?.close();
  await identity?.close();
  jwks?.stop();
});

describe("dashboard", () => {
  it("is served at /ui with an immutable cache for hashed assets and a revalidated index", async () => {
    const index = await fetch(`${server.url}/ui/`);
    expect(index.status).toBe(200);
    expect(index.headers.get("cache-control")).toBe("no-cache");
    expect(index.headers.get("content-type")).toContain("text/html");
    const html = await index.text();
    const asset = /src="(\/ui\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(asset).toBeDefined();
    const js = await fetch(`${server.url}${asset}`);
    expect(js.status).toBe(200);
    expect(js.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(js.headers.get("content-type")).toContain("javascript");
    const again = await fetch(`${server.url}${asset}`, { headers: { "if-none-match": js.headers.get("etag")! } });
    expect(again.status).toBe(304);
    expect((await fetch(`${server.url}/ui`, { redirect: "manual" })).status).toBe(308);
    expect((await fetch(`${server.url}/ui/assets/nope.js`)).status).toBe(404);
  });

  it("shows tasks created over gRPC, and a Python worker's completion without a reload", async () => {
    const tasks = clientFor(TaskService, server.url, "grpc");
    const created = await tasks.batchCreateTasks({ requests: Array.from({ length: 3 }, (_, i) => ({ task: { queue: "ui-live", type: "demo", payload: { kind: { case: "numberValue", value: i } } } })) });
    const page = await open(`${server.url}/ui/#/tasks`);
    for (const t of created.tasks) await page.locator(`tr[data-task="${t.id}"]`).waitFor();
    expect(await page.locator(`tr[data-task="${created.tasks[0]!.id}"]`).getAttribute("data-state")).toBe("pending");
    await page.locator(".live.live").first().waitFor();

    const { python, stubs } = await preparePython();
    const worker = Bun.spawn([python, join(repoRoot, "test/python/task_worker.py"), `127.0.0.1:${server.port}`, stubs, "py-ui", "ui-live", "3", "0", "4"], { stdout: "pipe", stderr: "pipe" });
    expect(await worker.exited).toBe(0);
    for (const t of created.tasks) await page.locator(`tr[data-task="${t.id}"][data-state="succeeded"]`).waitFor();
    // A task created after the page loaded appears too.
    const late = await tasks.createTask({ task: { queue: "ui-live", type: "late" } });
    await page.locator(`tr[data-task="${late.task!.id}"]`).waitFor();
    await screenshotOk(page, "tasks");

    await page.locator(`a[href="#/tasks/${late.task!.id}"]`).click();
    await page.getByRole("heading", { name: `Task ${late.task!.id}` }).waitFor();
    await page.getByRole("button", { name: "Cancel" }).click();
    await page.locator(".badge.s-cancelled").first().waitFor();
    expect((await tasks.getTask({ id: late.task!.id })).task!.state).toBe(TaskState.CANCELLED);
    await page.locator('li[data-kind="cancelled"]').waitFor();
    await screenshotOk(page, "task");
    await page.close();
  }, 60_000);

  it("pauses a queue on the server from the page", async () => {
    const tasks = clientFor(TaskService, server.url, "grpc");
    await tasks.createTask({ task: { queue: "ui-pause" } });
    const page = await open(`${server.url}/ui/#/queues`);
    await page.getByRole("button", { name: "pause ui-pause" }).click();
    await page.getByRole("button", { name: "resume ui-pause" }).waitFor();
    const queues = clientFor(QueueService, server.url, "grpc");
    expect((await queues.getQueue({ name: "ui-pause" })).queue!.paused).toBe(true);
    await screenshotOk(page, "queues");
    await page.getByRole("button", { name: "resume ui-pause" }).click();
    await page.getByRole("button", { name: "pause ui-pause" }).waitFor();
    expect((await queues.getQueue({ name: "ui-pause" })).queue!.paused).toBe(false);
    await page.close();
  }, 30_000);

  it("shows the server registry, puts a server in maintenance and switches the balancer from the page", async () => {
    const servers = clientFor(ServerService, server.url, "grpc");
    const { server: s } = await servers.registerServer({ server: { name: "ui-gpu-1", kind: ServerKind.WORKER, maxConcurrent: 4, capabilities: ["gpu"], groups: ["eu"] } });
    const page = await open(`${server.url}/ui/#/workers`);
    await page.locator('tr[data-server="ui-gpu-1"]').waitFor();
    await page.getByRole("button", { name: "start maintenance of ui-gpu-1" }).click();
    await page.locator('tr[data-server="ui-gpu-1"][data-status="maintenance"]').waitFor();
    expect((await servers.getServer({ id: s!.id })).server!.status).toBe(ServerStatus.MAINTENANCE);
    await page.getByRole("button", { name: "end maintenance of ui-gpu-1" }).click();
    await page.locator('tr[data-server="ui-gpu-1"]:not([data-status="maintenance"])').waitFor();
    await page.getByLabel("load-balancing algorithm").selectOption(String(LoadBalancerAlgorithm.WEIGHTED_ROUND_ROBIN));
    const lb = clientFor(LoadBalancerService, server.url, "grpc");
    for (let i = 0; i < 100 && (await lb.getLoadBalancerStatus({})).status!.algorithm !== LoadBalancerAlgorithm.WEIGHTED_ROUND_ROBIN; i++) await Bun.sleep(50);
    expect((await lb.getLoadBalancerStatus({})).status!.algorithm).toBe(LoadBalancerAlgorithm.WEIGHTED_ROUND_ROBIN);
    await screenshotOk(page, "workers-registry");
    await page.close();
  }, 30_000);

  it("draws a project's snapshot DAG and its workspaces' drift", async () => {
    const api = async (method: string, path: string, body?: unknown) => {
      const raw = body instanceof Uint8Array;
      const r = await fetch(server.url + path, { method, headers: raw || body === undefined ? {} : { "content-type": "application/json" }, body: body === undefined ? undefined : raw ? (body as unknown as BodyInit) : JSON.stringify(body) });
      return (await r.json()) as any;
    };
    const project = (await api("POST", "/v1/projects", { name: "ui-dag" })).project;
    const ws = (await api("POST", `/v1/projects/${project.id}/workspaces`, { name: "main" })).workspace;
    const content = new TextEncoder().encode("hello");
    await fetch(`${server.url}/v1/blobs/upload/${(await import("node:crypto")).createHash("sha256").update(content).digest("hex")}`, { method: "PUT", body: content });
    const m = cliManifest([{ path: "a.txt", content }]);
    await fetch(`${server.url}/v1/blobs/manifests/${m.hash}`, { method: "PUT", body: m.bytes as unknown as BodyInit });
    await api("POST", `/v1/projects/${project.id}/snapshots`, { manifest_hash: m.hash, snapshot_id: "ui-s1", workspace_id: ws.id });
    await api("POST", `/v1/projects/${project.id}/snapshots`, { manifest_hash: m.hash, snapshot_id: "ui-s2", workspace_id: ws.id, parent_snapshot_ids: ["ui-s1"] });
    await api("POST", `/v1/projects/${project.id}/snapshots`, { manifest_hash: m.hash, snapshot_id: "ui-s3", workspace_id: ws.id, parent_snapshot_ids: ["ui-s1"] });
    await api("POST", `/v1/projects/${project.id}/snapshots`, { manifest_hash: m.hash, snapshot_id: "ui-s4", workspace_id: ws.id, parent_snapshot_ids: ["ui-s2", "ui-s3"] });
    const page = await open(`${server.url}/ui/#/workspaces`);
    await page.getByRole("link", { name: "ui-dag" }).click();
    await page.locator("svg.dag").waitFor();
    expect(await page.locator("svg.dag g[data-snapshot]").count()).toBe(4);
    expect(await page.locator("svg.dag line.edge").count()).toBe(4);
    await page.locator(`li[data-workspace="${ws.id}"]`).waitFor();
    await screenshotOk(page, "workspaces-dag");
    await page.close();
  }, 30_000);

  it("lists agent sessions and streams a session's events live from the Python reference agent worker", async () => {
    await fetch(`${server.url}/claude-setup`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ anthropicApiKey: "sk-ant-test-0123456789abcdef" }) });
    const { python, stubs } = await preparePython();
    const worker = await startAgentWorker(python, stubs, server.port, "ui-agent");
    try {
      const started = await fetch(`${server.url}/interactive/start`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ prompt: "Tidy the README", repository: { name: "owner/repo" } }) });
      const sessionId = started.headers.get("x-session-id")!;
      expect(sessionId).toBeTruthy();
      await started.text(); // the whole SSE answer: the session is complete
      const page = await open(`${server.url}/ui/#/agents`);
      await page.locator(`tr[data-session="${sessionId}"]`).waitFor();
      await page.locator(`a[href="#/agents/${sessionId}"]`).click();
      await page.locator('li[data-kind="claudeDelta"]').first().waitFor();
      await page.locator('li[data-kind="complete"]').waitFor();
      await screenshotOk(page, "agent-session");
      await page.close();
    } finally {
      await worker.stop();
    }
  }, 60_000);

  it("renders every page, and says plainly which domains are not served yet", async () => {
    const page = await open(`${server.url}/ui/`);
    await page.getByRole("heading", { name: "Overview" }).waitFor();
    await page.locator(".components li").first().waitFor();
    await page.locator("canvas").first().waitFor();
    // The live chart counts what happens while the page is open; the hourly one shows today.
    const live = page.locator('.chart[aria-label^="tasks per 5 s"]');
    const before = Number((await live.getAttribute("data-totals"))!.split(",")[0]);
    await clientFor(TaskService, server.url, "grpc").batchCreateTasks({ requests: Array.from({ length: 5 }, () => ({ task: { queue: "ui-chart" } })) });
    await page.waitForFunction(
      (n) => Number(document.querySelector('.chart[aria-label^="tasks per 5 s"]')?.getAttribute("data-totals")?.split(",")[0]) >= n,
      before + 5,
    );
    expect(Number((await page.locator('.chart[aria-label^="tasks per hour"]').getAttribute("data-totals"))!.split(",")[0])).toBeGreaterThan(0);
    await screenshotOk(page, "overview");
    for (const [path, heading] of [
      ["workers", "Workers and servers"],
      ["mail", "Mail and leases"],
      ["memory", "Memory"],
      ["workspaces", "Workspaces"],
      ["agents", "Agent sessions"],
    ] as const) {
      await page.goto(`${server.url}/ui/#/${path}`);
      await page.getByRole("heading", { name: heading, exact: true }).waitFor();
      await page.locator("main .card, main table, main .empty, main .notice").first().waitFor();
      await Bun.sleep(300);
      // Either data or a clear notice/empty state: never an unexplained blank or a raw 5xx.
      expect(await page.locator(".error").count()).toBe(0);
      await screenshotOk(page, path);
    }
    await page.close();
  }, 60_000);

  it("tails a topic live and publishes from the page", async () => {
    const page = await open(`${server.url}/ui/#/mail`);
    await page.getByLabel("Topic (or pattern)").fill("ui.demo");
    await page.getByRole("button", { name: "Tail" }).click();
    await page.locator(".live.live").first().waitFor();
    await page.getByLabel("Topic", { exact: true }).fill("ui.demo");
    await page.getByLabel("Payload (JSON)").fill('{"n": 42}');
    await page.getByRole("button", { name: "Publish" }).click();
    await page.locator(".messages li", { hasText: '"n":42' }).waitFor();
    await page.getByLabel("Payload (JSON)").fill("{not json");
    await page.getByRole("button", { name: "Publish" }).click();
    await page.getByRole("alert").filter({ hasText: "payload is not JSON" }).waitFor();
    await page.close();
  }, 30_000);

  it("shows a clear error for a wrong token and works with the right one, never putting it in a URL", async () => {
    const page = await open(`${guarded.url}/ui/#/tasks`);
    await page.getByRole("alert").filter({ hasText: "UNAUTHENTICATED" }).first().waitFor();
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByPlaceholder("API token").fill("wrong-token-wrong-token");
    await page.getByRole("button", { name: "Use token" }).click();
    await page.getByRole("alert").filter({ hasText: "UNAUTHENTICATED" }).first().waitFor();
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByPlaceholder("API token").fill(TOKEN);
    await page.getByRole("button", { name: "Use token" }).click();
    await page.locator("table[aria-label=tasks], .empty").first().waitFor();
    expect(await page.getByRole("alert").count()).toBe(0);
    expect(page.url()).not.toContain(TOKEN);
    const logged = JSON.stringify(guarded.logs);
    expect(logged).not.toContain(TOKEN);
    await page.close();
  }, 30_000);

  it("signs in with the device flow: the page shows a code, a signed-in user approves it, the page is signed in", async () => {
    const page = await open(`${identity.url}/ui/#/tasks`);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("button", { name: "Device flow" }).click();
    const code = await page.locator("[data-user-code]").getAttribute("data-user-code", { timeout: 15_000 });
    expect(code).toBeTruthy();
    const alice = await signHs256(JWT_SECRET, { sub: "alice", roles: ["user"], exp: nowS() + 300 });
    const approved = await fetch(`${identity.url}/v1/oauth/device/authorize`, { method: "POST", headers: { authorization: `Bearer ${alice}`, "content-type": "application/json" }, body: JSON.stringify({ user_code: code }) });
    expect(approved.status).toBe(200);
    await page.getByText("signed in").waitFor({ timeout: 20_000 });
    expect(page.url()).not.toContain("token");
    await page.close();
  }, 45_000);

  it("signs in with a Google ID token where Google is configured, and says why a bad one is refused", async () => {
    const page = await open(`${identity.url}/ui/#/tasks`);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByPlaceholder("Google ID token").fill("not-a-token");
    await page.getByRole("button", { name: "Sign in with Google" }).click();
    await page.getByRole("alert").filter({ hasText: "GOOGLE_CREDENTIAL_INVALID" }).waitFor();
    const idToken = await signWith(googleKey, { iss: "https://accounts.google.com", aud: GOOGLE_CLIENT, sub: "g-dana", email: "dana@example.com", email_verified: true, iat: nowS(), exp: nowS() + 600 });
    await page.getByPlaceholder("Google ID token").fill(idToken);
    await page.getByRole("button", { name: "Sign in with Google" }).click();
    await page.getByText("signed in").waitFor();
    await page.close();
  }, 30_000);
});
