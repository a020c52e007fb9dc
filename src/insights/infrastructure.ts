import { AppError, invalidArgument } from "../core/errors.ts";
import { newId } from "../core/ids.ts";
import type { Json, Task } from "../tasks/types.ts";
import { listEnvVars } from "../workspaces/env-vars.ts";
import { getProject } from "../workspaces/projects.ts";
import { getWorkspace, manifestOf } from "../workspaces/workspaces.ts";
import { checkShape, limitOffset, notFound, oneOf, page } from "./checks.ts";
import { DEPLOY_QUEUE, type InsightsDomain, type TaskKind } from "./context.ts";
import { detect, type Detection } from "./detection.ts";
import { awaitCall, startCall } from "./task-call.ts";
import type { Credential, Deployment, DeploySettings, Resource } from "./types.ts";

export const PROVIDERS = ["railway", "fly", "render", "vercel", "cloudflare", "neon", "upstash", "supabase"] as const;
export const RUNTIMES = ["node", "bun", "python", "go", "docker", "static"] as const;
export const VALIDATE_TYPE = "credentials.validate";
export const DESTROY_TYPE = "resource.destroy";
export const DETECT_TYPE = "deploy.detect";
export const PROVISION_TYPE = "deploy.provision";
export const RUN_DEPLOY_TYPE = "deploy.run";
const STATUS_ORDER: Record<string, number> = { queued: 0, building: 1, deploying: 2, succeeded: 3, failed: 3 };
const credContext = (tenant: string, provider: string) => `infra.credential:${tenant}/${provider}`;
const resContext = (tenant: string, id: string) => `infra.resource:${tenant}/${id}`;
const MASKED = /pass|secret|token|key|url|dsn|connection/i;

// ---------------------------------------------------------------- credentials

/** `credentials.validate`: payload `{ provider, metadata }` (token via GetTaskCredential); result `{ valid, message?, account? }`. */
function validateKind(d: InsightsDomain): TaskKind {
  return {
    type: VALIDATE_TYPE,
    queue: DEPLOY_QUEUE,
    check: (r) => checkShape(r, { valid: "boolean", message: { optional: "text" }, account: { optional: "text" } }),
    apply(tenant, call, result, now, _after, task) {
      const r = result as { valid: boolean; message?: string; account?: string };
      if (!r.valid) return { valid: false, message: r.message ?? "the provider refused the token" };
      const p = task?.payload as { provider: string; metadata: Record<string, unknown>; user_id: string };
      const sealed = d.store.callSecret(tenant, call.taskId);
      if (!sealed) return { valid: false, message: "the token is gone" };
      const old = d.store.getCredential(tenant, p.provider);
      d.store.upsertCredential(tenant, {
        id: old?.id ?? newId("cred"), provider: p.provider, userId: p.user_id, sealed, metadata: { ...p.metadata, ...(r.account ? { account: r.account } : {}) }, createdAt: old?.createdAt ?? now, updatedAt: now,
      });
      return { valid: true, id: d.store.getCredential(tenant, p.provider)!.id };
    },
  };
}

export function listCredentials(d: InsightsDomain, tenant: string): Credential[] {
  return d.store.listCredentials(tenant);
}

/** Stores a provider token once a deploy worker validated it (sealed; the plain token is never stored or put in a payload). */
export async function setCredential(d: InsightsDomain, tenant: string, user: string, input: { provider: string; apiToken: string; metadata: Record<string, unknown> }): Promise<string> {
  oneOf("provider", input.provider, PROVIDERS);
  if (!input.apiToken || input.apiToken.length > 4096) throw invalidArgument("api_token", "must be 1 to 4096 characters");
  if (JSON.stringify(input.metadata).length > 16_384) throw invalidArgument("metadata", "at most 16 KiB");
  const sealed = await d.secrets.seal(input.apiToken, credContext(tenant, input.provider));
  const { taskId } = await startCall(d, tenant, {
    type: VALIDATE_TYPE, subject: input.provider, title: `Validate the ${input.provider} token`, sealedSecret: sealed,
    payload: { provider: input.provider, metadata: input.metadata, user_id: user } as unknown as Json,
  });
  const call = await awaitCall(d, tenant, taskId);
  const out = call.output as { valid: boolean; message?: string; id?: string };
  if (!out.valid) throw new AppError("failed_precondition", "CREDENTIAL_REJECTED", `${input.provider} refused the token: ${out.message ?? ""}`, { provider: input.provider });
  return out.id!;
}

