import { AppError, invalidArgument } from "../core/errors.ts";
import type { Json, JsonObject, NewTask } from "./types.ts";

/** Limits and defaults of the tasks domain; the server config may override them. */
export interface TaskConfig {
  defaultMaxAttempts: number;
  defaultLeaseMs: number;
  minLeaseMs: number;
  maxLeaseMs: number;
  /** First retry delay; doubles per attempt. */
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** Fraction of the delay removed at random (0 = none, 1 = full jitter). */
  backoffJitter: number;
  maxBatch: number;
  pingIntervalMs: number;
  /** Path of the queue-config YAML file, if any. */
  queueConfigPath: string | undefined;
}

export const DEFAULT_TASK_CONFIG: TaskConfig = {
  defaultMaxAttempts: 3,
  defaultLeaseMs: 30_000,
  minLeaseMs: 1_000,
  maxLeaseMs: 3_600_000,
  backoffBaseMs: 1_000,
  backoffMaxMs: 300_000,
  backoffJitter: 0.2,
  maxBatch: 1_000,
  pingIntervalMs: 10_000,
  queueConfigPath: undefined,
};

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

/** Queue names and client task ids: 1–128 of letters, digits, `_`, `-`, `.`, `:`. */
export function checkName(field: string, value: unknown): string {
  if (typeof value !== "string" || value.length === 0) throw invalidArgument(field, "is required");
  if (!NAME.test(value)) throw invalidArgument(field, "must be 1-128 letters, digits, '_', '-', '.' or ':' starting with a letter or digit");
  return value;
}

/**
 * The parent of a runqy-style sub-queue name: `inference_high`, `inference.high` and
 * `inference:high` all have parent `inference`; a name without a separator has none.
 */
export function parentQueueName(name: string): string | undefined {
  const i = Math.max(name.lastIndexOf("_"), name.lastIndexOf("."), name.lastIndexOf(":"));
  return i > 0 ? name.slice(0, i) : undefined;
}

/**
 * Delay before retry number `attempt` (1 = after the first failed attempt):
 * `min(max, base · 2^(attempt−1))`, then up to `jitter` of it removed at random.
 */
export function backoffDelay(attempt: number, config: Pick<TaskConfig, "backoffBaseMs" | "backoffMaxMs" | "backoffJitter">, random: () => number): number {
  const exp = Math.min(config.backoffMaxMs, config.backoffBaseMs * 2 ** Math.max(0, Math.min(attempt - 1, 40)));
  return Math.round(exp * (1 - config.backoffJitter * random()));
}

/** Lease length asked by a client, clamped to policy; undefined means the default. */
export function checkLease(field: string, ms: number | undefined, config: TaskConfig): number {
  if (ms === undefined || ms === 0) return config.defaultLeaseMs;
  if (!Number.isFinite(ms) || ms < config.minLeaseMs || ms > config.maxLeaseMs) {
    throw invalidArgument(field, `must be between ${config.minLeaseMs / 1000}s and ${config.maxLeaseMs / 1000}s`);
  }
  return Math.round(ms);
}

export function checkInt(field: string, value: unknown, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw invalidArgument(field, `must be an integer from ${min} to ${max}`);
  }
  return value;
}

export function checkStrings(field: string, value: unknown, maxItems: number, maxLen = 128): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw invalidArgument(field, "must be a list of strings");
  if (value.length > maxItems) throw invalidArgument(field, `at most ${maxItems} items`);
  for (const [i, v] of value.entries()) {
    if (typeof v !== "string" || v.length === 0 || v.length > maxLen) throw invalidArgument(`${field}[${i}]`, `must be a non-empty string of at most ${maxLen} characters`);
  }
  return [...new Set(value as string[])];
}

export function checkRequestId(field: string, value: unknown): string | undefined {
  if (value === undefined || value === "") return undefined;
  if (typeof value !== "string" || value.length > 128) throw invalidArgument(field, "must be at most 128 characters");
  return value;
}

