import { ensureBackgroundJobs } from "./background-jobs.ts";
import { AppError, invalidArgument } from "../core/errors.ts";
import { newId } from "../core/ids.ts";
import type { Json, Task } from "../tasks/types.ts";
import { getProject } from "../workspaces/projects.ts";
import { getWorkspace, manifestOf } from "../workspaces/workspaces.ts";
import { loadManifest } from "../workspaces/blobs.ts";
import { sha256Hex } from "../workspaces/manifests.ts";
import { createSnapshot } from "../workspaces/snapshots.ts";
import { checkShape, limitOffset, notFound, page } from "./checks.ts";
import type { InsightsDomain, TaskKind } from "./context.ts";
import { awaitCall, startCall } from "./task-call.ts";
import type { Conversation, ConversationEvent, ConversationEventType, Message, Question } from "./types.ts";

export const TURN_TYPE = "conversation.turn";
const MAX_TITLE = 200;
const MAX_PROMPT = 100_000;
/** Messages of history given to a turn. */
const HISTORY = 50;
const key = (tenant: string, id: string) => `${tenant}\u0000${id}`;

export function getConversation(d: InsightsDomain, tenant: string, id: string): Conversation {
  const c = d.store.getConversation(tenant, id);
  if (!c) throw notFound("CONVERSATION_NOT_FOUND", "conversation", id);
  return c;
}

/** Appends an event (inside a write) and tells live watchers after the commit. */
function emit(d: InsightsDomain, tenant: string, conversationId: string, type: ConversationEventType, messageId: string, data: Record<string, unknown>, now: number, after: ConversationEvent[]): void {
  after.push(d.store.appendEvent(tenant, { conversationId, type, messageId, data, createdAt: now }));
}
function publish(d: InsightsDomain, tenant: string, events: ConversationEvent[]): void {
  for (const e of events) for (const w of d.conversationWatchers.get(key(tenant, e.conversationId)) ?? []) w(e);
}

/** `conversation.turn`: progress messages are reply deltas (`<offset>:<text>`); result `{ content, changed_files? }`. */
export function turnKind(d: InsightsDomain): TaskKind {
  return {
    type: TURN_TYPE,
    check: (r) => checkShape(r, { content: "text", changed_files: { optional: "strings" } }),
    apply(tenant, call, result, now, after) {
      const r = result as { content: string; changed_files?: string[] };
      const m = d.store.messageOfTask(tenant, call.taskId);
      if (!m) return {};
      const events: ConversationEvent[] = [];
      d.store.updateMessage(tenant, m.id, { content: r.content, status: "complete", changedFiles: r.changed_files ?? [], completedAt: now });
      if (r.changed_files?.length) emit(d, tenant, m.conversationId, "files_changed", m.id, { changed_files: r.changed_files }, now, events);
      emit(d, tenant, m.conversationId, "message_completed", m.id, { message: { ...m, content: r.content, status: "complete", changedFiles: r.changed_files ?? [], completedAt: now } }, now, events);
      d.store.updateConversation(tenant, m.conversationId, {}, now);
      after(() => publish(d, tenant, events));
      return { message_id: m.id };
    },
    failed(tenant, call, error, now, after) {
      const m = d.store.messageOfTask(tenant, call.taskId);
      if (!m) return;
      const events: ConversationEvent[] = [];
      d.store.updateMessage(tenant, m.id, { status: "error", error: `${error.reason}: ${error.message}`, completedAt: now });
      emit(d, tenant, m.conversationId, "message_completed", m.id, { message: { ...m, status: "error", error: `${error.reason}: ${error.message}`, completedAt: now } }, now, events);
      after(() => publish(d, tenant, events));
    },
    progress(tenant: string, call, task: Task, now, after) {
      // Deltas are `<offset>:<text>`, offset = the reply's length before them in Unicode code
      // points (Python's `len` of the text sent so far): a replayed or stale update (the same
      // progress message seen again with another change of the task) is ignored.
      if (task.progressMessage.startsWith("question:")) return askQuestion(d, tenant, call.taskId, task.progressMessage.slice(9), now, after);
      const m0 = /^(\d{1,9}):/.exec(task.progressMessage);
      if (!m0) return;
      const m = d.store.messageOfTask(tenant, call.taskId);
      if (!m || m.status !== "streaming" || Number(m0[1]) !== [...m.content].length) return;
      const delta = task.progressMessage.slice(m0[0].length);
      if (!delta) return;
      const events: ConversationEvent[] = [];
      d.store.updateMessage(tenant, m.id, { content: m.content + delta });
      emit(d, tenant, m.conversationId, "message_delta", m.id, { delta }, now, events);
      after(() => publish(d, tenant, events));
    },
  };
}

