import { AppError, invalidArgument, notFound } from "../core/errors.ts";
import { newId } from "../core/ids.ts";
import type { WorkspaceDomain } from "./context.ts";
import { read, write } from "./events.ts";
import { getProject } from "./projects.ts";
import type { EnvVar } from "./types.ts";

const KEY = /^[A-Za-z_][A-Za-z0-9_]{0,255}$/;
export const MAX_VALUE = 64 * 1024;
export const MAX_BATCH = 1000;
/** Most variables one project holds. */
export const MAX_VARS = 1000;

const context = (tenant: string, projectId: string, key: string) => `env:${tenant}:${projectId}:${key}`;

async function open(d: WorkspaceDomain, tenant: string, projectId: string, key: string, sealed: string): Promise<string> {
  try {
    return await d.secrets.open(sealed, context(tenant, projectId, key));
  } catch {
    throw new AppError("internal", "ENV_VAR_UNREADABLE", `secret ${key} cannot be decrypted with the configured keys`, { key });
  }
}

function check(key: string, value: string, field: string): void {
  if (!KEY.test(key)) throw invalidArgument(`${field}key`, "must be a letter or '_' then letters, digits or '_' (at most 256)");
  if (value.length > MAX_VALUE) throw invalidArgument(`${field}value`, `at most ${MAX_VALUE} characters`);
}

/** Variables by key; secret values masked (last 4 characters), never returned in clear here. */
export async function listEnvVars(d: WorkspaceDomain, tenant: string, projectId: string): Promise<EnvVar[]> {
  await getProject(d, tenant, projectId);
  const vars = await read(d, (tx) => d.store.listEnvVars(tx, tenant, projectId));
  return Promise.all(vars.map(async (v) => (v.isSecret ? { ...v, value: d.secrets.mask(await open(d, tenant, projectId, v.key, v.value)) } : v)));
}

/** Every variable in clear (the internal endpoint for deployments). */
export async function envVarValues(d: WorkspaceDomain, tenant: string, projectId: string): Promise<{ key: string; value: string; isSecret: boolean }[]> {
  await getProject(d, tenant, projectId);
  return Promise.all(
    (await read(d, (tx) => d.store.listEnvVars(tx, tenant, projectId))).map(async (v) => ({ key: v.key, value: v.isSecret ? await open(d, tenant, projectId, v.key, v.value) : v.value, isSecret: v.isSecret })),
  );
}

/** Sets (upserts) variables; secrets are sealed (AES-256-GCM, fresh nonce) before they reach the database. */
export async function setEnvVars(d: WorkspaceDomain, tenant: string, projectId: string, entries: { key: string; value: string; isSecret?: boolean }[], batch: boolean): Promise<number> {
  await getProject(d, tenant, projectId);
  if (batch && entries.length > MAX_BATCH) throw invalidArgument("variables", `at most ${MAX_BATCH} per call`);
  entries.forEach((e, i) => check(e.key, e.value, batch ? `variables[${i}].` : ""));
  if (new Set(entries.map((e) => e.key)).size !== entries.length) throw invalidArgument("variables", "a key is listed twice");
  const existing = new Set((await read(d, (tx) => d.store.listEnvVars(tx, tenant, projectId))).map((v) => v.key));
  if (new Set([...existing, ...entries.map((e) => e.key)]).size > MAX_VARS) {
    throw new AppError("resource_exhausted", "ENV_VAR_LIMIT_EXCEEDED", `a project holds at most ${MAX_VARS} environment variables`, { limit: String(MAX_VARS) });
  }
  const now = d.clock.now();
  const rows: EnvVar[] = await Promise.all(
    entries.map(async (e) => ({
      id: newId("env", now),
      projectId,
      key: e.key,
      value: e.isSecret ? await d.secrets.seal(e.value, context(tenant, projectId, e.key)) : e.value,
      isSecret: e.isSecret === true,
      createdAt: now,
      updatedAt: now,
    })),
  );
  await write(d, tenant, function* (tx, emit) {
    for (const r of rows) yield* d.store.upsertEnvVar(tx, tenant, r);
    yield* emit(projectId, "", "env_vars.set", `${rows.length} environment variable(s) set`, { keys: rows.map((r) => r.key) });
  });
  return rows.length;
}

export async function deleteEnvVar(d: WorkspaceDomain, tenant: string, projectId: string, key: string): Promise<void> {
  await getProject(d, tenant, projectId);
  const deleted = await write(d, tenant, function* (tx, emit) {
    const ok = yield* d.store.deleteEnvVar(tx, tenant, projectId, key);
    if (ok) yield* emit(projectId, "", "env_vars.deleted", `Environment variable ${key} deleted`, { key });
    return ok;
  });
  if (!deleted) throw notFound("ENV_VAR_NOT_FOUND", `Environment variable ${key} not found`, { key });
}
