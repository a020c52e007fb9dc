import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { join, resolve } from "node:path";
import { ROOT } from "./core/paths.ts";
import { decodeSecretKey } from "./core/secret-box.ts";
import { parseFailpoints } from "./core/failpoints.ts";
import { parseRateLimits, type RateLimitPolicy } from "./edge/rate-limit-spec.ts";
import { parseQueueConfigYaml } from "./tasks/queue-configs.ts";

/** Everything Switchyard reads from its environment, validated. The only reader of `process.env`. */
export interface Config {
  /** Port of the one listener (gRPC, gRPC-Web, Connect, REST, legacy routes, health). */
  port: number;
  /** Address to bind. */
  host: string;
  /** Folder holding the SQLite file and blobs. */
  dataDir: string;
  /** Path of the SQLite database file. */
  databasePath: string;
  /** PostgreSQL URL (`postgres://…`); undefined keeps the SQLite file. */
  databaseUrl: string | undefined;
  /** Bearer token required on every call but health; undefined runs the server open. */
  apiToken: string | undefined;
  /** Deployment environment reported by health and info. */
  environment: string;
  /** Origins allowed by CORS (`*` allows any). */
  corsOrigins: string[];
  /** Largest protobuf message accepted or sent, in bytes. */
  maxMessageBytes: number;
  /** Largest REST/legacy request body, in bytes. */
  maxBodyBytes: number;
  /** Longest deadline a client may ask for, in milliseconds; longer is refused. */
  maxDeadlineMs: number;
  /** Maximum concurrent HTTP/2 streams per connection. */
  maxConcurrentStreams: number;
  /** Binary unary gRPC calls take the lean path in front of Connect-ES (src/server/lean-grpc.ts). */
  leanGrpc: boolean;
  /** Lean unary answers send their trailers in the same write as their data where Bun allows (src/server/h2-trailers.ts). */
  grpcTrailersWithData: boolean;
  /** How long a graceful shutdown waits for streams to drain, in milliseconds. */
  shutdownGraceMs: number;
  /** NATS server URL(s); undefined uses the in-process bus. */
  natsUrl: string | undefined;
  /** Qdrant URL; undefined uses sqlite-vec. */
  qdrantUrl: string | undefined;
  /** Qdrant API key (sent as `api-key`); never logged. */
  qdrantApiKey: string | undefined;
  /** OpenAI-compatible embeddings API base URL; undefined uses the built-in lexical embedder. */
  embeddingsUrl: string | undefined;
  /** Model name sent to the embeddings endpoint. */
  embeddingsModel: string;
  /** Bearer key of the embeddings endpoint; never logged. */
  embeddingsApiKey: string | undefined;
  /** Texts per embeddings request. */
  embeddingsBatchSize: number;
  /** Embeddings request timeout, in milliseconds. */
  embeddingsTimeoutMs: number;
  /** Vector length of the endpoint's model; 0 learns it from the first answer. */
  embeddingsDimensions: number;
  /** sqlite-vec kNN: `float` (exact) or `bit` (1-bit quantized, re-ranked on floats). */
  vectorQuantization: "float" | "bit";
  /** Lease the in-process memory worker takes on compaction and backfill tasks, in milliseconds. */
  memoryWorkerLeaseMs: number;
  /** YAML file of queue configurations (seed 003). */
  queueConfigPath: string | undefined;
  /** Most mail messages kept (all topics together); 0 = unlimited. */
  mailMaxMessages: number;
  /** Age after which mail messages are removed, in milliseconds; 0 = forever. */
  mailMaxAgeMs: number;
  /** Live messages held for one slow mail subscriber before its stream ends. */
  mailSubscriberBuffer: number;
  /** Log level: debug, info, warn, error. */
  logLevel: "debug" | "info" | "warn" | "error";
  /** Most write operations waiting for their commit before new writes are refused. */
  maxPendingWrites: number;
  /** WAL size (MiB) from which the checkpoint worker briefly holds the writer so the WAL starts again; 0 never holds. */
  walRestartMb: number;
  /** fdatasync the WAL on a thread of its own (true) or on Bun's thread pool. */
  walSyncThread: boolean;
  /** Failpoints armed for fault tests (never in production). */
  failpoints: string | undefined;
  /** Folder of the built dashboard, served at /ui. */
  uiDir: string;
  /** AES-256-GCM key for secrets at rest (32 bytes); undefined uses a key file in the data dir. */
  secretKey: Uint8Array<ArrayBuffer> | undefined;
  /** Keys that sealed older values, still accepted for opening (rotation). */
  previousSecretKeys: Uint8Array<ArrayBuffer>[];
  /** The servers domain: heartbeats, health checks, push dispatch, SSRF allow-list. */
  servers: ServersConfig;
  /** Identity: tokens, JWT verification, Google/OIDC sign-in (see src/auth/README.md). */
  auth: AuthConfig;
  /** Rate-limit windows by route class (seed defaults merged with `SWITCHYARD_RATE_LIMITS`). */
  rateLimits: RateLimitPolicy;
  /** Proxy addresses whose `X-Forwarded-For` names the client (rate-limit keys of anonymous callers). */
  trustedProxies: string[];
  /** Secret GitHub signs webhook deliveries with; undefined refuses every delivery. */
  githubWebhookSecret: string | undefined;
  /** The GitHub App's id and URL slug (for the installation link of `/gh-setup`). */
  githubAppId: string | undefined;
  githubAppSlug: string | undefined;
  /** Longest wait for an agent worker to take a session before it fails with an error event. */
  agentWaitMs: number;
  /** Agents' daily quota (0 = unlimited). */
  agentMaxDailyTokens: number;
  agentMaxDailyCost: number;
  agentMaxConcurrentSessions: number;
  /** Largest blob a workspace upload may store, in bytes (413 above). */
  blobMaxBytes: number;
  /** Blobs younger than this are never collected by blob GC, in milliseconds. */
  blobGcGraceMs: number;
  /** How long a sync preview waits for an agent worker to combine conflicts; 0 = not asked. */
  syncAgentDeadlineMs: number;
  /** How long a task-backed insight call (next steps, decisions, drift analysis…) waits for its worker. */
  insightsDeadlineMs: number;
}

