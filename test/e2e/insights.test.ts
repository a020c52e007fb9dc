// Seed 002's agent-backed features as task-backed calls on queue `insights`, served by the
// reference Python worker (examples/insights-worker): next steps, decisions, drift analysis,
// conversations (turns streamed as events, WebSocket with ?token=), with no worker, a slow
// worker and a worker answering malformed results; REST with seed 002 shapes, gRPC and Connect.
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import WebSocket from "ws";
import { fromJson, toJson } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { TaskState } from "../../gen/switchyard/tasks/v1/tasks_pb.js";
import { TaskService } from "../../gen/switchyard/tasks/v1/tasks_service_pb.js";
import { ConversationService } from "../../gen/switchyard/workspaces/v1/conversation_service_pb.js";
import { InsightService } from "../../gen/switchyard/workspaces/v1/insight_service_pb.js";
import { AppError } from "../../src/core/errors.ts";
import { ScheduleService } from "../../gen/switchyard/tasks/v1/schedule_service_pb.js";
import { listSchedules, setPaused } from "../../src/insights/schedules.ts";
import { createDiagram, getAtlas, indexAtlas, searchAtlas } from "../../src/insights/atlas.ts";
import { deployProject, detectRequirements, getSettings, listCredentials, listDeployments, listResources, taskCredential } from "../../src/insights/infrastructure.ts";
import { createRun, dismissActionItem, getRun } from "../../src/insights/action-items.ts";
import { getConversation, listMessages, sendMessage } from "../../src/insights/conversations.ts";
import { extractDecisions, listDecisions } from "../../src/insights/decisions.ts";
import { analyzeDrift } from "../../src/insights/drift-analysis.ts";
import type { InsightsModule } from "../../src/insights/module.ts";
import { generateNextSteps, listNextSteps, updateNextStep } from "../../src/insights/next-steps.ts";
import { clientFor } from "../../src/testing/clients.ts";
import { preparePython } from "../../src/testing/python.ts";
import { startTestServer, type TestServer } from "../../src/testing/server.ts";
import { cliManifest, sha256 } from "./helpers/fastest-cli.ts";
import { startInsightsWorker, type InsightsWorker } from "./helpers/insights-worker.ts";
import { readSse } from "./helpers/sse.ts";

const TOKEN = "insights-test-token";
let server: TestServer;
let py: { python: string; stubs: string };
beforeAll(async () => {
  [server, py] = await Promise.all([startTestServer({ SWITCHYARD_API_TOKEN: TOKEN, SWITCHYARD_INSIGHTS_DEADLINE_MS: "3000" }), preparePython()]);
});
afterAll(() => server.close());