export async function createConversation(d: InsightsDomain, tenant: string, input: { workspaceId: string; title?: string }): Promise<Conversation> {
  const w = await getWorkspace(d.workspaces, tenant, input.workspaceId);
  // A tenant's first conversation creates its built-in background-jobs schedule.
  await ensureBackgroundJobs(d, tenant);
  const title = (input.title ?? "").trim() || "New conversation";
  if (title.length > MAX_TITLE) throw invalidArgument("title", `at most ${MAX_TITLE} characters`);
  const now = d.clock.now();
  const c: Conversation = {
    id: newId("conv"), projectId: w.projectId, workspaceId: w.id, title, manifestHash: await manifestOf(d.workspaces, w, true) ?? "", status: "active",
    clearedAt: 0, lastSeq: 0, createdAt: now, updatedAt: now,
  };
  await d.database.committer.run(() => d.store.insertConversation(tenant, c));
  return c;
}

export function listConversations(d: InsightsDomain, tenant: string, limit: number, offset: number, pageToken: string): { items: Conversation[]; next: string } {
  const p = pageToken ? page(limit, pageToken, 50, 100) : limitOffset(limit, offset, 50, 100);
  const items = d.store.listConversations(tenant, p.limit + 1, p.offset);
  return { items: items.slice(0, p.limit), next: items.length > p.limit ? String(p.offset + p.limit) : "" };
}

/** Renames a conversation or moves it to another workspace of the same project. */
export async function updateConversation(d: InsightsDomain, tenant: string, id: string, set: { title?: string; workspaceId?: string }): Promise<void> {
  const c = getConversation(d, tenant, id);
  let title: string | undefined;
  if (set.title !== undefined) {
    title = set.title.trim();
    if (title === "" || title.length > MAX_TITLE) throw invalidArgument("title", `must be 1 to ${MAX_TITLE} characters`);
  }
  let manifestHash: string | undefined;
  if (set.workspaceId !== undefined && set.workspaceId !== c.workspaceId) {
    const w = await getWorkspace(d.workspaces, tenant, set.workspaceId);
    if (w.projectId !== c.projectId) throw new AppError("invalid_argument", "WORKSPACE_NOT_IN_PROJECT", "a conversation moves only within its project", { field: "workspace_id" });
    manifestHash = await manifestOf(d.workspaces, w, true) ?? "";
  }
  const now = d.clock.now();
  const events: ConversationEvent[] = [];
  await d.database.committer.run(() => {
    d.store.updateConversation(tenant, id, { title, workspaceId: set.workspaceId, manifestHash }, now);
    emit(d, tenant, id, "conversation_updated", "", { title: title ?? c.title, workspace_id: set.workspaceId ?? c.workspaceId }, now, events);
  });
  publish(d, tenant, events);
}

export function listMessages(d: InsightsDomain, tenant: string, id: string, limit: number, before: number, pageToken: string): { items: Message[]; next: string; hasMore: boolean } {
  getConversation(d, tenant, id);
  if (limit < 0 || limit > 200) throw invalidArgument("limit", "must be between 0 and 200");
  if (pageToken !== "" && !/^\d{1,9}$/.test(pageToken)) throw invalidArgument("page_token", "was not issued by this server");
  const n = limit || 50;
  const rows = d.store.listMessages(tenant, id, n + 1, before, pageToken ? Number(pageToken) : 0);
  const hasMore = rows.length > n;
  const items = hasMore ? rows.slice(1) : rows;
  return { items, hasMore, next: hasMore ? String(items[0]!.seq) : "" };
}

/**
 * Sends a prompt: the user's message and the assistant's (status `streaming`) are stored, then
 * a `conversation.turn` task carries `{ conversation_id, message_id, prompt, history: [{ role,
 * content }], project: { id, name, intent, brief }, workspace_id, manifest_hash }`. Answers at
 * once; the reply streams back as events (progress messages are deltas, the result completes it).
 */