/** Settings of the servers domain (registry, health checker, push dispatcher). */
export interface ServersConfig {
  /** Hosts and CIDRs backend endpoints may point into although private, loopback or link-local. */
  backendAllow: string[];
  /** Silence after which a server is OFFLINE; servers are told to heartbeat at a third of it. */
  heartbeatTimeoutMs: number;
  /** Interval of the active health checks of backends with a `health` endpoint. */
  healthCheckIntervalMs: number;
  /** How long a pushed task's POST to a backend may take before it counts as failed. */
  dispatchTimeoutMs: number;
  /** Queues whose ready tasks are pushed to HTTP backends. */
  pushQueues: string[];
  /** Base URL backends call back on (`PUT /api/task/:id`); undefined: the listener's address. */
  publicUrl: string | undefined;
  /** On PostgreSQL: how often each instance reloads the registry, health states and algorithms (the bound on seeing another instance's changes). */
  refreshMs: number;
}

/** A named static token for another service, mapped to a tenant and roles. */
export interface ServiceToken {
  name: string;
  tenant: string;
  roles: string[];
  token: string;
}

export interface AuthConfig {
  /** Tenant of SWITCHYARD_API_TOKEN (default `default`). */
  apiTokenTenant: string;
  serviceTokens: ServiceToken[];
  /** HS256 secret (seed 001's JWT_SECRET). */
  jwtSecret: string | undefined;
  /** JWKS for RS256/ES256/EdDSA tokens: a URL or a file. */
  jwksUrl: string | undefined;
  jwksFile: string | undefined;
  jwtIssuer: string | undefined;
  jwtAudience: string | undefined;
  jwtClockSkewS: number;
  /** Claim naming the tenant of a JWT (default `tenant`; absent claim: `default`). */
  jwtTenantClaim: string;
  /** Google (or any OIDC issuer) sign-in: client id (audience), JWKS URL, accepted issuers. */
  googleClientId: string | undefined;
  googleJwksUrl: string;
  googleIssuers: string[];
  /** Tenant new Google/OIDC users join (default `default`). */
  googleTenant: string;
  /** Public base URL for the device flow's verification_uri (default: from the Host header). */
  publicUrl: string | undefined;
}