export async function deleteCredential(d: InsightsDomain, tenant: string, provider: string): Promise<void> {
  const gone = await d.database.committer.run(() => d.store.deleteCredential(tenant, provider));
  if (!gone) throw notFound("CREDENTIAL_NOT_FOUND", "credential", provider);
}

/** The token a held task needs: its holder only (fencing token), only a provider the task names. */
export async function taskCredential(d: InsightsDomain, tenant: string, taskId: string, fencingToken: number, provider: string): Promise<string> {
  const task = await d.tasks.getTask(tenant, taskId);
  if (!task) throw notFound("TASK_NOT_FOUND", "task", taskId);
  if (task.state !== "running" || task.lease?.fencingToken !== fencingToken) throw new AppError("failed_precondition", "LEASE_LOST", `task ${taskId} is not held with this fencing token`, { task_id: taskId });
  const named = (task.payload as { provider?: string } | undefined)?.provider;
  const none = () => new AppError("failed_precondition", "CREDENTIAL_NOT_FOUND", `task ${taskId} needs no ${provider} credential`, { provider });
  if (named !== provider) throw none();
  if (task.type === VALIDATE_TYPE) {
    const sealed = d.store.callSecret(tenant, taskId);
    if (!sealed) throw none();
    return d.secrets.open(sealed, credContext(tenant, provider));
  }
  if (![PROVISION_TYPE, RUN_DEPLOY_TYPE, DESTROY_TYPE].includes(task.type)) throw none();
  const c = d.store.getCredential(tenant, provider);
  if (!c) throw none();
  return d.secrets.open(c.sealed, credContext(tenant, provider));
}

// ---------------------------------------------------------------- settings

export function getSettings(d: InsightsDomain, tenant: string, workspaceId: string): DeploySettings {
  getWorkspace(d.workspaces, tenant, workspaceId);
  return d.store.getSettings(tenant, workspaceId) ?? { workspaceId, autoDeploy: false, runtimeOverride: "", buildCommand: "", startCommand: "", updatedAt: 0 };
}

export async function updateSettings(d: InsightsDomain, tenant: string, workspaceId: string, set: { autoDeploy?: boolean; runtimeOverride?: string; buildCommand?: string; startCommand?: string }): Promise<DeploySettings> {
  const cur = getSettings(d, tenant, workspaceId);
  if (set.runtimeOverride) oneOf("runtime_override", set.runtimeOverride, RUNTIMES);
  if ((set.buildCommand?.length ?? 0) > 4096) throw invalidArgument("build_command", "at most 4096 characters");
  if ((set.startCommand?.length ?? 0) > 4096) throw invalidArgument("start_command", "at most 4096 characters");
  const next: DeploySettings = {
    workspaceId, autoDeploy: set.autoDeploy ?? cur.autoDeploy, runtimeOverride: set.runtimeOverride ?? cur.runtimeOverride,
    buildCommand: set.buildCommand ?? cur.buildCommand, startCommand: set.startCommand ?? cur.startCommand, updatedAt: d.clock.now(),
  };
  await d.database.committer.run(() => d.store.putSettings(tenant, next));
  return next;
}

// ---------------------------------------------------------------- resources

/** A resource's connection info with secrets masked (values of password/secret/token/key/url… keys). */
export async function maskedConnection(d: InsightsDomain, tenant: string, r: Resource): Promise<Record<string, unknown>> {
  const plain = r.sealedConnection ? (JSON.parse(await d.secrets.open(r.sealedConnection, resContext(tenant, r.id))) as Record<string, unknown>) : {};
  return Object.fromEntries(Object.entries(plain).map(([k, v]) => [k, MASKED.test(k) ? "********" : v]));
}

