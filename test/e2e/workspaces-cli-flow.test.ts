// Seed 002's CLI flow against a real server: the requests `cli/internal/api/client.go` makes,
// replayed byte for byte by test/e2e/helpers/fastest-cli.ts, checked the way Go would decode them.
// One tree of 1,000 files, manifest, snapshot, a second workspace forked from it, edits on both
// sides, drift, compare, prepare, execute, undo.
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { startTestServer, type TestServer } from "../../src/testing/server.ts";
import { cliManifest, fastestCli, goDecode, sha256, DriftReport } from "./helpers/fastest-cli.ts";

const TOKEN = "fastest-cli-test-token-0123456789";
let server: TestServer;
let cli: ReturnType<typeof fastestCli>;

beforeAll(async () => {
  server = await startTestServer({ SWITCHYARD_API_TOKEN: TOKEN });
  cli = fastestCli(server.url, TOKEN);
});
afterAll(() => server.close());

const enc = (s: string) => new TextEncoder().encode(s);
const lines = (i: number) => Array.from({ length: 20 }, (_, j) => `file ${i} line ${j}`);
type Tree = Map<string, Uint8Array>;

async function pool<T>(items: T[], n: number, work: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < items.length) await work(items[next++]!);
  }));
}

/** What `fst snapshot` does: find missing blobs (100 per call), presign, upload, then the manifest. */
async function push(tree: Tree): Promise<{ hash: string; uploaded: number }> {
  const files = [...tree].map(([path, content]) => ({ path, content }));
  const m = cliManifest(files);
  const byHash = new Map(files.map((f) => [sha256(f.content), f.content]));
  const hashes = [...byHash.keys()];
  let uploaded = 0;
  for (let i = 0; i < hashes.length; i += 100) {
    const missing = await cli.blobExists(hashes.slice(i, i + 100));
    if (missing.length === 0) continue;
    const urls = await cli.presignUpload(missing);
    await pool(missing, 16, async (h) => {
      await cli.uploadBlob(urls[h]!, byHash.get(h)!);
      uploaded++;
    });
  }
  await cli.uploadManifest(m.hash, m.bytes);
  return { hash: m.hash, uploaded };
}

