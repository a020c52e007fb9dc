// The workspace domain over REST with seed 002's shapes (status codes, numbers, error bodies,
// blob byte routes with ETag/Range/immutable caching, SSE events) and over Connect and gRPC.
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { Database } from "bun:sqlite";
import { readdirSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { BlobService } from "../../gen/switchyard/workspaces/v1/blob_service_pb.js";
import { ProjectService } from "../../gen/switchyard/workspaces/v1/project_service_pb.js";
import { SnapshotService } from "../../gen/switchyard/workspaces/v1/snapshot_service_pb.js";
import { WorkspaceService } from "../../gen/switchyard/workspaces/v1/workspace_service_pb.js";
import { clientFor, type Protocol } from "../../src/testing/clients.ts";
import { startTestServer, type TestServer } from "../../src/testing/server.ts";
import { cliManifest, sha256 } from "./helpers/fastest-cli.ts";

let server: TestServer;
const enc = (s: string) => new TextEncoder().encode(s);

beforeAll(async () => {
  server = await startTestServer({ SWITCHYARD_BLOB_MAX_BYTES: String(1024 * 1024), SWITCHYARD_BLOB_GC_GRACE_MS: "0" });
});
afterAll(() => server.close());

async function api(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const raw = body instanceof Uint8Array || typeof body === "string";
  const res = await fetch(server.url + path, {
    method,
    headers: { ...(body !== undefined && !raw ? { "content-type": "application/json" } : {}), ...headers },
    body: body === undefined ? undefined : raw ? (body as BodyInit) : JSON.stringify(body),
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, json, headers: res.headers };
}

async function putBlob(content: Uint8Array | string) {
  const bytes = typeof content === "string" ? enc(content) : content;
  const hash = sha256(bytes);
  return { hash, ...(await api("PUT", `/v1/blobs/upload/${hash}`, bytes)) };
}

async function setup(name: string, files: Record<string, string>) {
  const project = (await api("POST", "/v1/projects", { name })).json.project;
  const ws = (await api("POST", `/v1/projects/${project.id}/workspaces`, { name: "main" })).json.workspace;
  for (const c of Object.values(files)) await putBlob(c);
  const m = cliManifest(Object.entries(files).map(([path, c]) => ({ path, content: enc(c) })));
  await api("PUT", `/v1/blobs/manifests/${m.hash}`, m.bytes);
  return { project, ws, manifest: m };
}

describe("blobs over REST", () => {
  it("uploads (201, then 200), answers numbers, streams downloads with ETag, Range and immutable caching", async () => {
    const first = await putBlob("hello blob");
    expect(first.status).toBe(201);
    expect(first.json).toEqual({ hash: first.hash, size: 10, created: true });
    const again = await putBlob("hello blob");
    expect([again.status, again.json.created]).toEqual([200, false]);

    const res = await fetch(`${server.url}/v1/blobs/download/${first.hash}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(res.headers.get("etag")).toBe(`"${first.hash}"`);
    expect(res.headers.get("content-type")).toBe("application/octet-stream");
    expect(await res.text()).toBe("hello blob");
    const part = await fetch(`${server.url}/v1/blobs/download/${first.hash}`, { headers: { range: "bytes=6-" } });
    expect([part.status, part.headers.get("content-range"), await part.text()]).toEqual([206, "bytes 6-9/10", "blob"]);
    const suffix = await fetch(`${server.url}/v1/blobs/download/${first.hash}`, { headers: { range: "bytes=-3" } });
    expect(await suffix.text()).toBe("lob");
    expect((await fetch(`${server.url}/v1/blobs/download/${first.hash}`, { headers: { range: "bytes=50-" } })).status).toBe(416);
    expect((await fetch(`${server.url}/v1/blobs/download/${first.hash}`, { headers: { "if-none-match": `"${first.hash}"` } })).status).toBe(304);

    const exists = await api("POST", "/v1/blobs/exists", { hashes: [first.hash, sha256("nope")] });
    expect(exists.json).toEqual({ missing: [sha256("nope")], existing: [first.hash], checked: 2 });
    const up = await api("POST", "/v1/blobs/presign-upload", { hashes: [first.hash] });
    expect(up.json.urls[first.hash]).toBe(`/v1/blobs/upload/${first.hash}`);
  });

  it("refuses a wrong hash with 400 HASH_MISMATCH and stores nothing; refuses bad hashes and oversize blobs", async () => {
    const claimed = sha256("something else");
    const bad = await api("PUT", `/v1/blobs/upload/${claimed}`, enc("actual bytes"));
    expect(bad.status).toBe(400);
    expect(bad.json.error.code).toBe("HASH_MISMATCH");
    expect(typeof bad.json.error.message).toBe("string");
    expect((await api("POST", "/v1/blobs/exists", { hashes: [claimed, sha256("actual bytes")] })).json.existing).toEqual([]);
    const tmp = join(server.dataDir, "blobs", "tmp");
    expect(readdirSync(tmp)).toEqual([]);

    const notHex = await api("PUT", `/v1/blobs/upload/XYZ`, enc("x"));
    expect([notHex.status, notHex.json.error.code, notHex.json.error.metadata.field]).toEqual([400, "VALIDATION_ERROR", "hash"]);
    const big = new Uint8Array(1024 * 1024 + 1);
    const tooBig = await api("PUT", `/v1/blobs/upload/${sha256(big)}`, big);
    expect([tooBig.status, tooBig.json.error.code]).toEqual([413, "BLOB_TOO_LARGE"]);
    expect(readdirSync(tmp)).toEqual([]);
    // A declared length above the limit is refused before the body is read.
    const early = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(`${server.url}/v1/blobs/upload/${sha256("never sent")}`, { method: "PUT", headers: { "content-length": String(50 * 1024 * 1024) } }, (res) => {
        let body = "";
        res.on("data", (c) => (body += c));
        res.on("end", () => resolve({ status: res.statusCode!, body }));
      });
      req.on("error", reject);
      req.write("just a few bytes");
    });
    expect(early.status).toBe(413);
    expect(JSON.parse(early.body).error.code).toBe("BLOB_TOO_LARGE");
    const many = await api("POST", "/v1/blobs/exists", { hashes: Array.from({ length: 101 }, (_, i) => sha256(String(i))) });
    expect([many.status, many.json.error.metadata.field]).toEqual([400, "hashes"]);
    const missing = await api("GET", `/v1/blobs/download/${sha256("never")}`);
    expect(missing.status).toBe(404);
    expect(missing.json.error).toMatchObject({ code: "NOT_FOUND", message: "Blob not found" });
  });

  it("stores manifests (hash of the exact bytes), serves them as JSON, refuses non-manifests", async () => {
    const m = cliManifest([{ path: "a.txt", content: enc("a") }]);
    expect((await api("PUT", `/v1/blobs/manifests/${m.hash}`, m.bytes)).status).toBe(201);
    expect((await api("PUT", `/v1/blobs/manifests/${m.hash}`, m.bytes)).json).toEqual({ hash: m.hash, created: false });
    const got = await fetch(`${server.url}/v1/blobs/manifests/${m.hash}`);
    expect([got.headers.get("content-type"), got.headers.get("cache-control")]).toEqual(["application/json", "public, max-age=31536000, immutable"]);
    expect(Buffer.from(await got.arrayBuffer()).equals(Buffer.from(m.bytes))).toBe(true);
    const notJson = enc("not json");
    expect((await api("PUT", `/v1/blobs/manifests/${sha256(notJson)}`, notJson)).json.error.code).toBe("MANIFEST_INVALID");
    expect((await api("GET", `/v1/blobs/manifests/${sha256(notJson)}`)).status).toBe(404);
    expect((await api("PUT", `/v1/blobs/manifests/${sha256("other")}`, m.bytes)).json.error.code).toBe("HASH_MISMATCH");
  });

  it("collects orphans: dry run by default, then deletes only blobs no snapshot's manifest refers to", async () => {
    const { project, manifest } = await setup("gc", { "kept.txt": "kept content" });
    await api("POST", `/v1/projects/${project.id}/snapshots`, { manifest_hash: manifest.hash });
    const orphan = await putBlob("orphan content");
    const dry = await api("POST", "/v1/blobs/gc", {});
    expect(dry.json).toMatchObject({ success: true, dryRun: true });
    expect(dry.json.orphanedBlobs).toBeGreaterThanOrEqual(1);
    expect(typeof dry.json.freedBytes).toBe("number");
    expect((await api("POST", "/v1/blobs/exists", { hashes: [orphan.hash] })).json.existing).toEqual([orphan.hash]);
    const real = await api("POST", "/v1/blobs/gc", { dryRun: false });
    expect(real.json.dryRun).toBe(false);
    const after = await api("POST", "/v1/blobs/exists", { hashes: [orphan.hash, sha256("kept content")] });
    expect(after.json).toMatchObject({ missing: [orphan.hash], existing: [sha256("kept content")] });
    expect((await api("POST", "/v1/blobs/gc", { maxBlobs: 100001 })).status).toBe(400);
    const stats = (await api("GET", "/v1/blobs/stats")).json;
    expect(typeof stats.blobs.count).toBe("number");
    expect(stats.total.bytes).toBe(stats.blobs.bytes + stats.manifests.bytes);
  });
});

describe("projects, workspaces, snapshots over REST", () => {
  it("answers seed shapes and statuses, and refuses unknown parents, cycles and missing manifests", async () => {
    const { project, ws, manifest } = await setup("dag", { "a.md": "# A\n" });
    expect(typeof project.created_at).toBe("string");
    const s1 = await api("POST", `/v1/projects/${project.id}/snapshots`, { manifest_hash: manifest.hash, snapshot_id: "s1", workspace_id: ws.id });
    expect(s1.status).toBe(201);
    expect(s1.json.snapshot).toMatchObject({ id: "s1", parent_snapshot_ids: [], manifest_hash: manifest.hash });
    const unknown = await api("POST", `/v1/projects/${project.id}/snapshots`, { manifest_hash: manifest.hash, parent_snapshot_ids: ["ghost"] });
    expect([unknown.status, unknown.json.error.code, unknown.json.error.reason]).toEqual([400, "PRECONDITION_FAILED", "PARENT_SNAPSHOT_NOT_FOUND"]);
    const cycle = await api("POST", `/v1/projects/${project.id}/snapshots`, { manifest_hash: manifest.hash, snapshot_id: "s2", parent_snapshot_ids: ["s1", "s2"] });
    expect(cycle.json.error.reason).toBe("SNAPSHOT_CYCLE");
    const noManifest = await api("POST", `/v1/projects/${project.id}/snapshots`, { manifest_hash: sha256("missing") });
    expect(noManifest.json.error.reason).toBe("MANIFEST_NOT_FOUND");
    const clash = await api("POST", `/v1/projects/${project.id}/snapshots`, { manifest_hash: sha256("x"), snapshot_id: "s1" });
    expect(clash.status).toBe(400); // manifest of the clash does not exist: checked first

    const list = await api("GET", `/v1/projects/${project.id}/snapshots?limit=1`);
    expect(list.json.snapshots.length).toBe(1);
    expect((await api("GET", `/v1/projects/${project.id}/snapshots?limit=-1`)).status).toBe(400);
    expect((await api("GET", `/v1/workspaces/${ws.id}/snapshots`)).json.snapshots.map((s: { id: string }) => s.id)).toEqual(["s1"]);
    const status = await api("GET", `/v1/projects/${project.id}/status`);
    expect(status.json.last_snapshot_id).toBe("s1");
    const got = await api("GET", `/v1/projects/${project.id}`);
    expect(Object.keys(got.json).sort()).toEqual(["events", "project", "snapshot_insights", "snapshots", "workspaces"]);
    expect(got.json.events.map((e: { type: string }) => e.type)).toContain("snapshot.created");
    expect(typeof got.json.snapshot_insights.snapshots_since_merge).toBe("number");
    expect((await api("GET", `/v1/projects/prj_nope`)).json.error).toMatchObject({ code: "NOT_FOUND" });
    expect((await api("POST", "/v1/projects", { name: "" })).json.error).toMatchObject({ code: "VALIDATION_ERROR", metadata: { field: "name" } });
    expect((await api("POST", "/v1/projects", { name: "x", bogus: 1 })).status).toBe(400);

    expect((await api("GET", `/v1/workspaces/${ws.id}`)).json.drift).toBeNull();
    const drift = await api("POST", `/v1/workspaces/${ws.id}/drift`, { files_added: 2, files_modified: 30, files_deleted: 1, bytes_changed: 10 });
    expect(drift.status).toBe(201);
    const wsGet = await api("GET", `/v1/workspaces/${ws.id}`);
    expect(wsGet.json.drift).toMatchObject({ files_modified: 30, risk_level: "high", is_stale: false });
    const hb = await api("POST", `/v1/workspaces/${ws.id}/heartbeat`);
    expect(hb.json.success).toBe(true);

    const docs = await api("GET", `/v1/projects/${project.id}/docs`);
    expect(docs.json.total_files).toBe(1);
    expect(docs.json.workspaces[0].files[0]).toMatchObject({ path: "a.md", size: 4 });
    const content = await api("GET", `/v1/projects/${project.id}/docs/content?workspace=${ws.id}&path=a.md`);
    expect(content.json).toMatchObject({ content: "# A\n", path: "a.md", workspace_id: ws.id, size: 4 });

    expect((await api("PATCH", `/v1/projects/${project.id}/brief`, { intent: "ship it" })).json).toEqual({ success: true });
    expect((await api("GET", `/v1/projects/${project.id}/brief`)).json.project).toMatchObject({ id: project.id, intent: "ship it" });
  });

  it("keeps secrets sealed: lists masked, internal values in clear, never plaintext in the SQLite file", async () => {
    const { project } = await setup("env", {});
    const secret = "sk-live-TOPSECRET-9f8e7d6c5b4a";
    expect((await api("POST", `/v1/projects/${project.id}/env-vars`, { key: "API_KEY", value: secret, is_secret: true })).json).toEqual({ success: true });
    const bulk = await api("PUT", `/v1/projects/${project.id}/env-vars`, { variables: [{ key: "REGION", value: "eu" }, { key: "DB_PASSWORD", value: "hunter2-hunter2-xyz", is_secret: true }] });
    expect(bulk.json).toEqual({ success: true, count: 2 });
    const listed = (await api("GET", `/v1/projects/${project.id}/env-vars`)).json.variables;
    const byKey = Object.fromEntries(listed.map((v: { key: string; value: string }) => [v.key, v.value]));
    expect(byKey.REGION).toBe("eu");
    expect(byKey.API_KEY).not.toContain("TOPSECRET");
    expect(byKey.API_KEY.endsWith("4a")).toBe(true);
    const values = (await api("GET", `/v1/projects/${project.id}/env-vars/values`)).json.variables;
    expect(values).toContainEqual({ key: "API_KEY", value: secret, is_secret: true });
    expect((await api("DELETE", `/v1/projects/${project.id}/env-vars/REGION`)).json).toEqual({ success: true });
    expect((await api("DELETE", `/v1/projects/${project.id}/env-vars/REGION`)).status).toBe(404);
    expect((await api("POST", `/v1/projects/${project.id}/env-vars`, { key: "1BAD", value: "x" })).json.error.metadata.field).toBe("key");

    // Every file of the database (main file and WAL) is read as bytes: no secret in clear.
    for (const file of readdirSync(server.dataDir).filter((f) => f.startsWith("switchyard.db"))) {
      const bytes = Buffer.from(await Bun.file(join(server.dataDir, file)).arrayBuffer());
      expect(bytes.includes("TOPSECRET")).toBe(false);
      expect(bytes.includes("hunter2-hunter2")).toBe(false);
    }
    const db = new Database(server.config.databasePath, { readonly: true });
    const stored = db.query("SELECT key, value, is_secret FROM ws_env_vars WHERE is_secret = 1").all() as { value: string }[];
    db.close();
    expect(stored.length).toBe(2);
    for (const row of stored) expect(row.value.startsWith("v1:")).toBe(true);
  });

  it("streams project events as Server-Sent Events: a replay after an event id, then live ones", async () => {
    const { project } = await setup("events", {});
    const created = (await api("GET", `/v1/projects/${project.id}/events`)).json.events;
    const first = created.find((e: { type: string }) => e.type === "project.created");
    const controller = new AbortController();
    const res = await fetch(`${server.url}/v1/projects/${project.id}/events:watch?after_event_id=${first.id}`, { signal: controller.signal });
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const reader = res.body!.getReader();
    const seen: string[] = [];
    let text = "";
    let live = false;
    while (seen.filter((t) => t === "workspace.created").length < 2) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
      seen.length = 0;
      for (const m of text.matchAll(/data: (\{.*\})\n/g)) seen.push(JSON.parse(m[1]!).event.type);
      if (!live) {
        live = true;
        await api("POST", `/v1/projects/${project.id}/workspaces`, { name: "live" });
      }
    }
    controller.abort();
    expect(seen).toEqual(["workspace.created", "workspace.created"]);
    expect(text).toContain('"project_id":"' + project.id + '"');
  });
});

describe("the same domain over Connect and gRPC", () => {
  for (const protocol of ["connect", "grpc"] as Protocol[]) {
    it(`creates, snapshots, uploads and reads back over ${protocol}`, async () => {
      const projects = clientFor(ProjectService, server.url, protocol);
      const workspaces = clientFor(WorkspaceService, server.url, protocol);
      const snapshots = clientFor(SnapshotService, server.url, protocol);
      const blobs = clientFor(BlobService, server.url, protocol);
      const { project } = await projects.createProject({ name: `over-${protocol}` });
      const { workspace } = await workspaces.createWorkspace({ projectId: project!.id, name: "w" });
      const data = enc(`bytes over ${protocol}`);
      const up = await blobs.uploadBlob({ hash: sha256(data), body: { contentType: "application/octet-stream", data } });
      expect(up.size).toBe(BigInt(data.byteLength));
      const down = await blobs.downloadBlob({ hash: sha256(data) });
      expect(down.body!.data).toEqual(data);
      const m = cliManifest([{ path: "f.txt", content: data }]);
      expect((await blobs.putManifest({ hash: m.hash, body: { data: m.bytes } })).created).toBe(true);
      const { snapshot } = await snapshots.createSnapshot({ projectId: project!.id, manifestHash: m.hash, workspaceId: workspace!.id });
      expect((await snapshots.getSnapshot({ snapshotId: snapshot!.id })).snapshot!.manifestHash).toBe(m.hash);
      const got = await workspaces.getWorkspace({ workspaceId: workspace!.id });
      expect(got.workspace!.lastSnapshotId).toBe(snapshot!.id);
      const events = await projects.listProjectEvents({ projectId: project!.id });
      expect(events.events.map((e) => e.type)).toEqual(["snapshot.created", "workspace.created", "project.created"]);
      await expect(blobs.uploadBlob({ hash: sha256("other"), body: { data } })).rejects.toThrow(/does not match/);
      // The event stream: replay after the first event, then a live one.
      const abort = new AbortController();
      const stream = projects.watchProjectEvents({ projectId: project!.id, afterEventId: events.events.at(-1)!.id }, { signal: abort.signal });
      const seen: string[] = [];
      for await (const m of stream) {
        seen.push(m.event!.type);
        if (seen.length === 2) await workspaces.setMainWorkspace({ workspaceId: workspace!.id });
        if (seen.length === 3) break;
      }
      abort.abort();
      expect(seen).toEqual(["workspace.created", "snapshot.created", "workspace.set_main"]);
    });
  }
});