const enc = (s: string) => new TextEncoder().encode(s);
async function api(method: string, path: string, body?: unknown) {
  const raw = body instanceof Uint8Array;
  const headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` };
  if (!raw) headers["content-type"] = "application/json";
  const res = await fetch(server.url + path, { method, headers, body: method === "GET" ? undefined : raw ? (body as BodyInit) : JSON.stringify(body ?? {}) });
  return { status: res.status, json: (await res.json()) as any };
}
async function push(files: Record<string, string>) {
  for (const c of Object.values(files)) await api("PUT", `/v1/blobs/upload/${sha256(c)}`, enc(c));
  const m = cliManifest(Object.entries(files).map(([path, c]) => ({ path, content: enc(c) })));
  await api("PUT", `/v1/blobs/manifests/${m.hash}`, m.bytes);
  return m.hash;
}
/** A project whose main is at `base` + a change of a.txt; a feature workspace that changed a.txt and added b.txt. */
async function project(name: string) {
  const p = (await api("POST", "/v1/projects", { name })).json.project;
  const main = (await api("POST", `/v1/projects/${p.id}/workspaces`, { name: "main" })).json.workspace;
  const snap = async (id: string, files: Record<string, string>, ws: string, parents: string[]) =>
    api("POST", `/v1/projects/${p.id}/snapshots`, { manifest_hash: await push(files), snapshot_id: `${name}-${id}`, workspace_id: ws, parent_snapshot_ids: parents.map((x) => `${name}-${x}`) });
  await snap("base", { "a.txt": "one\n", "src/app.ts": "x\n" }, main.id, []);
  const feature = (await api("POST", `/v1/projects/${p.id}/workspaces`, { name: "feature", base_snapshot_id: `${name}-base` })).json.workspace;
  await snap("main", { "a.txt": "ONE\n", "src/app.ts": "x\n" }, main.id, ["base"]);
  await snap("feat", { "a.txt": "uno\n", "src/app.ts": "x\n", "b.txt": "b\n" }, feature.id, ["base"]);
  return { p, main, feature };
}
const tasks = () => clientFor(TaskService, server.url, "grpc", TOKEN);
const domain = () => (server.app.modules.insights as InsightsModule).domain;
const eventsOf = (conversationId: string) => domain().database.read((tx) => domain().store.eventsAfter(tx, "default", conversationId, 0, 1000));
const reason = async (f: () => unknown) => {
  try {
    await f();
  } catch (e) {
    return e instanceof AppError ? `${e.code}:${e.reason}` : String(e);
  }
  return "ok";
};
async function eventually<T>(f: () => Promise<T | undefined> | T | undefined, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await Bun.sleep(50);
  }
}

describe("without a worker", () => {
  it("answers 503 NO_WORKER within the deadline and leaves the task queued; a worker then runs it and a retry answers its result", async () => {
    const { p } = await project("noworker");
    const started = Date.now();
    const first = await api("POST", `/v1/projects/${p.id}/next-steps/generate`, { request_id: "r1" });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(first.status).toBe(503);
    expect(first.json.error.code).toBe("SERVICE_UNAVAILABLE");
    expect(first.json.error.reason).toBe("NO_WORKER");
    const taskId = first.json.error.metadata.task_id as string;
    const task = (await tasks().getTask({ id: taskId })).task!;
    expect(task.state).toBe(TaskState.PENDING);
    expect(task.queue).toBe("insights");
    expect(task.type).toBe("next_steps.generate");

    const worker = await startInsightsWorker(py.python, py.stubs, server.port, "w-late", [], TOKEN);
    try {
      await worker.waitFor((l) => (l.task_done as any)?.task === taskId);
      const retry = await api("POST", `/v1/projects/${p.id}/next-steps/generate`, { request_id: "r1" });
      expect(retry.status).toBe(200);
      expect(retry.json.task_id).toBe(taskId);
      expect(retry.json.generated_count).toBe(5);
    } finally {
      await worker.stop();
    }
  }, 40_000);
});

describe("with the reference worker", () => {
  let worker: InsightsWorker;
  beforeAll(async () => {
    worker = await startInsightsWorker(py.python, py.stubs, server.port, "w-main", [], TOKEN);
  });
  afterAll(() => worker.stop());

  it("generates next steps in seed 002's shape, lists them by status, updates status and feedback (REST, gRPC, Connect)", async () => {
    const { p } = await project("steps");
    await api("PATCH", `/v1/projects/${p.id}/brief`, { intent: "ship the CLI" });
    const gen = await api("POST", `/v1/projects/${p.id}/next-steps/generate`, { max_count: 3 });
    expect(gen.status).toBe(200);
    expect(gen.json.generated_count).toBe(3);
    const step = gen.json.next_steps[0];
    expect(Object.keys(step).sort()).toEqual(["category", "created_at", "description", "id", "priority", "project_id", "rationale", "status", "task_id", "title", "updated_at"].sort());
    expect(step.status).toBe("pending");
    expect(step.helpful).toBeUndefined(); // no feedback yet
    expect(step.description).toContain("ship the CLI");
    expect(step.title).toContain("a.txt"); // the worker saw the project's files

    const listed = await api("GET", `/v1/projects/${p.id}/next-steps`);
    expect(listed.json.next_steps.map((s: { id: string }) => s.id).sort()).toEqual(gen.json.next_steps.map((s: { id: string }) => s.id).sort());
    expect((await api("PATCH", `/v1/projects/${p.id}/next-steps/${step.id}`, { status: "started" })).json).toEqual({ success: true });
    expect((await api("POST", `/v1/projects/${p.id}/next-steps/${step.id}/feedback`, { helpful: false })).json).toEqual({ success: true });
    const started = await api("GET", `/v1/projects/${p.id}/next-steps?status=started`);
    expect(started.json.next_steps).toHaveLength(1);
    expect(started.json.next_steps[0].helpful).toBe(false);
    const bad = await api("PATCH", `/v1/projects/${p.id}/next-steps/${step.id}`, { status: "done" });
    expect(bad.status).toBe(400);
    expect(bad.json.error.metadata.field).toBe("status");
    expect((await api("PATCH", `/v1/projects/${p.id}/next-steps/step_nope`, { status: "started" })).status).toBe(404);

    const grpc = clientFor(InsightService, server.url, "grpc", TOKEN);
    expect((await grpc.listNextSteps({ projectId: p.id, status: "pending" })).nextSteps).toHaveLength(2);
    const connect = clientFor(InsightService, server.url, "connect", TOKEN);
    const more = await connect.generateNextSteps({ projectId: p.id, maxCount: 2 });
    expect(more.generatedCount).toBe(2);
    expect(more.nextSteps[0]!.taskId).toBe(more.taskId);
  }, 30_000);

  it("analyzes a workspace's drift from main (the worker's assessment over Switchyard's diff)", async () => {
    const { feature, main } = await project("drift");
    const r = await api("POST", `/v1/workspaces/${feature.id}/drift/analyze`);
    expect(r.status).toBe(200);
    const a = r.json.analysis;
    expect(a.source_workspace_id).toBe(main.id);
    expect(a.risk_level).toBe("medium");
    expect(a.can_auto_sync).toBe(false);
    expect(a.conflicting_files).toEqual(["a.txt"]);
    expect(a.drift.modified).toEqual(["a.txt"]);
    expect(a.drift.deleted).toEqual(["b.txt"]);
    expect(typeof a.drift.bytes_changed).toBe("number");
    expect(a.task_id).toMatch(/^task_/);
    const isMain = await api("POST", `/v1/workspaces/${main.id}/drift/analyze`);
    expect(isMain.status).toBe(400);
    expect(isMain.json.error.code).toBe("PRECONDITION_FAILED");
    expect(isMain.json.error.reason).toBe("WORKSPACE_IS_MAIN");
  }, 30_000);

  it("runs a conversation: the reply streams over the WebSocket (?token=), messages page with limit/before, rename, move, clear, timeline, decisions", async () => {
    const { p, feature, main } = await project("conv");
    const created = await api("POST", "/v1/conversations", { workspace_id: feature.id, title: "Plan" });
    expect(created.status).toBe(200);
    const c = created.json.conversation;
    expect(c.project_name).toBe("conv");
    expect(c.workspace_name).toBe("feature");
    expect(c.manifest_hash).toMatch(/^[0-9a-f]{64}$/);

    // No token: refused before the upgrade.
    const refused = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`${server.url.replace("http", "ws")}/v1/conversations/${c.id}/stream`);
      ws.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
      ws.on("open", () => resolve(101));
    });
    expect(refused).toBe(401);

    const frames: any[] = [];
    const ws = new WebSocket(`${server.url.replace("http", "ws")}/v1/conversations/${c.id}/stream?token=${TOKEN}`);
    ws.on("message", (data) => frames.push(JSON.parse(String(data))));
    await new Promise((r) => ws.on("open", r));

    const sent = await api("POST", `/v1/conversations/${c.id}/messages`, { prompt: "We decide to use sqlite for storage [edit]" });
    expect(sent.status).toBe(200);
    expect(sent.json.user_message.role).toBe("user");
    expect(sent.json.assistant_message.status).toBe("streaming");
    const done = await eventually(() => frames.find((f) => f.type === "CONVERSATION_EVENT_TYPE_MESSAGE_COMPLETED"));
    ws.close();
    expect(done.message.content).toBe("Scripted reply to: We decide to use sqlite for storage [edit] ");
    const deltas = frames.filter((f) => f.type === "CONVERSATION_EVENT_TYPE_MESSAGE_DELTA").map((f) => f.delta).join("");
    expect(deltas).toBe(done.message.content);
    expect(frames.map((f) => Number(f.sequence))).toEqual(frames.map((_, i) => i + 1));
    expect(frames.find((f) => f.type === "CONVERSATION_EVENT_TYPE_FILES_CHANGED").changed_files).toEqual(["README.md"]);

    // A second turn, then messages paged newest-last.
    await api("POST", `/v1/conversations/${c.id}/messages`, { prompt: "and 🚀 choose bun as runtime" });
    await eventually(async () => ((await api("GET", `/v1/conversations/${c.id}/messages`)).json.messages.at(-1).status === "complete" ? true : undefined));
    const all = (await api("GET", `/v1/conversations/${c.id}/messages`)).json;
    expect(all.messages.map((m: { role: string }) => m.role)).toEqual(["user", "assistant", "user", "assistant"]);
    // Offsets count code points: the deltas after an emoji still line up.
    const second = all.messages[3];
    const streamed = (await eventsOf(c.id)).filter((e) => e.type === "message_delta" && e.messageId === second.id).map((e) => e.data.delta).join("");
    expect(streamed).toBe(second.content);
    expect(second.content).toContain("🚀");
    const last2 = (await api("GET", `/v1/conversations/${c.id}/messages?limit=2`)).json;
    expect(last2.messages.map((m: { id: string }) => m.id)).toEqual(all.messages.slice(2).map((m: { id: string }) => m.id));
    expect(last2.has_more).toBe(true);
    const before = (await api("GET", `/v1/conversations/${c.id}/messages?before=${encodeURIComponent(all.messages[2].created_at)}`)).json;
    expect(before.messages.every((m: { created_at: string }) => m.created_at < all.messages[2].created_at)).toBe(true);

    const parts = (await api("GET", `/v1/conversations/${c.id}/opencode-messages`)).json.messages;
    expect(parts[1].parts).toEqual([{ type: "text", text: done.message.content }, { type: "file_change", paths: ["README.md"] }]);

    // Decisions from the conversation, with their concept links.
    const extracted = await api("POST", `/v1/projects/${p.id}/decisions/extract`);
    expect(extracted.status).toBe(200);
    expect(extracted.json.extracted_count).toBe(2);
    expect(extracted.json.decisions[0].conversation_id).toBe(c.id);
    const again = await api("POST", `/v1/projects/${p.id}/decisions/extract`);
    expect(again.json.extracted_count).toBe(0); // nothing new since the last extraction
    const withLinks = await api("GET", `/v1/projects/${p.id}/decisions?include_links=true`);
    expect(withLinks.json.decisions).toHaveLength(2);
    expect(withLinks.json.decisions[0].links.length).toBeGreaterThan(0);
    expect((await api("GET", `/v1/projects/${p.id}/decisions`)).json.decisions[0].links).toEqual([]);

    // Rename, move within the project, list, timeline, clear.
    expect((await api("PATCH", `/v1/conversations/${c.id}`, { title: "Storage plan", workspace_id: main.id })).json).toEqual({ success: true });
    const got = (await api("GET", `/v1/conversations/${c.id}`)).json.conversation;
    expect([got.title, got.workspace_id, got.message_count]).toEqual(["Storage plan", main.id, 4]);
    const other = await project("conv-other");
    const move = await api("PATCH", `/v1/conversations/${c.id}`, { workspace_id: other.main.id });
    expect(move.status).toBe(400);
    const listed = (await api("GET", `/v1/conversations?limit=1&offset=0`)).json;
    expect(listed.conversations).toHaveLength(1);
    expect(listed.next_page_token).toBe("");
    const timeline = (await api("GET", `/v1/conversations/${c.id}/timeline`)).json.timeline;
    expect(timeline.map((t: { type: string }) => t.type)).toEqual(["files_changed", "message_completed", "message_completed", "conversation_updated"]);
    expect((await api("POST", `/v1/conversations/${c.id}/clear`)).json).toEqual({ success: true, cleared_count: 4 });
    expect((await api("GET", `/v1/conversations/${c.id}/messages`)).json.messages).toEqual([]);

    // The same conversation over gRPC: the stream replays after a sequence.
    const grpc = clientFor(ConversationService, server.url, "grpc", TOKEN);
    const abort = new AbortController();
    const seen: string[] = [];
    for await (const r of grpc.streamConversation({ conversationId: c.id, afterSequence: BigInt(frames.length) }, { signal: abort.signal })) {
      seen.push(String(r.event!.type));
      if (seen.length === 3) break;
    }
    expect(seen.length).toBe(3);

    // And over REST as Server-Sent Events (the same events, seed 002 field names).
    const abortSse = new AbortController();
    const res = await fetch(`${server.url}/v1/conversations/${c.id}/stream?after_sequence=0`, { headers: { authorization: `Bearer ${TOKEN}` }, signal: abortSse.signal });
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const sse: any[] = [];
    for await (const e of readSse(res)) {
      sse.push(e.data);
      if (sse.length === 2) break;
    }
    abortSse.abort();
    expect(sse.map((e) => e.event.type)).toEqual(["CONVERSATION_EVENT_TYPE_MESSAGE_CREATED", "CONVERSATION_EVENT_TYPE_MESSAGE_CREATED"]);
    expect(sse[0].event.message.role).toBe("user");
  }, 40_000);

  it("aggregates action items (drift, analysis findings) by severity, dismisses them persistently, runs one as a task and applies its patch", async () => {
    const { p, feature } = await project("actions");
    const items = async () => (await api("GET", `/v1/action-items?workspace_id=${feature.id}`)).json.items as any[];
    const drift = (await items()).find((i) => i.id === `drift-${feature.id}`);
    expect(drift).toMatchObject({ type: "drift", severity: "medium", action_type: "sync", project_id: p.id, dismissible: true });
    expect(drift.files).toContain("a.txt");
    const notRunnable = await api("POST", `/v1/action-items/${drift.id}/runs`);
    expect(notRunnable.json.error.reason).toBe("ACTION_ITEM_NOT_RUNNABLE");

    // The drift analysis' finding becomes an analysis item.
    expect((await api("POST", `/v1/workspaces/${feature.id}/drift/analyze`)).status).toBe(200);
    const finding = (await items()).find((i) => i.type === "test_coverage");
    expect(finding).toMatchObject({ severity: "medium", action_type: "run", files: ["a.txt"] });
    expect(finding.id).toMatch(/^ai_/);

    const created = await api("POST", `/v1/action-items/${finding.id}/runs`, { request_id: "run-1" });
    expect(created.status).toBe(200);
    const run = created.json.run;
    expect(["queued", "running", "ready"]).toContain(run.status);
    expect(run.max_attempts).toBe(3);
    const ready = await eventually(async () => {
      const r = (await api("GET", `/v1/action-items/runs/${run.id}`)).json.run;
      return r.status === "ready" ? r : undefined;
    });
    expect(ready.summary).toBe("Scripted fix for Changed files have no tests");
    expect(ready.patch).toContain("+++ b/a.txt");
    expect(ready.checks.map((c: { name: string }) => c.name)).toEqual(["build", "test"]);
    expect(ready.attempt_count).toBe(1);
    const listed = (await api("GET", `/v1/action-items/${finding.id}/runs`)).json.runs;
    expect(listed.map((r: { id: string }) => r.id)).toEqual([run.id]);
    expect(listed[0].patch).toBe("");
    expect((await items()).find((i) => i.id === finding.id).latest_run_id).toBe(run.id);

    expect((await api("POST", `/v1/action-items/runs/${run.id}/apply`)).json).toEqual({ success: true });
    expect((await api("POST", `/v1/action-items/runs/${run.id}/apply`)).json).toEqual({ success: true }); // idempotent
    const applied = (await api("GET", `/v1/action-items/runs/${run.id}`)).json.run;
    expect(applied.status).toBe("applied");
    const ws = (await api("GET", `/v1/workspaces/${feature.id}`)).json.workspace;
    expect(ws.current_manifest_hash).toBe(applied.result_manifest_hash);
    const manifest = JSON.parse(await (await fetch(`${server.url}/v1/blobs/manifests/${applied.result_manifest_hash}`, { headers: { authorization: `Bearer ${TOKEN}` } })).text());
    const a = manifest.files.find((f: { path: string }) => f.path === "a.txt");
    expect(a.hash).toBe(sha256("fixed: Changed files have no tests\n"));

    // Dismissed items stay dismissed (drift too).
    for (const id of [drift.id, finding.id]) expect((await api("POST", `/v1/action-items/${id}/dismiss`)).json).toEqual({ success: true });
    expect((await items()).map((i) => i.id)).toEqual([]);
    expect((await api("POST", `/v1/action-items/${drift.id}/dismiss`)).status).toBe(200);
    expect((await api("POST", "/v1/action-items/ai_nope/dismiss")).status).toBe(404);
  }, 30_000);

  it("stores provider credentials sealed after a worker validated them, detects requirements, deploys through the detect → provision → deploy chain, masks and destroys resources", async () => {
    const bad = await api("POST", "/v1/infrastructure/credentials", { provider: "railway", api_token: "nope-123" });
    expect(bad.status).toBe(400);
    expect(bad.json.error.reason).toBe("CREDENTIAL_REJECTED");
    expect((await api("POST", "/v1/infrastructure/credentials", { provider: "heroku", api_token: "valid-1" })).json.error.metadata.field).toBe("provider");
    const set = await api("POST", "/v1/infrastructure/credentials", { provider: "railway", api_token: "valid-railway-token-42", metadata: { team: "core" } });
    expect(set.status).toBe(200);
    expect(set.json.id).toMatch(/^cred_/);
    const creds = (await api("GET", "/v1/infrastructure/credentials")).json.credentials;
    expect(creds).toHaveLength(1);
    expect(creds[0]).toMatchObject({ provider: "railway", metadata: { team: "core", account: "scripted-account" } });
    expect(JSON.stringify(creds)).not.toContain("valid-railway-token-42");

    // A project needing postgres (package.json) and an env var (.env.example).
    const p = (await api("POST", "/v1/projects", { name: "shop" })).json.project;
    const main = (await api("POST", `/v1/projects/${p.id}/workspaces`, { name: "main" })).json.workspace;
    const pkg = JSON.stringify({ scripts: { build: "tsc", start: "node dist/index.js" }, dependencies: { hono: "4", pg: "8" } });
    const h = await push({ "package.json": pkg, ".env.example": "API_KEY=\n", "src/index.ts": "export {}\n" });
    await api("POST", `/v1/projects/${p.id}/snapshots`, { manifest_hash: h, snapshot_id: "shop-1", workspace_id: main.id });
    const det = (await api("GET", `/v1/infrastructure/projects/${p.id}/detect`)).json;
    expect(det.detection).toMatchObject({ runtime: "node", framework: "hono", build_command: "npm run build", start_command: "npm run start", port: 3000, files_scanned: 3, manifest_hash: h });
    expect(det.requirements.map((r: { type: string; name: string; satisfied: boolean }) => `${r.type}:${r.name}:${r.satisfied}`)).toEqual(["runtime:node:true", "database:postgres:false", "env_var:API_KEY:false"]);
    expect(det.suggested_resources).toEqual([{ type: "database", provider: "railway", name: "shop-postgres", reason: "needed by package.json: pg" }]);

    expect((await api("GET", `/v1/infrastructure/workspaces/${main.id}/deployment-settings`)).json.settings).toMatchObject({ auto_deploy: false, build_command: "" });
    const put = await api("PUT", `/v1/infrastructure/workspaces/${main.id}/deployment-settings`, { build_command: "npm ci && npm run build" });
    expect(put.json.settings.build_command).toBe("npm ci && npm run build");
    expect((await api("PUT", `/v1/infrastructure/workspaces/${main.id}/deployment-settings`, { runtime_override: "cobol" })).json.error.metadata.field).toBe("runtime_override");

    const dep = await api("POST", `/v1/infrastructure/projects/${p.id}/deploy`, { request_id: "dep-1" });
    expect(dep.status).toBe(200);
    expect(dep.json).toMatchObject({ success: true, status: "succeeded", url: `https://${main.id}.railway.example.app`, error: "" });
    expect(dep.json.provisioned_resources).toHaveLength(1);
    const res = dep.json.provisioned_resources[0];
    expect(res).toMatchObject({ type: "database", provider: "railway", name: "shop-postgres", status: "active", env_var_keys: ["DATABASE_URL"] });
    expect(res.connection_info).toEqual({ host: "shop-postgres.example.internal", port: 5432, password: "********", url: "********" });
    expect((await api("POST", `/v1/infrastructure/projects/${p.id}/deploy`, { request_id: "dep-1" })).json.deployment_id).toBe(dep.json.deployment_id);

    const deployments = (await api("GET", `/v1/infrastructure/workspaces/${main.id}/deployments`)).json.deployments;
    expect(deployments.map((x: { id: string; status: string }) => `${x.id}:${x.status}`)).toEqual([`${dep.json.deployment_id}:succeeded`]);
    const chain = (await tasks().listTasks({ queues: ["deploy"] })).tasks.filter((t) => t.type.startsWith("deploy."));
    const byType = Object.fromEntries(chain.map((t) => [t.type, t]));
    expect(byType["deploy.run"]!.dependsOn).toEqual([byType["deploy.provision"]!.id]);
    expect(byType["deploy.provision"]!.dependsOn).toEqual([byType["deploy.detect"]!.id]);
    // The build command of the settings reached the deploy step; no token is in any payload.
    expect(JSON.stringify(chain.map((t) => toJson(ValueSchema, t.payload!)))).toContain("npm ci && npm run build");
    // The token is nowhere in the database in clear: not in tasks, calls or credentials.
    const sqlite = domain().database.sqlite;
    for (const table of ["tasks", "ins_calls", "ins_credentials", "ins_resources"]) {
      expect(JSON.stringify(sqlite.query(`SELECT * FROM ${table}`).all())).not.toContain("valid-railway-token-42");
    }
    expect(JSON.stringify(sqlite.query("SELECT * FROM ins_resources").all())).not.toContain("scripted-secret");

    // Status callbacks only move forward.
    const back = await api("POST", `/v1/infrastructure/deployments/${dep.json.deployment_id}/status`, { status: "building" });
    expect(back.json.error.reason).toBe("INVALID_TRANSITION");
    expect((await api("POST", `/v1/infrastructure/deployments/${dep.json.deployment_id}/status`, { status: "succeeded" })).json).toEqual({ success: true });

    // The resource satisfies the need now; destroying it forgets it.
    const again = (await api("GET", `/v1/infrastructure/projects/${p.id}/detect`)).json;
    expect(again.suggested_resources).toEqual([]);
    expect((await api("GET", `/v1/infrastructure/projects/${p.id}/resources/${res.id}`)).json.resource.connection_info.password).toBe("********");
    expect((await api("DELETE", `/v1/infrastructure/projects/${p.id}/resources/${res.id}`)).json).toEqual({ success: true });
    expect((await api("GET", `/v1/infrastructure/projects/${p.id}/resources`)).json.resources).toEqual([]);
    expect((await api("DELETE", "/v1/infrastructure/credentials/fly")).status).toBe(404);

    // POST /v1/workspaces/{id}/deploy starts the same chain and answers at once.
    const started = await api("POST", `/v1/workspaces/${main.id}/deploy`, { request_id: "w-1" });
    expect(started.status).toBe(200);
    expect(started.json.deployment_id).toMatch(/^dep_/);
    await eventually(async () => ((await api("GET", `/v1/infrastructure/workspaces/${main.id}/deployments`)).json.deployments.find((x: { id: string }) => x.id === started.json.deployment_id)?.status === "succeeded" ? true : undefined));
    expect((await api("POST", `/v1/workspaces/${main.id}/deploy`, { request_id: "w-1" })).json.deployment_id).toBe(started.json.deployment_id);
  }, 30_000);

  it("indexes the Atlas from the latest snapshot (systems, modules, code, imports, decisions), searches it by tokens and generates diagrams as tasks", async () => {
    const p = (await api("POST", "/v1/projects", { name: "atlas" })).json.project;
    expect((await api("POST", `/v1/projects/${p.id}/atlas/index`)).json.error.reason).toBe("NO_SNAPSHOT");
    const main = (await api("POST", `/v1/projects/${p.id}/workspaces`, { name: "main" })).json.workspace;
    const h = await push({
      "README.md": "# atlas\n",
      "src/api/server.ts": 'import { routes } from "./routes";\nimport { schema } from "../db/schema.js";\n',
      "src/api/routes.ts": "export const routes = [];\n",
      "src/db/schema.ts": "export const schema = {};\n",
      "docs/guide.md": "guide\n",
    });
    await api("POST", `/v1/projects/${p.id}/snapshots`, { manifest_hash: h, snapshot_id: "atlas-1", workspace_id: main.id });
    const c = (await api("POST", "/v1/conversations", { workspace_id: main.id })).json.conversation;
    await api("POST", `/v1/conversations/${c.id}/messages`, { prompt: "We decide to keep the schema in one file" });
    await eventually(async () => ((await api("GET", `/v1/conversations/${c.id}/messages`)).json.messages.at(-1).status === "complete" ? true : undefined));
    expect((await api("POST", `/v1/projects/${p.id}/decisions/extract`)).json.extracted_count).toBe(1);
    expect((await api("POST", `/v1/projects/${p.id}/atlas/diagrams`, { type: "flow" })).json.error.reason).toBe("ATLAS_EMPTY");

    const indexed = await api("POST", `/v1/projects/${p.id}/atlas/index`);
    expect(indexed.status).toBe(200);
    // 3 systems (the top, src, docs), 2 modules, 5 files, 1 decision.
    expect(indexed.json).toMatchObject({ concepts_created: 11, snapshot_id: "atlas-1", truncated: false, chunks_created: 0 });
    expect((await api("POST", `/v1/projects/${p.id}/atlas/index`)).json).toEqual(indexed.json); // unchanged snapshot
    const graph = (await api("GET", `/v1/projects/${p.id}/atlas`)).json;
    const byPath = Object.fromEntries(graph.concepts.map((x: { path: string; layer: string; name: string }) => [x.path || x.name, x]));
    expect(byPath["src"].layer).toBe("system");
    expect(byPath["src/api"].layer).toBe("module");
    expect(byPath["src/api"].parent_id).toBe(byPath["src"].id);
    expect(byPath["src/api/server.ts"].layer).toBe("code");
    const deps = graph.edges.filter((e: { type: string }) => e.type === "depends_on").map((e: { source_id: string; target_id: string; weight: number }) => [e.source_id, e.target_id, e.weight]);
    expect(deps).toEqual([
      [byPath["src/api/server.ts"].id, byPath["src/api/routes.ts"].id, 0.5],
      [byPath["src/api/server.ts"].id, byPath["src/db/schema.ts"].id, 0.5],
    ]);
    const decided = graph.edges.filter((e: { type: string }) => e.type === "decided_by").map((e: { source_id: string }) => e.source_id);
    expect(decided).toContain(byPath["src/db/schema.ts"].id);

    const found = (await api("POST", `/v1/projects/${p.id}/atlas/search`, { query: "routes api" })).json.results;
    expect(found[0]).toMatchObject({ name: "routes.ts", layer: "code", score: 0.75 }); // "routes" in the name, "api" in the path
    expect((await api("POST", `/v1/projects/${p.id}/atlas/search`, { query: "" })).json.error.metadata.field).toBe("query");
    const links = (await api("GET", `/v1/projects/${p.id}/decisions?include_links=true`)).json.decisions[0].links;
    expect(links.map((l: { concept_id: string }) => l.concept_id)).toContain(byPath["src/db/schema.ts"].id);

    const diagram = await api("POST", `/v1/projects/${p.id}/atlas/diagrams`, { type: "dependency", concept_id: byPath["src/api/server.ts"].id });
    expect(diagram.status).toBe(200);
    expect(diagram.json.diagram.nodes.map((n: { label: string }) => n.label).sort()).toEqual(["api", "routes.ts", "schema.ts", "server.ts"]);
    expect(diagram.json.diagram.edges.length).toBe(4); // api contains server and routes; server depends on routes and schema
    expect((await api("GET", `/v1/projects/${p.id}/atlas/diagrams`)).json.diagrams.map((x: { id: string }) => x.id)).toEqual([diagram.json.diagram.id]);
    expect((await api("POST", `/v1/projects/${p.id}/atlas/diagrams`, { type: "mindmap" })).json.error.metadata.field).toBe("type");
    expect((await api("POST", `/v1/projects/${p.id}/atlas/diagrams`, { type: "flow", concept_id: "concept_nope" })).status).toBe(404);

    // embed=true: chunks (concepts, and the source files' text) embedded through the memory domain
    // (built-in lexical embedder); search is then cosine through its vector index, which finds file
    // contents that token matching over names and paths cannot.
    expect((await api("POST", `/v1/projects/${p.id}/atlas/search`, { query: "export const" })).json.results).toEqual([]);
    const embedded = await api("POST", `/v1/projects/${p.id}/atlas/index?embed=true`);
    expect(embedded.status).toBe(200);
    expect(embedded.json).toMatchObject({ concepts_created: 11, chunks_created: 14, embeddings_created: 14 }); // 11 concepts + 3 source files
    const semantic = (await api("POST", `/v1/projects/${p.id}/atlas/search`, { query: "export const", limit: 5 })).json.results;
    expect(semantic.map((x: { name: string }) => x.name)).toEqual(expect.arrayContaining(["routes.ts", "schema.ts"]));
    for (const x of semantic) expect(x.score > 0 && x.score <= 1).toBe(true);
    const chunks = server.app.modules.memory as unknown as { memory: { memories: { list(t: string, f: object): Promise<{ memories: unknown[] }> } } };
    expect((await chunks.memory.memories.list("default", { scope: `atlas:${p.id}`, pageSize: 100 })).memories.length).toBe(14);
    expect((await chunks.memory.memories.list("globex", { scope: `atlas:${p.id}`, pageSize: 100 })).memories.length).toBe(0);
    await api("POST", `/v1/projects/${p.id}/atlas/index?embed=true`); // the same snapshot: not embedded twice
    expect((await chunks.memory.memories.list("default", { scope: `atlas:${p.id}`, pageSize: 100 })).memories.length).toBe(14);
  }, 30_000);

  it("gives a conversation its project info, snapshots its dirty files with a worker's summary, deploys from it and lists its deployments and logs", async () => {
    const { p, feature } = await project("convdeploy");
    const c = (await api("POST", "/v1/conversations", { workspace_id: feature.id })).json.conversation;
    const clean = (await api("GET", `/v1/conversations/${c.id}/project-info`)).json;
    expect(clean).toMatchObject({ project_id: p.id, project_name: "convdeploy", workspace_name: "feature", is_main_workspace: false, file_count: 3, is_dirty: false, last_snapshot_id: "convdeploy-feat" });
    expect((await api("POST", `/v1/conversations/${c.id}/snapshot`)).json).toEqual({ snapshot_id: "convdeploy-feat", manifest_hash: clean.manifest_hash, was_dirty: false, summary: "" });

    const dirty = await push({ "a.txt": "uno\n", "src/app.ts": "y\n", "b.txt": "b\n", "c.txt": "c\n" });
    expect((await api("POST", `/v1/workspaces/${feature.id}/current-manifest`, { manifest_hash: dirty })).status).toBe(200);
    const info = (await api("GET", `/v1/conversations/${c.id}/project-info`)).json;
    expect(info).toMatchObject({ is_dirty: true, manifest_hash: dirty, file_count: 4 });
    const snap = (await api("POST", `/v1/conversations/${c.id}/snapshot`, { generate_summary: true, request_id: "s1" })).json;
    expect(snap).toMatchObject({ manifest_hash: dirty, was_dirty: true, summary: "1 added, 1 modified, 0 deleted" });
    expect((await api("GET", `/v1/snapshots/${snap.snapshot_id}`)).json.snapshot.parent_snapshot_ids).toEqual(["convdeploy-feat"]);
    expect((await api("GET", `/v1/conversations/${c.id}/project-info`)).json.is_dirty).toBe(false);

    await api("POST", "/v1/infrastructure/credentials", { provider: "railway", api_token: "valid-railway-token-42" });
    const dep = (await api("POST", `/v1/conversations/${c.id}/deploy`, { request_id: "d1" })).json.deployment;
    expect(dep).toMatchObject({ conversation_id: c.id, trigger: "chat", workspace_id: feature.id });
    await eventually(async () => ((await api("GET", `/v1/conversations/${c.id}/deployments`)).json.deployments[0]?.status === "succeeded" ? true : undefined));
    const logs = (await api("GET", `/v1/conversations/${c.id}/deployments/${dep.id}/logs`)).json.logs;
    expect(logs.map((l: { message: string }) => l.message)).toEqual(["detect: succeeded", "provision: succeeded", "deploy: succeeded"]);
    expect((await api("GET", `/v1/conversations/${c.id}/deployments/dep_other/logs`)).status).toBe(404);
  }, 30_000);

  it("relays an agent's question during a turn: answered with an offered option, or rejected; clearing waits for the turn", async () => {
    const { feature } = await project("questions");
    const c = (await api("POST", "/v1/conversations", { workspace_id: feature.id })).json.conversation;
    const asked = async () => eventually(async () => (await eventsOf(c.id)).filter((e) => e.type === "question_asked").at(-1));
    await api("POST", `/v1/conversations/${c.id}/messages`, { prompt: "ship it [ask]" });
    const q = await asked();
    expect((q.data.question as { questions: unknown[] }).questions).toEqual([{ question: "Where should it deploy?", options: ["fly", "railway"] }]);
    expect((await api("POST", `/v1/conversations/${c.id}/clear`)).json.error.reason).toBe("CONVERSATION_BUSY");
    const wrong = await api("POST", `/v1/conversations/${c.id}/opencode-questions/q1/reply`, { answers: [["heroku"]] });
    expect(wrong.json.error.metadata.field).toBe("answers[0][0]");
    expect((await api("POST", `/v1/conversations/${c.id}/opencode-questions/q1/reply`, { answers: [["fly"], ["x"]] })).json.error.metadata.field).toBe("answers");
    expect((await api("POST", `/v1/conversations/${c.id}/opencode-questions/q1/reply`, { answers: [["fly"]] })).json).toEqual({ success: true });
    expect((await api("POST", `/v1/conversations/${c.id}/opencode-questions/q1/reject`)).json.error.reason).toBe("QUESTION_RESOLVED");
    const reply = await eventually(async () => (await api("GET", `/v1/conversations/${c.id}/messages`)).json.messages.find((m: { role: string; status: string }) => m.role === "assistant" && m.status === "complete"));
    expect(reply.content).toContain("(answer: fly)");
    const resolved = (await eventsOf(c.id)).find((e) => e.type === "question_resolved")!;
    expect((resolved.data.question as { answers: string[][] }).answers).toEqual([["fly"]]);

    expect((await api("POST", `/v1/conversations/${c.id}/clear`)).json.success).toBe(true);
    await api("POST", `/v1/conversations/${c.id}/messages`, { prompt: "again [ask]" });
    await eventually(async () => ((await domain().database.read((tx) => domain().store.getQuestion(tx, "default", c.id, "q1")))?.status === "pending" ? true : undefined));
    expect((await api("POST", `/v1/conversations/${c.id}/opencode-questions/q1/reject`)).json).toEqual({ success: true });
    const rejected = await eventually(async () => (await api("GET", `/v1/conversations/${c.id}/messages`)).json.messages.find((m: { role: string; status: string }) => m.role === "assistant" && m.status === "complete"));
    expect(rejected.content).toContain("(answer: rejected)");
    expect((await api("POST", `/v1/conversations/${c.id}/opencode-questions/nope/reject`)).status).toBe(404);
  }, 30_000);

  it("keeps tenants apart in every domain function", async () => {
    const { p, feature } = await project("tenants");
    const d = domain();
    const c = (await api("POST", "/v1/conversations", { workspace_id: feature.id })).json.conversation;
    const other = "globex";
    const calls: [string, () => unknown][] = [
      ["listNextSteps", () => listNextSteps(d, other, p.id, "", 0, "")],
      ["generateNextSteps", () => generateNextSteps(d, other, p.id, { maxCount: 1, requestId: "" })],
      ["updateNextStep", () => updateNextStep(d, other, p.id, "x", { status: "started" })],
      ["listDecisions", () => listDecisions(d, other, p.id, 0, "")],
      ["extractDecisions", () => extractDecisions(d, other, p.id, "")],
      ["analyzeDrift", () => analyzeDrift(d, other, feature.id, false)],
      ["getConversation", () => getConversation(d, other, c.id)],
      ["listMessages", () => listMessages(d, other, c.id, 0, 0, "")],
      ["sendMessage", () => sendMessage(d, other, c.id, "hi", "")],
      ["dismissActionItem", () => dismissActionItem(d, other, `drift-${feature.id}`)],
      ["createRun", () => createRun(d, other, `drift-${feature.id}`, "")],
      ["getRun", () => getRun(d, other, "run_x")],
      ["getSettings", () => getSettings(d, other, feature.id)],
      ["listDeployments", () => listDeployments(d, other, feature.id, 0, "")],
      ["listResources", () => listResources(d, other, p.id, 0, "")],
      ["detectRequirements", () => detectRequirements(d, other, p.id, undefined)],
      ["deployProject", () => deployProject(d, other, p.id, { requestId: "" })],
      ["getAtlas", () => getAtlas(d, other, p.id)],
      ["searchAtlas", () => searchAtlas(d, other, p.id, "a", 0)],
      ["indexAtlas", () => indexAtlas(d, other, p.id, false)],
      ["createDiagram", () => createDiagram(d, other, p.id, { type: "flow", requestId: "" })],
    ];
    for (const [name, f] of calls) expect(`${name} ${await reason(f)}`).toMatch(new RegExp(`^${name} not_found:`));
    expect(await reason(() => getConversation(d, "default", c.id))).toBe("ok");
    expect(await listCredentials(d, other)).toEqual([]);
    // A task of the default tenant is no task for another one.
    const { task } = await d.tasks.createTask("default", { queue: "nobody-serves", type: "resource.destroy", payload: { provider: "railway" } });
    expect(await reason(() => taskCredential(d, other, task.id, 1, "railway"))).toBe("not_found:TASK_NOT_FOUND");
    expect(await reason(() => taskCredential(d, "default", task.id, 1, "railway"))).toBe("failed_precondition:LEASE_LOST");
    await tasks().cancelTask({ id: task.id });
  });
});

