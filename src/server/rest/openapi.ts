import { getOption, hasOption, ScalarType, type DescEnum, type DescField, type DescMessage, type DescService } from "@bufbuild/protobuf";
import { getComments } from "@bufbuild/protoplugin";
import { http } from "../../../gen/google/api/annotations_pb.js";
import { FieldBehavior, field_behavior } from "../../../gen/google/api/field_behavior_pb.js";
import { MAX_PAGE_SIZE } from "../interceptors/validation.ts";
import { bindings } from "./routes.ts";
import { methodPolicy, openApiSecurity } from "../policy.ts";
import { SEED_002_PACKAGE } from "../legacy/fastest/wire.ts";

type Schema = Record<string, unknown>;

/** JSON Schema of well-known types in their protobuf JSON form. */
const WKT: Record<string, Schema> = {
  "google.protobuf.Timestamp": { type: "string", format: "date-time" },
  // Seconds within protobuf's ±315,576,000,000 s, at most nanosecond precision.
  "google.protobuf.Duration": { type: "string", pattern: "^-?[0-9]{1,11}(\\.[0-9]{1,9})?s$", example: "1.5s" },
  "google.protobuf.Struct": { type: "object", additionalProperties: true },
  "google.protobuf.Value": {},
  "google.protobuf.ListValue": { type: "array", items: {} },
  "google.protobuf.Empty": { type: "object" },
  "google.protobuf.FieldMask": { type: "string" },
  "google.protobuf.Any": { type: "object", additionalProperties: true },
  "google.protobuf.StringValue": { type: "string" },
  "google.protobuf.BoolValue": { type: "boolean" },
  "google.protobuf.Int32Value": { type: "integer", format: "int32" },
  "google.protobuf.Int64Value": { type: "string", format: "int64" },
  "google.protobuf.DoubleValue": { type: "number" },
  "google.protobuf.FloatValue": { type: "number" },
  "google.protobuf.BytesValue": { type: "string", format: "byte" },
};

/** A 64-bit integer in protobuf JSON: a number or a decimal string (18 digits keep it in range). */
const INT64: Schema = { type: ["string", "integer"], format: "int64", pattern: "^-?[0-9]{1,18}$", minimum: -Number.MAX_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER };
const UINT64: Schema = { type: ["string", "integer"], format: "uint64", pattern: "^[0-9]{1,18}$", minimum: 0, maximum: Number.MAX_SAFE_INTEGER };

/**
 * Limits the domains enforce on fields, stated in the document so a client (or a fuzzer) knows
 * them: `<message type name>.<field>` patterns → schema additions. Kept beside the rules they
 * copy: tasks/rules.ts (names), system/settings.ts (setting names), tasks/stats.ts.
 */
