import { AppError } from "../core/errors.ts";
import type { Json } from "../tasks/types.ts";
import { compareDrift } from "../workspaces/drift.ts";
import { getWorkspace } from "../workspaces/workspaces.ts";
import { ANALYSIS_TYPES, findingsWorkspace, SEVERITIES, storeFindings, type FindingsWorkspace } from "./action-items.ts";
import { checkShape } from "./checks.ts";
import type { InsightsDomain, TaskKind } from "./context.ts";
import { awaitCall, startCall } from "./task-call.ts";

export const DRIFT_TYPE = "drift.analyze";
const RISKS = ["low", "medium", "high"] as const;

export interface DriftAnalysis {
  sourceChangesSummary: string;
  targetChangesSummary: string;
  riskLevel: string;
  canAutoSync: boolean;
  recommendation: string;
  conflictingFiles: string[];
  drift: { sourceManifestHash: string; targetManifestHash: string; added: string[]; modified: string[]; deleted: string[]; bytesChanged: number; includesDirty: boolean };
  sourceWorkspaceId: string;
  taskId: string;
  analyzedAt: number;
}

/** `drift.analyze`: result `{ source_changes_summary, target_changes_summary, risk_level, can_auto_sync, recommendation, conflicting_files?, findings? }`; findings (`[{ type, severity, title, description?, files? }]`) become action items. */
export function driftKind(d: InsightsDomain): TaskKind {
  return {
    type: DRIFT_TYPE,
    check: (r) =>
      checkShape(r, {
        source_changes_summary: "text", target_changes_summary: "text", risk_level: { enum: RISKS }, can_auto_sync: "boolean", recommendation: "text", conflicting_files: { optional: "strings" },
        findings: { optional: { list: { type: { enum: ANALYSIS_TYPES }, severity: { enum: SEVERITIES }, title: "string", description: { optional: "text" }, files: { optional: "strings" } }, max: 50 } },
      }),
    prepare: (tenant, call) => findingsWorkspace(d, tenant, call.subject),
    *apply(tx, tenant, call, result, now, _after, _task, prepared) {
      const findings = (result as { findings?: { type: string; severity: string; title: string }[] }).findings;
      if (findings?.length) yield* storeFindings(d, tx, tenant, prepared as FindingsWorkspace, findings, now);
      return result;
    },
  };
}

/**
 * Asks a worker to assess a sync from the project's main workspace. Payload `{ workspace_id,
 * source_workspace_id, include_dirty, drift: { added, modified, deleted, bytes_changed } }`
 * (paths only: a worker that wants contents reads them through the blob API).
 */
export async function analyzeDrift(d: InsightsDomain, tenant: string, workspaceId: string, includeDirty: boolean): Promise<DriftAnalysis> {
  const w = await getWorkspace(d.workspaces, tenant, workspaceId);
  const r = await compareDrift(d.workspaces, tenant, workspaceId, undefined, includeDirty);
  if (r.isMain) throw new AppError("failed_precondition", "WORKSPACE_IS_MAIN", "the workspace is the project's main workspace", { workspace_id: w.id });
  if (!r.source || !r.diff) throw new AppError("failed_precondition", "NO_MAIN_WORKSPACE", "the project has no main workspace", { project_id: w.projectId });
  if (!r.diff.targetManifestHash && !r.diff.sourceManifestHash) throw new AppError("failed_precondition", "NO_MANIFEST", "neither workspace has a manifest yet", { workspace_id: w.id });
  const drift = r.diff;
  const payload = {
    workspace_id: w.id,
    source_workspace_id: r.source.id,
    include_dirty: includeDirty,
    drift: { added: drift.added, modified: drift.modified, deleted: drift.deleted, bytes_changed: drift.bytesChanged },
  } as unknown as Json;
  const { taskId } = await startCall(d, tenant, { type: DRIFT_TYPE, subject: w.id, payload, title: `Drift analysis of ${w.name}` });
  const call = await awaitCall(d, tenant, taskId);
  const out = call.output as Record<string, unknown>;
  const changed = new Set([...drift.modified]);
  return {
    sourceChangesSummary: out.source_changes_summary as string,
    targetChangesSummary: out.target_changes_summary as string,
    riskLevel: out.risk_level as string,
    canAutoSync: out.can_auto_sync as boolean,
    recommendation: out.recommendation as string,
    // Only paths that really differ are conflicts, whatever the worker said.
    conflictingFiles: ((out.conflicting_files as string[] | undefined) ?? []).filter((p) => changed.has(p)),
    drift,
    sourceWorkspaceId: r.source.id,
    taskId,
    analyzedAt: call.finishedAt ?? d.clock.now(),
  };
}
