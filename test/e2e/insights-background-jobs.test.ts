// Seed 002's background jobs as the built-in schedule `fastest.background_jobs`: a tick (the
// server's clock moved 16 minutes on) snapshots a workspace whose manifest changed (source
// `system`), records its drift against main and creates a `code.analyze` task that the
// reference worker answers; its findings become action items. A paused schedule does nothing;
// another tenant's workspaces are untouched.
import { afterAll, beforeAll, expect, it } from "bun:test";
import { listActionItems } from "../../src/insights/action-items.ts";
import { BACKGROUND_JOBS } from "../../src/insights/background-jobs.ts";
import { createConversation } from "../../src/insights/conversations.ts";
import type { InsightsModule } from "../../src/insights/module.ts";
import { listSchedules, setPaused } from "../../src/insights/schedules.ts";
import { preparePython } from "../../src/testing/python.ts";
import { startTestServer, type TestServer } from "../../src/testing/server.ts";
import { listDrift } from "../../src/workspaces/drift.ts";
import { createProject } from "../../src/workspaces/projects.ts";
import { createSnapshot, getSnapshot } from "../../src/workspaces/snapshots.ts";
import { storeTree } from "../../src/workspaces/testing.ts";
import { createWorkspace, getWorkspace, setMain, updateCurrentManifest } from "../../src/workspaces/workspaces.ts";
import { startInsightsWorker, type InsightsWorker } from "./helpers/insights-worker.ts";

const TOKEN = "background-jobs-test-token";
let offset = 0;
const clock = { now: () => Date.now() + offset };
let server: TestServer;
let worker: InsightsWorker;
beforeAll(async () => {
  const [s, py] = await Promise.all([startTestServer({ SWITCHYARD_API_TOKEN: TOKEN }, { clock }), preparePython()]);
  server = s;
  worker = await startInsightsWorker(py.python, py.stubs, server.port, "w-bg", [], TOKEN);
});
afterAll(async () => {
  await worker?.stop();
  await server?.close();
});

async function eventually<T>(f: () => Promise<T | undefined> | T | undefined, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await Bun.sleep(50);
  }
}

it("snapshots, measures drift and analyses changed workspaces at a tick; paused and other tenants untouched", async () => {
  const d = (server.app.modules.insights as InsightsModule).domain;
  const ws = d.workspaces;
  async function setup(tenant: string) {
    const p = await createProject(ws, tenant, "u", { name: `bg-${tenant}`, requestId: "" });
    const main = await createWorkspace(ws, tenant, { projectId: p.id, name: "main", requestId: "" });
    await setMain(ws, tenant, main.id);
    const base = await storeTree(ws, tenant, { "a.txt": "one\n", "src/app.ts": "x\n" });
    const s0 = (await createSnapshot(ws, tenant, { projectId: p.id, manifestHash: base, parents: [], workspaceId: main.id })).snapshot;
    const feature = await createWorkspace(ws, tenant, { projectId: p.id, name: "feature", baseSnapshotId: s0.id, requestId: "" });
    const s1 = (await createSnapshot(ws, tenant, { projectId: p.id, manifestHash: base, parents: [s0.id], workspaceId: feature.id })).snapshot;
    const changed = await storeTree(ws, tenant, { "a.txt": "uno\n", "src/app.ts": "x\n", "src/new.ts": "y\n" });
    await updateCurrentManifest(ws, tenant, feature.id, changed, undefined);
    await createConversation(d, tenant, { workspaceId: feature.id }); // activity; creates the tenant's schedule
    return { p, main, feature, s1, changed };
  }
  const a = await setup("default");
  const b = await setup("globex");
  const schedule = async (tenant: string) => (await listSchedules(d, tenant, 0, "")).items.find((s) => s.name === BACKGROUND_JOBS)!;
  expect((await schedule("default")).cron).toBe("*/15 * * * *");
  expect((await schedule("globex")).id).not.toBe((await schedule("default")).id);
  await setPaused(d, "globex", (await schedule("globex")).id, true);

  offset += 16 * 60 * 1000; // a tick is due
  const snapId = await eventually(async () => {
    const w = await getWorkspace(ws, "default", a.feature.id);
    return w.lastSnapshotId !== a.s1.id ? w.lastSnapshotId! : undefined;
  });
  const snap = await getSnapshot(ws, "default", snapId);
  expect(snap.source).toBe("system");
  expect(snap.manifestHash).toBe(a.changed);
  expect(snap.parents).toEqual([a.s1.id]);
  const drift = await eventually(async () => { const items = (await listDrift(ws, "default", a.feature.id, 10, "")).items; return items.length ? items : undefined; }); // written right after the snapshot
  expect(drift.length).toBe(1);
  expect([drift[0]!.filesAdded, drift[0]!.filesModified, drift[0]!.filesDeleted]).toEqual([0, 1, 1]); // what a sync from main would change
  const item = await eventually(async () => (await listActionItems(d, "default", { workspaceId: a.feature.id, pageSize: 50, pageToken: "" })).items.find((i) => i.title === "Review recently changed files"));
  expect(item.severity).toBe("low");
  expect([...item.files].sort()).toEqual(["a.txt", "src/new.ts"].sort());
  expect((await schedule("default")).runCount).toBe(1);
  expect((await schedule("default")).lastTaskId).toBe(""); // the tick itself ran in-process

  // A paused schedule: globex is untouched (no snapshot, no drift, no analysis).
  expect((await getWorkspace(ws, "globex", b.feature.id)).lastSnapshotId).toBe(b.s1.id);
  expect((await listDrift(ws, "globex", b.feature.id, 10, "")).items).toEqual([]);
  expect((await schedule("globex")).runCount).toBe(0);
  expect((await listActionItems(d, "globex", { workspaceId: b.feature.id, pageSize: 50, pageToken: "" })).items.filter((i) => i.id.startsWith("ai_"))).toEqual([]);

  // The next tick: the manifest equals the latest snapshot now, so nothing more is made.
  offset += 15 * 60 * 1000;
  await eventually(async () => ((await schedule("default")).runCount === 2 ? true : undefined));
  expect((await getWorkspace(ws, "default", a.feature.id)).lastSnapshotId).toBe(snapId);
  expect((await listDrift(ws, "default", a.feature.id, 10, "")).items.length).toBe(1);
}, 60_000);
