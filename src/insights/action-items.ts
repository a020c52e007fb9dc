import { AppError } from "../core/errors.ts";
import { newId } from "../core/ids.ts";
import type { Json } from "../tasks/types.ts";
import { loadManifest, storeBytes } from "../workspaces/blobs.ts";
import { compareDrift } from "../workspaces/drift.ts";
import { canonicalManifest, sha256Hex, type FileEntry } from "../workspaces/manifests.ts";
import { listProjects } from "../workspaces/projects.ts";
import { createSnapshot, getSnapshot } from "../workspaces/snapshots.ts";
import type { Tx } from "../db/dialect.ts";
import type { Op } from "../db/op.ts";
import { getWorkspace, listWorkspaces, manifestOf, updateCurrentManifest } from "../workspaces/workspaces.ts";
import { checkShape, maybe, notFound, page } from "./checks.ts";
import type { InsightsDomain, TaskKind } from "./context.ts";
import { startCall } from "./task-call.ts";
import type { ActionItem, Run } from "./types.ts";

export const RUN_TYPE = "action_item.run";
export const SEVERITIES = ["critical", "high", "medium", "low", "info"] as const;
export const ANALYSIS_TYPES = ["security", "test_coverage", "refactoring"] as const;
const RUN_ATTEMPTS = 3;
const MAX_PATCH_FILES = 1000;
const MAX_FILE = 1024 * 1024;

/** An item plus what makes its dismissal stick: drift items come back once main moves again. */
interface Found {
  item: ActionItem;
  fingerprint: string;
}

const rank = (s: string) => SEVERITIES.indexOf(s as (typeof SEVERITIES)[number]);

/** Every open item of the tenant: drift (derived), failed deployments (derived), analysis findings (stored). */
async function findItems(d: InsightsDomain, tenant: string): Promise<Found[]> {
  const found: Found[] = [];
  const store = d.store;
  const mine = await d.database.read(function* (tx) {
    return { latest: yield* store.latestRuns(tx, tenant), failed: yield* store.failedDeployments(tx, tenant), analysis: yield* store.actionItems(tx, tenant), dismissed: yield* store.dismissed(tx, tenant) };
  });
  const latest = mine.latest;
  const ws = d.workspaces;
  for (const p of (await listProjects(ws, tenant, 1000, "")).items.slice(0, 100)) {
    if (!p.mainWorkspaceId) continue;
    for (const w of (await listWorkspaces(ws, tenant, p.id, 1000, "")).items) {
      if (w.id === p.mainWorkspaceId) continue;
      const r = await compareDrift(ws, tenant, w.id, undefined, false).catch(() => undefined);
      const diff = r?.diff;
      if (!diff || diff.added.length + diff.modified.length + diff.deleted.length === 0) continue;
      const severity = diff.modified.length >= 5 ? "high" : diff.modified.length > 0 ? "medium" : "low";
      const main = await maybe(() => getWorkspace(ws, tenant, p.mainWorkspaceId!));
      const since = main?.lastSnapshotId ? (await maybe(() => getSnapshot(ws, tenant, main.lastSnapshotId!)))?.createdAt : undefined;
      const id = `drift-${w.id}`;
      found.push({
        fingerprint: diff.sourceManifestHash,
        item: {
          id, type: "drift", severity, workspaceId: w.id, projectId: p.id,
          title: `${w.name} is behind ${main?.name ?? "main"}`,
          description: `${diff.added.length} added, ${diff.modified.length} modified, ${diff.deleted.length} deleted in ${main?.name ?? "main"} since ${w.name} last synced.`,
          files: [...diff.modified, ...diff.added, ...diff.deleted].slice(0, 100), createdAt: since ?? w.updatedAt,
          actionLabel: "Sync from main", actionType: "sync", actionData: { workspace_id: w.id, source_workspace_id: p.mainWorkspaceId }, latestRunId: latest.get(id) ?? "",
        },
      });
    }
  }
  for (const x of mine.failed) {
    const id = `deploy-${x.id}`;
    found.push({
      fingerprint: "",
      item: {
        id, type: "deploy_failed", severity: "high", workspaceId: x.workspaceId, projectId: x.projectId, title: "Deployment failed", description: x.error || "The deployment failed.",
        files: [], createdAt: x.completedAt ?? x.startedAt, actionLabel: "Redeploy", actionType: "deploy", actionData: { deployment_id: x.id, workspace_id: x.workspaceId }, latestRunId: latest.get(id) ?? "",
      },
    });
  }
  for (const a of mine.analysis) {
    found.push({ fingerprint: "", item: { ...a, actionLabel: "Fix with agent", actionType: "run", actionData: { item_id: a.id, files: a.files }, latestRunId: latest.get(a.id) ?? "" } });
  }
  const dismissed = mine.dismissed;
  return found.filter((f) => !dismissed.has(`${f.item.id}@${f.fingerprint}`));
}

