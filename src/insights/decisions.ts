import { newId } from "../core/ids.ts";
import type { Json } from "../tasks/types.ts";
import { getProject } from "../workspaces/projects.ts";
import { checkShape, page } from "./checks.ts";
import type { InsightsDomain, TaskKind } from "./context.ts";
import { awaitCall, startCall } from "./task-call.ts";
import type { Decision } from "./types.ts";

export const DECISIONS_TYPE = "decisions.extract";
const MAX_DECISIONS = 100;
/** Most messages given to one extraction (the newest are kept). */
const MAX_MESSAGES = 500;

/** `decisions.extract`: result `{ decisions: [{ title, decision, rationale?, conversation_id, message_id?, concepts? }] }` (≤ 100). */
export function decisionsKind(d: InsightsDomain): TaskKind {
  return {
    type: DECISIONS_TYPE,
    check: (r) =>
      checkShape(r, {
        decisions: { list: { title: "string", decision: "string", rationale: { optional: "text" }, conversation_id: "string", message_id: { optional: "text" }, concepts: { optional: "strings" } }, max: MAX_DECISIONS },
      }),
    *apply(tx, tenant, call, result, now) {
      const list = (result as { decisions: Record<string, unknown>[] }).decisions;
      const ids: string[] = [];
      // Only conversations of the project are accepted as sources.
      const known = new Set((yield* d.store.conversationsOfProject(tx, tenant, call.subject)).map((c) => c.id));
      for (const x of list) {
        if (!known.has(x.conversation_id as string)) continue;
        const id = newId("dec");
        yield* d.store.insertDecision(tx, tenant, {
          id, projectId: call.subject, title: x.title as string, decision: x.decision as string, rationale: (x.rationale as string) ?? "",
          conversationId: x.conversation_id as string, messageId: (x.message_id as string) ?? "", concepts: ((x.concepts as string[]) ?? []).slice(0, 20), taskId: call.taskId, createdAt: now,
        });
        ids.push(id);
      }
      return { decision_ids: ids };
    },
  };
}

export async function listDecisions(d: InsightsDomain, tenant: string, projectId: string, pageSize: number, pageToken: string): Promise<{ items: Decision[]; next: string }> {
  await getProject(d.workspaces, tenant, projectId);
  const { limit, offset } = page(pageSize, pageToken, 50, 1000);
  const items = await d.database.read((tx) => d.store.listDecisions(tx, tenant, projectId, limit + 1, offset));
  return { items: items.slice(0, limit), next: items.length > limit ? String(offset + limit) : "" };
}

/**
 * Extracts decisions from the project's conversation messages since the last extraction:
 * payload `{ project: { id, name, intent }, conversations: [{ id, title, messages: [{ id, role, content }] }] }`.
 * With no new message there is nothing to read: no task, nothing extracted.
 */
export async function extractDecisions(d: InsightsDomain, tenant: string, projectId: string, requestId: string): Promise<{ decisions: Decision[]; taskId: string }> {
  const project = await getProject(d.workspaces, tenant, projectId);
  const store = d.store;
  const read = await d.database.read(function* (tx) {
    const since = yield* store.lastExtraction(tx, tenant, projectId);
    const out = [];
    for (const c of yield* store.conversationsOfProject(tx, tenant, projectId)) out.push({ c, messages: yield* store.messagesSince(tx, tenant, c.id, since) });
    return out;
  });
  let budget = MAX_MESSAGES;
  const conversations = read
    .map(({ c, messages }) => ({ id: c.id, title: c.title, messages: messages.filter((m) => m.content !== "").map((m) => ({ id: m.id, role: m.role, content: m.content })) }))
    .filter((c) => c.messages.length > 0)
    .map((c) => {
      const messages = c.messages.slice(-Math.max(budget, 0));
      budget -= messages.length;
      return { ...c, messages };
    })
    .filter((c) => c.messages.length > 0);
  if (conversations.length === 0 && !requestId) return { decisions: [], taskId: "" };
  const payload = { project: { id: project.id, name: project.name, intent: project.intent }, conversations } as unknown as Json;
  const { taskId } = await startCall(d, tenant, { type: DECISIONS_TYPE, subject: projectId, payload, title: `Decisions of ${project.name}`, requestId: requestId || undefined });
  await awaitCall(d, tenant, taskId);
  return { decisions: await d.database.read((tx) => d.store.decisionsOfTask(tx, tenant, taskId)), taskId };
}

/** A decision's concept links (concept ids are `concept:<name>`, as the Atlas names them). */
export function conceptLinks(x: Decision): { conceptId: string; name: string; layer: string; score: number }[] {
  return x.concepts.map((name) => ({ conceptId: `concept:${name.toLowerCase()}`, name, layer: "concept", score: 1 }));
}
