import type { Tx } from "../db/dialect.ts";
import type { Op } from "../db/op.ts";
import { readFile } from "node:fs/promises";
import type { Clock } from "../core/clock.ts";
import { DEFAULT_TENANT } from "../core/principal.ts";
import { AppError, invalidArgument, notFound } from "../core/errors.ts";
import { checkInt, checkName, checkRequestId, decodePageToken, encodePageToken, parentQueueName } from "./rules.ts";
import { modeCode, rowToConfig, type ConfigRow, type TaskStore } from "./store.ts";
import type { JsonObject, Page, QueueConfig, QueueMode } from "./types.ts";

/** A config as read from YAML or a request, before it is stored. */
export type QueueConfigInput = Partial<Omit<QueueConfig, "source" | "createdAt" | "updatedAt">> & { name: string };

const MODES: QueueMode[] = ["unspecified", "long_running", "one_shot"];

/** Checks a config input; `field` prefixes the names of bad fields. */
export function checkQueueConfig(c: QueueConfigInput, field = "config"): QueueConfigInput {
  if (typeof c !== "object" || c === null) throw invalidArgument(field, "is required");
  checkName(`${field}.name`, c.name);
  if (c.priority !== undefined) checkInt(`${field}.priority`, c.priority, -1_000_000, 1_000_000);
  if (c.mode !== undefined && !MODES.includes(c.mode)) throw invalidArgument(`${field}.mode`, "must be long_running or one_shot");
  if (c.defaultTimeoutMs !== undefined) checkInt(`${field}.default_timeout`, c.defaultTimeoutMs, 0, 31 * 86_400_000);
  if (c.defaultMaxAttempts !== undefined) checkInt(`${field}.default_max_attempts`, c.defaultMaxAttempts, 0, 1000);
  if (c.concurrencyLimit !== undefined) checkInt(`${field}.concurrency_limit`, c.concurrencyLimit, 0, 1_000_000);
  if (c.deployment !== undefined && (typeof c.deployment !== "object" || c.deployment === null || Array.isArray(c.deployment))) {
    throw invalidArgument(`${field}.deployment`, "must be a JSON object");
  }
  if (c.deployment !== undefined) checkDeployment(c.deployment, `${field}.deployment`);
  return c;
}

/** Text settings of a `deployment` block (runqy): where and how a worker gets and starts its code. */
const DEPLOYMENT_TEXT = ["git_url", "branch", "startup_cmd", "requirements_file", "code_path", "mode", "git_token"];

/**
 * The `deployment` block a registering worker receives (seed 003): `git_url`, `branch`,
 * `startup_cmd`, `startup_timeout_secs`, `requirements_file` (and runqy's `code_path`, `mode`,
 * `redis_storage`, `vaults`); other keys are kept as given.
 */
export function checkDeployment(d: JsonObject, field: string): void {
  for (const k of DEPLOYMENT_TEXT) {
    if (d[k] !== undefined && (typeof d[k] !== "string" || (d[k] as string).length > 2048)) throw invalidArgument(`${field}.${k}`, "must be a string of at most 2048 characters");
  }
  const t = d.startup_timeout_secs;
  if (t !== undefined && (typeof t !== "number" || !Number.isInteger(t) || t < 0 || t > 86_400)) throw invalidArgument(`${field}.startup_timeout_secs`, "must be a whole number of seconds from 0 to 86400");
  if (d.redis_storage !== undefined && typeof d.redis_storage !== "boolean") throw invalidArgument(`${field}.redis_storage`, "must be a boolean");
  if (d.vaults !== undefined && (!Array.isArray(d.vaults) || d.vaults.some((v) => typeof v !== "string"))) throw invalidArgument(`${field}.vaults`, "must be a list of strings");
}

/**
 * Reads the runqy-style YAML: a top-level `queues:` map from queue name to settings —
 * `priority`, `mode` (`long_running` | `one_shot`), `deployment` (kept as is), and Switchyard's
 * additions `default_timeout_secs` (or `timeout`), `max_attempts` (or runqy/asynq's
 * `max_retry`, meaning attempts − 1) and `concurrency` (or `concurrency_limit`).
 */