/** Not blank once trimmed (JavaScript's trim also drops U+FEFF, which Python's \s does not match). */
const NOT_BLANK = "[^\\s\\ufeff]";
const TASK_NAME = "^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$";
const FIELD_RULES: [RegExp, Schema][] = [
  [/^switchyard\.(tasks)\.v1\.\w+\.(id|name|queue|task_id|depends_on|parent)$/, { pattern: TASK_NAME, maxLength: 128 }],
  [/^switchyard\.tasks\.v1\.(\w+Request|QueueConfig)\.(queues|name)$/, { pattern: TASK_NAME, maxLength: 128 }],
  [/^switchyard\.tasks\.v1\.\w+\.(worker_id|server_id|request_id|type)$/, { maxLength: 128 }],
  [/^switchyard\.tasks\.v1\.\w+\.(capabilities|required_capabilities|tags|capability)$/, { minLength: 1, maxLength: 128 }],
  // Durations and times the tasks domain bounds (lease 1 s–1 h, timeouts ≤ 31 days, delays ≤ 366 days, after 1970).
  [/^switchyard\.tasks\.v1\.\w+\.lease_duration$/, { pattern: "^([1-9][0-9]{0,2}|[1-2][0-9]{3}|3[0-5][0-9]{2})(\\.[0-9]{1,9})?s$|^3600s$" }],
  [/^switchyard\.tasks\.v1\.\w+\.(timeout|default_timeout)$/, { pattern: "^[0-9]{1,6}(\\.[0-9]{1,9})?s$" }],
  [/^switchyard\.tasks\.v1\.\w+\.(delay|retry_delay)$/, { pattern: "^[0-9]{1,7}(\\.[0-9]{1,9})?s$" }],
  [/^switchyard\.tasks\.v1\.\w+\.run_at$/, { pattern: "^(19[7-9][0-9]|2[0-9]{3})-" }],
  [/^switchyard\.tasks\.v1\.\w+\.fencing_token$/, { pattern: "^[1-9][0-9]{0,14}$", minimum: 1 }],
  [/^switchyard\.tasks\.v1\.UpdateTaskRequest\.state$/, { enum: ["TASK_STATE_UNSPECIFIED", "TASK_STATE_RUNNING", "TASK_STATE_SUCCEEDED", "TASK_STATE_FAILED"] }],
  [/^switchyard\.tasks\.v1\.QueueConfig\.concurrency_limit$/, { minimum: 0, maximum: 1_000_000 }],
  [/^switchyard\.tasks\.v1\.QueueConfig\.default_max_attempts$/, { minimum: 0, maximum: 1000 }],
  [/^switchyard\.tasks\.v1\.\w+\.date$/, { format: "date", pattern: "^[0-9]{4}-[0-9]{2}-[0-9]{2}$" }],
  [/^switchyard\.tasks\.v1\.\w+\.top_servers_limit$/, { minimum: 0, maximum: 100 }],
  [/^switchyard\.tasks\.v1\.\w+\.(progress)$/, { minimum: 0, maximum: 100 }],
  [/^switchyard\.tasks\.v1\.\w+\.priority$/, { minimum: -1_000_000, maximum: 1_000_000 }],
  [/^switchyard\.tasks\.v1\.\w+\.max_attempts$/, { minimum: 1, maximum: 1000 }],
  [/^switchyard\.tasks\.v1\.\w+\.(credits)$/, { minimum: 0, maximum: 10_000 }],
  [/^switchyard\.tasks\.v1\.\w+\.(max_tasks)$/, { minimum: 0, maximum: 1000 }],
  [/^switchyard\.system\.v1\.\w+\.(name|prefix)$/, { pattern: "^[A-Za-z0-9._-]{1,128}$" }],
  // Mail (src/mail/topics.ts, paths.ts, messages.ts, leases.ts). Lease paths: a safe subset
  // (relative, no `..`, no backslash or control characters) of what the server takes.
  [/^switchyard\.mail\.v1\.\w+\.(path|prefix)$/, { pattern: "^[A-Za-z0-9_-][A-Za-z0-9_.@+-]{0,47}(/[A-Za-z0-9_-][A-Za-z0-9_.@+-]{0,47}){0,15}$" }],
  [/^switchyard\.mail\.v1\.PublishRequest\.topic$/, { pattern: "^(?!leases\\.)[A-Za-z0-9_:@-]{1,15}(\\.[A-Za-z0-9_:@-]{1,15}){0,15}$" }],
  [/^switchyard\.mail\.v1\.(?!PublishRequest)\w+\.topic$/, { pattern: "^(([A-Za-z0-9_:@-]{1,15}|\\*)(\\.([A-Za-z0-9_:@-]{1,15}|\\*)){0,14}(\\.>)?|>)$" }],
  [/^switchyard\.mail\.v1\.\w+\.agent$/, { pattern: "^[A-Za-z0-9_:@-]{1,128}$" }],
  [/^switchyard\.mail\.v1\.\w+\.(sender|holder|request_id)$/, { pattern: "^[^\\x00-\\x1f\\x7f]{0,128}$" }],
  [/^switchyard\.mail\.v1\.\w+\.(sequence|start_sequence)$/, { pattern: "^[1-9][0-9]{0,14}$", minimum: 1 }],
  [/^switchyard\.mail\.v1\.\w+\.fencing_token$/, { pattern: "^[1-9][0-9]{0,14}$", minimum: 1 }],
  [/^switchyard\.mail\.v1\.\w+\.ttl$/, { pattern: "^([1-9][0-9]{0,3}|[1-7][0-9]{4}|8[0-5][0-9]{3})(\\.[0-9]{1,9})?s$" }],
  [/^switchyard\.mail\.v1\.\w+\.headers$/, { maxProperties: 64, propertyNames: { pattern: "^[A-Za-z0-9_.-]{1,128}$" } }],
  // Workspaces (src/workspaces/blob-store.ts HASH, env-vars.ts KEY and MAX_VALUE, drift.ts, gc.ts).
  [/^switchyard\.workspaces\.v1\.\w+Request\.(hash|manifest_hash|current_manifest_hash|previous_manifest_hash)$/, { pattern: "^([0-9a-f]{64})?$" }],
  [/^switchyard\.workspaces\.v1\.\w+Request\.hashes$/, { pattern: "^[0-9a-f]{64}$" }],
  [/^switchyard\.workspaces\.v1\.Create(Project|Workspace)Request\.name$/, { pattern: NOT_BLANK, maxLength: 200 }],
  [/^switchyard\.workspaces\.v1\.\w+Request\.request_id$/, { maxLength: 128 }],
  [/^switchyard\.workspaces\.v1\.\w+Request\.(intent|brief)$/, { maxLength: 100_000 }],
  [/^switchyard\.workspaces\.v1\.CreateSnapshotRequest\.snapshot_id$/, { pattern: "^[A-Za-z0-9_.:-]{0,128}$" }],
  [/^switchyard\.workspaces\.v1\.CreateSnapshotRequest\.parent_snapshot_ids$/, { maxItems: 16 }],
  [/^switchyard\.workspaces\.v1\.(SetEnvVarRequest|EnvVarEntry|DeleteEnvVarRequest)\.key$/, { pattern: "^[A-Za-z_][A-Za-z0-9_]{0,255}$" }],
  [/^switchyard\.workspaces\.v1\.(SetEnvVarRequest|EnvVarEntry)\.value$/, { maxLength: 65_536 }],
  [/^switchyard\.workspaces\.v1\.CreateDriftReportRequest\.files_(added|modified|deleted)$/, { minimum: 0 }],
  [/^switchyard\.workspaces\.v1\.CreateDriftReportRequest\.bytes_changed$/, { pattern: "^[0-9]{1,15}$", minimum: 0 }],
  [/^switchyard\.workspaces\.v1\.\w+Request\.limit$/, { minimum: 0 }],
  [/^switchyard\.workspaces\.v1\.CollectGarbageRequest\.max_blobs$/, { minimum: 0, maximum: 100_000 }],
  // Servers (src/servers/register-rules.ts, servers.ts, registry.ts). Endpoint URLs: a safe
  // subset of what the URL guard's syntax check takes (a named host, not a literal address).
  [/^switchyard\.servers\.v1\.Server\.name$/, { pattern: "^[A-Za-z0-9_.:-]{1,128}$" }],
  [/^switchyard\.servers\.v1\.RegisterWorkerRequest\.worker_id$/, { pattern: "^[A-Za-z0-9_.:-]{0,128}$" }],
  [/^switchyard\.servers\.v1\.RegisterWorkerRequest\.queue$/, { pattern: TASK_NAME, maxLength: 128 }],
  [/^switchyard\.servers\.v1\.\w+\.(capabilities|groups)$/, { minLength: 1, maxLength: 128, maxItems: 64 }],
  [/^switchyard\.servers\.v1\.\w+\.(max_concurrent|priority|weight)$/, { minimum: 0, maximum: 1_000_000 }],
  [
    /^switchyard\.servers\.v1\.Server\.endpoints$/,
    { maxProperties: 16, propertyNames: { pattern: "^[a-z][a-z0-9_-]{0,31}$" }, pattern: "^https?://[a-z][a-z0-9-]{0,30}(\\.[a-z][a-z0-9-]{0,30}){1,4}(:[1-9][0-9]{1,3})?(/[A-Za-z0-9._~-]{0,30}){0,8}$", maxLength: 2048 },
  ],
  [/^switchyard\.servers\.v1\.\w+\.labels$/, { maxProperties: 64, propertyNames: { minLength: 1, maxLength: 64 }, maxLength: 256 }],
  [/^switchyard\.servers\.v1\.LoadReport\.active_tasks$/, { minimum: 0, maximum: 10_000_000 }],
  [/^switchyard\.servers\.v1\.LoadReport\.custom$/, { maxProperties: 64 }],
  [/^switchyard\.servers\.v1\.RegisterServerRequest\.api_key$/, { maxLength: 4096 }],
  [/^switchyard\.servers\.v1\.\w+\.request_id$/, { maxLength: 128 }],
  [/^switchyard\.servers\.v1\.SetMaintenanceRequest\.reason$/, { maxLength: 512 }],
  [/^switchyard\.servers\.v1\.\w+\.exclude_server_ids$/, { maxLength: 128, maxItems: 100 }],
  // A past day (a future one is refused), as YYYY-MM-DD; the schema keeps to days every month has.
  [/^switchyard\.servers\.v1\.GetServerStatsRequest\.date$/, { format: "date", pattern: "^((19[7-9][0-9]|20[01][0-9]|202[0-5])-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8]))?$" }],
  // Memory (src/memory/limits.ts LIMITS, memories.ts, search.ts, compaction.ts, backfill.ts).
  [/^switchyard\.memory\.v1\.Memory\.type$/, { pattern: "^[a-z0-9_.-]{1,64}$" }],
  [/^switchyard\.memory\.v1\.MemoryFilter\.types$/, { pattern: "^[a-z0-9_.-]{1,64}$" }],
  [/^switchyard\.memory\.v1\.ListMemoriesRequest\.type$/, { pattern: "^[a-z0-9_.-]{0,64}$" }],
  // Content: not blank, at most 64 KiB as UTF-8 (16384 characters of up to 4 bytes).
  [/^switchyard\.memory\.v1\.Memory\.content$/, { pattern: NOT_BLANK, maxLength: 16_384 }],
  [/^switchyard\.memory\.v1\.\w+\.tags$/, { minLength: 1, maxLength: 64, maxItems: 32 }],
  [/^switchyard\.memory\.v1\.\w+\.tag$/, { maxLength: 64 }],
  [/^switchyard\.memory\.v1\.\w+\.agent_id$/, { maxLength: 128 }],
  [/^switchyard\.memory\.v1\.\w+\.(scope|source)$/, { maxLength: 256 }],
  [/^switchyard\.memory\.v1\.\w+\.request_id$/, { maxLength: 128 }],
  [/^switchyard\.memory\.v1\.\w+\.(importance|min_importance|importance_below|access_boost)$/, { minimum: 0, maximum: 1 }],
  [/^switchyard\.memory\.v1\.MergePolicy\.similarity_threshold$/, { minimum: 0, maximum: 1 }],
  [/^switchyard\.memory\.v1\.CapPolicy\.max_per_scope$/, { minimum: 1 }],
  [/^switchyard\.memory\.v1\.\w+\.(limit|top_k)$/, { minimum: 0, maximum: 100 }],
  [/^switchyard\.memory\.v1\.\w+\.rrf_k$/, { minimum: 0, maximum: 10_000 }],
  [/^switchyard\.memory\.v1\.\w+\.(text_weight|semantic_weight)$/, { minimum: 0 }],
  [/^switchyard\.memory\.v1\.\w+\.query(_text)?$/, { maxLength: 1024 }],
  // The full-text query needs a word to search for (the plain query keeps only words).
  [/^switchyard\.memory\.v1\.(Search|HybridSearch)MemoriesRequest\.query$/, { pattern: "[A-Za-z0-9]" }],
  [/^switchyard\.memory\.v1\.\w+\.(ttl|half_life)$/, { pattern: "^[1-9][0-9]{0,8}(\\.[0-9]{1,9})?s$" }],
  [/^switchyard\.memory\.v1\.\w+\.wait_timeout$/, { pattern: "^([0-9]{1,2}|[12][0-9]{2})(\\.[0-9]{1,9})?s$|^300s$" }],
  // Must be in the future: the schema keeps to a later century.
  [/^switchyard\.memory\.v1\.CreateMemoryRequest\.expire_time$/, { pattern: "^(2[1-9][0-9]{2})-" }],
  [/^switchyard\.memory\.v1\.UpdateMemoryRequest\.update_mask$/, { pattern: "^((importance|metadata|tags)(,(importance|metadata|tags))*)?$" }],
  [/^switchyard\.memory\.v1\.BatchCreateMemoriesRequest\.requests$/, { maxItems: 100 }],
  [/^switchyard\.memory\.v1\.SetEmbeddingsRequest\.embeddings$/, { maxItems: 1000 }],
  [/^switchyard\.memory\.v1\.BackfillEmbeddingsRequest\.batch_size$/, { minimum: 0, maximum: 1000 }],
  [/^switchyard\.memory\.v1\.BackfillEmbeddingsRequest\.max_memories$/, { pattern: "^[0-9]{1,15}$", minimum: 0 }],
  // Agents (src/agents/sessions.ts, integrations.ts, pool.ts).
  [/^switchyard\.agents\.v1\.Repository\.name$/, { pattern: "^[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}$" }],
  [/^switchyard\.agents\.v1\.Repository\.url$/, { pattern: "^(https://[^\\s]{1,500})?$" }],
  [/^switchyard\.agents\.v1\.Repository\.branch$/, { pattern: "^[^\\s~^:?*[\\\\]{0,255}$" }],
  [/^switchyard\.agents\.v1\.SessionOptions\.max_turns$/, { minimum: 0, maximum: 100 }],
  [/^switchyard\.agents\.v1\.StartSessionRequest\.session_id$/, { pattern: "^[A-Za-z0-9._-]{1,128}$" }],
  [/^switchyard\.agents\.v1\.StartSessionRequest\.prompt$/, { pattern: NOT_BLANK, maxLength: 100_000 }],
  [/^switchyard\.agents\.v1\.\w+Request\.anthropic_api_key$/, { pattern: "^sk-ant-[A-Za-z0-9_-]{8,249}$" }],
  [/^switchyard\.agents\.v1\.StartSessionRequest\.anthropic_base_url$/, { pattern: "^(https://[^\\s]{1,500})?$" }],
  [/^switchyard\.agents\.v1\.StartSessionRequest\.github_token$/, { minLength: 1, maxLength: 500 }],
  [/^switchyard\.agents\.v1\.\w+Request\.request_id$/, { maxLength: 128 }],
  [/^switchyard\.agents\.v1\.ProcessIssueRequest\.issue_number$/, { pattern: "^[1-9][0-9]{0,14}$", minimum: 1 }],
  [/^switchyard\.agents\.v1\.EndSessionRequest\.reason$/, { maxLength: 1000 }],
  [/^switchyard\.agents\.v1\.WatchSessionRequest\.after_sequence$/, { pattern: "^[0-9]{1,15}$", minimum: 0 }],
  [/^switchyard\.agents\.v1\.SessionUsage\.(input_tokens|output_tokens)$/, { pattern: "^[0-9]{1,15}$", minimum: 0 }],
  [/^switchyard\.agents\.v1\.SessionUsage\.cost_usd$/, { minimum: 0 }],
  [/^switchyard\.agents\.v1\.ProbeAgentPoolRequest\.timeout$/, { pattern: "^0\\.[1-9][0-9]{0,8}s$|^([1-9]|[1-5][0-9])(\\.[0-9]{1,9})?s$|^60s$" }],
  [/^switchyard\.agents\.v1\.StartGitHubSetupRequest\.redirect_url$/, { pattern: "^(https?://[A-Za-z0-9-]{1,63}(\\.[A-Za-z0-9-]{1,63}){0,8}(:[1-9][0-9]{0,3})?(/[A-Za-z0-9._~/-]{0,200})?)?$" }],
  [/^switchyard\.agents\.v1\.CompleteGitHubSetupRequest\.installation_id$/, { pattern: "^([0-9]{1,20})?$" }],
  // Seed 002's agent-backed features (src/insights/): the providers a credential may be for, the
  // statuses a deploy worker reports, a schedule's name.
  [/^switchyard\.workspaces\.v1\.\w*Credential\w*Request\.provider$/, { enum: ["railway", "fly", "render", "vercel", "cloudflare", "neon", "upstash", "supabase"] }],
  [/^switchyard\.workspaces\.v1\.UpdateDeploymentStatusRequest\.status$/, { enum: ["queued", "building", "deploying", "succeeded", "failed"] }],
  [/^switchyard\.tasks\.v1\.Schedule\.(queue)$/, { pattern: "^[A-Za-z0-9][A-Za-z0-9._:/-]{0,199}$" }],
  // Identity (src/auth/device-flow.ts): the one grant type of RFC 8628.
  [/^switchyard\.auth\.v1\.ExchangeDeviceCodeRequest\.grant_type$/, { enum: ["urn:ietf:params:oauth:grant-type:device_code"] }],
];

