import { AppError, invalidArgument, notFound } from "../core/errors.ts";
import { newId } from "../core/ids.ts";
import { checkHash } from "./blobs.ts";
import type { WorkspaceDomain } from "./context.ts";
import { read, write } from "./events.ts";
import { getProject, page } from "./projects.ts";
import type { Snapshot } from "./types.ts";

const SNAPSHOT_ID = /^[\w.:-]{1,128}$/;
export const MAX_PARENTS = 16;

/** A snapshot of the tenant (ownership through its project), or SNAPSHOT_NOT_FOUND. */
export async function getSnapshot(d: WorkspaceDomain, tenant: string, id: string): Promise<Snapshot> {
  const s = id
    ? await read(d, function* (tx) {
        const snap = yield* d.store.getSnapshot(tx, tenant, id);
        return snap && (yield* d.store.getProject(tx, tenant, snap.projectId)) ? snap : undefined;
      })
    : undefined;
  if (!s) throw notFound("SNAPSHOT_NOT_FOUND", "Snapshot not found", { snapshot_id: id });
  return s;
}

export interface NewSnapshot {
  projectId: string;
  manifestHash: string;
  snapshotId?: string;
  parents: string[];
  workspaceId?: string;
  source?: string;
  summary?: string;
  /** The creating user, recorded. */
  user?: string;
}

/**
 * Registers a snapshot of a stored manifest. Idempotent by `snapshotId`: the same id with the
 * same manifest answers the first snapshot (`created: false`); with another manifest or other
 * parents it is refused. Parents must be snapshots of the same project (a DAG: since every parent
 * exists before its child and a snapshot never changes, a cycle could only be a snapshot naming
 * itself, which is refused).
 */
export async function createSnapshot(d: WorkspaceDomain, tenant: string, input: NewSnapshot): Promise<{ snapshot: Snapshot; created: boolean }> {
  const project = await getProject(d, tenant, input.projectId);
  checkHash(input.manifestHash, "manifest_hash");
  if (input.snapshotId !== undefined && input.snapshotId !== "" && !SNAPSHOT_ID.test(input.snapshotId)) {
    throw invalidArgument("snapshot_id", "1 to 128 letters, digits, '_', '.', ':' or '-'");
  }
  const parents = [...new Set(input.parents.filter((p) => p !== ""))];
  if (parents.length > MAX_PARENTS) throw invalidArgument("parent_snapshot_ids", `at most ${MAX_PARENTS} parents`);
  if ((input.source ?? "").length > 64) throw invalidArgument("source", "at most 64 characters");
  if ((input.summary ?? "").length > 4096) throw invalidArgument("summary", "at most 4096 characters");
  if ((await read(d, (tx) => d.store.objectSize(tx, tenant, "manifest", input.manifestHash))) === undefined) {
    throw new AppError("failed_precondition", "MANIFEST_NOT_FOUND", "Manifest not found; upload it first", { manifest_hash: input.manifestHash });
  }
  const workspaceId = input.workspaceId;
  const workspace = workspaceId ? await read(d, (tx) => d.store.getWorkspace(tx, tenant, workspaceId)) : undefined;
  if (input.workspaceId && (!workspace || workspace.projectId !== project.id)) {
    throw notFound("WORKSPACE_NOT_FOUND", "Workspace not found", { workspace_id: input.workspaceId });
  }
  const same = (prior: Snapshot, id: string) => {
    if (prior.projectId !== project.id || prior.manifestHash !== input.manifestHash || (parents.length > 0 && prior.parents.join() !== parents.join())) {
      throw new AppError("already_exists", "SNAPSHOT_ID_CONFLICT", `snapshot ${id} exists with another manifest or parents`, { snapshot_id: id });
    }
    return { snapshot: prior, created: false };
  };
  return write(d, tenant, function* (tx, emit) {
    const id = input.snapshotId || newId("snap", d.clock.now());
    const prior = yield* d.store.getSnapshot(tx, tenant, id);
    if (prior) return same(prior, id);
    for (const [i, p] of parents.entries()) {
      if (p === id) throw new AppError("invalid_argument", "SNAPSHOT_CYCLE", `snapshot ${id} cannot be its own parent`, { field: `parent_snapshot_ids[${i}]` });
      const parent = yield* d.store.getSnapshot(tx, tenant, p);
      if (!parent || parent.projectId !== project.id) {
        throw new AppError("failed_precondition", "PARENT_SNAPSHOT_NOT_FOUND", `parent snapshot ${p} is not a snapshot of this project`, { field: `parent_snapshot_ids[${i}]` });
      }
    }
    const now = d.clock.now();
    const s: Snapshot = {
      tenant, id, projectId: project.id, workspaceId: workspace?.id ?? null, createdBy: input.user ?? "", manifestHash: input.manifestHash, parents,
      source: input.source ?? "", summary: input.summary ?? "", createdAt: now,
    };
    // The same id committed meanwhile by another instance (PostgreSQL): answered as a retry.
    if (!(yield* d.store.insertSnapshot(tx, s))) return same((yield* d.store.getSnapshot(tx, tenant, id))!, id);
    yield* d.store.updateProject(tx, tenant, project.id, { lastSnapshotId: id }, now);
    if (workspace) yield* d.store.setLastSnapshot(tx, tenant, workspace.id, id, now);
    yield* emit(project.id, workspace?.id ?? "", "snapshot.created", `Snapshot ${id} created`, { snapshot_id: id, manifest_hash: s.manifestHash });
    return { snapshot: s, created: true };
  });
}