export function listResources(d: InsightsDomain, tenant: string, projectId: string, pageSize: number, pageToken: string): { items: Resource[]; next: string } {
  getProject(d.workspaces, tenant, projectId);
  const { limit, offset } = page(pageSize, pageToken, 50, 1000);
  const items = d.store.listResources(tenant, projectId, limit + 1, offset);
  return { items: items.slice(0, limit), next: items.length > limit ? String(offset + limit) : "" };
}

export function getResource(d: InsightsDomain, tenant: string, projectId: string, id: string): Resource {
  getProject(d.workspaces, tenant, projectId);
  const r = d.store.getResource(tenant, projectId, id);
  if (!r) throw notFound("RESOURCE_NOT_FOUND", "resource", id);
  return r;
}

/** `resource.destroy`: payload `{ resource_id, provider, provider_resource_id, type }`; result `{ destroyed }` (false: already gone). */
function destroyKind(d: InsightsDomain): TaskKind {
  return {
    type: DESTROY_TYPE,
    queue: DEPLOY_QUEUE,
    check: (r) => checkShape(r, { destroyed: "boolean" }),
    apply(tenant, call) {
      d.store.deleteResource(tenant, call.subject);
      return { destroyed: true };
    },
    failed(tenant, call, _error, now) {
      d.store.setResourceStatus(tenant, call.subject, "failed", now);
    },
  };
}

export async function deleteResource(d: InsightsDomain, tenant: string, projectId: string, id: string): Promise<void> {
  const r = getResource(d, tenant, projectId, id);
  if (!d.store.getCredential(tenant, r.provider)) throw new AppError("failed_precondition", "CREDENTIAL_NOT_FOUND", `no ${r.provider} credential is stored`, { provider: r.provider });
  const { taskId } = await startCall(d, tenant, {
    type: DESTROY_TYPE, subject: r.id, title: `Destroy ${r.name}`, payload: { resource_id: r.id, provider: r.provider, provider_resource_id: r.providerResourceId, type: r.type } as unknown as Json,
  });
  try {
    await awaitCall(d, tenant, taskId);
  } catch (e) {
    if (e instanceof AppError && e.reason === "WORKER_TASK_FAILED") throw new AppError("failed_precondition", "RESOURCE_DESTROY_FAILED", `the provider refused: ${e.message}`, { resource_id: r.id, task_id: taskId });
    throw e;
  }
}

// ---------------------------------------------------------------- detection

export async function detectRequirements(d: InsightsDomain, tenant: string, projectId: string, manifestHash: string | undefined): Promise<{ detection: Detection; suggested: { type: string; provider: string; name: string; reason: string }[] }> {
  const project = getProject(d.workspaces, tenant, projectId);
  let hash = manifestHash;
  if (hash !== undefined && !/^[0-9a-f]{64}$/.test(hash)) throw invalidArgument("manifest_hash", "must be 64 lowercase hex digits");
  if (!hash) {
    hash = project.lastSnapshotId ? d.workspaces.store.getSnapshot(tenant, project.lastSnapshotId)?.manifestHash : undefined;
    if (!hash) throw new AppError("failed_precondition", "NO_SNAPSHOT", "the project has no snapshot", { project_id: projectId });
  }
  const resources = d.store.listResources(tenant, projectId, 1000, 0);
  const envKeys = new Set((await listEnvVars(d.workspaces, tenant, projectId)).map((v) => v.key));
  let detection: Detection;
  try {
    detection = await detect(d, tenant, hash, resources, envKeys);
  } catch (e) {
    if (e instanceof AppError && e.code === "not_found") throw new AppError("failed_precondition", "MANIFEST_NOT_FOUND", `manifest ${hash} is not stored`, { manifest_hash: hash });
    throw e;
  }
  const provider = deployProvider(d, tenant) ?? "railway";
  const suggested = detection.requirements
    .filter((r) => !r.satisfied && (r.type === "database" || r.type === "cache"))
    .map((r) => ({ type: r.type, provider, name: `${project.name}-${r.name}`.toLowerCase().replace(/[^a-z0-9-]/g, "-"), reason: `needed by ${r.evidence.join(", ")}` }));
  return { detection, suggested };
}