/** Rules across the fields of a request message (JSON Schema added to its `allOf`). */
const MESSAGE_RULES: Record<string, Schema[]> = {
  // A backend is pushed to: it needs a `predict` endpoint (src/servers/register-rules.ts).
  // Exactly one of a text and a vector to search with (src/memory/search.ts).
  "switchyard.memory.v1.SemanticSearchMemoriesRequest": [
    {
      oneOf: [
        { required: ["query_text"], properties: { query_text: { pattern: NOT_BLANK } } },
        { required: ["query_embedding"], properties: { query_embedding: { minItems: 1 } } },
      ],
    },
  ],
  // Not both weights 0; a raw full-text query is a quoted phrase here (FTS5 syntax is more than a schema says).
  "switchyard.memory.v1.HybridSearchMemoriesRequest": [{ not: { required: ["text_weight", "semantic_weight"], properties: { text_weight: { const: 0 }, semantic_weight: { const: 0 } } } }],
  "switchyard.memory.v1.SearchMemoriesRequest": [{ if: { required: ["raw_query"], properties: { raw_query: { const: true } } }, then: { properties: { query: { pattern: '^"[A-Za-z0-9 ]*[A-Za-z0-9][A-Za-z0-9 ]*"$' } } } }],
  // A worker reports exactly one payload, never `connected` (the server's own).
  "switchyard.agents.v1.SessionEvent": [{ properties: { connected: false } }],
  "switchyard.servers.v1.Server": [
    { if: { properties: { kind: { const: "SERVER_KIND_BACKEND" } }, required: ["kind"] }, then: { required: ["endpoints"], properties: { endpoints: { required: ["predict"] } } } },
  ],
};

