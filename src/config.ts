import { join, resolve } from "node:path";
import { decodeSecretKey } from "./core/secret-box.ts";

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
  /** How long a graceful shutdown waits for streams to drain, in milliseconds. */
  shutdownGraceMs: number;
  /** NATS server URL(s); undefined uses the in-process bus. */
  natsUrl: string | undefined;
  /** Qdrant URL; undefined uses sqlite-vec. */
  qdrantUrl: string | undefined;
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
  /** AES-256-GCM key for secrets at rest (32 bytes); undefined uses a key file in the data dir. */
  secretKey: Uint8Array<ArrayBuffer> | undefined;
  /** Keys that sealed older values, still accepted for opening (rotation). */
  previousSecretKeys: Uint8Array<ArrayBuffer>[];
}

/** The variables Switchyard reads, with their meaning and default: the README's table is this. */
export const VARIABLES = {
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
  SWITCHYARD_SHUTDOWN_GRACE_MS: "time given to streams to drain on SIGTERM (default 10000)",
  SWITCHYARD_QUEUE_CONFIG: "YAML file of queue configurations (default: unset)",
  SWITCHYARD_LOG_LEVEL: "debug, info, warn or error (default info)",
  SWITCHYARD_MAIL_MAX_MESSAGES: "mail messages kept, all topics together; 0 = unlimited (default 1000000)",
  SWITCHYARD_MAIL_MAX_AGE_MS: "age after which mail messages are removed; 0 = forever (default 604800000, 7 days)",
  SWITCHYARD_MAIL_SUBSCRIBER_BUFFER: "live messages held for a slow mail subscriber before its stream ends with resource_exhausted (default 1000)",
  SWITCHYARD_SECRET_KEY: "32-byte key (64 hex or base64) sealing secrets at rest with AES-256-GCM (default: a key generated once in the data dir, secret.key)",
  SWITCHYARD_SECRET_KEY_PREVIOUS: "comma-separated older keys still accepted to open secrets, for rotation (default: none)",
  NATS_URL: "NATS server URL; unset uses the in-process bus",
  QDRANT_URL: "Qdrant URL; unset uses sqlite-vec",
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
  const config: Config = {
    port,
    host: text("SWITCHYARD_HOST") ?? "0.0.0.0",
    dataDir,
    databasePath: join(dataDir, "switchyard.db"),
    apiToken: apiToken === undefined || apiToken === "" ? undefined : apiToken,
    environment: text("SWITCHYARD_ENV") ?? "development",
    corsOrigins,
    maxMessageBytes: int("SWITCHYARD_MAX_MESSAGE_BYTES", 4 * 1024 * 1024, 1024, 256 * 1024 * 1024),
    maxBodyBytes: int("SWITCHYARD_MAX_BODY_BYTES", 4 * 1024 * 1024, 1024, 256 * 1024 * 1024),
    maxDeadlineMs: int("SWITCHYARD_MAX_DEADLINE_MS", 300_000, 1000, 24 * 3600 * 1000),
    maxConcurrentStreams: int("SWITCHYARD_MAX_CONCURRENT_STREAMS", 256, 1, 10_000),
    shutdownGraceMs: int("SWITCHYARD_SHUTDOWN_GRACE_MS", 10_000, 0, 600_000),
    natsUrl: url("NATS_URL", ["nats", "tls", "ws", "wss"]),
    qdrantUrl: url("QDRANT_URL", ["http", "https"]),
    queueConfigPath: text("SWITCHYARD_QUEUE_CONFIG"),
    mailMaxMessages: int("SWITCHYARD_MAIL_MAX_MESSAGES", 1_000_000, 0, 1_000_000_000),
    mailMaxAgeMs: int("SWITCHYARD_MAIL_MAX_AGE_MS", 7 * 24 * 3600 * 1000, 0, 10 * 365 * 24 * 3600 * 1000),
    mailSubscriberBuffer: int("SWITCHYARD_MAIL_SUBSCRIBER_BUFFER", 1000, 1, 1_000_000),
    logLevel: logLevel as Config["logLevel"],
    secretKey,
    previousSecretKeys,
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}