describe("misbehaving workers", () => {
  it("fails the task on a malformed result (MALFORMED_RESULT) and answers 503 WORKER_TASK_FAILED; the server keeps serving", async () => {
    const { p, feature } = await project("malformed");
    const worker = await startInsightsWorker(py.python, py.stubs, server.port, "w-bad", ["--malformed"], TOKEN);
    try {
      const r = await api("POST", `/v1/projects/${p.id}/next-steps/generate`);
      expect(r.status).toBe(503);
      expect(r.json.error.reason).toBe("WORKER_TASK_FAILED");
      expect(r.json.error.metadata.cause).toBe("MALFORMED_RESULT");
      const task = (await tasks().getTask({ id: r.json.error.metadata.task_id })).task!;
      expect(task.state).toBe(TaskState.FAILED);
      expect(task.error!.reason).toBe("MALFORMED_RESULT");
      expect(task.error!.message).toContain("next_steps");
      const drift = await api("POST", `/v1/workspaces/${feature.id}/drift/analyze`);
      expect(drift.json.error.metadata.cause).toBe("MALFORMED_RESULT");
      expect((await api("GET", `/v1/projects/${p.id}/next-steps`)).json.next_steps).toEqual([]);
    } finally {
      await worker.stop();
    }
  }, 30_000);

  it("answers 503 WORKER_TIMEOUT when a slow worker holds the task past the deadline; a retry with the same request_id answers its result", async () => {
    const { p } = await project("slow");
    const worker = await startInsightsWorker(py.python, py.stubs, server.port, "w-slow", ["--delay-ms", "5000"], TOKEN);
    try {
      const r = await api("POST", `/v1/projects/${p.id}/next-steps/generate`, { request_id: "slow-1", max_count: 2 });
      expect(r.status).toBe(503);
      expect(r.json.error.reason).toBe("WORKER_TIMEOUT");
      await worker.waitFor((l) => (l.task_done as any)?.task === r.json.error.metadata.task_id);
      const retry = await api("POST", `/v1/projects/${p.id}/next-steps/generate`, { request_id: "slow-1", max_count: 2 });
      expect(retry.status).toBe(200);
      expect(retry.json.generated_count).toBe(2);
    } finally {
      await worker.stop();
    }
  }, 30_000);

  it("fails a deployment whose provision step fails: the deploy step is cancelled and a deploy action item appears", async () => {
    const p = (await api("POST", "/v1/projects", { name: "brokenshop" })).json.project;
    const main = (await api("POST", `/v1/projects/${p.id}/workspaces`, { name: "main" })).json.workspace;
    const h = await push({ "package.json": JSON.stringify({ dependencies: { redis: "4" } }) });
    await api("POST", `/v1/projects/${p.id}/snapshots`, { manifest_hash: h, snapshot_id: "broken-1", workspace_id: main.id });
    const worker = await startInsightsWorker(py.python, py.stubs, server.port, "w-failstep", ["--queues", "deploy", "--fail-step", "provision"], TOKEN);
    try {
      const dep = await api("POST", `/v1/infrastructure/projects/${p.id}/deploy`);
      expect(dep.status).toBe(200);
      expect(dep.json.success).toBe(false);
      expect(dep.json.status).toBe("failed");
      expect(dep.json.error).toContain("provision: STEP_FAILED");
      const all = (await tasks().listTasks({ queues: ["deploy"], pageSize: 100 })).tasks;
      const step = (type: string) => all.find((t) => t.type === type && toJson(ValueSchema, t.payload!) && (toJson(ValueSchema, t.payload!) as { deployment_id: string }).deployment_id === dep.json.deployment_id)!;
      expect(step("deploy.detect").state).toBe(TaskState.SUCCEEDED);
      expect(step("deploy.provision").state).toBe(TaskState.FAILED);
      expect(step("deploy.run").state).toBe(TaskState.CANCELLED);
      expect(step("deploy.run").error!.reason).toBe("DEPENDENCY_FAILED");
      const items = (await api("GET", `/v1/action-items?workspace_id=${main.id}`)).json.items;
      expect(items.find((i: { id: string }) => i.id === `deploy-${dep.json.deployment_id}`)).toMatchObject({ type: "deploy_failed", severity: "high", action_type: "deploy" });
    } finally {
      await worker.stop();
    }
  }, 30_000);

  it("marks a conversation reply as an error when the worker fails the turn", async () => {
    const { feature } = await project("failturn");
    const c = (await api("POST", "/v1/conversations", { workspace_id: feature.id })).json.conversation;
    const worker = await startInsightsWorker(py.python, py.stubs, server.port, "w-fail", ["--fail"], TOKEN);
    try {
      await api("POST", `/v1/conversations/${c.id}/messages`, { prompt: "hello" });
      const m = await eventually(async () => (await api("GET", `/v1/conversations/${c.id}/messages`)).json.messages.find((x: { role: string; status: string }) => x.role === "assistant" && x.status === "error"));
      expect(m.error).toContain("SCRIPTED_FAILURE");
    } finally {
      await worker.stop();
    }
  }, 30_000);
});

