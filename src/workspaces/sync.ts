import { AppError, notFound } from "../core/errors.ts";
import { newId } from "../core/ids.ts";
import { loadManifest, readObject, storeBytes } from "./blobs.ts";
import type { WorkspaceDomain } from "./context.ts";
import { read, write } from "./events.ts";
import { canonicalManifest, fileMap, sha256Hex, type FileEntry, type FileMap } from "./manifests.ts";
import { applyPlan, asText, planMerge, type AutoAction, type Decision, type MergePlan } from "./merge.ts";
import { getProject } from "./projects.ts";
import { mergeBase } from "./snapshots.ts";
import type { Snapshot } from "./types.ts";
import { getWorkspace, manifestOf } from "./workspaces.ts";

/** How long a prepared preview can be executed (seed 002: 30 minutes). */
export const PREVIEW_TTL_MS = 30 * 60 * 1000;

/** What a preview stores and shows. */
export interface SyncPreview {
  id: string;
  workspaceId: string;
  sourceWorkspaceId: string;
  mergeBaseSnapshotId: string;
  targetSnapshotId: string;
  sourceSnapshotId: string;
  /** The workspace manifest the merge started from (its current one, dirty included). */
  oursManifestHash: string;
  autoActions: AutoAction[];
  decisions: Decision[];
  unchanged: string[];
  filesToUpdate: string[];
  filesToAdd: string[];
  filesToDelete: string[];
  summary: string;
  workspaceVersion: number;
  expiresAt: number;
}

const emptyMap: FileMap = new Map();

/**
 * Prepares a sync of `workspaceId` from the project's main workspace: a three-way merge of the
 * workspace's current manifest (ours) and the main's last snapshot (theirs) over their merge base
 * in the snapshot DAG. Merged texts are stored as blobs now, so every option can be executed.
 */
export async function prepareSync(d: WorkspaceDomain, tenant: string, workspaceId: string, includeDirty = true): Promise<SyncPreview> {
  const w = await getWorkspace(d, tenant, workspaceId);
  const project = await getProject(d, tenant, w.projectId);
  if (!project.mainWorkspaceId) throw new AppError("failed_precondition", "NO_MAIN_WORKSPACE", "No main workspace configured for this project");
  if (project.mainWorkspaceId === w.id) throw new AppError("failed_precondition", "WORKSPACE_IS_MAIN", "This is the main workspace; sync another workspace from it");
  const source = await getWorkspace(d, tenant, project.mainWorkspaceId);
  const sourceSnapshotId = source.lastSnapshotId;
  if (!sourceSnapshotId) throw new AppError("failed_precondition", "NO_MANIFEST", `the main workspace ${source.name} has no snapshot yet`);
  const theirsSnap = (await read(d, (tx) => d.store.getSnapshot(tx, tenant, sourceSnapshotId)))!;
  const oursHash = await manifestOf(d, w, includeDirty);
  const dag = await read(d, (tx) => d.store.projectDag(tx, tenant, project.id));
  const base = w.lastSnapshotId ? mergeBase(dag, w.lastSnapshotId, theirsSnap.id).base : undefined;
  const baseSnap = base ? await read(d, (tx) => d.store.getSnapshot(tx, tenant, base)) : undefined;
  const load = async (h: string | undefined) => (h ? fileMap(await loadManifest(d, tenant, h)) : emptyMap);
  const [ours, theirs, baseFiles] = await Promise.all([load(oursHash), load(theirsSnap.manifestHash), load(baseSnap?.manifestHash)]);
  const plan = await planMerge(baseFiles, ours, theirs, async (f: FileEntry) => {
    try {
      return asText(await readObject(d, tenant, "blob", f.hash));
    } catch {
      return undefined;
    }
  });
  await adviseConflicts(d, tenant, w.id, plan, baseFiles);
  for (const [hash, bytes] of plan.newBlobs) await storeBytes(d, tenant, "blob", hash, bytes);
  const now = d.clock.now();
  const preview: SyncPreview = {
    id: newId("sync", now),
    workspaceId: w.id,
    sourceWorkspaceId: source.id,
    mergeBaseSnapshotId: base ?? "",
    targetSnapshotId: w.lastSnapshotId ?? "",
    sourceSnapshotId: theirsSnap.id,
    oursManifestHash: oursHash ?? "",
    autoActions: plan.autoActions,
    decisions: plan.decisions,
    unchanged: plan.unchanged,
    filesToUpdate: plan.autoActions.filter((a) => a.action === "update" || a.action === "merge").map((a) => a.path),
    filesToAdd: plan.autoActions.filter((a) => a.action === "add").map((a) => a.path),
    filesToDelete: plan.autoActions.filter((a) => a.action === "delete").map((a) => a.path),
    summary: `${plan.autoActions.length} automatic change(s), ${plan.decisions.length} decision(s) needed, from ${source.name}`,
    workspaceVersion: w.version,
    expiresAt: now + d.limits.previewTtlMs,
  };
  await d.database.write((tx) =>
    d.store.insertPreview(tx, tenant, { id: preview.id, workspaceId: w.id, workspaceVersion: w.version, plan: JSON.stringify(preview), expiresAt: preview.expiresAt }),
  );
  return preview;
}