/** The variables Switchyard reads, with their meaning and default: the README's table is this. */
export const VARIABLES = {
  SWITCHYARD_BLOB_MAX_BYTES: "largest workspace blob accepted, in bytes (default 104857600 = 100 MiB; 413 above)",
  SWITCHYARD_BLOB_GC_GRACE_MS: "blobs younger than this are never collected by blob GC (default 3600000 = 1 h)",
  SWITCHYARD_SYNC_AGENT_DEADLINE_MS: "how long sync prepare waits for an agent worker to combine conflicting files (default 0: no agent is asked)",
  SWITCHYARD_INSIGHTS_DEADLINE_MS: "how long a task-backed insight call (next steps, decisions, drift analysis, conversation turns) waits for its worker (default 30000)",
  SWITCHYARD_PORT: "port of the one listener (default 8080; 0 picks a free port)",
  SWITCHYARD_HOST: "address to bind (default 0.0.0.0)",
  SWITCHYARD_DATA_DIR: "folder for the SQLite file and blobs (default ./data)",
  SWITCHYARD_API_TOKEN: "bearer token required on every call but health (default: unset, server open)",
  SWITCHYARD_ENV: "environment name shown by health (default development)",
  SWITCHYARD_CORS_ORIGINS: "comma-separated allowed origins, or * (default *)",
  SWITCHYARD_MAX_MESSAGE_BYTES: "largest protobuf message in or out (default 4194304)",
  SWITCHYARD_MAX_BODY_BYTES: "largest REST/legacy request body (default 4194304)",
  SWITCHYARD_MAX_DEADLINE_MS: "longest deadline a client may ask for (default 300000)",
  SWITCHYARD_MAX_CONCURRENT_STREAMS: "HTTP/2 streams per connection (default 256)",
  SWITCHYARD_LEAN_GRPC: "1 serves binary unary gRPC calls on the lean path in front of Connect-ES, 0 sends every call through Connect (default 1)",
  SWITCHYARD_GRPC_TRAILERS_WITH_DATA: "1 sends a lean unary answer's trailers in the same write as its data when nothing waits for flow control, 0 leaves them to Bun's wantTrailers (default 1)",
  SWITCHYARD_SHUTDOWN_GRACE_MS: "time given to streams to drain on SIGTERM (default 10000)",
  SWITCHYARD_QUEUE_CONFIG: "YAML file of queue configurations (default: unset)",
  SWITCHYARD_LOG_LEVEL: "debug, info, warn or error (default info)",
  SWITCHYARD_MAIL_MAX_MESSAGES: "mail messages kept, all topics together; 0 = unlimited (default 1000000)",
  SWITCHYARD_MAIL_MAX_AGE_MS: "age after which mail messages are removed; 0 = forever (default 604800000, 7 days)",
  SWITCHYARD_MAIL_SUBSCRIBER_BUFFER: "live messages held for a slow mail subscriber before its stream ends with resource_exhausted (default 1000)",
  SWITCHYARD_MAX_PENDING_WRITES: "write operations waiting for the disk before new writes are refused with resource_exhausted (default 100000)",
  SWITCHYARD_WAL_SYNC_THREAD: "1 makes the SQLite WAL durable (fdatasync) on a thread of its own, woken through Atomics; 0 on Bun's thread pool, the former path (default 1)",
  SWITCHYARD_WAL_RESTART_MB: "SQLite WAL size from which the checkpoint worker holds new writes for the moment it copies the rest back, so the WAL starts again from the top; 0 = never (the WAL then grows for as long as writes never pause) (default 16)",
  SWITCHYARD_FAILPOINTS: "fault-test failpoints, name=action;… (see src/core/failpoints.ts); refused when SWITCHYARD_ENV=production (default: none)",
  SWITCHYARD_UI_DIR: "folder of the built dashboard served at /ui (default web/dist of the repository)",
  SWITCHYARD_SECRET_KEY: "32-byte key (64 hex or base64) sealing secrets at rest with AES-256-GCM (default: a key generated once in the data dir, secret.key)",
  SWITCHYARD_SECRET_KEY_PREVIOUS: "comma-separated older keys still accepted to open secrets, for rotation (default: none)",
  SWITCHYARD_API_TOKEN_TENANT: "tenant of SWITCHYARD_API_TOKEN (default default)",
  SWITCHYARD_SERVICE_TOKENS: "named service tokens, comma-separated name:tenant:roles:token (roles joined by +, may be empty; token ≥ 16 characters)",
  SWITCHYARD_JWT_SECRET: "HS256 secret of JWTs signed as seed 001 does (roles claim); ≥ 16 characters (default: unset, no HS256)",
  SWITCHYARD_JWKS_URL: "JWKS URL for RS256/ES256/EdDSA JWTs (default: unset)",
  SWITCHYARD_JWKS_FILE: "JWKS file for RS256/ES256/EdDSA JWTs (default: unset)",
  SWITCHYARD_JWT_ISSUER: "required iss of JWTs (default: not checked)",
  SWITCHYARD_JWT_AUDIENCE: "required aud of JWTs (default: not checked)",
  SWITCHYARD_JWT_CLOCK_SKEW_S: "clock skew allowed on exp/nbf, seconds (default 30)",
  SWITCHYARD_JWT_TENANT_CLAIM: "JWT claim naming the tenant (default tenant; absent: default)",
  SWITCHYARD_GOOGLE_CLIENT_ID: "OAuth client id Google ID tokens must be issued for; unset turns Google sign-in off",
  SWITCHYARD_GOOGLE_JWKS_URL: "JWKS of the ID-token issuer (default https://www.googleapis.com/oauth2/v3/certs)",
  SWITCHYARD_GOOGLE_ISSUERS: "accepted ID-token issuers, comma-separated (default https://accounts.google.com,accounts.google.com)",
  SWITCHYARD_GOOGLE_TENANT: "tenant that users signing in with Google join (default default)",
  SWITCHYARD_PUBLIC_URL: "public base URL of this server: the device flow's verification_uri and the callback HTTP backends call, PUT /api/task/:id (default: the Host header, the listener's address)",
  SWITCHYARD_RATE_LIMITS: "rate limits by route class, `class=60/m,1000/h;class=off` over the seed defaults (seed-001=100/m, seed-001-task-create=50/m, seed-001-server-register=10/m, seed-004=60/m,1000/h,5000/d; classes api, seed-000, seed-003 unlimited), or off",
  SWITCHYARD_TRUSTED_PROXIES: "comma-separated proxy IP addresses whose X-Forwarded-For names the client, for rate limits (default: none, the socket's address counts)",
  SWITCHYARD_GITHUB_WEBHOOK_SECRET: "secret of the GitHub App's webhook (X-Hub-Signature-256); unset refuses every delivery (default: unset)",
  SWITCHYARD_GITHUB_APP_ID: "the GitHub App's id, shown by /gh-status and /health (default: unset)",
  SWITCHYARD_GITHUB_APP_SLUG: "the GitHub App's URL name, for the installation link of /gh-setup (default: unset: the app-creation page)",
  SWITCHYARD_AGENT_WAIT_MS: "longest wait for an agent worker to take a session before it ends with an error event (default 30000)",
  SWITCHYARD_AGENT_MAX_DAILY_TOKENS: "tokens all agent sessions may use per UTC day; 0 = unlimited (default 1000000)",
  SWITCHYARD_AGENT_MAX_DAILY_COST: "US dollars all agent sessions may cost per UTC day; 0 = unlimited (default 50)",
  SWITCHYARD_AGENT_MAX_CONCURRENT_SESSIONS: "agent sessions queued or running at once; 0 = unlimited (default 5)",
  SWITCHYARD_DATABASE_URL: "PostgreSQL URL (postgres://user:pass@host:5432/db) for several instances on one database; unset keeps the SQLite file in the data folder (default: unset)",
  NATS_URL: "NATS server URL; unset uses the in-process bus",
  QDRANT_URL: "Qdrant URL; unset uses sqlite-vec",
  QDRANT_API_KEY: "Qdrant API key (default: unset)",
  SWITCHYARD_EMBEDDINGS_URL: "OpenAI-compatible embeddings API base URL, e.g. http://localhost:11434/v1 (default: unset, built-in lexical embedder)",
  SWITCHYARD_EMBEDDINGS_MODEL: "model name sent to the embeddings endpoint (default all-MiniLM-L6-v2)",
  SWITCHYARD_EMBEDDINGS_API_KEY: "bearer key of the embeddings endpoint (default: unset)",
  SWITCHYARD_EMBEDDINGS_BATCH_SIZE: "texts per embeddings request (default 64)",
  SWITCHYARD_EMBEDDINGS_TIMEOUT_MS: "embeddings request timeout (default 10000)",
  SWITCHYARD_EMBEDDINGS_DIMENSIONS: "vector length of the endpoint's model; 0 learns it from the first answer (default 0)",
  SWITCHYARD_MEMORY_WORKER_LEASE_MS: "lease of the in-process memory worker on compaction and backfill tasks; a crashed run is retried after it (default 30000)",
  SWITCHYARD_VECTOR_QUANTIZATION: "sqlite-vec kNN: float (exact) or bit (quantized, re-ranked on floats) (default float)",
  SWITCHYARD_BACKEND_ALLOW: "comma-separated hosts and CIDRs backend endpoints may use although private, loopback or link-local (default: none)",
  SWITCHYARD_HEARTBEAT_TIMEOUT_MS: "silence after which a server is offline; heartbeats are asked every third of it (default 30000)",
  SWITCHYARD_HEALTH_CHECK_INTERVAL_MS: "interval of backend health probes (default 10000)",
  SWITCHYARD_DISPATCH_TIMEOUT_MS: "time a backend has to answer a pushed task (default 30000)",
  SWITCHYARD_PUSH_QUEUES: "comma-separated queues pushed to HTTP backends (default: default)",
  SWITCHYARD_SERVERS_REFRESH_MS: "on PostgreSQL, how often each instance reloads servers, health states and algorithms: the bound on seeing another instance's registration, maintenance or ejection in its balancer (default 1000)",
} as const;