/**
 * Fields the server needs though the proto leaves them optional. This server completes a GitHub
 * setup from an installation id (an app-manifest `code` alone needs an integration worker it does
 * not run yet: 503 GITHUB_EXCHANGE_FAILED).
 */
const ALSO_REQUIRED = new Set([
  "switchyard.agents.v1.CompleteGitHubSetupRequest.installation_id",
  // `optional bool` marked REQUIRED: feedback must say whether the step helped.
  "switchyard.workspaces.v1.SubmitNextStepFeedbackRequest.helpful",
  // A schedule is a name, a cron expression and the queue its tasks go to.
  "switchyard.tasks.v1.Schedule.name",
  "switchyard.tasks.v1.Schedule.cron",
  "switchyard.tasks.v1.Schedule.queue",
]);
const mustBeSet = (f: DescField) => isRequiredField(f) || ALSO_REQUIRED.has(`${f.parent.typeName}.${f.name}`);

/** Methods whose errors are OAuth's `{ error, error_description }` (legacy/fastest/auth.ts). */
const OAUTH_ERROR_METHODS = new Set(["switchyard.auth.v1.AuthService.ExchangeDeviceCode"]);

/** Oneofs a request must set (one member exactly), beside the rule that a oneof takes at most one. */
const REQUIRED_ONEOFS = new Set(["switchyard.mail.v1.PublishRequest.destination", "switchyard.agents.v1.SessionEvent.payload"]);