export async function listActionItems(d: InsightsDomain, tenant: string, filter: { workspaceId: string; pageSize: number; pageToken: string }): Promise<{ items: ActionItem[]; next: string }> {
  const { limit, offset } = page(filter.pageSize, filter.pageToken, 50, 1000);
  if (filter.workspaceId) await getWorkspace(d.workspaces, tenant, filter.workspaceId);
  const all = (await findItems(d, tenant))
    .map((f) => f.item)
    .filter((i) => !filter.workspaceId || i.workspaceId === filter.workspaceId)
    .sort((a, b) => rank(a.severity) - rank(b.severity) || b.createdAt - a.createdAt || (a.id < b.id ? -1 : 1));
  return { items: all.slice(offset, offset + limit), next: offset + limit < all.length ? String(offset + limit) : "" };
}

async function findItem(d: InsightsDomain, tenant: string, itemId: string): Promise<Found> {
  const f = (await findItems(d, tenant)).find((x) => x.item.id === itemId);
  if (!f) throw notFound("ACTION_ITEM_NOT_FOUND", "action item", itemId);
  return f;
}

/** Dismisses any item, persisted; a drift item comes back when main moves again. Idempotent. */
export async function dismissActionItem(d: InsightsDomain, tenant: string, itemId: string): Promise<void> {
  const dismissed = [...(await d.database.read((tx) => d.store.dismissed(tx, tenant)))].some((k) => k.startsWith(`${itemId}@`));
  if (dismissed && !itemId.startsWith("drift-")) return;
  let f: Found;
  try {
    f = await findItem(d, tenant, itemId);
  } catch (e) {
    if (dismissed) return;
    throw e;
  }
  const now = d.clock.now();
  await d.database.write((tx) => d.store.dismiss(tx, tenant, `${itemId}@${f.fingerprint}`, now));
}

/**
 * `action_item.run`: payload `{ run_id, item: { id, type, severity, title, description, files },
 * workspace_id, base_manifest_hash, files: [{ path, hash }] }`; result `{ summary, report, patch,
 * checks: [{ name, status, output }], files: [{ path, content | null }] }` (`files` is what
 * `ApplyActionItemRun` writes; `patch` the unified diff shown to the user). Up to 3 attempts.
 */
export function runKind(d: InsightsDomain): TaskKind {
  return {
    type: RUN_TYPE,
    maxAttempts: RUN_ATTEMPTS,
    check(r) {
      const p = checkShape(r, {
        summary: "string", report: "text", patch: "text",
        checks: { list: { name: "string", status: { enum: ["passed", "failed", "skipped"] }, output: { optional: "text" } }, max: 50 },
        files: { list: { path: "string", content: { optional: "text" } }, max: MAX_PATCH_FILES },
      });
      if (p) return p;
      const files = (r as { files: { path: string; content?: string | null }[] }).files;
      const bad = files.find((f) => f.path.startsWith("/") || f.path.split("/").includes("..") || (f.content?.length ?? 0) > MAX_FILE);
      return bad ? `files: ${bad.path} is not a relative path in the workspace or is over 1 MiB` : undefined;
    },
    *apply(tx, tenant, call, result, now, _after, task) {
      const run = yield* d.store.runOfTask(tx, tenant, call.taskId);
      if (!run) return {};
      const r = result as Run["result"] & { checks: { output?: string }[] };
      const checks = r!.checks.map((c) => ({ name: c.name, status: c.status, output: (c.output ?? "").slice(-10_000) }));
      yield* d.store.updateRun(tx, tenant, run.id, { status: "ready", result: { ...r!, checks }, attemptCount: task?.attempt, completedAt: now }, now);
      return { run_id: run.id };
    },
    *failed(tx, tenant, call, error, now, _after, task) {
      const run = yield* d.store.runOfTask(tx, tenant, call.taskId);
      if (run) yield* d.store.updateRun(tx, tenant, run.id, { status: error.reason === "CANCELLED" ? "cancelled" : "failed", error: `${error.reason}: ${error.message}`, attemptCount: task?.attempt, completedAt: now }, now);
    },
    *progress(tx, tenant, call, task, now) {
      const run = yield* d.store.runOfTask(tx, tenant, call.taskId);
      if (run && (run.status === "queued" || run.status === "running")) yield* d.store.updateRun(tx, tenant, run.id, { status: "running", attemptCount: task.attempt }, now);
    },
  };
}