export async function sendMessage(d: InsightsDomain, tenant: string, id: string, prompt: string, requestId: string): Promise<{ user: Message; assistant: Message; taskId: string }> {
  const c = getConversation(d, tenant, id);
  if (!prompt.trim()) throw invalidArgument("prompt", "is required");
  if (prompt.length > MAX_PROMPT) throw invalidArgument("prompt", `at most ${MAX_PROMPT} characters`);
  const project = await getProject(d.workspaces, tenant, c.projectId);
  const history = d.store.listMessages(tenant, id, HISTORY, 0, 0).filter((m) => m.status === "complete").map((m) => ({ role: m.role, content: m.content }));
  const userId = newId("msg");
  const assistantId = newId("msg");
  const events: ConversationEvent[] = [];
  let user!: Message;
  let assistant!: Message;
  const payload = {
    conversation_id: id, message_id: assistantId, prompt, history, workspace_id: c.workspaceId, manifest_hash: c.manifestHash,
    project: { id: project.id, name: project.name, intent: project.intent, brief: project.brief },
  } as unknown as Json;
  const { taskId, created } = await startCall(d, tenant, { type: TURN_TYPE, subject: id, payload, title: `Reply in ${c.title}`, requestId: requestId || undefined }, (taskId, now) => {
    user = d.store.insertMessage(tenant, { id: userId, conversationId: id, role: "user", content: prompt, status: "complete", error: "", changedFiles: [], taskId: "", createdAt: now, completedAt: now });
    assistant = d.store.insertMessage(tenant, { id: assistantId, conversationId: id, role: "assistant", content: "", status: "streaming", error: "", changedFiles: [], taskId, createdAt: now, completedAt: undefined });
    emit(d, tenant, id, "message_created", user.id, { message: user }, now, events);
    emit(d, tenant, id, "message_created", assistant.id, { message: assistant }, now, events);
    d.store.updateConversation(tenant, id, {}, now);
  });
  publish(d, tenant, events);
  if (!created) {
    assistant = d.store.messageOfTask(tenant, taskId)!;
    user = d.store.listMessages(tenant, id, 1, 0, assistant.seq)[0]!;
  }
  return { user, assistant, taskId };
}

/** Clears the messages (kept, hidden; not given to the agent again) and the questions; refused during a turn. */
export async function clearConversation(d: InsightsDomain, tenant: string, id: string): Promise<number> {
  getConversation(d, tenant, id);
  if (d.store.streamingMessages(tenant, id) > 0) throw new AppError("failed_precondition", "CONVERSATION_BUSY", "an agent turn is running; clear after it", { conversation_id: id });
  const now = d.clock.now();
  const events: ConversationEvent[] = [];
  const n = await d.database.committer.run(() => {
    const n = d.store.clearMessages(tenant, id);
    d.store.clearQuestions(tenant, id);
    d.store.updateConversation(tenant, id, { clearedAt: now }, now);
    emit(d, tenant, id, "cleared", "", { cleared_count: n }, now, events);
    return n;
  });
  publish(d, tenant, events);
  return n;
}

/** The conversation's timeline: messages, file changes, clears, renames, in order. */
export function timeline(d: InsightsDomain, tenant: string, id: string, pageSize: number, pageToken: string) {
  getConversation(d, tenant, id);
  const { limit, offset } = page(pageSize, pageToken, 100, 1000);
  const wanted = new Set(["message_completed", "files_changed", "cleared", "conversation_updated"]);
  const all = d.store.eventsAfter(tenant, id, 0, 100_000).filter((e) => wanted.has(e.type));
  const items = all.slice(offset, offset + limit).map((e) => {
    const m = e.data.message as Message | undefined;
    const title =
      e.type === "message_completed" ? `${m?.role === "user" ? "You" : "Agent"}: ${(m?.content ?? "").slice(0, 80)}` :
      e.type === "files_changed" ? `${(e.data.changed_files as string[]).length} file(s) changed` :
      e.type === "cleared" ? "Conversation cleared" : "Conversation updated";
    return { id: `${id}:${e.sequence}`, type: e.type, title, refId: e.messageId, data: e.data, createdAt: e.createdAt };
  });
  return { items, next: offset + limit < all.length ? String(offset + limit) : "" };
}