function fieldRules(f: DescField): Schema {
  const key = `${f.parent.typeName}.${f.name}`;
  let out: Schema = {};
  for (const [re, rule] of FIELD_RULES) if (re.test(key)) out = { ...out, ...rule };
  return out;
}

/** Whether a field is marked `(google.api.field_behavior) = REQUIRED`. */
export function isRequiredField(f: DescField): boolean {
  return hasOption(f, field_behavior) && getOption(f, field_behavior).includes(FieldBehavior.REQUIRED);
}

/**
 * What REQUIRED means for a value in proto3, where a zero value is "not set": a string must not
 * be empty, a list not empty, a number not zero.
 */
function requiredValue(schema: Schema, f: DescField): Schema {
  if (f.fieldKind === "list") return { ...schema, minItems: 1 };
  // A message in JSON is unset when null.
  if (f.fieldKind === "message") return { ...schema, not: { type: "null" } };
  if (f.fieldKind !== "scalar" && f.fieldKind !== "enum") return schema;
  if (f.fieldKind === "enum") return { ...schema, enum: (schema.enum as string[]).filter((v) => !v.endsWith("_UNSPECIFIED")) };
  if (f.scalar === ScalarType.STRING) return { ...schema, minLength: 1 };
  if (f.scalar === ScalarType.BOOL) return schema;
  if (schema.pattern === INT64.pattern || schema.pattern === UINT64.pattern) {
    return { ...schema, pattern: "^-?[1-9][0-9]{0,17}$", not: { const: 0 } };
  }
  return { ...schema, not: { const: 0 } };
}