/** Starts a run for an analysis item (answers at once with the queued run). */
export async function createRun(d: InsightsDomain, tenant: string, itemId: string, requestId: string): Promise<Run> {
  const { item } = await findItem(d, tenant, itemId);
  if (item.actionType !== "run") throw new AppError("failed_precondition", "ACTION_ITEM_NOT_RUNNABLE", `items of type ${item.type} are acted on with ${item.actionType}, not runs`, { item_id: itemId });
  const active = (await d.database.read((tx) => d.store.runsOfItem(tx, tenant, itemId, 10, 0))).find((r) => r.status === "queued" || r.status === "running");
  if (active && !requestId) throw new AppError("failed_precondition", "RUN_IN_PROGRESS", `run ${active.id} of this item is ${active.status}`, { run_id: active.id });
  const w = await getWorkspace(d.workspaces, tenant, item.workspaceId);
  const base = (await manifestOf(d.workspaces, w, true)) ?? "";
  const entries = base ? (await loadManifest(d.workspaces, tenant, base)).files : [];
  const wanted = new Set(item.files);
  const runId = newId("run");
  const store = d.store;
  const payload = {
    run_id: runId, workspace_id: w.id, base_manifest_hash: base,
    item: { id: item.id, type: item.type, severity: item.severity, title: item.title, description: item.description, files: item.files },
    files: entries.filter((f) => wanted.has(f.path)).map((f) => ({ path: f.path, hash: f.hash })),
  } as unknown as Json;
  const { taskId, created } = await startCall(d, tenant, { type: RUN_TYPE, subject: itemId, payload, title: `Fix: ${item.title}`, requestId: requestId || undefined }, function* (tx, taskId, now) {
    // Checked again in the write, the item locked: two requests (here or on another instance) start one run.
    yield* store.lockActionItem(tx, tenant, itemId);
    const busy = (yield* store.runsOfItem(tx, tenant, itemId, 10, 0)).find((r) => r.status === "queued" || r.status === "running");
    if (busy && !requestId) throw new AppError("failed_precondition", "RUN_IN_PROGRESS", `run ${busy.id} of this item is ${busy.status}`, { run_id: busy.id });
    yield* store.insertRun(tx, tenant, { id: runId, itemId, workspaceId: w.id, status: "queued", attemptCount: 0, maxAttempts: RUN_ATTEMPTS, result: undefined, error: "", baseManifestHash: base, resultManifestHash: "", taskId, createdAt: now, updatedAt: now, completedAt: undefined });
  });
  const run = (await d.database.read((tx) => d.store.runOfTask(tx, tenant, taskId)))!;
  if (!created && active && run?.id !== active.id) throw new AppError("failed_precondition", "RUN_IN_PROGRESS", `run ${active.id} of this item is ${active.status}`, { run_id: active.id });
  return run;
}

export async function listRuns(d: InsightsDomain, tenant: string, itemId: string, pageSize: number, pageToken: string): Promise<{ items: Run[]; next: string }> {
  const { limit, offset } = page(pageSize, pageToken, 50, 1000);
  const runs = await d.database.read((tx) => d.store.runsOfItem(tx, tenant, itemId, limit + 1, offset));
  if (runs.length === 0 && offset === 0) await findItem(d, tenant, itemId);
  return { items: runs.slice(0, limit), next: runs.length > limit ? String(offset + limit) : "" };
}

