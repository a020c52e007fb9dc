import { AppError, invalidArgument } from "../core/errors.ts";
import type { UrlGuard } from "./ssrf.ts";
import type { NewServer, ServerKind } from "./types.ts";

const NAME = /^[A-Za-z0-9_.:-]{1,128}$/;
const ROLE = /^[a-z][a-z0-9_-]{0,31}$/;

/** A server or worker name: 1–128 characters of [A-Za-z0-9_.:-]. */
export function checkServerName(field: string, name: unknown): string {
  if (typeof name !== "string" || !NAME.test(name)) throw invalidArgument(field, "must be 1–128 characters of A-Z a-z 0-9 _ . : -");
  return name;
}

export function checkStrings(field: string, v: unknown, max: number, maxLength = 128): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw invalidArgument(field, "must be a list of strings");
  if (v.length > max) throw invalidArgument(field, `at most ${max} entries`);
  for (const [i, s] of v.entries()) {
    if (typeof s !== "string" || s.length === 0 || s.length > maxLength) throw invalidArgument(`${field}[${i}]`, `must be 1–${maxLength} characters`);
  }
  return [...new Set(v as string[])];
}

export function checkIntRange(field: string, v: unknown, min: number, max: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) throw invalidArgument(field, `must be an integer from ${min} to ${max}`);
  return v;
}

/** A registration, checked and normalized (defaults applied); endpoints pass the URL guard's syntax check. */
export function checkNewServer(
  s: NewServer,
  guard: UrlGuard,
): Required<Omit<NewServer, "weight" | "apiKey" | "requestId" | "kind">> & Pick<NewServer, "weight" | "apiKey" | "requestId"> & { kind: ServerKind } {
  const name = checkServerName("server.name", s.name);
  if (s.kind === undefined) throw invalidArgument("server.kind", "is required (backend or worker)");
  const endpoints: Record<string, string> = {};
  const raw = s.endpoints ?? {};
  if (Object.keys(raw).length > 16) throw invalidArgument("server.endpoints", "at most 16 endpoints");
  for (const [role, url] of Object.entries(raw)) {
    if (!ROLE.test(role)) throw invalidArgument(`server.endpoints.${role}`, "role must be 1–32 characters of a-z 0-9 _ -");
    if (typeof url !== "string" || url.length > 2048) throw invalidArgument(`server.endpoints.${role}`, "must be a URL of at most 2048 characters");
    endpoints[role] = guard.checkSyntax(`server.endpoints.${role}`, url).toString();
  }
  if (s.kind === "backend" && !endpoints.predict) throw invalidArgument("server.endpoints.predict", "is required for a backend");
  const labels = s.labels ?? {};
  if (Object.keys(labels).length > 64) throw invalidArgument("server.labels", "at most 64 labels");
  for (const [k, v] of Object.entries(labels)) {
    if (k.length === 0 || k.length > 64 || typeof v !== "string" || v.length > 256) throw invalidArgument(`server.labels.${k}`, "keys of 1–64 and values of at most 256 characters");
  }
  if (s.apiKey !== undefined && s.apiKey.length > 4096) throw invalidArgument("api_key", "at most 4096 characters");
  if (s.requestId !== undefined && s.requestId.length > 128) throw invalidArgument("request_id", "at most 128 characters");
  const maxConcurrent = checkIntRange("server.max_concurrent", s.maxConcurrent ?? 0, 0, 1_000_000) || 1;
  const priority = checkIntRange("server.priority", s.priority ?? 0, 0, 1_000_000) || 1;
  const weight = s.weight === undefined ? undefined : checkIntRange("server.weight", s.weight, 0, 1_000_000) || undefined;
  return {
    name,
    kind: s.kind,
    endpoints,
    maxConcurrent,
    capabilities: checkStrings("server.capabilities", s.capabilities, 64),
    groups: checkStrings("server.groups", s.groups, 64),
    priority,
    weight,
    labels,
    apiKey: s.apiKey || undefined,
    requestId: s.requestId || undefined,
  };
}

export function serverNotFound(id: string): AppError {
  return new AppError("not_found", "SERVER_NOT_FOUND", `server not found: ${id}`, { id });
}

export function nameTaken(name: string): AppError {
  return new AppError("already_exists", "SERVER_NAME_TAKEN", `a server named ${name} is already registered`, { name });
}

/** `YYYY-MM-DD` (UTC) to [start, end) in ms; empty means today; a future day is refused. */
export function dayOf(date: string | undefined, now: number): { date: string; start: number; end: number } {
  const d = date || new Date(now).toISOString().slice(0, 10);
  const m = /^(\d{4})-(\d\d)-(\d\d)$/.exec(d);
  const start = m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : NaN;
  if (!m || Number.isNaN(start) || new Date(start).toISOString().slice(0, 10) !== d) throw invalidArgument("date", "must be YYYY-MM-DD");
  if (start > now) throw invalidArgument("date", "is in the future");
  return { date: d, start, end: start + 86_400_000 };
}
