import type { Json } from "../tasks/types.ts";
import { loadManifest } from "../workspaces/blobs.ts";
import { compareDrift, reportDrift } from "../workspaces/drift.ts";
import { getProject } from "../workspaces/projects.ts";
import { createSnapshot, getSnapshot } from "../workspaces/snapshots.ts";
import { getWorkspace } from "../workspaces/workspaces.ts";
import { ANALYSIS_TYPES, findingsWorkspace, SEVERITIES, storeFindings, type FindingsWorkspace } from "./action-items.ts";
import { checkShape } from "./checks.ts";
import type { InsightsDomain, TaskKind } from "./context.ts";
import { createSchedule } from "./schedules.ts";
import { startCall } from "./task-call.ts";

/** The built-in schedule's name and type (seed 002's `scheduled` handler: `runBackgroundJobs`). */
export const BACKGROUND_JOBS = "fastest.background_jobs";
export const BACKGROUND_JOBS_CRON = "*/15 * * * *";
export const ANALYZE_TYPE = "code.analyze";
/** Workspaces handled per pass, among those of the 20 most recently updated conversations (as the seed). */
const MAX_WORKSPACES = 10;
const RECENT_CONVERSATIONS = MAX_WORKSPACES * 2;
/** The code files given to the analysis (the seed's limits: 5 files of at most 10 000 bytes). */
const CODE = /\.(ts|tsx|js|jsx|py|go|rs|java|rb|php)$/;
const MAX_FILES = 5;
const MAX_FILE_BYTES = 10_000;

/** Creates the tenant's built-in `fastest.background_jobs` schedule once (idempotent). */
export async function ensureBackgroundJobs(d: InsightsDomain, tenant: string): Promise<void> {
  if (await d.database.read((tx) => d.store.scheduleByName(tx, tenant, BACKGROUND_JOBS))) return;
  try {
    await createSchedule(d, tenant, { name: BACKGROUND_JOBS, cron: BACKGROUND_JOBS_CRON, queue: "switchyard", type: BACKGROUND_JOBS, payload: undefined, requestId: `builtin:${BACKGROUND_JOBS}` });
  } catch {
    // Created concurrently: the name is taken, which is what we wanted.
  }
}

/** `code.analyze`: result `{ findings: [{ type, severity, title, description?, files? }] }`, stored as analysis action items. */
export function analyzeKind(d: InsightsDomain): TaskKind {
  return {
    type: ANALYZE_TYPE,
    check: (r) => checkShape(r, { findings: { list: { type: { enum: ANALYSIS_TYPES }, severity: { enum: SEVERITIES }, title: "string", description: { optional: "text" }, files: { optional: "strings" } }, max: 50 } }),
    prepare: (tenant, call) => findingsWorkspace(d, tenant, call.subject),
    *apply(tx, tenant, call, result, now, _after, _task, prepared) {
      const findings = (result as { findings: { type: string; severity: string; title: string }[] }).findings;
      if (findings.length) yield* storeFindings(d, tx, tenant, prepared as FindingsWorkspace, findings, now);
      return result;
    },
  };
}

export interface BackgroundJobsOutcome {
  workspaces: { workspaceId: string; snapshotId: string; driftReportId?: string; analysisTaskId?: string; error?: string }[];
}

/**
 * One pass of seed 002's background jobs for one tenant: for up to 10 workspaces of the 20
 * most recently updated conversations, having a snapshot and whose current manifest differs
 * from their latest snapshot's, a snapshot (source `system`), a drift report against the project's main
 * workspace, and a `code.analyze` task for a worker (its findings become action items).
 * Everything through the workspace domain's functions.
 */
export async function runBackgroundJobs(d: InsightsDomain, tenant: string, tick: number): Promise<BackgroundJobsOutcome> {
  const seen = new Set<string>();
  const out: BackgroundJobsOutcome = { workspaces: [] };
  for (const c of await d.database.read((tx) => d.store.listConversations(tx, tenant, RECENT_CONVERSATIONS, 0))) {
    if (seen.size >= MAX_WORKSPACES) break;
    if (!c.workspaceId || seen.has(c.workspaceId)) continue;
    seen.add(c.workspaceId);
    let w;
    try {
      w = await getWorkspace(d.workspaces, tenant, c.workspaceId);
    } catch {
      continue;
    }
    const current = w.currentManifestHash;
    // As the seed: only workspaces that have a snapshot, and whose manifest moved since.
    if (!current || !w.lastSnapshotId) continue;
    const last = await getSnapshot(d.workspaces, tenant, w.lastSnapshotId);
    if (last.manifestHash === current) continue;
    const entry: BackgroundJobsOutcome["workspaces"][number] = { workspaceId: w.id, snapshotId: "" };
    out.workspaces.push(entry);
    try {
      const { snapshot } = await createSnapshot(d.workspaces, tenant, {
        projectId: w.projectId, manifestHash: current, parents: [last.id], workspaceId: w.id, source: "system", summary: "Automatic snapshot", snapshotId: `auto_${w.id}_${tick}`,
      });
      entry.snapshotId = snapshot.id;
      const project = await getProject(d.workspaces, tenant, w.projectId);
      if (project.mainWorkspaceId && project.mainWorkspaceId !== w.id) {
        const r = await compareDrift(d.workspaces, tenant, w.id, undefined, false);
        if (r.diff) {
          const report = await reportDrift(d.workspaces, tenant, w.id, {
            filesAdded: r.diff.added.length, filesModified: r.diff.modified.length, filesDeleted: r.diff.deleted.length, bytesChanged: r.diff.bytesChanged, summary: "Computed by the background jobs",
          });
          entry.driftReportId = report.id;
        }
      }
      const changed = await changedSince(d, tenant, w.id);
      const files = (await loadManifest(d.workspaces, tenant, current)).files.filter((f) => CODE.test(f.path) && f.size <= MAX_FILE_BYTES).slice(0, MAX_FILES).map((f) => ({ path: f.path, hash: f.hash }));
      const { taskId } = await startCall(d, tenant, {
        type: ANALYZE_TYPE, subject: w.id, requestId: `background:${tick}`, title: `Code analysis of ${w.name}`,
        payload: { workspace_id: w.id, project_id: w.projectId, snapshot_id: snapshot.id, manifest_hash: current, changed_files: changed, files } as unknown as Json,
      });
      entry.analysisTaskId = taskId;
    } catch (e) {
      entry.error = e instanceof Error ? e.message : String(e);
    }
  }
  return out;
}

/** The workspace's own paths that differ from the project's main (≤ 500): modified, plus those main lacks (the diff's `deleted`, seen from a sync). */
async function changedSince(d: InsightsDomain, tenant: string, workspaceId: string): Promise<string[]> {
  try {
    const r = await compareDrift(d.workspaces, tenant, workspaceId, undefined, false);
    return r.diff ? [...r.diff.modified, ...r.diff.deleted].slice(0, 500) : [];
  } catch {
    return [];
  }
}