export async function getRun(d: InsightsDomain, tenant: string, runId: string): Promise<Run> {
  const r = await d.database.read((tx) => d.store.getRun(tx, tenant, runId));
  if (!r) throw notFound("RUN_NOT_FOUND", "run", runId);
  return r;
}

/**
 * Applies a ready run's files to its workspace: refused (`PATCH_CONFLICT`) when a file it
 * changes differs from the run's base; else a canonical manifest from the current one with the
 * changes becomes the current manifest (compare-and-set) and a snapshot of it is taken.
 */
export async function applyRun(d: InsightsDomain, tenant: string, runId: string): Promise<void> {
  const run = await getRun(d, tenant, runId);
  if (run.status === "applied") return;
  if (run.status !== "ready" || !run.result) throw new AppError("failed_precondition", "RUN_NOT_READY", `run ${runId} is ${run.status}`, { run_id: runId, status: run.status });
  const ws = d.workspaces;
  const w = await getWorkspace(ws, tenant, run.workspaceId);
  const current = (await manifestOf(ws, w, true)) ?? "";
  const load = async (h: string) => new Map<string, FileEntry>((h ? (await loadManifest(ws, tenant, h)).files : []).map((f) => [f.path, f]));
  const [baseFiles, files] = await Promise.all([load(run.baseManifestHash), load(current)]);
  const conflict = run.result.files.find((f) => baseFiles.get(f.path)?.hash !== files.get(f.path)?.hash);
  if (conflict) throw new AppError("aborted", "PATCH_CONFLICT", `${conflict.path} changed in the workspace since the run started; start a new run`, { path: conflict.path });
  for (const f of run.result.files) {
    if (f.content === null || f.content === undefined) {
      files.delete(f.path);
      continue;
    }
    const bytes = new TextEncoder().encode(f.content);
    const hash = sha256Hex(bytes);
    await storeBytes(ws, tenant, "blob", hash, bytes);
    files.set(f.path, { path: f.path, hash, size: bytes.byteLength, mode: files.get(f.path)?.mode ?? 0o644 });
  }
  const manifest = canonicalManifest(files.values());
  await storeBytes(ws, tenant, "manifest", manifest.hash, manifest.bytes);
  const moved = await updateCurrentManifest(ws, tenant, w.id, manifest.hash, current || undefined);
  if (!moved.updated) throw new AppError("aborted", "PATCH_CONFLICT", "the workspace's manifest changed while the patch was applied; retry", { workspace_id: w.id });
  await createSnapshot(ws, tenant, { projectId: w.projectId, manifestHash: manifest.hash, parents: w.lastSnapshotId ? [w.lastSnapshotId] : [], workspaceId: w.id, source: "action_item", summary: run.result.summary.slice(0, 500) });
  const now = d.clock.now();
  await d.database.write((tx) => d.store.updateRun(tx, tenant, runId, { status: "applied", resultManifestHash: manifest.hash }, now));
}

/** The workspace findings are about (read before the write that stores them), or undefined when it is gone. */
export type FindingsWorkspace = { id: string; projectId: string } | undefined;
export async function findingsWorkspace(d: InsightsDomain, tenant: string, workspaceId: string): Promise<FindingsWorkspace> {
  const w = await maybe(() => getWorkspace(d.workspaces, tenant, workspaceId));
  return w ? { id: w.id, projectId: w.projectId } : undefined;
}

/** Findings of an analysis (the drift analysis may return them) stored as `ai_` items (inside the write applying the result). */
export function* storeFindings(d: InsightsDomain, tx: Tx, tenant: string, w: FindingsWorkspace, findings: { type: string; severity: string; title: string; description?: string; files?: string[] }[], now: number): Op<void> {
  if (!w) return;
  for (const f of findings) {
    // One item per finding title and workspace: a repeated analysis does not duplicate it.
    const id = "ai_" + sha256Hex(`${w.id}\u0000${f.type}\u0000${f.title}`).slice(0, 24);
    yield* d.store.insertActionItem(tx, tenant, { id, type: f.type, severity: f.severity, workspaceId: w.id, projectId: w.projectId, title: f.title, description: f.description ?? "", files: (f.files ?? []).slice(0, 100), createdAt: now });
  }
}