export function parseQueueConfigYaml(text: string): QueueConfigInput[] {
  let doc: unknown;
  try {
    // Loaded on first use: most servers never read a YAML file.
    const { parse } = require("yaml") as typeof import("yaml");
    doc = parse(text);
  } catch (e) {
    throw fileInvalid("", `not valid YAML: ${(e as Error).message}`);
  }
  if (doc === null || doc === undefined) return [];
  if (typeof doc !== "object" || Array.isArray(doc)) throw fileInvalid("", "the document must be a map with a `queues` key");
  const queues = (doc as Record<string, unknown>).queues;
  if (queues === undefined || queues === null) return [];
  if (typeof queues !== "object" || Array.isArray(queues)) throw fileInvalid("queues", "must be a map from queue name to settings");
  const out: QueueConfigInput[] = [];
  for (const [name, raw] of Object.entries(queues as Record<string, unknown>)) {
    const key = `queues.${name}`;
    const v = (raw ?? {}) as Record<string, unknown>;
    if (typeof v !== "object" || Array.isArray(v)) throw fileInvalid(key, "must be a map of settings");
    const num = (k: string): number | undefined => {
      const x = v[k];
      if (x === undefined || x === null) return undefined;
      if (typeof x !== "number" || !Number.isFinite(x)) throw fileInvalid(`${key}.${k}`, "must be a number");
      return x;
    };
    const timeout = num("default_timeout_secs") ?? num("timeout");
    const maxRetry = num("max_retry");
    const c: QueueConfigInput = {
      name,
      priority: num("priority") ?? 0,
      mode: v.mode === undefined ? "unspecified" : (v.mode as QueueMode),
      defaultTimeoutMs: timeout === undefined ? undefined : Math.round(timeout * 1000),
      defaultMaxAttempts: num("max_attempts") ?? (maxRetry === undefined ? 0 : maxRetry + 1),
      concurrencyLimit: num("concurrency") ?? num("concurrency_limit") ?? 0,
      deployment: v.deployment as JsonObject | undefined,
    };
    try {
      checkQueueConfig(c, key);
    } catch (e) {
      if (e instanceof AppError) throw fileInvalid(e.metadata.field ?? key, e.message);
      throw e;
    }
    out.push(c);
  }
  return out;
}

function fileInvalid(key: string, message: string): AppError {
  return new AppError("failed_precondition", "QUEUE_CONFIG_FILE_INVALID", `queue config file: ${key ? key + ": " : ""}${message}`, { key });
}

/** The configs of one tenant as an operation saw them: lookups without further queries. */
export interface ConfigView {
  /** The config of a queue: its own, else its runqy parent's (`inference_high` → `inference`). */
  resolve(name: string): QueueConfig | undefined;
  readonly size: number;
}

function viewOf(cache: Map<string, QueueConfig>): ConfigView {
  return {
    size: cache.size,
    resolve(name) {
      if (cache.size === 0) return undefined;
      const own = cache.get(name);
      if (own) return own;
      const parent = parentQueueName(name);
      return parent ? cache.get(parent) : undefined;
    },
  };
}

/**
 * Queue configs. Configs are per tenant; the YAML file configures the default tenant's queues.
 *
 * On SQLite (one process owns the file) the rows are kept in memory and reloaded after each
 * change, so the claim path reads no table. On PostgreSQL other instances change configs too:
 * every operation reads the tenant's rows (a primary-key range of a small table).
 */