export async function listSnapshots(d: WorkspaceDomain, tenant: string, by: { projectId?: string; workspaceId?: string }, limit: number, pageToken: string) {
  if (by.projectId !== undefined) await getProject(d, tenant, by.projectId);
  else if (!(await read(d, (tx) => d.store.getWorkspace(tx, tenant, by.workspaceId ?? "")))) throw notFound("WORKSPACE_NOT_FOUND", "Workspace not found", { workspace_id: by.workspaceId ?? "" });
  const { limit: n, offset } = page(limit, pageToken, 50, 100, "limit");
  const items = await read(d, (tx) => d.store.listSnapshots(tx, tenant, by, n + 1, offset));
  return { items: items.slice(0, n), next: items.length > n ? String(offset + n) : "" };
}

export type Dag = Map<string, { parents: string[]; createdAt: number }>;

/** Every ancestor of `id`, itself included. */
export function ancestors(dag: Dag, id: string): Set<string> {
  const seen = new Set<string>();
  const stack = [id];
  while (stack.length > 0) {
    const s = stack.pop()!;
    if (seen.has(s) || !dag.has(s)) continue;
    seen.add(s);
    stack.push(...dag.get(s)!.parents);
  }
  return seen;
}

/**
 * The merge base of two snapshots: their nearest common ancestor. The candidates are the
 * common ancestors that are not ancestors of another common ancestor (git's "best common
 * ancestors"). In a criss-cross history there are several; git's recursive strategy merges
 * them into a virtual base, here the most recent candidate is taken (latest `created_at`, then
 * the smallest id), which is deterministic and what `git merge-base` prints first in practice.
 * Undefined when the histories share nothing (the merge then uses an empty base).
 */
export function mergeBase(dag: Dag, a: string, b: string): { base: string | undefined; candidates: string[] } {
  const ofA = ancestors(dag, a);
  const common = [...ancestors(dag, b)].filter((s) => ofA.has(s));
  if (common.length === 0) return { base: undefined, candidates: [] };
  const dominated = new Set<string>();
  for (const c of common) for (const p of dag.get(c)!.parents) for (const anc of ancestors(dag, p)) dominated.add(anc);
  const candidates = common.filter((c) => !dominated.has(c));
  candidates.sort((x, y) => dag.get(y)!.createdAt - dag.get(x)!.createdAt || (x < y ? -1 : x > y ? 1 : 0));
  return { base: candidates[0], candidates };
}

/** A snapshot of the tenant by id, or undefined (no project check: for other domains' lookups). */
export function findSnapshot(d: WorkspaceDomain, tenant: string, id: string): Promise<Snapshot | undefined> {
  return read(d, (tx) => d.store.getSnapshot(tx, tenant, id));
}