/** The provider deployments go to: `railway` when its credential is stored, else the first stored. */
function deployProvider(d: InsightsDomain, tenant: string): string | undefined {
  const creds = d.store.listCredentials(tenant);
  return creds.find((c) => c.provider === "railway")?.provider ?? creds[0]?.provider;
}

// ---------------------------------------------------------------- deployments

export function listDeployments(d: InsightsDomain, tenant: string, workspaceId: string, limit: number, pageToken: string): { items: Deployment[]; next: string } {
  getWorkspace(d.workspaces, tenant, workspaceId);
  const p = pageToken ? page(limit, pageToken, 20, 100) : limitOffset(limit, 0, 20, 100);
  const items = d.store.listDeployments(tenant, workspaceId, p.limit + 1, p.offset);
  return { items: items.slice(0, p.limit), next: items.length > p.limit ? String(p.offset + p.limit) : "" };
}

function moveDeployment(d: InsightsDomain, tenant: string, id: string, status: string, now: number, set: { url?: string; error?: string } = {}): boolean {
  const x = d.store.getDeployment(tenant, id);
  if (!x || STATUS_ORDER[status]! < STATUS_ORDER[x.status]! || (STATUS_ORDER[x.status] === 3 && status !== x.status)) return false;
  d.store.updateDeployment(tenant, id, { status, ...set, completedAt: STATUS_ORDER[status] === 3 ? now : undefined });
  return true;
}

/** The three kinds of the deploy chain (each on queue `deploy`; a failed step fails the deployment, the engine cancels the rest). */
function chainKinds(d: InsightsDomain): TaskKind[] {
  const failed = (step: string) => (tenant: string, call: { subject: string }, error: { reason: string; message: string }, now: number) => {
    if (error.reason === "DEPENDENCY_FAILED") return; // the failing step already said why
    moveDeployment(d, tenant, call.subject, "failed", now, { error: `${step}: ${error.reason}: ${error.message}`.slice(0, 2000) });
  };
  const claimed = (status: string) => (tenant: string, call: { subject: string }, task: Task, now: number) => {
    if (task.state === "running") moveDeployment(d, tenant, call.subject, status, now);
  };
  return [
    {
      type: DETECT_TYPE, queue: DEPLOY_QUEUE,
      check: (r) => checkShape(r, { runtime: { optional: "text" }, notes: { optional: "text" } }),
      apply: () => ({}),
      failed: failed("detect"),
      progress: claimed("building"),
    },
    {
      type: PROVISION_TYPE, queue: DEPLOY_QUEUE,
      check: (r) => checkShape(r, { resources: { list: { type: "string", name: "string", provider_resource_id: "string", env_var_keys: { optional: "strings" } }, max: 20 } }),
      async prepare(tenant, _call, result) {
        // Connection infos are sealed before the write that stores the resources.
        const list = (result as { resources: { connection?: unknown }[] }).resources;
        return Promise.all(list.map(async () => newId("res"))).then(async (ids) => ({
          ids,
          sealed: await Promise.all(list.map((r, i) => d.secrets.seal(JSON.stringify(r.connection && typeof r.connection === "object" ? r.connection : {}), resContext(tenant, ids[i]!)))),
        }));
      },
      apply(tenant, call, result, now, _after, task, prepared) {
        const { ids, sealed } = prepared as { ids: string[]; sealed: string[] };
        const x = d.store.getDeployment(tenant, call.subject);
        const list = (result as { resources: { type: string; name: string; provider_resource_id: string; env_var_keys?: string[] }[] }).resources;
        const provider = (task?.payload as { provider?: string } | undefined)?.provider ?? "";
        list.forEach((r, i) => {
          d.store.insertResource(tenant, {
            id: ids[i]!, projectId: x?.projectId ?? "", type: r.type, provider, name: r.name, status: "active", providerResourceId: r.provider_resource_id,
            sealedConnection: sealed[i]!, envVarKeys: r.env_var_keys ?? [], createdAt: now, updatedAt: now,
          });
        });
        return { resource_ids: ids };
      },
      failed: failed("provision"),
    },
    {
      type: RUN_DEPLOY_TYPE, queue: DEPLOY_QUEUE,
      check: (r) => checkShape(r, { url: "string" }),
      apply(tenant, call, result, now) {
        moveDeployment(d, tenant, call.subject, "succeeded", now, { url: (result as { url: string }).url });
        return {};
      },
      failed: failed("deploy"),
      progress: claimed("deploying"),
    },
  ];
}