describe("seed 002 CLI flow", () => {
  it("pushes a tree, forks it, edits both sides, reports and compares drift, syncs and undoes", async () => {
    // Without the token: 401 in the seed's error body, on JSON and byte routes alike, nothing stored.
    const intruder = fastestCli(server.url, "wrong-token-wrong-token");
    await expect(intruder.createProject("nope")).rejects.toThrow(/not authenticated/);
    const denied = await fetch(`${server.url}/v1/blobs/upload/${sha256("x")}`, { method: "PUT", body: "x" });
    expect(denied.status).toBe(401);
    expect((await denied.json()).error.code).toBe("UNAUTHORIZED");
    expect(await cli.blobExists([sha256("x")])).toEqual([sha256("x")]);

    const project = await cli.createProject("cli-flow");
    expect(project.name).toBe("cli-flow");
    expect((await cli.listProjects()).map((p) => p.id)).toContain(project.id);

    const main = await cli.createWorkspace(project.id as string, { name: "main", machine_id: "m1", local_path: "/src/main" });
    await cli.setMainWorkspace(main.id as string);
    await cli.sendHeartbeat(main.id as string);

    const base: Tree = new Map();
    for (let i = 0; i < 1000; i++) base.set(`src/dir${i % 10}/file${i}.txt`, enc(lines(i).join("\n") + "\n"));
    base.set("README.md", enc("# cli flow\n"));
    const first = await push(base);
    expect(first.uploaded).toBe(1001);
    expect((await push(base)).uploaded).toBe(0); // dedup: nothing missing the second time

    const s1 = await cli.createSnapshot(project.id as string, "snap-base", first.hash, "", main.id as string);
    expect(s1.status).toBe(201);
    expect(s1.created).toBe(true);
    const again = await cli.createSnapshot(project.id as string, "snap-base", first.hash, "", main.id as string);
    expect([again.status, again.created]).toEqual([200, false]);
    expect((await cli.getSnapshot("snap-base")).manifest_hash).toBe(first.hash);

    const feature = await cli.createWorkspace(project.id as string, { name: "feature", fork_snapshot_id: "snap-base" });
    expect(feature.fork_snapshot_id).toBe("snap-base");
    expect(feature.current_snapshot_id).toBe("snap-base");

    // Main: edit the first line of files 1–10, delete file 900. Feature: edit the last line of
    // files 5–15, add a file, and change file 20's first line differently from main.
    const mainTree: Tree = new Map(base);
    const featTree: Tree = new Map(base);
    const edit = (t: Tree, i: number, at: number, text: string) => {
      const ls = lines(i);
      ls[at] = text;
      t.set(`src/dir${i % 10}/file${i}.txt`, enc(ls.join("\n") + "\n"));
    };
    for (let i = 1; i <= 10; i++) edit(mainTree, i, 0, `main edit ${i}`);
    edit(mainTree, 20, 0, "main says 20");
    mainTree.delete("src/dir0/file900.txt");
    for (let i = 5; i <= 15; i++) edit(featTree, i, 19, `feature edit ${i}`);
    edit(featTree, 20, 0, "feature says 20");
    featTree.set("src/new.txt", enc("new in feature\n"));

    const mainPush = await push(mainTree);
    expect(mainPush.uploaded).toBe(11);
    await cli.createSnapshot(project.id as string, "snap-main-2", mainPush.hash, "snap-base", main.id as string);
    const featPush = await push(featTree);
    await cli.createSnapshot(project.id as string, "snap-feat-2", featPush.hash, "snap-base", feature.id as string);
    // The feature workspace also has uncommitted state: its current manifest (optimistic CAS).
    const cas = await fetch(`${server.url}/v1/workspaces/${feature.id}/current-manifest`, {
      method: "POST", headers: { Authorization: `Bearer ${TOKEN}`, "Content-Type": "application/json" },
      body: JSON.stringify({ manifest_hash: featPush.hash }),
    });
    expect(cas.status).toBe(200);
    expect(await cas.json()).toEqual({ updated: true, current_manifest_hash: featPush.hash, conflict: false });
    const lost = await fetch(`${server.url}/v1/workspaces/${feature.id}/current-manifest`, {
      method: "POST", headers: { Authorization: `Bearer ${TOKEN}`, "Content-Type": "application/json" },
      body: JSON.stringify({ manifest_hash: mainPush.hash, previous_manifest_hash: first.hash }),
    });
    expect(lost.status).toBe(409);
    expect(await lost.json()).toMatchObject({ updated: false, conflict: true, current_manifest_hash: featPush.hash });

    // Drift as the CLI reports it, and the history as the seed server answers it.
    expect(await cli.reportDrift(feature.id as string, 1, 12, 0, 345, "feature work")).toBe(201);
    const drift = await cli.getWorkspaceDrift(feature.id as string);
    const latest = (drift!.latest as Record<string, unknown>)!;
    expect(latest).toMatchObject({ files_added: 1, files_modified: 12, files_deleted: 0, bytes_changed: 345, summary: "feature work" });
    // client.go declares DriftReport.files_added as []string while the seed server (and this one)
    // send the counts as numbers: Go's decoder refuses that whoever serves it.
    expect(() => goDecode(latest, { struct: DriftReport })).toThrow(/cannot unmarshal number/);

    const ws = await cli.getWorkspace(feature.id as string);
    expect(ws.current_manifest_hash).toBe(featPush.hash);
    expect(ws.current_snapshot_id).toBe("snap-feat-2");

    const compare = await (await fetch(`${server.url}/v1/workspaces/${feature.id}/drift/compare?include_dirty=true`, { headers: { Authorization: `Bearer ${TOKEN}` } })).json();
    expect(compare.is_main_workspace).toBe(false);
    expect(compare.source_workspace.id).toBe(main.id);
    expect(compare.drift.added).toEqual([]);
    // From the workspace to the source: what a sync would take is the source's side.
    expect(compare.drift.deleted.sort()).toEqual(["src/dir0/file900.txt", "src/new.txt"]);
    expect(compare.drift.modified.length).toBe(16); // files 1–15 and 20
    expect(typeof compare.drift.bytes_changed).toBe("number");

    const prep = await (await fetch(`${server.url}/v1/workspaces/${feature.id}/sync/prepare`, { method: "POST", headers: { Authorization: `Bearer ${TOKEN}` } })).json();
    const preview = prep.preview;
    expect(preview.merge_base_snapshot_id).toBe("snap-base");
    expect(preview.decisions_needed.map((x: { path: string }) => x.path)).toEqual(["src/dir0/file20.txt"]);
    const byPath = Object.fromEntries(preview.auto_actions.map((a: { path: string; action: string }) => [a.path, a.action]));
    for (let i = 1; i <= 4; i++) expect(byPath[`src/dir${i % 10}/file${i}.txt`]).toBe("update");
    for (let i = 5; i <= 10; i++) expect(byPath[`src/dir${i % 10}/file${i}.txt`]).toBe("merge");
    expect(byPath["src/dir0/file900.txt"]).toBe("delete");
    expect(byPath["src/new.txt"]).toBeUndefined();
    expect(preview.auto_actions.length + preview.decisions_needed.length + preview.files_unchanged.length).toBe(1002);

    const exec = await fetch(`${server.url}/v1/workspaces/${feature.id}/sync/execute`, {
      method: "POST", headers: { Authorization: `Bearer ${TOKEN}`, "Content-Type": "application/json" },
      body: JSON.stringify({ preview_id: preview.id, decisions: { "src/dir0/file20.txt": "theirs" } }),
    });
    expect(exec.status).toBe(200);
    const done = await exec.json();
    expect(done).toMatchObject({ success: true, files_updated: 11, files_added: 0, files_deleted: 1 });
    expect(typeof done.workspace_version).toBe("number");

    const merged = JSON.parse(new TextDecoder().decode(await cli.downloadManifest(done.manifest_hash)));
    const files = new Map<string, string>(merged.files.map((f: { path: string; hash: string }) => [f.path, f.hash]));
    expect(files.has("src/dir0/file900.txt")).toBe(false);
    expect(files.has("src/new.txt")).toBe(true);
    const urls = await cli.presignDownload([files.get("src/dir7/file7.txt")!, files.get("src/dir0/file20.txt")!]);
    const seven = new TextDecoder().decode(await cli.downloadBlob(urls[files.get("src/dir7/file7.txt")!]!));
    expect(seven.split("\n")[0]).toBe("main edit 7");
    expect(seven.split("\n")[19]).toBe("feature edit 7");
    expect(new TextDecoder().decode(await cli.downloadBlob(urls[files.get("src/dir0/file20.txt")!]!)).split("\n")[0]).toBe("main says 20");

    const synced = await cli.getWorkspace(feature.id as string);
    expect(synced.current_snapshot_id).toBe(done.snapshot_id);
    expect((synced.merge_history as Record<string, { last_merged_snapshot: string }>)[main.id as string]!.last_merged_snapshot).toBe("snap-main-2");
    const snap = await cli.getSnapshot(done.snapshot_id);
    expect(snap.parent_snapshot_id).toBe("snap-feat-2");

    // Executing the same preview again answers the first result; undo goes back to the pre-sync state.
    const twice = await fetch(`${server.url}/v1/workspaces/${feature.id}/sync/execute`, {
      method: "POST", headers: { Authorization: `Bearer ${TOKEN}`, "Content-Type": "application/json" },
      body: JSON.stringify({ preview_id: preview.id, decisions: { "src/dir0/file20.txt": "theirs" } }),
    });
    expect(twice.status).toBe(200);
    expect(await twice.json()).toEqual(done);
    const undo = await (await fetch(`${server.url}/v1/workspaces/${feature.id}/sync/undo`, { method: "POST", headers: { Authorization: `Bearer ${TOKEN}` } })).json();
    expect(undo).toEqual({ success: true, reverted_to_snapshot_id: "snap-feat-2" });
    const reverted = await cli.getWorkspace(feature.id as string);
    expect([reverted.current_snapshot_id, reverted.current_manifest_hash]).toEqual(["snap-feat-2", featPush.hash]);

    // A preview made before the workspace moved is stale: 409 in the seed's error body.
    const stalePreview = (await (await fetch(`${server.url}/v1/workspaces/${feature.id}/sync/prepare`, { method: "POST", headers: { Authorization: `Bearer ${TOKEN}` } })).json()).preview;
    await cli.createSnapshot(project.id as string, "snap-feat-3", featPush.hash, "snap-feat-2", feature.id as string);
    const stale = await fetch(`${server.url}/v1/workspaces/${feature.id}/sync/execute`, {
      method: "POST", headers: { Authorization: `Bearer ${TOKEN}`, "Content-Type": "application/json" },
      body: JSON.stringify({ preview_id: stalePreview.id, decisions: { "src/dir0/file20.txt": "ours" } }),
    });
    expect(stale.status).toBe(409);
    expect((await stale.json()).error).toMatchObject({ code: "CONFLICT", reason: "WORKSPACE_VERSION_CONFLICT" });

    const got = await cli.getProject(project.id as string);
    expect(got.workspaces.map((w) => w.name).sort()).toEqual(["feature", "main"]);
    expect(got.project.main_workspace_id).toBe(main.id);
  }, 120_000);
});
