import { ScalarType, type DescField, type DescMessage, type DescMethod, type JsonObject, type JsonValue, type Message } from "@bufbuild/protobuf";
import type { ConnectError } from "@connectrpc/connect";
import { codeName, errorInfo } from "../../errors.ts";
import type { RestShape, RestShapes } from "../../rest/shapes.ts";

/**
 * Seed 002 (Fastest) wire rules, as one table the REST transcoder reads: its paths are the
 * canonical REST of every service in `switchyard.workspaces.v1` (projects, workspaces, snapshots,
 * blobs, and the later conversations, atlas, action items…), so these apply package-wide:
 *
 * - 64-bit integers are JSON numbers (proto JSON would send strings); field names are the proto
 *   (snake_case) names, except fields with an explicit `json_name` (seed camelCase: `dryRun`…);
 *   an absent message field is `null`.
 * - Errors are `{ error: { code, message } }` with seed codes (`NOT_FOUND`, `UNAUTHORIZED`,
 *   `VALIDATION_ERROR`, or the reason for seed-specific ones such as `HASH_MISMATCH`), plus
 *   `reason` and `metadata` (e.g. the offending `field`).
 * - Per-RPC statuses: `201` where the seed says so, `409` on a lost optimistic update.
 */
export const SEED_002_PACKAGE = "switchyard.workspaces.v1";

/** A rule for one RPC's success status. */
interface StatusRule {
  /** Always this status. */
  status?: number;
  /** 201 when this boolean output field is true, else 200. */
  createdWhen?: string;
  /** 409 when this boolean output field is true. */
  conflictWhen?: string;
}

/** Per-RPC success statuses, by `Service.Method` (seed 002 route documentation). */
export const STATUS_RULES: Record<string, StatusRule> = {
  "ProjectService.CreateProject": { status: 201 },
  "WorkspaceService.CreateWorkspace": { status: 201 },
  "WorkspaceService.CreateDriftReport": { status: 201 },
  "WorkspaceService.UpdateCurrentManifest": { conflictWhen: "conflict" },
  "SnapshotService.CreateSnapshot": { createdWhen: "created" },
  "BlobService.UploadBlob": { createdWhen: "created" },
  "BlobService.PutManifest": { createdWhen: "created" },
};

/** Seed error codes by Connect code. */
const CODES: Record<string, string> = {
  unauthenticated: "UNAUTHORIZED",
  permission_denied: "FORBIDDEN",
  not_found: "NOT_FOUND",
  invalid_argument: "VALIDATION_ERROR",
  already_exists: "CONFLICT",
  aborted: "CONFLICT",
  failed_precondition: "PRECONDITION_FAILED",
  resource_exhausted: "RATE_LIMITED",
  unimplemented: "NOT_IMPLEMENTED",
  unavailable: "SERVICE_UNAVAILABLE",
  deadline_exceeded: "TIMEOUT",
};

/** Reasons that are seed codes themselves, and their HTTP status. */
const REASONS: Record<string, number> = {
  HASH_MISMATCH: 400,
  MANIFEST_INVALID: 400,
  BLOB_TOO_LARGE: 413,
  MANIFEST_TOO_LARGE: 413,
  BODY_TOO_LARGE: 413,
  // Storage faults say what they are, not "rate limited" (docs/faults.md).
  STORAGE_FULL: 507,
  STORAGE_READ_ONLY: 503,
  STORAGE_UNAVAILABLE: 503,
  WRITES_BACKLOGGED: 429,
};

/** Seed 002 error body and status. */
export function seed002Error(error: ConnectError, status: number): { status: number; body: unknown } {
  const info = errorInfo(error);
  const reason = info?.reason ?? "";
  const code = reason in REASONS ? reason : (CODES[codeName(error.code)] ?? "INTERNAL_ERROR");
  return {
    status: REASONS[reason] ?? status,
    body: { error: { code, message: error.rawMessage, reason: reason || code, metadata: info ? { ...info.metadata } : {} } },
  };
}

const INT64 = new Set([ScalarType.INT64, ScalarType.UINT64, ScalarType.SINT64, ScalarType.FIXED64, ScalarType.SFIXED64]);
const camel = (name: string) => name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
const jsonKey = (field: DescField) => (field.jsonName !== camel(field.name) ? field.jsonName : field.name);

/** Canonical REST JSON (proto names, int64 strings) → seed 002 JSON (numbers, explicit json_names). */
export function seed002Json(desc: DescMessage, json: JsonValue): JsonValue {
  if (json === null || typeof json !== "object" || Array.isArray(json) || desc.typeName.startsWith("google.protobuf.")) return json;
  const out: JsonObject = {};
  const byName = new Map<string, DescField>(desc.fields.map((f) => [f.name, f]));
  for (const [key, value] of Object.entries(json)) {
    const field = byName.get(key);
    if (!field) {
      out[key] = value;
      continue;
    }
    out[jsonKey(field)] = fieldValue(field, value);
  }
  // An absent message (a workspace's `drift`, a `last_seen_at` never set) is `null`, as seed 002 answers.
  for (const field of desc.fields) if (field.fieldKind === "message" && !(field.name in json)) out[jsonKey(field)] = null;
  return out;
}

function fieldValue(field: DescField, value: JsonValue): JsonValue {
  const one = (v: JsonValue): JsonValue => {
    if (field.fieldKind === "scalar" || (field.fieldKind === "list" && field.listKind === "scalar") || (field.fieldKind === "map" && field.mapKind === "scalar")) {
      return INT64.has(field.scalar as ScalarType) && typeof v === "string" ? Number(v) : v;
    }
    const msg = field.fieldKind === "message" ? field.message : field.fieldKind === "list" && field.listKind === "message" ? field.message : field.fieldKind === "map" && field.mapKind === "message" ? field.message : undefined;
    return msg ? seed002Json(msg, v) : v;
  };
  if (field.fieldKind === "list" && Array.isArray(value)) return value.map(one);
  if (field.fieldKind === "map" && value !== null && typeof value === "object" && !Array.isArray(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, one(v)]));
  }
  return one(value);
}

function statusOf(rule: StatusRule | undefined, output: Message): number {
  const flag = (name: string) => (output as unknown as Record<string, unknown>)[camel(name)] === true;
  if (!rule) return 200;
  if (rule.conflictWhen && flag(rule.conflictWhen)) return 409;
  if (rule.createdWhen) return flag(rule.createdWhen) ? 201 : 200;
  return rule.status ?? 200;
}

/** The seed 002 shape of a method, by the rules above. */
export function seed002Shape(method: DescMethod): RestShape {
  const rule = STATUS_RULES[`${method.parent.name}.${method.name}`];
  return {
    status: (output) => statusOf(rule, output),
    json: (json, desc) => seed002Json(desc, json),
    error: seed002Error,
  };
}

/** Shapes for every method of the seed 002 package. */
export const seed002Shapes: RestShapes = (method) => (method.parent.file.proto.package === SEED_002_PACKAGE ? seed002Shape(method) : undefined);
