import { afterEach, describe, expect, it } from "bun:test";
import { describeDialects } from "../testing/dialects.ts";
import { AppError } from "../core/errors.ts";
import { checkBlobs, loadManifest, openObject, putObject, readObject } from "./blobs.ts";
import type { WorkspaceDomain } from "./context.ts";
import { docContent, listDocs } from "./docs.ts";
import { compareDrift, listDrift, reportDrift } from "./drift.ts";
import { deleteEnvVar, envVarValues, listEnvVars, setEnvVars } from "./env-vars.ts";
import { collectGarbage } from "./gc.ts";
import { sha256Hex } from "./manifests.ts";
import { createProject, getProject, listEvents, listProjects, projectStatus, updateBrief } from "./projects.ts";
import { createSnapshot, getSnapshot, listSnapshots, mergeBase, type Dag } from "./snapshots.ts";
import { executeSync, prepareSync, undoSync } from "./sync.ts";
import { storeTree, testDomain } from "./testing.ts";
import { createWorkspace, getWorkspace, heartbeat, listWorkspaces, setMain, updateCurrentManifest } from "./workspaces.ts";

let env: Awaited<ReturnType<typeof testDomain>> | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
});

const once = (bytes: Uint8Array) => (async function* () {
  yield bytes;
})();
const reason = async (p: Promise<unknown> | (() => unknown)) => {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    return e instanceof AppError ? `${e.code}:${e.reason}` : String(e);
  }
  return "ok";
};

/** A project with a main workspace at snapshot `base`, and a feature workspace forked from it. */
async function forked(d: WorkspaceDomain, tenant: string, files: Record<string, string>) {
  const p = await createProject(d, tenant, "u1", { name: "p", requestId: "" });
  const main = await createWorkspace(d, tenant, { projectId: p.id, name: "main", requestId: "" });
  const h = await storeTree(d, tenant, files);
  await createSnapshot(d, tenant, { projectId: p.id, manifestHash: h, snapshotId: "base", parents: [], workspaceId: main.id });
  const feature = await createWorkspace(d, tenant, { projectId: p.id, name: "feature", baseSnapshotId: "base", requestId: "" });
  return { p, main, feature };
}