function scalarSchema(t: ScalarType): Schema {
  switch (t) {
    case ScalarType.BOOL:
      return { type: "boolean" };
    case ScalarType.STRING:
      return { type: "string" };
    case ScalarType.BYTES:
      return { type: "string", format: "byte" };
    case ScalarType.DOUBLE:
      return { type: "number" };
    case ScalarType.FLOAT:
      // protobuf JSON refuses a float beyond float32's range.
      return { type: "number", format: "float", minimum: -3.4028234663852886e38, maximum: 3.4028234663852886e38 };
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      // protobuf JSON writes 64-bit integers as strings (they exceed JavaScript's safe range).
      return { ...INT64 };
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return { ...UINT64 };
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return { type: "integer", format: "uint32", minimum: 0, maximum: 4_294_967_295 };
    default:
      return { type: "integer", format: "int32", minimum: -2_147_483_648, maximum: 2_147_483_647 };
  }
}

/**
 * Answers of the seed 002 package (legacy/fastest/wire.ts): 64-bit integers are JSON numbers,
 * a field with an explicit `json_name` goes by it, an absent message field is `null`.
 */
const isSeed002 = (m: DescMessage) => m.file.proto.package === SEED_002_PACKAGE;
const camelName = (name: string) => name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
const seed002Key = (f: DescField) => (f.jsonName !== camelName(f.name) ? f.jsonName : f.name);
function seed002Value(schema: Schema, f: DescField): Schema {
  const int = (s: Schema): Schema => (s.pattern === INT64.pattern || s.pattern === UINT64.pattern ? { type: "integer", format: s.format, minimum: s.minimum, maximum: s.maximum } : s);
  if (f.fieldKind === "message") return { anyOf: [schema, { type: "null" }] };
  if (f.fieldKind === "list") return { ...schema, items: int(schema.items as Schema) };
  if (f.fieldKind === "map") return { ...schema, additionalProperties: int(schema.additionalProperties as Schema) };
  return int(schema);
}