/** The conversation's events after `afterSequence`, then live ones, until `signal`. */
export async function* watchConversation(d: InsightsDomain, tenant: string, id: string, afterSequence: number, signal: AbortSignal): AsyncGenerator<ConversationEvent> {
  getConversation(d, tenant, id);
  const k = key(tenant, id);
  const buffer: ConversationEvent[] = [];
  let wake: (() => void) | undefined;
  const listener = (e: ConversationEvent) => {
    buffer.push(e);
    wake?.();
  };
  let set = d.conversationWatchers.get(k);
  if (!set) d.conversationWatchers.set(k, (set = new Set()));
  set.add(listener);
  const onAbort = () => wake?.();
  signal.addEventListener("abort", onAbort);
  try {
    let last = afterSequence;
    for (;;) {
      const stored = d.store.eventsAfter(tenant, id, last, 500);
      for (const e of stored) {
        last = e.sequence;
        yield e;
      }
      if (stored.length === 500) continue;
      break;
    }
    while (!signal.aborted) {
      const e = buffer.shift();
      if (e) {
        if (e.sequence > last) {
          last = e.sequence;
          yield e;
        }
        continue;
      }
      await new Promise<void>((r) => (wake = r));
      wake = undefined;
    }
  } finally {
    signal.removeEventListener("abort", onAbort);
    set.delete(listener);
    if (set.size === 0) d.conversationWatchers.delete(k);
  }
}

/** The project context of a conversation: project, workspace, brief, manifest and its size. */
export async function projectInfo(d: InsightsDomain, tenant: string, id: string) {
  const c = getConversation(d, tenant, id);
  const project = await getProject(d.workspaces, tenant, c.projectId);
  const w = await getWorkspace(d.workspaces, tenant, c.workspaceId);
  const current = await manifestOf(d.workspaces, w, true) ?? "";
  const snapshotManifest = await manifestOf(d.workspaces, { ...w, currentManifestHash: null }, false) ?? "";
  const files = current ? (await loadManifest(d.workspaces, tenant, current)).files : [];
  return {
    projectId: project.id, projectName: project.name, intent: project.intent, brief: project.brief, workspaceId: w.id, workspaceName: w.name,
    isMainWorkspace: project.mainWorkspaceId === w.id, manifestHash: current, fileCount: files.length, totalBytes: files.reduce((n, f) => n + f.size, 0),
    lastSnapshotId: w.lastSnapshotId ?? "", isDirty: current !== "" && current !== snapshotManifest,
  };
}

export const SUMMARY_TYPE = "snapshot.summarize";

/** `snapshot.summarize`: payload `{ conversation_id, added, modified, deleted }`; result `{ summary }`. */
export function summaryKind(): TaskKind {
  return { type: SUMMARY_TYPE, check: (r) => checkShape(r, { summary: "text" }), apply: (_t, _c, result) => result };
}

/**
 * Snapshots the conversation's workspace when its current files differ from its last snapshot
 * (else answers the last snapshot), optionally with a worker's summary (`snapshot.summarize`;
 * without an answer in time the snapshot is taken with an empty summary).
 */
export async function snapshotConversation(d: InsightsDomain, tenant: string, id: string, input: { generateSummary: boolean; requestId: string }) {
  const c = getConversation(d, tenant, id);
  const w = await getWorkspace(d.workspaces, tenant, c.workspaceId);
  const info = await projectInfo(d, tenant, id);
  if (!info.manifestHash) throw new AppError("failed_precondition", "NO_MANIFEST", "the conversation's workspace has no files", { workspace_id: w.id });
  if (!info.isDirty) return { snapshotId: w.lastSnapshotId ?? "", manifestHash: info.manifestHash, wasDirty: false, summary: "" };
  let summary = "";
  if (input.generateSummary) {
    const base = await manifestOf(d.workspaces, { ...w, currentManifestHash: null }, false);
    const load = async (h: string | undefined) => new Map((h ? (await loadManifest(d.workspaces, tenant, h)).files : []).map((f) => [f.path, f.hash]));
    const [before, after] = await Promise.all([load(base), load(info.manifestHash)]);
    const payload = {
      conversation_id: id,
      added: [...after.keys()].filter((p) => !before.has(p)),
      modified: [...after.keys()].filter((p) => before.has(p) && before.get(p) !== after.get(p)),
      deleted: [...before.keys()].filter((p) => !after.has(p)),
    } as unknown as Json;
    try {
      const { taskId } = await startCall(d, tenant, { type: SUMMARY_TYPE, subject: id, payload, title: `Summarize ${c.title}`, requestId: input.requestId || undefined });
      summary = ((await awaitCall(d, tenant, taskId)).output as { summary: string }).summary.slice(0, 2000);
    } catch (e) {
      if (!(e instanceof AppError) || e.code !== "unavailable") throw e;
    }
  }
  const snapshotId = input.requestId ? `snap_${sha256Hex(`${tenant}\u0000${id}\u0000${input.requestId}`).slice(0, 24)}` : undefined;
  const { snapshot } = await createSnapshot(d.workspaces, tenant, {
    projectId: c.projectId, manifestHash: info.manifestHash, snapshotId, parents: w.lastSnapshotId ? [w.lastSnapshotId] : [], workspaceId: w.id, source: "conversation", summary,
  });
  return { snapshotId: snapshot.id, manifestHash: info.manifestHash, wasDirty: true, summary };
}

