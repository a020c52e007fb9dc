import { invalidArgument, notFound } from "../core/errors.ts";
import { newId } from "../core/ids.ts";
import type { WorkspaceDomain } from "./context.ts";
import { write } from "./events.ts";
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
export function getProject(d: WorkspaceDomain, tenant: string, id: string): Project {
  const p = id ? d.store.getProject(tenant, id) : undefined;
  if (!p) throw notFound("PROJECT_NOT_FOUND", "Project not found", { project_id: id });
  return p;
}

export async function createProject(d: WorkspaceDomain, tenant: string, user: string, input: { name: string; requestId: string }): Promise<Project> {
  const name = checkName(input.name);
  const requestId = checkRequestId(input.requestId);
  return write(d, tenant, (emit) => {
    if (requestId) {
      const prior = d.store.projectByRequest(tenant, requestId);
      if (prior) return prior;
    }
    const now = d.clock.now();
    const p: Project = { tenant, id: newId("prj", now), userId: user, name, mainWorkspaceId: null, lastSnapshotId: null, intent: "", brief: "", createdAt: now, updatedAt: now };
    d.store.insertProject(p, requestId);
    emit(p.id, "", "project.created", `Project ${name} created`);
    return p;
  });
}

/** Projects by most recently updated first; offset pagination (the token is the offset). */
export function listProjects(d: WorkspaceDomain, tenant: string, pageSize: number, pageToken: string): { items: Project[]; next: string } {
  const { limit, offset } = page(pageSize, pageToken, 100, 1000);
  const items = d.store.listProjects(tenant, limit + 1, offset);
  return { items: items.slice(0, limit), next: items.length > limit ? String(offset + limit) : "" };
}

/** Page size and offset from a request: `0` means `fallback`, above `max` is `max`. */
export function page(size: number, token: string, fallback: number, max: number, field = "page_size"): { limit: number; offset: number } {
  if (size < 0) throw invalidArgument(field, "must not be negative");
  if (token !== "" && !/^\d{1,9}$/.test(token)) throw invalidArgument("page_token", "was not issued by this server");
  return { limit: Math.min(size || fallback, max), offset: token === "" ? 0 : Number(token) };
}

export function listEvents(d: WorkspaceDomain, tenant: string, projectId: string, limit: number, pageToken: string): { items: ProjectEvent[]; next: string } {
  getProject(d, tenant, projectId);
  const { limit: n } = page(limit, "", 20, 100, "limit");
  if (pageToken !== "" && !/^\d{1,15}$/.test(pageToken)) throw invalidArgument("page_token", "was not issued by this server");
  const before = pageToken === "" ? Number.MAX_SAFE_INTEGER : Number(pageToken);
  const items = d.store.listEvents(tenant, projectId, n + 1, before);
  const shown = items.slice(0, n);
  return { items: shown, next: items.length > n ? String(shown[shown.length - 1]!.seq) : "" };
}

/** Events after `afterEventId`, then live ones, until `signal` aborts. */
export async function* watchEvents(d: WorkspaceDomain, tenant: string, projectId: string, afterEventId: string, signal: AbortSignal): AsyncGenerator<ProjectEvent> {
  getProject(d, tenant, projectId);
  const live = d.events.watch(tenant, projectId, signal);
  let last = 0;
  if (afterEventId !== "") {
    const seq = d.store.eventSeq(tenant, afterEventId);
    if (seq === undefined) throw invalidArgument("after_event_id", "no such event");
    last = seq;
    for (;;) {
      const batch = d.store.eventsAfter(tenant, projectId, last, 500);
      for (const e of batch) {
        last = e.seq;
        yield e;
      }
      if (batch.length < 500) break;
    }
  } else last = Number.MAX_SAFE_INTEGER - 1;
  // The live subscription exists before the replay read, so nothing falls in between; skip doubles.
  for await (const e of live) {
    if (last !== Number.MAX_SAFE_INTEGER - 1 && e.seq <= last) continue;
    yield e;
  }
}

export function projectStatus(d: WorkspaceDomain, tenant: string, projectId: string) {
  const p = getProject(d, tenant, projectId);
  const lastEvent = d.store.lastEventAt(tenant, projectId);
  return { lastSnapshotId: p.lastSnapshotId ?? "", updatedAt: p.updatedAt, lastActivity: lastEvent };
}

/** Last merge (sync) and deploy times, and snapshots since each. */
export function snapshotInsights(d: WorkspaceDomain, tenant: string, projectId: string) {
  const lastMerge = d.store.lastEventAt(tenant, projectId, "sync.executed");
  const lastDeploy = d.store.lastEventAt(tenant, projectId, "deploy.started");
  return {
    lastMergeAt: lastMerge,
    lastDeployAt: lastDeploy,
    snapshotsSinceMerge: d.store.countSnapshotsSince(tenant, projectId, lastMerge ?? 0),
    snapshotsSinceDeploy: d.store.countSnapshotsSince(tenant, projectId, lastDeploy ?? 0),
  };
}

export async function updateBrief(d: WorkspaceDomain, tenant: string, projectId: string, input: { intent?: string; brief?: string }): Promise<void> {
  getProject(d, tenant, projectId);
  if ((input.intent?.length ?? 0) > MAX_BRIEF) throw invalidArgument("intent", `at most ${MAX_BRIEF} characters`);
  if ((input.brief?.length ?? 0) > MAX_BRIEF) throw invalidArgument("brief", `at most ${MAX_BRIEF} characters`);
  if (input.intent === undefined && input.brief === undefined) return;
  await write(d, tenant, (emit) => {
    d.store.updateProject(tenant, projectId, { intent: input.intent, brief: input.brief }, d.clock.now());
    emit(projectId, "", "project.brief_updated", "Project brief updated");
  });
}