const text = (s: string | undefined) => (s ?? "").trim().replace(/\n /g, "\n");

/**
 * The OpenAPI 3.1 document of the REST API, from the same descriptors and google.api.http rules
 * the transcoder reads, with the proto comments as descriptions.
 */
export function buildOpenApi(services: DescService[], info: { title: string; version: string }): Schema {
  const schemas: Record<string, Schema> = {};
  // Each message has two schemas: as answered (`<type>`), and as a request carries it
  // (`<type>.Input`: REQUIRED fields present and not zero, the domains' limits).
  const ref = (m: DescMessage, input = false): Schema => {
    if (WKT[m.typeName]) return WKT[m.typeName]!;
    const name = input ? `${m.typeName}.Input` : m.typeName;
    if (!schemas[name]) {
      schemas[name] = {}; // placeholder against recursion
      schemas[name] = messageSchema(m, input);
    }
    return { $ref: `#/components/schemas/${name}` };
  };
  const fieldSchema = (f: DescField, input = false): Schema => {
    const one = (): Schema => {
      const kind = f.fieldKind === "list" ? f.listKind : f.fieldKind === "map" ? f.mapKind : f.fieldKind;
      if (kind === "message") {
        const m = (f as { message: DescMessage }).message;
        return input && WKT[m.typeName] ? { ...ref(m, input), ...fieldRules(f) } : ref(m, input);
      }
      if (kind === "enum") {
        const e = (f as { enum: DescEnum }).enum;
        const schema = { type: "string", enum: e.values.map((v) => v.name) };
        return input ? { ...schema, ...fieldRules(f) } : schema;
      }
      const scalar = scalarSchema((f as { scalar: ScalarType }).scalar);
      return input ? { ...scalar, ...fieldRules(f) } : scalar;
    };
    let base = f.fieldKind === "list" ? { type: "array", items: one() } : f.fieldKind === "map" ? { type: "object", additionalProperties: one() } : one();
    if (input && f.name === "page_size" && f.fieldKind === "scalar") base = { ...base, minimum: 0, maximum: MAX_PAGE_SIZE };
    // A list holds at most 1000 items unless its rule says fewer (`maxItems` in FIELD_RULES).
    if (input && f.fieldKind === "list") base = { ...base, maxItems: (fieldRules(f).maxItems as number | undefined) ?? 1000 };
    if (input && f.fieldKind === "map") base = { ...base, ...fieldRules(f) };
    if (input && mustBeSet(f)) base = requiredValue(base, f);
    const description = text(getComments(f).leading);
    return description ? { ...base, description } : base;
  };
  function messageSchema(m: DescMessage, input: boolean, omit: string[] = []): Schema {
    const properties: Record<string, Schema> = {};
    const required: string[] = [];
    for (const f of m.fields) {
      if (omit.includes(f.name)) continue;
      if (!input && isSeed002(m)) {
        properties[seed002Key(f)] = seed002Value(fieldSchema(f), f);
        continue;
      }
      properties[f.name] = fieldSchema(f, input);
      // A plain bool cannot be "missing" (false is its absence); an `optional bool` can.
      if (input && mustBeSet(f) && !(f.fieldKind === "scalar" && f.scalar === ScalarType.BOOL && !f.proto.proto3Optional)) required.push(f.name);
    }
    const description = text(getComments(m).leading);
    // A oneof takes at most one member (protobuf JSON refuses two), exactly one when required.
    const oneofs = input
      ? m.oneofs
          .map((o) => ({ o, members: o.fields.map((f) => f.name).filter((n) => !omit.includes(n)) }))
          .filter(({ o, members }) => members.length > 1 || (members.length === 1 && REQUIRED_ONEOFS.has(`${m.typeName}.${o.name}`)))
          .map(({ o, members }) => {
            const one = members.map((n) => ({ required: [n] }));
            // Exactly one: each branch sets its member and forbids the others (`false`), which a
            // generator builds directly instead of filtering objects with several members out.
            const exactlyOne = members.map((n) => ({ required: [n], properties: Object.fromEntries(members.filter((x) => x !== n).map((x) => [x, false])) }));
            return REQUIRED_ONEOFS.has(`${m.typeName}.${o.name}`) ? { anyOf: exactlyOne } : { oneOf: [...one, { not: { anyOf: one } }] };
          })
      : [];
    return {
      type: "object",
      ...(description ? { description } : {}),
      properties,
      ...(required.length ? { required } : {}),
      ...(oneofs.length || (input && MESSAGE_RULES[m.typeName]) ? { allOf: [...oneofs, ...(input ? (MESSAGE_RULES[m.typeName] ?? []) : [])] } : {}),
      additionalProperties: false,
    };
  }

  const paths: Record<string, Record<string, Schema>> = {};
  for (const service of services) {
    for (const method of service.methods) {
      if (!hasOption(method, http)) continue;
      const comments = text(getComments(method).leading);
      bindings(getOption(method, http)).forEach((b, i) => {
        const path = b.path.replace(/\{([\w.]+)=[^}]*\}/g, "{$1}");
        const vars = [...b.path.matchAll(/\{([\w.]+)(?:=[^}]*)?\}/g)].map((m) => m[1]!);
        const pathField = (name: string) => method.input.fields.find((f) => f.name === name);
        const parameters: Schema[] = vars.map((name) => {
          const f = pathField(name);
          // A path segment is never empty: a path variable is required, whatever its field says.
          const schema = f ? requiredValue(fieldSchema(f, true), f) : { type: "string", minLength: 1 };
          return { name, in: "path", required: true, schema: { ...schema, description: undefined } };
        });
        if (b.body !== "*") {
          for (const f of method.input.fields) {
            if (vars.includes(f.name) || f.name === b.body) continue;
            if (f.fieldKind === "map" || (f.fieldKind === "message" && !WKT[f.message.typeName])) continue;
            const required = mustBeSet(f);
            // Query parameters: a list repeats its name (`?queues=a&queues=b`).
            parameters.push({ name: f.name, in: "query", required, ...(f.fieldKind === "list" ? { style: "form", explode: true } : {}), schema: fieldSchema(f, true) });
          }
        }
        const operation: Schema = {
          operationId: `${service.name}_${method.name}${i > 0 ? `_${i}` : ""}`,
          tags: [service.name],
          summary: comments.split("\n")[0] ?? "",
          description: comments,
          parameters,
          // From the same (switchyard.api.v1.policy) option the auth interceptor enforces.
          security: openApiSecurity(methodPolicy(method)),
          "x-switchyard-policy": methodPolicy(method),
          responses: {
            "200":
              method.methodKind === "server_streaming"
                ? { description: "Server-Sent Events: one `message` event per message (its JSON in `data`), `error` on failure (the error body in `data`), `end` at the end; comments keep the stream alive.", content: { "text/event-stream": { schema: sseEvent(ref(method.output)) } } }
                : { description: "OK", content: { "application/json": { schema: ref(method.output) } } },
            default: { description: "Error", content: { "application/json": { schema: { $ref: `#/components/schemas/${OAUTH_ERROR_METHODS.has(`${service.typeName}.${method.name}`) ? "OAuthError" : "Error"}` } } } },
          },
        };
        if (b.body !== "") {
          // Fields bound by the path are not repeated in the body (the path wins).
          const target = b.body === "*" ? messageSchema(method.input, true, vars) : fieldSchema(method.input.fields.find((f) => f.name === b.body)!, true);
          operation.requestBody = { required: true, content: { "application/json": { schema: target } } };
        }
        (paths[path] ??= {})[b.httpMethod.toLowerCase()] = operation;
      });
    }
  }
  schemas.Error = {
    type: "object",
    properties: {
      error: {
        type: "object",
        properties: {
          code: { type: "string", description: "Connect code, e.g. not_found" },
          status: { type: "integer" },
          message: { type: "string" },
          reason: { type: "string", description: "Stable UPPER_SNAKE reason, e.g. TASK_NOT_FOUND" },
          metadata: { type: "object", additionalProperties: { type: "string" } },
        },
      },
    },
  };
  schemas.OAuthError = {
    type: "object",
    description: "RFC 6749 section 5.2 error (the device flow's token endpoint, RFC 8628 section 3.5).",
    properties: { error: { type: "string", description: "e.g. authorization_pending, slow_down, invalid_grant" }, error_description: { type: "string" } },
    required: ["error"],
  };
  function sseEvent(data: Schema): Schema {
    return {
      type: "object",
      description: "One Server-Sent Event.",
      properties: {
        event: { type: "string", enum: ["message", "error", "end"] },
        id: { type: "string" },
        retry: { type: "integer" },
        data: { type: "string", contentMediaType: "application/json", contentSchema: data },
      },
    };
  }
  return {
    openapi: "3.1.0",
    info,
    paths,
    components: { schemas, securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
    security: [{ bearer: [] }],
  };
}
