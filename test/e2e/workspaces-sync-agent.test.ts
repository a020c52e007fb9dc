// Sync conflicts offered to an agent worker: without a worker the preview completes within the
// deadline with the conflicts as decisions (the task is cancelled); with a worker (a scripted one
// over gRPC, claiming `workspace.sync.resolve_conflicts` on queue `agents`) its combined text is the
// recommended option and executes.
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { fromJson, toJson } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { TaskService } from "../../gen/switchyard/tasks/v1/tasks_service_pb.js";
import { TaskState } from "../../gen/switchyard/tasks/v1/tasks_pb.js";
import { clientFor } from "../../src/testing/clients.ts";
import { startTestServer, type TestServer } from "../../src/testing/server.ts";
import { cliManifest, sha256 } from "./helpers/fastest-cli.ts";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ SWITCHYARD_SYNC_AGENT_DEADLINE_MS: "1500" });
});
afterAll(() => server.close());

const enc = (s: string) => new TextEncoder().encode(s);
async function api(method: string, path: string, body?: unknown) {
  const raw = body instanceof Uint8Array;
  const res = await fetch(server.url + path, { method, headers: raw ? {} : { "content-type": "application/json" }, body: raw ? (body as BodyInit) : JSON.stringify(body ?? {}) });
  return { status: res.status, json: (await res.json()) as any };
}
async function push(files: Record<string, string>) {
  for (const c of Object.values(files)) await api("PUT", `/v1/blobs/upload/${sha256(c)}`, enc(c));
  const m = cliManifest(Object.entries(files).map(([path, c]) => ({ path, content: enc(c) })));
  await api("PUT", `/v1/blobs/manifests/${m.hash}`, m.bytes);
  return m.hash;
}
/** main and feature both rewrite the first line of a.txt: a true conflict. */
async function conflicted(name: string) {
  const project = (await api("POST", "/v1/projects", { name })).json.project;
  const main = (await api("POST", `/v1/projects/${project.id}/workspaces`, { name: "main" })).json.workspace;
  const snap = (id: string, files: Record<string, string>, ws: string, parents: string[]) =>
    push(files).then((h) => api("POST", `/v1/projects/${project.id}/snapshots`, { manifest_hash: h, snapshot_id: `${name}-${id}`, workspace_id: ws, parent_snapshot_ids: parents.map((p) => `${name}-${p}`) }));
  await snap("base", { "a.txt": "one\ntwo\n" }, main.id, []);
  const feature = (await api("POST", `/v1/projects/${project.id}/workspaces`, { name: "feature", base_snapshot_id: `${name}-base` })).json.workspace;
  await snap("main", { "a.txt": "ONE\ntwo\n" }, main.id, ["base"]);
  await snap("feat", { "a.txt": "uno\ntwo\n" }, feature.id, ["base"]);
  return feature;
}

describe("sync conflicts and an agent worker", () => {
  it("completes the preview without a worker once the deadline passes, and cancels the task", async () => {
    const feature = await conflicted("noworker");
    const started = Date.now();
    const { json } = await api("POST", `/v1/workspaces/${feature.id}/sync/prepare`);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
    expect(json.preview.decisions_needed[0].options.map((o: { id: string }) => o.id)).toEqual(["ours", "theirs", "merged"]);
    const tasks = clientFor(TaskService, server.url, "grpc");
    const listed = await tasks.listTasks({ queues: ["agents"] });
    const task = listed.tasks.find((t) => t.type === "workspace.sync.resolve_conflicts")!;
    expect(task.state).toBe(TaskState.CANCELLED);
  });

  it("offers a worker's combined text as the recommended option", async () => {
    const feature = await conflicted("worker");
    const tasks = clientFor(TaskService, server.url, "grpc");
    const abort = new AbortController();
    const worker = (async () => {
      while (!abort.signal.aborted) {
        const { assignments } = await tasks.claimTasks({ workerId: "agent-1", queues: ["agents"], maxTasks: 1 });
        for (const a of assignments) {
          const payload = toJson(ValueSchema, a.task!.payload!) as { conflicts: { path: string; ours: string; theirs: string }[] };
          const files = payload.conflicts.map((c) => ({ path: c.path, content: `${c.ours.split("\n")[0]} / ${c.theirs.split("\n")[0]}\ntwo\n` }));
          await tasks.completeTask({ id: a.task!.id, fencingToken: a.lease!.fencingToken, result: fromJson(ValueSchema, { files }) });
          return;
        }
        await Bun.sleep(20);
      }
    })();
    const { json } = await api("POST", `/v1/workspaces/${feature.id}/sync/prepare`);
    abort.abort();
    await worker;
    const decision = json.preview.decisions_needed[0];
    expect(decision.recommended_option_id).toBe("combined");
    const combined = decision.options.find((o: { id: string }) => o.id === "combined");
    const done = await api("POST", `/v1/workspaces/${feature.id}/sync/execute`, { preview_id: json.preview.id, decisions: { "a.txt": "combined" } });
    expect(done.status).toBe(200);
    const manifest = await (await fetch(`${server.url}/v1/blobs/manifests/${done.json.manifest_hash}`)).json();
    expect(manifest.files[0].hash).toBe(combined.result_hash);
    expect(await (await fetch(`${server.url}/v1/blobs/download/${combined.result_hash}`)).text()).toBe("uno / ONE\ntwo\n");
  });
});