/**
 * Offers the text conflicts to the advisor (an agent worker), if any; a version it writes becomes
 * the recommended option `combined` of its decision. Without an answer within the advisor's
 * deadline the decisions stay as they are.
 */
async function adviseConflicts(d: WorkspaceDomain, tenant: string, workspaceId: string, plan: MergePlan, base: FileMap): Promise<void> {
  const text = (d.advisor && plan.decisions.filter((x) => x.options.some((o) => o.id === "merged"))) || [];
  if (text.length === 0) return;
  const read = async (f: FileEntry | undefined) => (f ? new TextDecoder().decode(await readObject(d, tenant, "blob", f.hash)) : "");
  const conflicts = await Promise.all(
    text.map(async (x) => ({
      path: x.path,
      base: await read(base.get(x.path)),
      ours: await read(x.options.find((o) => o.id === "ours")!.result),
      theirs: await read(x.options.find((o) => o.id === "theirs")!.result),
    })),
  );
  const combined = await d.advisor!.advise({ tenant, workspaceId, conflicts });
  for (const x of text) {
    const content = combined.get(x.path);
    if (content === undefined) continue;
    const bytes = new TextEncoder().encode(content);
    const file: FileEntry = { path: x.path, hash: sha256Hex(bytes), size: bytes.byteLength, mode: x.options[0]!.result?.mode ?? 0o644 };
    plan.newBlobs.set(file.hash, bytes);
    x.options.push({ id: "combined", label: "Combined by an agent", description: "both changes combined by an agent worker; review before executing", result: file });
    x.recommended = "combined";
  }
}

export interface ExecuteResult {
  snapshotId: string;
  manifestHash: string;
  filesUpdated: number;
  filesAdded: number;
  filesDeleted: number;
  preSyncSnapshotId: string;
  workspaceVersion: number;
}

/**
 * Executes a preview: auto actions plus one chosen option per decision, written as a new
 * manifest and a merge snapshot (parents: the workspace's and the source's snapshots), in one
 * transaction guarded by the workspace version the preview was made at. A failure anywhere
 * rolls the whole change back (the transaction's savepoint); blobs and manifests written before
 * are content-addressed and harmless.
 */