describe("scheduled jobs", () => {
  it("creates a task at each cron tick, exactly once per tick; pause stops it, resume restarts it; tenants apart", async () => {
    const client = clientFor(ScheduleService, server.url, "grpc", TOKEN);
    const bad = await client.createSchedule({ schedule: { name: "x", cron: "every minute", queue: "q", type: "t" } }).catch((e) => e);
    expect(String(bad.message)).toContain("cron");
    const { schedule } = await client.createSchedule({ schedule: { name: "drift-check", cron: "* * * * * *", queue: "sched-test", type: "drift.check", payload: fromJson(ValueSchema, { all: true }) }, requestId: "s-1" });
    expect(schedule!.id).toMatch(/^sched_/);
    expect((await client.createSchedule({ schedule: { name: "drift-check", cron: "* * * * * *", queue: "sched-test", type: "drift.check" }, requestId: "s-1" })).schedule!.id).toBe(schedule!.id);
    const made = async () => (await tasks().listTasks({ queues: ["sched-test"], pageSize: 100 })).tasks;
    await eventually(async () => ((await made()).length >= 2 ? true : undefined), 10_000);
    const first = await made();
    expect(new Set(first.map((t) => t.title)).size).toBe(first.length); // one task per tick
    expect(toJson(ValueSchema, first[0]!.payload!)).toEqual({ all: true });
    expect(first[0]!.type).toBe("drift.check");

    const paused = (await client.pauseSchedule({ id: schedule!.id })).schedule!;
    expect(paused.paused).toBe(true);
    expect(paused.nextRunAt).toBeUndefined();
    await Bun.sleep(1200); // a pass already under way when the pause committed may still add its task
    const count = (await made()).length;
    await Bun.sleep(2200); // two ticks would have passed
    expect((await made()).length).toBe(count);
    const listed = (await client.listSchedules({})).schedules.filter((x) => x.name !== "fastest.background_jobs"); // the built-in one
    expect(listed.map((x) => [x.name, x.paused, Number(x.runCount)])).toEqual([["drift-check", true, count]]);
    expect(listed[0]!.lastTaskId).toBe((await made()).find((t) => t.id === listed[0]!.lastTaskId)!.id);

    const resumed = (await client.resumeSchedule({ id: schedule!.id })).schedule!;
    expect(resumed.paused).toBe(false);
    expect(resumed.nextRunAt).toBeDefined();
    await eventually(async () => ((await made()).length > count ? true : undefined), 10_000);
    const d = domain();
    expect((await listSchedules(d, "globex", 0, "")).items.filter((x) => x.name !== "fastest.background_jobs")).toEqual([]);
    expect(await reason(() => setPaused(d, "globex", schedule!.id, true))).toBe("not_found:SCHEDULE_NOT_FOUND");
    expect((await client.deleteSchedule({ id: schedule!.id })).success).toBe(true);
    expect((await client.listSchedules({})).schedules.map((x) => x.name)).toEqual(["fastest.background_jobs"]);
  }, 30_000);
});