/** Read by the `switchyard` CLI and the SDKs (cli/, sdk/), not by the server, which must not
 * refuse to start in a shell where they are set. */
export const CLIENT_VARIABLES = [
  "SWITCHYARD_SERVER",
  "SWITCHYARD_CONFIG",
  "SWITCHYARD_QUEUE",
  "SWITCHYARD_WORKER_ID",
  "SWITCHYARD_CONCURRENCY",
  "SWITCHYARD_LEASE_SECONDS",
] as const;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

type Env = Record<string, string | undefined>;

/** Reads and validates the configuration; throws one ConfigError listing every bad variable. */
export function loadConfig(env: Env = process.env): Config {
  const problems: string[] = [];
  const known = new Set<string>([...Object.keys(VARIABLES), ...CLIENT_VARIABLES]);
  for (const name of Object.keys(env)) {
    if (name.startsWith("SWITCHYARD_") && !known.has(name)) problems.push(`${name}: unknown variable`);
  }
  const int = (name: keyof typeof VARIABLES, fallback: number, min: number, max: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === "") return fallback;
    if (!/^\d+$/.test(raw.trim())) {
      problems.push(`${name}: "${raw}" is not a whole number`);
      return fallback;
    }
    const value = Number(raw);
    if (value < min || value > max) {
      problems.push(`${name}: ${value} is outside ${min}..${max}`);
      return fallback;
    }
    return value;
  };
  const text = (name: keyof typeof VARIABLES): string | undefined => {
    const raw = env[name];
    return raw === undefined || raw.trim() === "" ? undefined : raw.trim();
  };
  const url = (name: keyof typeof VARIABLES, schemes: string[]): string | undefined => {
    const raw = text(name);
    if (raw === undefined) return undefined;
    for (const part of raw.split(",")) {
      try {
        const u = new URL(part.trim());
        if (!schemes.includes(u.protocol.replace(":", ""))) {
          problems.push(`${name}: scheme of "${part}" must be one of ${schemes.join(", ")}`);
        }
      } catch {
        problems.push(`${name}: "${part}" is not a URL`);
      }
    }
    return raw;
  };

  const port = int("SWITCHYARD_PORT", 8080, 0, 65535);
  const dataDir = resolve(text("SWITCHYARD_DATA_DIR") ?? "./data");
  const apiToken = env.SWITCHYARD_API_TOKEN;
  if (apiToken !== undefined && apiToken !== "" && apiToken.length < 16) {
    problems.push("SWITCHYARD_API_TOKEN: must be at least 16 characters");
  }
  const logLevel = (text("SWITCHYARD_LOG_LEVEL") ?? "info").toLowerCase();
  if (!["debug", "info", "warn", "error"].includes(logLevel)) {
    problems.push(`SWITCHYARD_LOG_LEVEL: "${logLevel}" is not one of debug, info, warn, error`);
  }
  const corsOrigins = (text("SWITCHYARD_CORS_ORIGINS") ?? "*").split(",").map((o) => o.trim()).filter(Boolean);
  for (const origin of corsOrigins) {
    if (origin === "*") continue;
    try {
      const u = new URL(origin);
      if (u.origin !== origin) problems.push(`SWITCHYARD_CORS_ORIGINS: "${origin}" is not a bare origin (${u.origin})`);
    } catch {
      problems.push(`SWITCHYARD_CORS_ORIGINS: "${origin}" is not an origin`);
    }
  }
  const key = (raw: string | undefined, name: string): Uint8Array<ArrayBuffer> | undefined => {
    if (raw === undefined || raw.trim() === "") return undefined;
    try {
      return decodeSecretKey(raw);
    } catch (error) {
      problems.push(`${name}: ${(error as Error).message}`);
      return undefined;
    }
  };
  const secretKey = key(env.SWITCHYARD_SECRET_KEY, "SWITCHYARD_SECRET_KEY");
  const previousSecretKeys = (text("SWITCHYARD_SECRET_KEY_PREVIOUS") ?? "")
    .split(",")
    .filter((k) => k.trim() !== "")
    .map((k) => key(k, "SWITCHYARD_SECRET_KEY_PREVIOUS"))
    .filter((k): k is Uint8Array<ArrayBuffer> => k !== undefined);
  const failpoints = text("SWITCHYARD_FAILPOINTS");
  if (failpoints !== undefined) {
    if ((text("SWITCHYARD_ENV") ?? "development") === "production") problems.push("SWITCHYARD_FAILPOINTS: failpoints are refused when SWITCHYARD_ENV=production");
    try {
      parseFailpoints(failpoints);
    } catch (error) {
      problems.push(`SWITCHYARD_FAILPOINTS: ${(error as Error).message}`);
    }
  }
  const auth = loadAuthConfig(env, text, url, int, problems, apiToken);
  let rateLimits: RateLimitPolicy = {};
  try {
    rateLimits = parseRateLimits(text("SWITCHYARD_RATE_LIMITS"));
  } catch (error) {
    problems.push(`SWITCHYARD_RATE_LIMITS: ${(error as Error).message}`);
  }
  const trustedProxies = (text("SWITCHYARD_TRUSTED_PROXIES") ?? "").split(",").map((a) => a.trim()).filter(Boolean);
  for (const a of trustedProxies) if (isIP(a) === 0) problems.push(`SWITCHYARD_TRUSTED_PROXIES: "${a}" is not an IP address`);
  const rawCost = text("SWITCHYARD_AGENT_MAX_DAILY_COST");
  const agentMaxDailyCost = rawCost === undefined ? 50 : Number(rawCost);
  if (!Number.isFinite(agentMaxDailyCost) || agentMaxDailyCost < 0 || !/^\d+(\.\d+)?$/.test(rawCost ?? "0")) {
    problems.push(`SWITCHYARD_AGENT_MAX_DAILY_COST: "${rawCost}" is not a non-negative number`);
  }
  // A queue config file that is missing or invalid refuses startup like any other bad setting.
  const queueConfigPath = text("SWITCHYARD_QUEUE_CONFIG");
  if (queueConfigPath !== undefined) {
    try {
      parseQueueConfigYaml(readFileSync(queueConfigPath, "utf8"));
    } catch (error) {
      problems.push(`SWITCHYARD_QUEUE_CONFIG: ${queueConfigPath}: ${(error as Error).message}`);
    }
  }
  const quantization = (text("SWITCHYARD_VECTOR_QUANTIZATION") ?? "float") as Config["vectorQuantization"];
  if (!["float", "bit"].includes(quantization)) problems.push(`SWITCHYARD_VECTOR_QUANTIZATION: "${quantization}" is not float or bit`);
  if (text("SWITCHYARD_DATABASE_URL") && !text("NATS_URL")) {
    problems.push("SWITCHYARD_DATABASE_URL: PostgreSQL is for several instances, which share events, streams and wake-ups through NATS: set NATS_URL too");
  }
  const config: Config = {
    port,
    host: text("SWITCHYARD_HOST") ?? "0.0.0.0",
    dataDir,
    databasePath: join(dataDir, "switchyard.db"),
    databaseUrl: url("SWITCHYARD_DATABASE_URL", ["postgres", "postgresql"]),
    apiToken: apiToken === undefined || apiToken === "" ? undefined : apiToken,
    environment: text("SWITCHYARD_ENV") ?? "development",
    corsOrigins,
    maxMessageBytes: int("SWITCHYARD_MAX_MESSAGE_BYTES", 4 * 1024 * 1024, 1024, 256 * 1024 * 1024),
    maxBodyBytes: int("SWITCHYARD_MAX_BODY_BYTES", 4 * 1024 * 1024, 1024, 256 * 1024 * 1024),
    maxDeadlineMs: int("SWITCHYARD_MAX_DEADLINE_MS", 300_000, 1000, 24 * 3600 * 1000),
    maxConcurrentStreams: int("SWITCHYARD_MAX_CONCURRENT_STREAMS", 256, 1, 10_000),
    leanGrpc: int("SWITCHYARD_LEAN_GRPC", 1, 0, 1) === 1,
    grpcTrailersWithData: int("SWITCHYARD_GRPC_TRAILERS_WITH_DATA", 1, 0, 1) === 1,
    shutdownGraceMs: int("SWITCHYARD_SHUTDOWN_GRACE_MS", 10_000, 0, 600_000),
    natsUrl: url("NATS_URL", ["nats", "tls", "ws", "wss"]),
    qdrantUrl: url("QDRANT_URL", ["http", "https"]),
    queueConfigPath,
    qdrantApiKey: text("QDRANT_API_KEY"),
    embeddingsUrl: url("SWITCHYARD_EMBEDDINGS_URL", ["http", "https"]),
    embeddingsModel: text("SWITCHYARD_EMBEDDINGS_MODEL") ?? "all-MiniLM-L6-v2",
    embeddingsApiKey: text("SWITCHYARD_EMBEDDINGS_API_KEY"),
    embeddingsBatchSize: int("SWITCHYARD_EMBEDDINGS_BATCH_SIZE", 64, 1, 2048),
    embeddingsTimeoutMs: int("SWITCHYARD_EMBEDDINGS_TIMEOUT_MS", 10_000, 100, 600_000),
    embeddingsDimensions: int("SWITCHYARD_EMBEDDINGS_DIMENSIONS", 0, 0, 65_536),
    vectorQuantization: quantization,
    memoryWorkerLeaseMs: int("SWITCHYARD_MEMORY_WORKER_LEASE_MS", 30_000, 1000, 3_600_000),
    mailMaxMessages: int("SWITCHYARD_MAIL_MAX_MESSAGES", 1_000_000, 0, 1_000_000_000),
    mailMaxAgeMs: int("SWITCHYARD_MAIL_MAX_AGE_MS", 7 * 24 * 3600 * 1000, 0, 10 * 365 * 24 * 3600 * 1000),
    mailSubscriberBuffer: int("SWITCHYARD_MAIL_SUBSCRIBER_BUFFER", 1000, 1, 1_000_000),
    logLevel: logLevel as Config["logLevel"],
    secretKey,
    previousSecretKeys,
    maxPendingWrites: int("SWITCHYARD_MAX_PENDING_WRITES", 100_000, 1, 10_000_000),
    walRestartMb: int("SWITCHYARD_WAL_RESTART_MB", 16, 0, 65_536),
    walSyncThread: int("SWITCHYARD_WAL_SYNC_THREAD", 1, 0, 1) === 1,
    failpoints,
    uiDir: resolve(text("SWITCHYARD_UI_DIR") ?? join(ROOT, "web", "dist")),
    servers: {
      backendAllow: backendAllow(text("SWITCHYARD_BACKEND_ALLOW"), problems),
      heartbeatTimeoutMs: int("SWITCHYARD_HEARTBEAT_TIMEOUT_MS", 30_000, 100, 24 * 3600 * 1000),
      healthCheckIntervalMs: int("SWITCHYARD_HEALTH_CHECK_INTERVAL_MS", 10_000, 50, 3600 * 1000),
      dispatchTimeoutMs: int("SWITCHYARD_DISPATCH_TIMEOUT_MS", 30_000, 50, 3600 * 1000),
      pushQueues: (env.SWITCHYARD_PUSH_QUEUES ?? "default").split(",").map((q) => q.trim()).filter(Boolean),
      publicUrl: url("SWITCHYARD_PUBLIC_URL", ["http", "https"]),
      refreshMs: int("SWITCHYARD_SERVERS_REFRESH_MS", 1000, 50, 600_000),
    },
    auth,
    rateLimits,
    trustedProxies,
    githubWebhookSecret: text("SWITCHYARD_GITHUB_WEBHOOK_SECRET"),
    githubAppId: text("SWITCHYARD_GITHUB_APP_ID"),
    githubAppSlug: text("SWITCHYARD_GITHUB_APP_SLUG"),
    agentWaitMs: int("SWITCHYARD_AGENT_WAIT_MS", 30_000, 100, 300_000),
    agentMaxDailyTokens: int("SWITCHYARD_AGENT_MAX_DAILY_TOKENS", 1_000_000, 0, 1_000_000_000_000),
    agentMaxDailyCost: Number.isFinite(agentMaxDailyCost) && agentMaxDailyCost >= 0 ? agentMaxDailyCost : 50,
    agentMaxConcurrentSessions: int("SWITCHYARD_AGENT_MAX_CONCURRENT_SESSIONS", 5, 0, 100_000),
    blobMaxBytes: int("SWITCHYARD_BLOB_MAX_BYTES", 100 * 1024 * 1024, 1, 64 * 1024 * 1024 * 1024),
    blobGcGraceMs: int("SWITCHYARD_BLOB_GC_GRACE_MS", 3600 * 1000, 0, 30 * 24 * 3600 * 1000),
    syncAgentDeadlineMs: int("SWITCHYARD_SYNC_AGENT_DEADLINE_MS", 0, 0, 10 * 60 * 1000),
    insightsDeadlineMs: int("SWITCHYARD_INSIGHTS_DEADLINE_MS", 30_000, 100, 10 * 60 * 1000),
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** SWITCHYARD_BACKEND_ALLOW: host names, IP addresses or CIDRs, comma-separated. */
function backendAllow(raw: string | undefined, problems: string[]): string[] {
  const out: string[] = [];
  for (const part of (raw ?? "").split(",").map((p) => p.trim().toLowerCase()).filter(Boolean)) {
    const cidr = /^([0-9a-f:.]+)\/(\d{1,3})$/.exec(part);
    const host = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(part);
    const ip = /^[0-9a-f:.]+$/.test(part) && (part.includes(":") || /^\d+\.\d+\.\d+\.\d+$/.test(part));
    if (cidr || host || ip) out.push(part);
    else problems.push(`SWITCHYARD_BACKEND_ALLOW: "${part}" is not a host, an IP address or a CIDR`);
  }
  return out;
}

const TENANT = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;
const TOKEN_CHARS = /^[A-Za-z0-9._~+/=-]{16,512}$/;

function loadAuthConfig(
  env: Env,
  text: (name: keyof typeof VARIABLES) => string | undefined,
  url: (name: keyof typeof VARIABLES, schemes: string[]) => string | undefined,
  int: (name: keyof typeof VARIABLES, fallback: number, min: number, max: number) => number,
  problems: string[],
  apiToken: string | undefined,
): AuthConfig {
  const tenant = (name: keyof typeof VARIABLES): string => {
    const t = text(name) ?? "default";
    if (!TENANT.test(t)) problems.push(`${name}: "${t}" must be 1–63 letters, digits, '_' or '-'`);
    return t;
  };
  const serviceTokens: ServiceToken[] = [];
  for (const entry of (text("SWITCHYARD_SERVICE_TOKENS") ?? "").split(",").map((e) => e.trim()).filter(Boolean)) {
    const parts = entry.split(":");
    const [name, t, roles, token] = parts;
    if (parts.length !== 4 || !name || !t || !token) {
      problems.push(`SWITCHYARD_SERVICE_TOKENS: an entry must be name:tenant:roles:token (got ${parts.length} parts)`);
      continue;
    }
    if (!TENANT.test(t)) problems.push(`SWITCHYARD_SERVICE_TOKENS: tenant "${t}" of ${name} must be 1–63 letters, digits, '_' or '-'`);
    if (!TOKEN_CHARS.test(token)) problems.push(`SWITCHYARD_SERVICE_TOKENS: the token of ${name} must be 16–512 URL-safe characters`);
    if (token === apiToken || serviceTokens.some((s) => s.token === token)) problems.push(`SWITCHYARD_SERVICE_TOKENS: the token of ${name} is used twice`);
    serviceTokens.push({ name, tenant: t, roles: (roles ?? "").split("+").filter(Boolean), token });
  }
  const jwtSecret = env.SWITCHYARD_JWT_SECRET === undefined || env.SWITCHYARD_JWT_SECRET === "" ? undefined : env.SWITCHYARD_JWT_SECRET;
  if (jwtSecret !== undefined && jwtSecret.length < 16) problems.push("SWITCHYARD_JWT_SECRET: must be at least 16 characters");
  const jwksUrl = url("SWITCHYARD_JWKS_URL", ["http", "https"]);
  const jwksFile = text("SWITCHYARD_JWKS_FILE");
  if (jwksUrl && jwksFile) problems.push("SWITCHYARD_JWKS_URL and SWITCHYARD_JWKS_FILE: set one, not both");
  const claim = text("SWITCHYARD_JWT_TENANT_CLAIM") ?? "tenant";
  return {
    apiTokenTenant: tenant("SWITCHYARD_API_TOKEN_TENANT"),
    serviceTokens,
    jwtSecret,
    jwksUrl,
    jwksFile,
    jwtIssuer: text("SWITCHYARD_JWT_ISSUER"),
    jwtAudience: text("SWITCHYARD_JWT_AUDIENCE"),
    jwtClockSkewS: int("SWITCHYARD_JWT_CLOCK_SKEW_S", 30, 0, 3600),
    jwtTenantClaim: claim,
    googleClientId: text("SWITCHYARD_GOOGLE_CLIENT_ID"),
    googleJwksUrl: url("SWITCHYARD_GOOGLE_JWKS_URL", ["http", "https"]) ?? "https://www.googleapis.com/oauth2/v3/certs",
    googleIssuers: (text("SWITCHYARD_GOOGLE_ISSUERS") ?? "https://accounts.google.com,accounts.google.com").split(",").map((i) => i.trim()).filter(Boolean),
    googleTenant: tenant("SWITCHYARD_GOOGLE_TENANT"),
    publicUrl: url("SWITCHYARD_PUBLIC_URL", ["http", "https"]),
  };
}