const MAX_QUESTIONS = 20;

/**
 * An agent's question during a turn: progress message `question:{ id, questions: [{ question,
 * options? }] }`. Stored once (by id), announced as `question_asked`; a malformed one is ignored.
 */
function askQuestion(d: InsightsDomain, tenant: string, taskId: string, json: string, now: number, after: (f: () => void) => void): void {
  const m = d.store.messageOfTask(tenant, taskId);
  if (!m || m.status !== "streaming") return;
  let x: { id?: unknown; questions?: unknown };
  try {
    x = JSON.parse(json);
  } catch {
    return;
  }
  const ok = typeof x.id === "string" && /^[A-Za-z0-9_-]{1,128}$/.test(x.id) && Array.isArray(x.questions) && x.questions.length > 0 && x.questions.length <= MAX_QUESTIONS &&
    x.questions.every((q: { question?: unknown; options?: unknown }) => typeof q?.question === "string" && q.question.length <= 4000 && (q.options === undefined || (Array.isArray(q.options) && q.options.length <= 50 && q.options.every((o) => typeof o === "string"))));
  if (!ok) return;
  const question = { conversationId: m.conversationId, id: x.id as string, messageId: m.id, taskId, questions: x.questions as Question["questions"], status: "pending", answers: undefined, createdAt: now };
  if (!d.store.insertQuestion(tenant, question)) return;
  const events: ConversationEvent[] = [];
  emit(d, tenant, m.conversationId, "question_asked", m.id, { question }, now, events);
  after(() => publish(d, tenant, events));
}

/**
 * Answers (one list of strings per question, each an offered option when the question offers
 * some) or rejects a pending question; the worker finds `question_<id>: { status, answers }`
 * in its task's metadata.
 */
export async function resolveQuestion(d: InsightsDomain, tenant: string, conversationId: string, questionId: string, answers: unknown[][] | undefined): Promise<void> {
  getConversation(d, tenant, conversationId);
  const q = d.store.getQuestion(tenant, conversationId, questionId);
  if (!q) throw notFound("QUESTION_NOT_FOUND", "question", questionId);
  if (q.status !== "pending") throw new AppError("failed_precondition", "QUESTION_RESOLVED", `question ${questionId} is ${q.status}`, { question_id: questionId, status: q.status });
  if (answers) {
    if (answers.length !== q.questions.length) throw invalidArgument("answers", `${q.questions.length} answer list(s) expected, one per question`);
    answers.forEach((list, i) =>
      list.forEach((a, j) => {
        const options = q.questions[i]!.options;
        if (typeof a !== "string" || (options && options.length > 0 && !options.includes(a))) throw invalidArgument(`answers[${i}][${j}]`, "must be one of the offered options");
      }),
    );
  }
  const status = answers ? "answered" : "rejected";
  const now = d.clock.now();
  const events: ConversationEvent[] = [];
  const changed = await d.database.committer.run(() => {
    if (!d.store.resolveQuestion(tenant, conversationId, questionId, status, answers as string[][] | undefined)) return false;
    emit(d, tenant, conversationId, "question_resolved", q.messageId, { question: { ...q, status, answers } }, now, events);
    return true;
  });
  if (!changed) throw new AppError("failed_precondition", "QUESTION_RESOLVED", `question ${questionId} was resolved meanwhile`, { question_id: questionId });
  publish(d, tenant, events);
  await d.tasks.updateMetadata(tenant, q.taskId, { [`question_${questionId}`]: { status, answers: (answers ?? []) as Json } }).catch(() => {});
}