export function infrastructureKinds(d: InsightsDomain): TaskKind[] {
  return [validateKind(d), destroyKind(d), ...chainKinds(d)];
}

export interface DeployOutcome {
  deployment: Deployment;
  resources: Resource[];
  provisioned: Resource[];
}

/**
 * The deploy pipeline: Switchyard detects requirements from the manifest, then a chain of
 * tasks on queue `deploy` — `deploy.detect` → `deploy.provision` (missing resources) →
 * `deploy.run` — each depending on the previous (a failing step fails the deployment and the
 * engine cancels the rest). Waits for the chain up to the deadline.
 */
export async function deployProject(d: InsightsDomain, tenant: string, projectId: string, input: { workspaceId?: string; source?: string; requestId: string; conversationId?: string; wait?: boolean }): Promise<DeployOutcome> {
  const project = getProject(d.workspaces, tenant, projectId);
  const trigger = input.source || "manual";
  oneOf("source", trigger, ["manual", "chat", "auto"]);
  if (input.requestId.length > 128) throw invalidArgument("request_id", "at most 128 characters");
  let x = input.requestId ? d.store.deploymentByRequest(tenant, input.requestId) : undefined;
  if (!x) {
    const wsId = input.workspaceId || project.mainWorkspaceId;
    if (!wsId) throw new AppError("failed_precondition", "NO_MAIN_WORKSPACE", "the project has no main workspace", { project_id: projectId });
    const w = getWorkspace(d.workspaces, tenant, wsId);
    if (w.projectId !== projectId) throw notFound("WORKSPACE_NOT_FOUND", "workspace", wsId);
    const manifest = manifestOf(d.workspaces, w, false);
    if (!manifest) throw new AppError("failed_precondition", "NO_MANIFEST", "the workspace has no manifest", { workspace_id: w.id });
    const provider = deployProvider(d, tenant);
    if (!provider) throw new AppError("failed_precondition", "CREDENTIAL_NOT_FOUND", "no provider credential is stored", { provider: "railway" });
    const { detection, suggested } = await detectRequirements(d, tenant, projectId, manifest);
    const settings = getSettings(d, tenant, w.id);
    const id = newId("dep");
    const tasks = { detect: newId("task"), provision: newId("task"), deploy: newId("task") };
    const now = d.clock.now();
    const deployment: Deployment = {
      id, workspaceId: w.id, projectId, snapshotId: w.lastSnapshotId ?? "", status: "queued", trigger, url: "", error: "", conversationId: input.conversationId ?? "",
      taskId: tasks.deploy, tasks, startedAt: now, completedAt: undefined,
    };
    await d.database.committer.run(() => d.store.insertDeployment(tenant, deployment, input.requestId || null));
    const det = { runtime: settings.runtimeOverride || detection.runtime, framework: detection.framework, build_command: settings.buildCommand || detection.buildCommand, start_command: settings.startCommand || detection.startCommand, port: detection.port };
    const resources = d.store.listResources(tenant, projectId, 1000, 0);
    await startCall(d, tenant, { type: DETECT_TYPE, subject: id, taskId: tasks.detect, title: `Detect ${project.name}`, payload: { deployment_id: id, manifest_hash: manifest, detection: det } as unknown as Json });
    await startCall(d, tenant, {
      type: PROVISION_TYPE, subject: id, taskId: tasks.provision, title: `Provision ${project.name}`, dependsOn: [tasks.detect],
      payload: { deployment_id: id, project_id: projectId, provider, resources: suggested.map((s) => ({ type: s.type, name: s.name })) } as unknown as Json,
    });
    await startCall(d, tenant, {
      type: RUN_DEPLOY_TYPE, subject: id, taskId: tasks.deploy, title: `Deploy ${project.name}`, dependsOn: [tasks.provision],
      payload: {
        deployment_id: id, provider, workspace_id: w.id, snapshot_id: deployment.snapshotId, manifest_hash: manifest, ...det,
        env_var_keys: [...new Set((await listEnvVars(d.workspaces, tenant, projectId)).map((v) => v.key).concat(resources.flatMap((r) => r.envVarKeys)))],
      } as unknown as Json,
    });
    x = deployment;
  }
  try {
    if (input.wait !== false) await awaitCall(d, tenant, x.tasks.deploy);
  } catch (e) {
    if (!(e instanceof AppError)) throw e;
    // No worker took the first step: unavailable (the chain stays queued). Otherwise the answer is the status.
    const first = d.store.getCall(tenant, x.tasks.detect);
    if (e.reason === "NO_WORKER" && first?.status === "pending" && (await d.tasks.getTask(tenant, x.tasks.detect))?.state === "pending") {
      throw new AppError("unavailable", "NO_WORKER", e.message, { ...e.metadata, task_id: x.tasks.detect, deployment_id: x.id });
    }
  }
  const deployment = d.store.getDeployment(tenant, x.id)!;
  const all = d.store.listResources(tenant, projectId, 1000, 0);
  const provisionedIds = new Set(((d.store.getCall(tenant, x.tasks.provision)?.output as { resource_ids?: string[] } | undefined)?.resource_ids) ?? []);
  return { deployment, resources: all, provisioned: all.filter((r) => provisionedIds.has(r.id)) };
}

