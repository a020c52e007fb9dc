import { ensureBackgroundJobs } from "./background-jobs.ts";
import { AppError, invalidArgument } from "../core/errors.ts";
import { newId } from "../core/ids.ts";
import type { Tx } from "../db/dialect.ts";
import type { Op } from "../db/op.ts";
import type { Json, Task } from "../tasks/types.ts";
import { publishEvents } from "./announce.ts";
import { getProject } from "../workspaces/projects.ts";
import { getWorkspace, manifestOf } from "../workspaces/workspaces.ts";
import { loadManifest } from "../workspaces/blobs.ts";
import { sha256Hex } from "../workspaces/manifests.ts";
import { createSnapshot } from "../workspaces/snapshots.ts";
import { checkShape, limitOffset, maybe, notFound, page } from "./checks.ts";
import type { InsightsDomain, TaskKind } from "./context.ts";
import { awaitCall, startCall } from "./task-call.ts";
import type { Conversation, ConversationEvent, ConversationEventType, Deployment, Message, Question } from "./types.ts";

export const TURN_TYPE = "conversation.turn";
const MAX_TITLE = 200;
const MAX_PROMPT = 100_000;
/** Messages of history given to a turn. */
const HISTORY = 50;
const key = (tenant: string, id: string) => `${tenant}\u0000${id}`;

export async function getConversation(d: InsightsDomain, tenant: string, id: string): Promise<Conversation> {
  const c = await d.database.read((tx) => d.store.getConversation(tx, tenant, id));
  if (!c) throw notFound("CONVERSATION_NOT_FOUND", "conversation", id);
  return c;
}

/** Appends an event (inside a write); `publish` tells live watchers after the commit. */
function* emit(d: InsightsDomain, tx: Tx, tenant: string, conversationId: string, type: ConversationEventType, messageId: string, data: Record<string, unknown>, now: number, after: ConversationEvent[]): Op<void> {
  after.push(yield* d.store.appendEvent(tx, tenant, { conversationId, type, messageId, data, createdAt: now }));
}
const publish = publishEvents;