export async function executeSync(
  d: WorkspaceDomain,
  tenant: string,
  workspaceId: string,
  input: { previewId: string; decisions: Record<string, string>; createSnapshotBefore?: boolean; createSnapshotAfter?: boolean },
): Promise<ExecuteResult> {
  const w = await getWorkspace(d, tenant, workspaceId);
  const previewId = input.previewId;
  const stored = previewId ? await read(d, (tx) => d.store.getPreview(tx, tenant, previewId)) : undefined;
  if (!stored || stored.workspaceId !== w.id) throw notFound("SYNC_PREVIEW_NOT_FOUND", "Sync preview not found", { preview_id: input.previewId });
  // Idempotent by preview: executing it again answers the first result.
  if (stored.result !== null) return JSON.parse(stored.result) as ExecuteResult;
  if (stored.expiresAt <= d.clock.now()) throw notFound("SYNC_PREVIEW_NOT_FOUND", "Sync preview expired (30 minutes); prepare a new one", { preview_id: stored.id, expired: "true" });
  if (stored.workspaceVersion !== w.version) throw stale();
  const preview = JSON.parse(stored.plan) as SyncPreview;
  const decisionPaths = new Set(preview.decisions.map((x) => x.path));
  for (const [path, option] of Object.entries(input.decisions)) {
    const decision = preview.decisions.find((x) => x.path === path);
    if (!decision) throw new AppError("invalid_argument", "UNKNOWN_SYNC_OPTION", `decisions: ${path} is not a decision of this preview`, { field: "decisions", path });
    if (!decision.options.some((o) => o.id === option)) {
      throw new AppError("invalid_argument", "UNKNOWN_SYNC_OPTION", `decisions: ${path} must be one of ${decision.options.map((o) => o.id).join(", ")}`, { field: "decisions", path });
    }
  }
  const missing = [...decisionPaths].filter((p) => !(p in input.decisions));
  if (missing.length > 0) {
    throw new AppError("invalid_argument", "DECISION_MISSING", `decisions: choose an option for ${missing.slice(0, 5).join(", ")}${missing.length > 5 ? ` and ${missing.length - 5} more` : ""}`, { field: "decisions" });
  }

  const ours = preview.oursManifestHash ? fileMap(await loadManifest(d, tenant, preview.oursManifestHash)) : emptyMap;
  const result = applyPlan(ours, preview, input.decisions);
  const { bytes, hash } = canonicalManifest(result.values());
  await storeBytes(d, tenant, "manifest", hash, bytes);
  let updated = 0, added = 0, deleted = 0;
  for (const [path, f] of result) {
    const before = ours.get(path);
    if (!before) added++;
    else if (before.hash !== f.hash) updated++;
  }
  for (const path of ours.keys()) if (!result.has(path)) deleted++;

  return write(d, tenant, function* (tx, emit) {
    const now = d.clock.now();
    // The workspace row is locked first (PostgreSQL: until the commit), so executes and undos of
    // one workspace on any instances run one after another, each seeing the other's result.
    const current = (yield* d.store.lockWorkspace(tx, tenant, w.id))!;
    // The same preview executed meanwhile (by a retry on another instance): its result.
    const again = yield* d.store.getPreview(tx, tenant, stored.id);
    if (again?.result) return JSON.parse(again.result) as ExecuteResult;
    if (current.version !== stored.workspaceVersion) throw stale();
    const lastManifest = current.lastSnapshotId ? (yield* d.store.getSnapshot(tx, tenant, current.lastSnapshotId))?.manifestHash : undefined;
    let pre = current.lastSnapshotId;
    const snap = function* (parents: string[], manifestHash: string, source: string, summary: string) {
      const s: Snapshot = { tenant, id: newId("snap", now), projectId: w.projectId, workspaceId: w.id, createdBy: "", manifestHash, parents, source, summary, createdAt: now };
      yield* d.store.insertSnapshot(tx, s);
      return s;
    };
    if (input.createSnapshotBefore !== false && preview.oursManifestHash && preview.oursManifestHash !== lastManifest) {
      pre = (yield* snap(pre ? [pre] : [], preview.oursManifestHash, "sync-before", "state before sync")).id;
    }
    const post = input.createSnapshotAfter !== false ? yield* snap([...(pre ? [pre] : []), preview.sourceSnapshotId], hash, "sync", preview.summary) : undefined;
    const history = { ...current.mergeHistory, [preview.sourceWorkspaceId]: { last_merged_snapshot: preview.sourceSnapshotId, merged_at: now } };
    if (!(yield* d.store.setWorkspaceState(tx, tenant, w.id, current.version, { lastSnapshotId: post?.id ?? pre ?? null, currentManifestHash: hash, mergeHistory: history }, now))) throw stale();
    if (post) yield* d.store.updateProject(tx, tenant, w.projectId, { lastSnapshotId: post.id }, now);
    yield* d.store.insertSync(tx, tenant, {
      id: newId("syncx", now), workspaceId: w.id, previewId: stored.id, preSnapshotId: pre ?? null, preManifestHash: current.currentManifestHash,
      postSnapshotId: post?.id ?? "", postVersion: current.version + 1, createdAt: now,
    });
    yield* emit(w.projectId, w.id, "sync.executed", `Synced ${w.name} from main: ${updated} updated, ${added} added, ${deleted} deleted`, {
      preview_id: stored.id, snapshot_id: post?.id ?? "", manifest_hash: hash,
    });
    const result: ExecuteResult = { snapshotId: post?.id ?? "", manifestHash: hash, filesUpdated: updated, filesAdded: added, filesDeleted: deleted, preSyncSnapshotId: pre ?? "", workspaceVersion: current.version + 1 };
    if (!(yield* d.store.markPreviewExecuted(tx, tenant, stored.id, now, JSON.stringify(result)))) throw stale();
    return result;
  });
}

function stale(): AppError {
  return new AppError("aborted", "WORKSPACE_VERSION_CONFLICT", "the workspace changed since this preview was prepared; prepare a new one");
}

/** Reverts the last sync not yet undone: the workspace returns to its pre-sync snapshot and manifest. */
export async function undoSync(d: WorkspaceDomain, tenant: string, workspaceId: string): Promise<string> {
  const w = await getWorkspace(d, tenant, workspaceId);
  return write(d, tenant, function* (tx, emit) {
    const current = (yield* d.store.lockWorkspace(tx, tenant, w.id))!;
    const last = yield* d.store.lastSync(tx, tenant, w.id);
    if (!last) throw new AppError("failed_precondition", "NO_SYNC_TO_UNDO", "this workspace has no sync to undo");
    if (current.version !== last.postVersion) {
      throw new AppError("aborted", "WORKSPACE_VERSION_CONFLICT", "the workspace changed after its last sync; undo would lose that change");
    }
    const now = d.clock.now();
    yield* d.store.setWorkspaceState(tx, tenant, w.id, current.version, { lastSnapshotId: last.preSnapshotId, currentManifestHash: last.preManifestHash }, now);
    yield* d.store.markSyncUndone(tx, tenant, last.id, now);
    yield* emit(w.projectId, w.id, "sync.undone", `Sync of ${w.name} undone`, { reverted_to_snapshot_id: last.preSnapshotId ?? "" });
    return last.preSnapshotId ?? "";
  });
}