describeDialects("workspaces domain", (open) => {
  const domainOn = async (options: { gcGraceMs?: number } = {}) => testDomain({ ...options, database: await open() });

  describe("tenant isolation", () => {
    it("answers NOT_FOUND for another tenant's project, workspace, snapshot, blob, manifest, env vars, docs and previews", async () => {
      env = await domainOn();
      const { d } = env;
      const { p, main, feature } = await forked(d, "acme", { "README.md": "hi\n", "a.txt": "a\n" });
      const h2 = await storeTree(d, "acme", { "README.md": "hi\n", "a.txt": "a2\n" });
      await createSnapshot(d, "acme", { projectId: p.id, manifestHash: h2, snapshotId: "m2", parents: ["base"], workspaceId: main.id });
      await setEnvVars(d, "acme", p.id, [{ key: "K", value: "v", isSecret: true }], false);
      const preview = await prepareSync(d, "acme", feature.id);
      const blob = sha256Hex("a\n");
      const other = "globex";
      const calls: [string, () => unknown][] = [
        ["getProject", () => getProject(d, other, p.id)],
        ["projectStatus", () => projectStatus(d, other, p.id)],
        ["listEvents", () => listEvents(d, other, p.id, 0, "")],
        ["updateBrief", () => updateBrief(d, other, p.id, { brief: "x" })],
        ["createWorkspace", () => createWorkspace(d, other, { projectId: p.id, name: "x", requestId: "" })],
        ["listWorkspaces", () => listWorkspaces(d, other, p.id, 0, "")],
        ["getWorkspace", () => getWorkspace(d, other, main.id)],
        ["heartbeat", () => heartbeat(d, other, main.id)],
        ["setMain", () => setMain(d, other, feature.id)],
        ["updateCurrentManifest", () => updateCurrentManifest(d, other, main.id, h2, undefined)],
        ["reportDrift", () => reportDrift(d, other, main.id, { filesAdded: 1, filesModified: 0, filesDeleted: 0, bytesChanged: 0 })],
        ["listDrift", () => listDrift(d, other, main.id, 0, "")],
        ["compareDrift", () => compareDrift(d, other, feature.id, undefined, false)],
        ["createSnapshot", () => createSnapshot(d, other, { projectId: p.id, manifestHash: h2, parents: [] })],
        ["listSnapshots", () => listSnapshots(d, other, { projectId: p.id }, 0, "")],
        ["listWorkspaceSnapshots", () => listSnapshots(d, other, { workspaceId: main.id }, 0, "")],
        ["getSnapshot", () => getSnapshot(d, other, "base")],
        ["openObject blob", () => openObject(d, other, "blob", blob)],
        ["readObject manifest", () => readObject(d, other, "manifest", h2)],
        ["loadManifest", () => loadManifest(d, other, h2)],
        ["listEnvVars", () => listEnvVars(d, other, p.id)],
        ["envVarValues", () => envVarValues(d, other, p.id)],
        ["setEnvVars", () => setEnvVars(d, other, p.id, [{ key: "K", value: "x" }], false)],
        ["deleteEnvVar", () => deleteEnvVar(d, other, p.id, "K")],
        ["listDocs", () => listDocs(d, other, p.id)],
        ["docContent", () => docContent(d, other, p.id, main.id, "README.md")],
        ["prepareSync", () => prepareSync(d, other, feature.id)],
        ["executeSync", () => executeSync(d, other, feature.id, { previewId: preview.id, decisions: {} })],
        ["undoSync", () => undoSync(d, other, feature.id)],
      ];
      for (const [name, call] of calls) {
        const r = await reason(call);
        expect(`${name} ${r}`).toMatch(new RegExp(`^${name} not_found:`));
      }
      // Dedup is per tenant: the other tenant does not see acme's blob as existing.
      expect((await checkBlobs(d, other, [blob])).missing).toEqual([blob]);
      expect((await checkBlobs(d, "acme", [blob])).existing).toEqual([blob]);
      expect((await listProjects(d, other, 0, "")).items).toEqual([]);
      // And acme still sees everything.
      expect((await getWorkspace(d, "acme", main.id)).lastSnapshotId).toBe("m2");
    });
  });

  describe("snapshots", () => {
    it("is idempotent by id, refuses another manifest under the same id and parents from another project", async () => {
      env = await domainOn();
      const { d } = env;
      const { p } = await forked(d, "t", { "a.txt": "a\n" });
      const h = (await getSnapshot(d, "t", "base")).manifestHash;
      expect((await createSnapshot(d, "t", { projectId: p.id, manifestHash: h, snapshotId: "base", parents: [] })).created).toBe(false);
      const h2 = await storeTree(d, "t", { "b.txt": "b\n" });
      expect(await reason(createSnapshot(d, "t", { projectId: p.id, manifestHash: h2, snapshotId: "base", parents: [] }))).toBe("already_exists:SNAPSHOT_ID_CONFLICT");
      const q = await createProject(d, "t", "u1", { name: "q", requestId: "" });
      expect(await reason(createSnapshot(d, "t", { projectId: q.id, manifestHash: h2, parents: ["base"] }))).toBe("failed_precondition:PARENT_SNAPSHOT_NOT_FOUND");
    });

    it("takes the nearest common ancestor as merge base, and the latest candidate in a criss-cross", () => {
      const dag: Dag = new Map([
        ["r", { parents: [], createdAt: 1 }],
        ["a1", { parents: ["r"], createdAt: 2 }],
        ["b1", { parents: ["r"], createdAt: 3 }],
        // criss-cross: each side merged the other's first commit
        ["a2", { parents: ["a1", "b1"], createdAt: 4 }],
        ["b2", { parents: ["b1", "a1"], createdAt: 5 }],
        ["a3", { parents: ["a2"], createdAt: 6 }],
      ]);
      expect(mergeBase(dag, "a1", "b1")).toEqual({ base: "r", candidates: ["r"] });
      expect(mergeBase(dag, "a3", "a1").base).toBe("a1");
      const cc = mergeBase(dag, "a3", "b2");
      expect(cc.candidates.sort()).toEqual(["a1", "b1"]);
      expect(cc.base).toBe("b1"); // the more recent of the two best common ancestors
      expect(mergeBase(new Map([["x", { parents: [], createdAt: 1 }], ["y", { parents: [], createdAt: 2 }]]), "x", "y").base).toBeUndefined();
    });
  });

  describe("sync previews", () => {
    it("refuses an expired preview (30 minutes) and a stale one (the workspace moved)", async () => {
      env = await domainOn();
      const { d, clock } = env;
      const { p, main, feature } = await forked(d, "t", { "a.txt": "a\n" });
      const h2 = await storeTree(d, "t", { "a.txt": "a from main\n" });
      await createSnapshot(d, "t", { projectId: p.id, manifestHash: h2, snapshotId: "m2", parents: ["base"], workspaceId: main.id });
      const old = await prepareSync(d, "t", feature.id);
      clock.advance(30 * 60 * 1000 + 1);
      expect(await reason(executeSync(d, "t", feature.id, { previewId: old.id, decisions: {} }))).toBe("not_found:SYNC_PREVIEW_NOT_FOUND");
      const fresh = await prepareSync(d, "t", feature.id);
      const dirty = await storeTree(d, "t", { "a.txt": "a\n", "new.txt": "n\n" });
      await updateCurrentManifest(d, "t", feature.id, dirty, undefined);
      expect(await reason(executeSync(d, "t", feature.id, { previewId: fresh.id, decisions: {} }))).toBe("aborted:WORKSPACE_VERSION_CONFLICT");
      expect(await reason(executeSync(d, "t", feature.id, { previewId: "sync_nope", decisions: {} }))).toBe("not_found:SYNC_PREVIEW_NOT_FOUND");
      const beforeSnapshot = await prepareSync(d, "t", feature.id);
      await createSnapshot(d, "t", { projectId: p.id, manifestHash: dirty, parents: ["base"], workspaceId: feature.id });
      expect(await reason(executeSync(d, "t", feature.id, { previewId: beforeSnapshot.id, decisions: {} }))).toBe("aborted:WORKSPACE_VERSION_CONFLICT");
      const third = await prepareSync(d, "t", feature.id);
      const r = await executeSync(d, "t", feature.id, { previewId: third.id, decisions: {} });
      expect([r.filesUpdated, r.filesAdded]).toEqual([1, 0]);
      // The dirty state was snapshotted before the sync, and undo goes back to it exactly.
      expect((await getSnapshot(d, "t", r.preSyncSnapshotId)).manifestHash).toBe(dirty);
      expect(await undoSync(d, "t", feature.id)).toBe(r.preSyncSnapshotId);
      expect((await getWorkspace(d, "t", feature.id)).currentManifestHash).toBe(dirty);
      expect(await reason(undoSync(d, "t", feature.id))).toBe("failed_precondition:NO_SYNC_TO_UNDO");
    });

    it("asks for every decision, and only options the decision offers", async () => {
      env = await domainOn();
      const { d } = env;
      const { p, main, feature } = await forked(d, "t", { "a.txt": "one\ntwo\n" });
      await createSnapshot(d, "t", { projectId: p.id, manifestHash: await storeTree(d, "t", { "a.txt": "ONE\ntwo\n" }), parents: ["base"], workspaceId: main.id });
      await createSnapshot(d, "t", { projectId: p.id, manifestHash: await storeTree(d, "t", { "a.txt": "uno\ntwo\n" }), parents: ["base"], workspaceId: feature.id });
      const pv = await prepareSync(d, "t", feature.id);
      expect(pv.decisions.map((x) => [x.path, x.options.map((o) => o.id)])).toEqual([["a.txt", ["ours", "theirs", "merged"]]]);
      expect(await reason(executeSync(d, "t", feature.id, { previewId: pv.id, decisions: {} }))).toBe("invalid_argument:DECISION_MISSING");
      expect(await reason(executeSync(d, "t", feature.id, { previewId: pv.id, decisions: { "a.txt": "both" } }))).toBe("invalid_argument:UNKNOWN_SYNC_OPTION");
      expect(await reason(executeSync(d, "t", feature.id, { previewId: pv.id, decisions: { "a.txt": "ours", "b.txt": "ours" } }))).toBe("invalid_argument:UNKNOWN_SYNC_OPTION");
      const r = await executeSync(d, "t", feature.id, { previewId: pv.id, decisions: { "a.txt": "merged" } });
      // A retry of the same preview answers the first result; undo refuses once the workspace moved on.
      expect(await executeSync(d, "t", feature.id, { previewId: pv.id, decisions: { "a.txt": "ours" } })).toEqual(r);
      await updateCurrentManifest(d, "t", feature.id, await storeTree(d, "t", { "a.txt": "later\n" }), r.manifestHash);
      expect(await reason(undoSync(d, "t", feature.id))).toBe("aborted:WORKSPACE_VERSION_CONFLICT");
      const merged = (await loadManifest(d, "t", r.manifestHash)).files[0]!;
      const text = new TextDecoder().decode(await readObject(d, "t", "blob", merged.hash));
      expect(text).toContain("<<<<<<< workspace\nuno\n");
      expect(text).toContain(">>>>>>> source\ntwo\n");
    });
  });

  describe("blob GC", () => {
    it("spares blobs younger than the grace period, pinned by an upload in flight, or named by a manifest written during the scan", async () => {
      env = await domainOn({ gcGraceMs: 60_000 });
      const { d, clock } = env;
      const bytes = (s: string) => new TextEncoder().encode(s);
      await putObject(d, "t", "blob", sha256Hex("old orphan"), once(bytes("old orphan")));
      await putObject(d, "t", "blob", sha256Hex("late ref"), once(bytes("late ref")));
      clock.advance(120_000);
      await putObject(d, "t", "blob", sha256Hex("young"), once(bytes("young")));
      // An upload in flight: its source has not finished yet.
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const inflight = putObject(d, "t", "blob", sha256Hex("old orphan"), (async function* () {
        await gate;
        yield bytes("old orphan");
      })());
      const pinned = await collectGarbage(d, "t", { dryRun: false });
      expect(pinned.orphanedBlobs).toBe(1); // "late ref" only; the pinned one and the young one are spared
      release();
      await inflight;
      expect((await checkBlobs(d, "t", [sha256Hex("old orphan"), sha256Hex("young")])).existing.length).toBe(2);
      // A manifest written after the scan started (here: while GC reads its roots) protects what
      // it names, although that blob was not uploaded again.
      await putObject(d, "t", "blob", sha256Hex("late ref"), once(bytes("late ref")));
      await forked(d, "t", { "root.txt": "root" });
      clock.advance(120_000);
      const manifestBytes = new TextEncoder().encode(JSON.stringify({ version: "1", files: [{ path: "x.txt", hash: sha256Hex("late ref"), size: 8, mode: 420 }] }));
      const realReadAll = d.blobs.readAll.bind(d.blobs);
      let injected = false;
      d.blobs = {
        ...d.blobs,
        async readAll(ns, h) {
          if (!injected) {
            injected = true;
            await putObject(d, "t", "manifest", sha256Hex(manifestBytes), once(manifestBytes));
          }
          return realReadAll(ns, h);
        },
      };
      d.manifestCache.clear();
      const r = await collectGarbage(d, "t", { dryRun: false });
      expect(injected).toBe(true);
      expect((await checkBlobs(d, "t", [sha256Hex("late ref")])).existing).toEqual([sha256Hex("late ref")]);
      expect(r.scannedBlobs).toBeGreaterThanOrEqual(3);
    });
  });
});
