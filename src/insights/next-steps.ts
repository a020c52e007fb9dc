import { invalidArgument } from "../core/errors.ts";
import { newId } from "../core/ids.ts";
import type { Json } from "../tasks/types.ts";
import { getProject } from "../workspaces/projects.ts";
import { checkShape, notFound, oneOf, page } from "./checks.ts";
import type { InsightsDomain, TaskKind } from "./context.ts";
import { projectFiles } from "./project-files.ts";
import { awaitCall, startCall } from "./task-call.ts";
import type { NextStep } from "./types.ts";

export const NEXT_STEPS_TYPE = "next_steps.generate";
export const STATUSES = ["pending", "started", "completed", "dismissed"] as const;
const PRIORITIES = ["high", "medium", "low"] as const;
const CATEGORIES = ["feature", "fix", "refactor", "test", "docs", "deploy", "other"] as const;
export const MAX_GENERATED = 20;

/** `next_steps.generate`: result `{ next_steps: [{ title, description, rationale?, priority, category }] }` (≤ 20). */
export function nextStepsKind(d: InsightsDomain): TaskKind {
  return {
    type: NEXT_STEPS_TYPE,
    check: (r) =>
      checkShape(r, {
        next_steps: { list: { title: "string", description: "text", rationale: { optional: "text" }, priority: { enum: PRIORITIES }, category: { enum: CATEGORIES } }, max: MAX_GENERATED },
      }),
    *apply(tx, tenant, call, result, now) {
      const steps = (result as { next_steps: Record<string, string>[] }).next_steps;
      const ids: string[] = [];
      for (const s of steps) {
        const id = newId("step");
        yield* d.store.insertNextStep(tx, tenant, {
          id, projectId: call.subject, title: s.title!, description: s.description!, rationale: s.rationale ?? "", priority: s.priority!, category: s.category!,
          status: "pending", helpful: undefined, taskId: call.taskId, createdAt: now, updatedAt: now,
        });
        ids.push(id);
      }
      return { next_step_ids: ids };
    },
  };
}

export async function listNextSteps(d: InsightsDomain, tenant: string, projectId: string, status: string, pageSize: number, pageToken: string): Promise<{ items: NextStep[]; next: string }> {
  await getProject(d.workspaces, tenant, projectId);
  const s = oneOf("status", status || "pending", STATUSES);
  const { limit, offset } = page(pageSize, pageToken, 50, 1000);
  const items = await d.database.read((tx) => d.store.listNextSteps(tx, tenant, projectId, s, limit + 1, offset));
  return { items: items.slice(0, limit), next: items.length > limit ? String(offset + limit) : "" };
}

/**
 * Asks a worker for suggestions: payload `{ project: { id, name, intent, brief }, decisions:
 * [{ title, decision }], files: [path…] (≤ 500), pending: [title…], max_count }`.
 */
export async function generateNextSteps(d: InsightsDomain, tenant: string, projectId: string, input: { maxCount: number; requestId: string }): Promise<{ steps: NextStep[]; taskId: string }> {
  const project = await getProject(d.workspaces, tenant, projectId);
  if (input.maxCount < 0 || input.maxCount > MAX_GENERATED) throw invalidArgument("max_count", `must be between 0 and ${MAX_GENERATED}`);
  const maxCount = input.maxCount || 5;
  const payload = {
    project: { id: project.id, name: project.name, intent: project.intent, brief: project.brief },
    decisions: (await d.database.read((tx) => d.store.listDecisions(tx, tenant, projectId, 50, 0))).map((x) => ({ title: x.title, decision: x.decision })),
    files: (await projectFiles(d, tenant, projectId)).slice(0, 500),
    pending: (await d.database.read((tx) => d.store.listNextSteps(tx, tenant, projectId, "pending", 50, 0))).map((s) => s.title),
    max_count: maxCount,
  } as unknown as Json;
  const { taskId } = await startCall(d, tenant, { type: NEXT_STEPS_TYPE, subject: projectId, payload, title: `Next steps for ${project.name}`, requestId: input.requestId || undefined });
  await awaitCall(d, tenant, taskId);
  return { steps: (await d.database.read((tx) => d.store.nextStepsOfTask(tx, tenant, taskId))).slice(0, maxCount), taskId };
}

export async function updateNextStep(d: InsightsDomain, tenant: string, projectId: string, id: string, set: { status?: string; helpful?: boolean }): Promise<void> {
  await getProject(d.workspaces, tenant, projectId);
  if (set.status !== undefined) oneOf("status", set.status, STATUSES);
  if (set.status === undefined && set.helpful === undefined) throw invalidArgument("helpful", "is required");
  const now = d.clock.now();
  const updated = await d.database.write((tx) => d.store.updateNextStep(tx, tenant, projectId, id, set, now));
  if (!updated) throw notFound("NEXT_STEP_NOT_FOUND", "next step", id);
}