export function createQueueConfigs(deps: { store: TaskStore; clock: Clock; path: string | undefined }) {
  const { store, clock } = deps;
  const cached = store.dialect === "sqlite";
  /** Per tenant: name → config (SQLite only). */
  const byTenant = new Map<string, Map<string, QueueConfig>>();
  const EMPTY = new Map<string, QueueConfig>();
  const cacheOf = (tenant: string) => byTenant.get(tenant) ?? EMPTY;
  let limits = false;

  function fill(rows: ConfigRow[]): void {
    byTenant.clear();
    for (const r of rows) {
      let m = byTenant.get(r.tenant);
      if (!m) byTenant.set(r.tenant, (m = new Map()));
      m.set(r.name, rowToConfig(r));
    }
    limits = [...byTenant.values()].some((m) => [...m.values()].some((c) => c.concurrencyLimit > 0));
  }

  /** The tenant's configs by name. */
  function* all(tx: Tx, tenant: string): Op<Map<string, QueueConfig>> {
    if (cached) return cacheOf(tenant);
    const rows = yield* store.configs(tx, tenant);
    return new Map(rows.map((r) => [r.name, rowToConfig(r)]));
  }

  /** After a change (SQLite): the cache follows the table. */
  function* reload(tx: Tx): Op<void> {
    if (cached) fill(yield* store.configs(tx));
  }

  function* put(tx: Tx, tenant: string, c: QueueConfigInput, source: "api" | "yaml", requestId: string | null, now: number, createdAt: number | undefined): Op<void> {
    yield* store.putConfig(tx, [
      c.name,
      c.priority ?? 0,
      modeCode(c.mode ?? "unspecified"),
      c.defaultTimeoutMs || null,
      c.defaultMaxAttempts ?? 0,
      c.concurrencyLimit ?? 0,
      c.deployment === undefined ? null : JSON.stringify(c.deployment),
      source,
      requestId,
      createdAt ?? now,
      now,
      tenant,
    ]);
  }

  const same = (a: QueueConfig, b: QueueConfigInput): boolean =>
    a.priority === (b.priority ?? 0) &&
    a.mode === (b.mode ?? "unspecified") &&
    (a.defaultTimeoutMs ?? 0) === (b.defaultTimeoutMs ?? 0) &&
    a.defaultMaxAttempts === (b.defaultMaxAttempts ?? 0) &&
    a.concurrencyLimit === (b.concurrencyLimit ?? 0) &&
    JSON.stringify(a.deployment ?? null) === JSON.stringify(b.deployment ?? null) &&
    a.source === "yaml";

  return {
    /** Loads the cache (SQLite; call once at start, outside a write). */
    init: (tx: Tx) => reload(tx),

    /** The tenant's configs for lookups inside one operation. */
    *view(tx: Tx, tenant: string): Op<ConfigView> {
      return viewOf(yield* all(tx, tenant));
    },
    /** Whether any config has a concurrency limit (the claim path then counts running tasks). */
    *hasLimits(tx: Tx): Op<boolean> {
      if (cached) return limits;
      return yield* store.anyConcurrencyLimit(tx);
    },

    *list(tx: Tx, tenant: string, size: number, token: string | undefined): Op<Page<QueueConfig>> {
      const after = decodePageToken(token, "configs") as string | undefined;
      const cache = yield* all(tx, tenant);
      const names = [...cache.keys()].sort().filter((n) => after === undefined || n > after);
      const chosen = names.slice(0, size);
      return { items: chosen.map((n) => cache.get(n)!), nextPageToken: names.length > size ? encodePageToken(chosen[chosen.length - 1]!, "configs") : "" };
    },

    *get(tx: Tx, tenant: string, name: string): Op<QueueConfig> {
      checkName("name", name);
      const c = (yield* all(tx, tenant)).get(name);
      if (!c) throw notFound("QUEUE_CONFIG_NOT_FOUND", `queue config not found: ${name}`, { name });
      return c;
    },

    /** A write operation. */
    *create(tx: Tx, tenant: string, input: QueueConfigInput, requestId?: string): Op<QueueConfig> {
      checkQueueConfig(input);
      const rid = checkRequestId("request_id", requestId);
      const existing = yield* store.configByName(tx, tenant, input.name);
      if (existing) {
        if (rid && existing.request_id === rid) return rowToConfig(existing);
        throw new AppError("already_exists", "QUEUE_CONFIG_EXISTS", `queue config ${input.name} already exists`, { name: input.name });
      }
      yield* put(tx, tenant, input, "api", rid ?? null, clock.now(), undefined);
      yield* reload(tx);
      return rowToConfig((yield* store.configByName(tx, tenant, input.name))!);
    },

    /** A write operation. */
    *remove(tx: Tx, tenant: string, name: string): Op<QueueConfig> {
      checkName("name", name);
      const c = (yield* all(tx, tenant)).get(name);
      if (!c) throw notFound("QUEUE_CONFIG_NOT_FOUND", `queue config not found: ${name}`, { name });
      yield* store.removeConfig(tx, tenant, name);
      yield* reload(tx);
      return c;
    },

    /** Reads and checks the YAML file (outside any transaction). */
    async readFile(): Promise<QueueConfigInput[]> {
      if (!deps.path) throw new AppError("failed_precondition", "QUEUE_CONFIG_FILE_MISSING", "no queue config file is configured");
      let text: string;
      try {
        text = await readFile(deps.path, "utf8");
      } catch (e) {
        throw new AppError("failed_precondition", "QUEUE_CONFIG_FILE_MISSING", `cannot read the queue config file: ${(e as Error).message}`, { path: deps.path });
      }
      return parseQueueConfigYaml(text);
    },

    /** Makes the stored `yaml` configs equal to the file's; `api` configs stay. A write operation. */
    *apply(tx: Tx, parsed: QueueConfigInput[], tenant = DEFAULT_TENANT): Op<{ configs: QueueConfig[]; added: string[]; updated: string[]; removed: string[] }> {
      const now = clock.now();
      const cache = yield* all(tx, tenant);
      const added: string[] = [];
      const updated: string[] = [];
      const removed: string[] = [];
      const names = new Set(parsed.map((c) => c.name));
      for (const c of parsed) {
        const old = cache.get(c.name);
        if (!old) added.push(c.name);
        else if (!same(old, c)) updated.push(c.name);
        else continue;
        yield* put(tx, tenant, c, "yaml", null, now, old?.createdAt);
      }
      for (const c of cache.values()) {
        if (c.source === "yaml" && !names.has(c.name)) {
          yield* store.removeConfig(tx, tenant, c.name);
          removed.push(c.name);
        }
      }
      yield* reload(tx);
      const after = yield* all(tx, tenant);
      return { configs: [...after.keys()].sort().map((n) => after.get(n)!), added, updated, removed };
    },
  };
}