/** A deploy worker's status callback (`queued` → `building` → `deploying` → `succeeded` | `failed`). */
export async function updateDeploymentStatus(d: InsightsDomain, tenant: string, id: string, input: { status: string; url?: string; error?: string; fencingToken?: number }): Promise<void> {
  oneOf("status", input.status, Object.keys(STATUS_ORDER));
  const x = d.store.getDeployment(tenant, id);
  if (!x) throw notFound("DEPLOYMENT_NOT_FOUND", "deployment", id);
  if (input.fencingToken !== undefined) {
    let held = false;
    for (const t of Object.values(x.tasks)) {
      const task = await d.tasks.getTask(tenant, t);
      if (task?.state === "running" && task.lease?.fencingToken === input.fencingToken) held = true;
    }
    if (!held) throw new AppError("failed_precondition", "LEASE_LOST", "no task of this deployment is held with this fencing token", { deployment_id: id });
  }
  if (x.status === input.status) return;
  const ok = await d.database.committer.run(() => moveDeployment(d, tenant, id, input.status, d.clock.now(), { url: input.url, error: input.error }));
  if (!ok) throw new AppError("failed_precondition", "INVALID_TRANSITION", `deployment ${id} cannot go from ${x.status} to ${input.status}`, { deployment_id: id, status: x.status });
}

/** A deployment's log: one line per step of its chain, with the step's state and error. */
export async function deploymentLog(d: InsightsDomain, tenant: string, x: Deployment): Promise<{ sequence: number; timestamp: number; stream: string; level: string; message: string }[]> {
  const out: { sequence: number; timestamp: number; stream: string; level: string; message: string }[] = [];
  for (const [step, taskId] of Object.entries(x.tasks)) {
    const t = await d.tasks.getTask(tenant, taskId);
    if (!t) continue;
    const failed = t.state === "failed" || t.state === "cancelled" || t.state === "timed_out";
    out.push({
      sequence: out.length + 1, timestamp: t.finishedAt ?? t.startedAt ?? t.createdAt, stream: "system", level: failed ? "error" : "info",
      message: `${step}: ${t.state}${t.error ? ` (${t.error.reason ?? ""}: ${t.error.message})` : ""}`,
    });
  }
  return out;
}