/** `conversation.turn`: progress messages are reply deltas (`<offset>:<text>`); result `{ content, changed_files? }`. */
export function turnKind(d: InsightsDomain): TaskKind {
  return {
    type: TURN_TYPE,
    check: (r) => checkShape(r, { content: "text", changed_files: { optional: "strings" } }),
    *apply(tx, tenant, call, result, now, after) {
      const r = result as { content: string; changed_files?: string[] };
      const m = yield* d.store.messageOfTask(tx, tenant, call.taskId);
      if (!m) return {};
      const events: ConversationEvent[] = [];
      yield* d.store.updateMessage(tx, tenant, m.id, { content: r.content, status: "complete", changedFiles: r.changed_files ?? [], completedAt: now });
      if (r.changed_files?.length) yield* emit(d, tx, tenant, m.conversationId, "files_changed", m.id, { changed_files: r.changed_files }, now, events);
      yield* emit(d, tx, tenant, m.conversationId, "message_completed", m.id, { message: { ...m, content: r.content, status: "complete", changedFiles: r.changed_files ?? [], completedAt: now } }, now, events);
      yield* d.store.updateConversation(tx, tenant, m.conversationId, {}, now);
      after(() => publish(d, tenant, events));
      return { message_id: m.id };
    },
    *failed(tx, tenant, call, error, now, after) {
      const m = yield* d.store.messageOfTask(tx, tenant, call.taskId);
      if (!m) return;
      const events: ConversationEvent[] = [];
      yield* d.store.updateMessage(tx, tenant, m.id, { status: "error", error: `${error.reason}: ${error.message}`, completedAt: now });
      yield* emit(d, tx, tenant, m.conversationId, "message_completed", m.id, { message: { ...m, status: "error", error: `${error.reason}: ${error.message}`, completedAt: now } }, now, events);
      after(() => publish(d, tenant, events));
    },
    *progress(tx, tenant: string, call, task: Task, now, after) {
      // Deltas are `<offset>:<text>`, offset = the reply's length before them in Unicode code
      // points (Python's `len` of the text sent so far): a replayed or stale update (the same
      // progress message seen again with another change of the task) is ignored.
      if (task.progressMessage.startsWith("question:")) return yield* askQuestion(d, tx, tenant, call.taskId, task.progressMessage.slice(9), now, after);
      const m0 = /^(\d{1,9}):/.exec(task.progressMessage);
      if (!m0) return;
      const m = yield* d.store.messageOfTask(tx, tenant, call.taskId);
      if (!m || m.status !== "streaming" || Number(m0[1]) !== [...m.content].length) return;
      const delta = task.progressMessage.slice(m0[0].length);
      if (!delta) return;
      const events: ConversationEvent[] = [];
      yield* d.store.updateMessage(tx, tenant, m.id, { content: m.content + delta });
      yield* emit(d, tx, tenant, m.conversationId, "message_delta", m.id, { delta }, now, events);
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
    id: newId("conv"), projectId: w.projectId, workspaceId: w.id, title, manifestHash: (await manifestOf(d.workspaces, w, true)) ?? "", status: "active",
    clearedAt: 0, lastSeq: 0, createdAt: now, updatedAt: now,
  };
  await d.database.write((tx) => d.store.insertConversation(tx, tenant, c));
  return c;
}

export async function listConversations(d: InsightsDomain, tenant: string, limit: number, offset: number, pageToken: string): Promise<{ items: Conversation[]; next: string }> {
  const p = pageToken ? page(limit, pageToken, 50, 100) : limitOffset(limit, offset, 50, 100);
  const items = await d.database.read((tx) => d.store.listConversations(tx, tenant, p.limit + 1, p.offset));
  return { items: items.slice(0, p.limit), next: items.length > p.limit ? String(p.offset + p.limit) : "" };
}

/** Renames a conversation or moves it to another workspace of the same project. */
export async function updateConversation(d: InsightsDomain, tenant: string, id: string, set: { title?: string; workspaceId?: string }): Promise<void> {
  const c = await getConversation(d, tenant, id);
  let title: string | undefined;
  if (set.title !== undefined) {
    title = set.title.trim();
    if (title === "" || title.length > MAX_TITLE) throw invalidArgument("title", `must be 1 to ${MAX_TITLE} characters`);
  }
  let manifestHash: string | undefined;
  if (set.workspaceId !== undefined && set.workspaceId !== c.workspaceId) {
    const w = await getWorkspace(d.workspaces, tenant, set.workspaceId);
    if (w.projectId !== c.projectId) throw new AppError("invalid_argument", "WORKSPACE_NOT_IN_PROJECT", "a conversation moves only within its project", { field: "workspace_id" });
    manifestHash = (await manifestOf(d.workspaces, w, true)) ?? "";
  }
  const now = d.clock.now();
  const events = await d.database.write(function* (tx) {
    const events: ConversationEvent[] = [];
    yield* d.store.updateConversation(tx, tenant, id, { title, workspaceId: set.workspaceId, manifestHash }, now);
    yield* emit(d, tx, tenant, id, "conversation_updated", "", { title: title ?? c.title, workspace_id: set.workspaceId ?? c.workspaceId }, now, events);
    return events;
  });
  publish(d, tenant, events);
}

export async function listMessages(d: InsightsDomain, tenant: string, id: string, limit: number, before: number, pageToken: string): Promise<{ items: Message[]; next: string; hasMore: boolean }> {
  await getConversation(d, tenant, id);
  if (limit < 0 || limit > 200) throw invalidArgument("limit", "must be between 0 and 200");
  if (pageToken !== "" && !/^\d{1,9}$/.test(pageToken)) throw invalidArgument("page_token", "was not issued by this server");
  const n = limit || 50;
  const rows = await d.database.read((tx) => d.store.listMessages(tx, tenant, id, n + 1, before, pageToken ? Number(pageToken) : 0));
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
  const c = await getConversation(d, tenant, id);
  if (!prompt.trim()) throw invalidArgument("prompt", "is required");
  if (prompt.length > MAX_PROMPT) throw invalidArgument("prompt", `at most ${MAX_PROMPT} characters`);
  const project = await getProject(d.workspaces, tenant, c.projectId);
  const history = (await d.database.read((tx) => d.store.listMessages(tx, tenant, id, HISTORY, 0, 0))).filter((m) => m.status === "complete").map((m) => ({ role: m.role, content: m.content }));
  const userId = newId("msg");
  const assistantId = newId("msg");
  let events: ConversationEvent[] = [];
  let user!: Message;
  let assistant!: Message;
  const payload = {
    conversation_id: id, message_id: assistantId, prompt, history, workspace_id: c.workspaceId, manifest_hash: c.manifestHash,
    project: { id: project.id, name: project.name, intent: project.intent, brief: project.brief },
  } as unknown as Json;
  const { taskId, created } = await startCall(d, tenant, { type: TURN_TYPE, subject: id, payload, title: `Reply in ${c.title}`, requestId: requestId || undefined }, function* (tx, taskId, now) {
    events = [];
    user = yield* d.store.insertMessage(tx, tenant, { id: userId, conversationId: id, role: "user", content: prompt, status: "complete", error: "", changedFiles: [], taskId: "", createdAt: now, completedAt: now });
    assistant = yield* d.store.insertMessage(tx, tenant, { id: assistantId, conversationId: id, role: "assistant", content: "", status: "streaming", error: "", changedFiles: [], taskId, createdAt: now, completedAt: undefined });
    yield* emit(d, tx, tenant, id, "message_created", user.id, { message: user }, now, events);
    yield* emit(d, tx, tenant, id, "message_created", assistant.id, { message: assistant }, now, events);
    yield* d.store.updateConversation(tx, tenant, id, {}, now);
  });
  if (!created) {
    const store = d.store;
    ({ user, assistant } = await d.database.read(function* (tx) {
      const assistant = (yield* store.messageOfTask(tx, tenant, taskId))!;
      return { assistant, user: (yield* store.listMessages(tx, tenant, id, 1, 0, assistant.seq))[0]! };
    }));
  } else publish(d, tenant, events);
  return { user, assistant, taskId };
}

/** Clears the messages (kept, hidden; not given to the agent again) and the questions; refused during a turn. */
export async function clearConversation(d: InsightsDomain, tenant: string, id: string): Promise<number> {
  await getConversation(d, tenant, id);
  const busy = () => new AppError("failed_precondition", "CONVERSATION_BUSY", "an agent turn is running; clear after it", { conversation_id: id });
  if ((await d.database.read((tx) => d.store.streamingMessages(tx, tenant, id))) > 0) throw busy();
  const now = d.clock.now();
  const { n, events } = await d.database.write(function* (tx) {
    if ((yield* d.store.streamingMessages(tx, tenant, id)) > 0) throw busy();
    const events: ConversationEvent[] = [];
    const n = yield* d.store.clearMessages(tx, tenant, id);
    yield* d.store.clearQuestions(tx, tenant, id);
    yield* d.store.updateConversation(tx, tenant, id, { clearedAt: now }, now);
    yield* emit(d, tx, tenant, id, "cleared", "", { cleared_count: n }, now, events);
    return { n, events };
  });
  publish(d, tenant, events);
  return n;
}

/** The conversation's timeline: messages, file changes, clears, renames, in order. */
export async function timeline(d: InsightsDomain, tenant: string, id: string, pageSize: number, pageToken: string) {
  await getConversation(d, tenant, id);
  const { limit, offset } = page(pageSize, pageToken, 100, 1000);
  const wanted = new Set(["message_completed", "files_changed", "cleared", "conversation_updated"]);
  const all = (await d.database.read((tx) => d.store.eventsAfter(tx, tenant, id, 0, 100_000))).filter((e) => wanted.has(e.type));
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
  await getConversation(d, tenant, id);
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
      const stored = await d.database.read((tx) => d.store.eventsAfter(tx, tenant, id, last, 500));
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
        if (e.sequence === last + 1) {
          last = e.sequence;
          yield e;
        } else if (e.sequence > last) {
          // An announcement overtook another or was lost: the store has every event, in order.
          for (const x of await d.database.read((tx) => d.store.eventsAfter(tx, tenant, id, last, 500))) {
            last = x.sequence;
            yield x;
          }
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
  const c = await getConversation(d, tenant, id);
  const project = await getProject(d.workspaces, tenant, c.projectId);
  const w = await getWorkspace(d.workspaces, tenant, c.workspaceId);
  const current = (await manifestOf(d.workspaces, w, true)) ?? "";
  const snapshotManifest = (await manifestOf(d.workspaces, { ...w, currentManifestHash: null }, false)) ?? "";
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
  return {
    type: SUMMARY_TYPE,
    check: (r) => checkShape(r, { summary: "text" }),
    // eslint-disable-next-line require-yield
    *apply(_tx, _t, _c, result) {
      return result;
    },
  };
}

/**
 * Snapshots the conversation's workspace when its current files differ from its last snapshot
 * (else answers the last snapshot), optionally with a worker's summary (`snapshot.summarize`;
 * without an answer in time the snapshot is taken with an empty summary).
 */
export async function snapshotConversation(d: InsightsDomain, tenant: string, id: string, input: { generateSummary: boolean; requestId: string }) {
  const c = await getConversation(d, tenant, id);
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
function* askQuestion(d: InsightsDomain, tx: Tx, tenant: string, taskId: string, json: string, now: number, after: (f: () => void) => void): Op<void> {
  const m = yield* d.store.messageOfTask(tx, tenant, taskId);
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
  if (!(yield* d.store.insertQuestion(tx, tenant, question))) return;
  const events: ConversationEvent[] = [];
  yield* emit(d, tx, tenant, m.conversationId, "question_asked", m.id, { question }, now, events);
  after(() => publish(d, tenant, events));
}

/**
 * Answers (one list of strings per question, each an offered option when the question offers
 * some) or rejects a pending question; the worker finds `question_<id>: { status, answers }`
 * in its task's metadata.
 */
export async function resolveQuestion(d: InsightsDomain, tenant: string, conversationId: string, questionId: string, answers: unknown[][] | undefined): Promise<void> {
  await getConversation(d, tenant, conversationId);
  const q = await d.database.read((tx) => d.store.getQuestion(tx, tenant, conversationId, questionId));
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
  const events = await d.database.write(function* (tx) {
    if (!(yield* d.store.resolveQuestion(tx, tenant, conversationId, questionId, status, answers as string[][] | undefined))) return undefined;
    const events: ConversationEvent[] = [];
    yield* emit(d, tx, tenant, conversationId, "question_resolved", q.messageId, { question: { ...q, status, answers } }, now, events);
    return events;
  });
  if (!events) throw new AppError("failed_precondition", "QUESTION_RESOLVED", `question ${questionId} was resolved meanwhile`, { question_id: questionId });
  publish(d, tenant, events);
  await d.tasks.updateMetadata(tenant, q.taskId, { [`question_${questionId}`]: { status, answers: (answers ?? []) as Json } }).catch(() => {});
}

/** A conversation as listed: its visible message count and its workspace's and project's names. */
export async function conversationView(d: InsightsDomain, tenant: string, c: Conversation): Promise<{ conversation: Conversation; messageCount: number; workspaceName: string; projectName: string }> {
  const messageCount = await d.database.read((tx) => d.store.countMessages(tx, tenant, c.id));
  const w = await maybe(() => getWorkspace(d.workspaces, tenant, c.workspaceId));
  const p = await maybe(() => getProject(d.workspaces, tenant, c.projectId));
  return { conversation: c, messageCount, workspaceName: w?.name ?? "", projectName: p?.name ?? "" };
}

/** Every visible message of a conversation, oldest first (at most 10,000). */
export async function allMessages(d: InsightsDomain, tenant: string, id: string): Promise<Message[]> {
  await getConversation(d, tenant, id);
  return d.database.read((tx) => d.store.listMessages(tx, tenant, id, 10_000, 0, 0));
}

/** A page of the deployments started from a conversation. */
export async function conversationDeployments(d: InsightsDomain, tenant: string, id: string, limit: number, offset: number): Promise<Deployment[]> {
  await getConversation(d, tenant, id);
  return d.database.read((tx) => d.store.deploymentsOfConversation(tx, tenant, id, limit, offset));
}

/** One deployment started from the conversation, or undefined. */
export async function conversationDeployment(d: InsightsDomain, tenant: string, id: string, deploymentId: string): Promise<Deployment | undefined> {
  await getConversation(d, tenant, id);
  const x = await d.database.read((tx) => d.store.getDeployment(tx, tenant, deploymentId));
  return x && x.conversationId === id ? x : undefined;
}
