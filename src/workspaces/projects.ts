import { invalidArgument, notFound } from "../core/errors.ts";
import { newId } from "../core/ids.ts";
import type { WorkspaceDomain } from "./context.ts";
import { read, write } from "./events.ts";
import type { Project, ProjectEvent } from "./types.ts";

export const MAX_NAME = 200;
export const MAX_BRIEF = 100_000;

export function checkName(name: string, field = "name"): string {
  const n = name.trim();
  if (n === "") throw invalidArgument(field, "is required");
  if (n.length > MAX_NAME) throw invalidArgument(field, `at most ${MAX_NAME} characters`);
  return n;
}

export function checkRequestId(id: string): string | null {
  if (id.length > 128) throw invalidArgument("request_id", "at most 128 characters");
  return id === "" ? null : id;
}

/** A project of the tenant, or PROJECT_NOT_FOUND (also for another tenant's project). */
export async function getProject(d: WorkspaceDomain, tenant: string, id: string): Promise<Project> {
  const p = id ? await read(d, (tx) => d.store.getProject(tx, tenant, id)) : undefined;
  if (!p) throw notFound("PROJECT_NOT_FOUND", "Project not found", { project_id: id });
  return p;
}

export async function createProject(d: WorkspaceDomain, tenant: string, user: string, input: { name: string; requestId: string }): Promise<Project> {
  const name = checkName(input.name);
  const requestId = checkRequestId(input.requestId);
  return write(d, tenant, function* (tx, emit) {
    if (requestId) {
      const prior = yield* d.store.projectByRequest(tx, tenant, requestId);
      if (prior) return prior;
    }
    const now = d.clock.now();
    const p: Project = { tenant, id: newId("prj", now), userId: user, name, mainWorkspaceId: null, lastSnapshotId: null, intent: "", brief: "", createdAt: now, updatedAt: now };
    // Another instance may have committed the same request id since the read above: its project is the answer.
    if (!(yield* d.store.insertProject(tx, p, requestId))) return (yield* d.store.projectByRequest(tx, tenant, requestId!))!;
    yield* emit(p.id, "", "project.created", `Project ${name} created`);
    return p;
  });
}

/** Projects by most recently updated first; offset pagination (the token is the offset). */
export async function listProjects(d: WorkspaceDomain, tenant: string, pageSize: number, pageToken: string): Promise<{ items: Project[]; next: string }> {
  const { limit, offset } = page(pageSize, pageToken, 100, 1000);
  const items = await read(d, (tx) => d.store.listProjects(tx, tenant, limit + 1, offset));
  return { items: items.slice(0, limit), next: items.length > limit ? String(offset + limit) : "" };
}

/** Page size and offset from a request: `0` means `fallback`, above `max` is `max`. */
export function page(size: number, token: string, fallback: number, max: number, field = "page_size"): { limit: number; offset: number } {
  if (size < 0) throw invalidArgument(field, "must not be negative");
  if (token !== "" && !/^\d{1,9}$/.test(token)) throw invalidArgument("page_token", "was not issued by this server");
  return { limit: Math.min(size || fallback, max), offset: token === "" ? 0 : Number(token) };
}

export async function listEvents(d: WorkspaceDomain, tenant: string, projectId: string, limit: number, pageToken: string): Promise<{ items: ProjectEvent[]; next: string }> {
  await getProject(d, tenant, projectId);
  const { limit: n } = page(limit, "", 20, 100, "limit");
  if (pageToken !== "" && !/^\d{1,15}$/.test(pageToken)) throw invalidArgument("page_token", "was not issued by this server");
  const before = pageToken === "" ? Number.MAX_SAFE_INTEGER : Number(pageToken);
  const items = await read(d, (tx) => d.store.listEvents(tx, tenant, projectId, n + 1, before));
  const shown = items.slice(0, n);
  return { items: shown, next: items.length > n ? String(shown[shown.length - 1]!.seq) : "" };
}

/** Most replayed event ids remembered to drop their live doubles (see below). */
const REPLAY_MEMORY = 10_000;

/** Events after `afterEventId`, then live ones, until `signal` aborts. */
export async function* watchEvents(d: WorkspaceDomain, tenant: string, projectId: string, afterEventId: string, signal: AbortSignal): AsyncGenerator<ProjectEvent> {
  await getProject(d, tenant, projectId);
  const live = d.events.watch(tenant, projectId, signal);
  // Events committed while the replay ran arrive twice (replayed and live): the live copy of a
  // replayed id is dropped. By id, not by sequence: on PostgreSQL sequences of several
  // instances commit out of order, so a smaller sequence may still be new.
  const replayed = new Set<string>();
  if (afterEventId !== "") {
    const seq = await read(d, (tx) => d.store.eventSeq(tx, tenant, afterEventId));
    if (seq === undefined) throw invalidArgument("after_event_id", "no such event");
    let last = seq;
    for (;;) {
      const batch = await read(d, (tx) => d.store.eventsAfter(tx, tenant, projectId, last, 500));
      for (const e of batch) {
        last = e.seq;
        replayed.add(e.id);
        if (replayed.size > REPLAY_MEMORY) replayed.delete(replayed.values().next().value!);
        yield e;
      }
      if (batch.length < 500) break;
    }
  }
  // The live subscription exists before the replay read, so nothing falls in between; skip doubles.
  for await (const e of live) {
    if (replayed.has(e.id)) continue;
    yield e;
  }
}

export async function projectStatus(d: WorkspaceDomain, tenant: string, projectId: string) {
  const p = await getProject(d, tenant, projectId);
  const lastEvent = await read(d, (tx) => d.store.lastEventAt(tx, tenant, projectId));
  return { lastSnapshotId: p.lastSnapshotId ?? "", updatedAt: p.updatedAt, lastActivity: lastEvent };
}

/** Last merge (sync) and deploy times, and snapshots since each. */
export function snapshotInsights(d: WorkspaceDomain, tenant: string, projectId: string) {
  return read(d, function* (tx) {
    const lastMerge = yield* d.store.lastEventAt(tx, tenant, projectId, "sync.executed");
    const lastDeploy = yield* d.store.lastEventAt(tx, tenant, projectId, "deploy.started");
    return {
      lastMergeAt: lastMerge,
      lastDeployAt: lastDeploy,
      snapshotsSinceMerge: yield* d.store.countSnapshotsSince(tx, tenant, projectId, lastMerge ?? 0),
      snapshotsSinceDeploy: yield* d.store.countSnapshotsSince(tx, tenant, projectId, lastDeploy ?? 0),
    };
  });
}

export async function updateBrief(d: WorkspaceDomain, tenant: string, projectId: string, input: { intent?: string; brief?: string }): Promise<void> {
  await getProject(d, tenant, projectId);
  if ((input.intent?.length ?? 0) > MAX_BRIEF) throw invalidArgument("intent", `at most ${MAX_BRIEF} characters`);
  if ((input.brief?.length ?? 0) > MAX_BRIEF) throw invalidArgument("brief", `at most ${MAX_BRIEF} characters`);
  if (input.intent === undefined && input.brief === undefined) return;
  await write(d, tenant, function* (tx, emit) {
    yield* d.store.updateProject(tx, tenant, projectId, { intent: input.intent, brief: input.brief }, d.clock.now());
    yield* emit(projectId, "", "project.brief_updated", "Project brief updated");
  });
}

/** A project of the tenant, or undefined (for other domains that treat absence as an outcome). */
export function findProject(d: WorkspaceDomain, tenant: string, id: string): Promise<Project | undefined> {
  return read(d, (tx) => d.store.getProject(tx, tenant, id));
}