function isObject(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Validates a new task's fields, naming the first bad one under `prefix`. */
export function checkNewTask(t: NewTask, prefix: string): void {
  if (!isObject(t)) throw invalidArgument(prefix || "task", "is required");
  const f = (name: string) => (prefix ? `${prefix}.${name}` : name);
  checkName(f("queue"), t.queue);
  if (t.id !== undefined && t.id !== "") checkName(f("id"), t.id);
  if (t.type !== undefined && (typeof t.type !== "string" || t.type.length > 128)) throw invalidArgument(f("type"), "must be at most 128 characters");
  if (t.priority !== undefined) checkInt(f("priority"), t.priority, -1_000_000, 1_000_000);
  if (t.maxAttempts !== undefined) checkInt(f("max_attempts"), t.maxAttempts, 1, 1000);
  if (t.timeoutMs !== undefined && t.timeoutMs !== 0) checkInt(f("timeout"), t.timeoutMs, 1, 31 * 86_400_000);
  if (t.runAt !== undefined) checkInt(f("run_at"), t.runAt, 0, 8.64e15);
  if (t.delayMs !== undefined) checkInt(f("delay"), t.delayMs, 0, 366 * 86_400_000);
  checkStrings(f("required_capabilities"), t.requiredCapabilities, 64);
  const deps = checkStrings(f("depends_on"), t.dependsOn, 1000);
  if (t.id && deps.includes(t.id)) throw invalidArgument(f("depends_on"), "a task cannot depend on itself");
  checkStrings(f("tags"), t.tags, 64);
  if (t.metadata !== undefined && !isObject(t.metadata)) throw invalidArgument(f("metadata"), "must be a JSON object");
  if (t.title !== undefined && (typeof t.title !== "string" || t.title.length > 1000)) throw invalidArgument(f("title"), "must be at most 1000 characters");
  if (t.description !== undefined && (typeof t.description !== "string" || t.description.length > 100_000)) throw invalidArgument(f("description"), "must be at most 100000 characters");
  checkRequestId(f("request_id"), t.requestId);
}

/** Page size: 0 or absent → 50; above 1000 is refused. */
export function checkPageSize(value: number | undefined): number {
  if (value === undefined || value === 0) return 50;
  return checkInt("page_size", value, 1, 1000);
}

/** Opaque page token: base64url JSON of the position and a fingerprint of the filters. */
export function encodePageToken(position: Json, filters: string): string {
  return Buffer.from(JSON.stringify({ p: position, f: fingerprint(filters) })).toString("base64url");
}

export function decodePageToken(token: string | undefined, filters: string): Json | undefined {
  if (!token) return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
    if (isObject(parsed) && parsed.f === fingerprint(filters)) return parsed.p;
  } catch {
    // fall through: a token that does not parse is as bad as one for other filters.
  }
  throw invalidArgument("page_token", "is not a token of this list with these filters");
}

function fingerprint(s: string): string {
  return String(Bun.hash(s));
}

/** `YYYY-MM-DD` (UTC) → [start, end) in ms; empty → today. */
export function dayRange(date: string | undefined, now: number): { date: string; start: number; end: number } {
  const d = date && date.length > 0 ? date : new Date(now).toISOString().slice(0, 10);
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(d);
  // setUTCFullYear, not Date.UTC: Date.UTC reads years 0–99 as 1900–1999.
  const start = m ? new Date(0).setUTCFullYear(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : NaN;
  if (!m || Number.isNaN(start) || new Date(start).toISOString().slice(0, 10) !== d) throw invalidArgument("date", "must be a day as YYYY-MM-DD");
  return { date: d, start, end: start + 86_400_000 };
}

/** The stale-holder refusal. */
export function leaseLost(id: string, detail: string): AppError {
  return new AppError("failed_precondition", "LEASE_LOST", `task ${id}: ${detail}`, { id });
}

export function taskNotFound(id: string): AppError {
  return new AppError("not_found", "TASK_NOT_FOUND", `task not found: ${id}`, { id });
}
