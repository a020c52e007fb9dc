/** Plain types of the servers domain; the service layer maps them to and from the protos. */

export type ServerKind = "backend" | "worker";
export type ServerStatus = "online" | "offline" | "maintenance" | "degraded";
export type ReportedHealth = "healthy" | "degraded" | "unhealthy";
export type Algorithm = "round-robin" | "least-connections" | "weighted-round-robin" | "random" | "power-of-two-choices";
export const ALGORITHMS: Algorithm[] = ["round-robin", "least-connections", "weighted-round-robin", "random", "power-of-two-choices"];
/** Seed 001's default. */
export const DEFAULT_ALGORITHM: Algorithm = "weighted-round-robin";

/** Load figures of one heartbeat (seed 001 `activeTasks`, `metrics`). */
export interface LoadReport {
  activeTasks: number;
  cpuPercent?: number;
  memoryPercent?: number;
  gpuPercent?: number;
  custom: Record<string, number>;
  /** Server clock, ms. */
  reportTime: number;
}

export interface HealthCheckState {
  lastResult: "passing" | "failing" | undefined;
  lastCheckTime: number | undefined;
  lastLatencyMs: number;
  lastHttpStatus: number;
  lastError: string;
  consecutiveFailures: number;
  consecutiveSuccesses: number;
  lastSuccessTime: number | undefined;
  /** Taken out of rotation by outlier detection (failed probes or dispatches) until it recovers. */
  ejected: boolean;
}

export interface Maintenance {
  reason: string;
  startTime: number;
  setBy: string;
}

/** One registry entry, as the domain holds it (the API key stays sealed). */
export interface ServerEntry {
  id: string;
  tenant: string;
  name: string;
  kind: ServerKind;
  endpoints: Record<string, string>;
  maxConcurrent: number;
  capabilities: string[];
  groups: string[];
  priority: number;
  weight: number | undefined;
  labels: Record<string, string>;
  queues: string[];
  /** Sealed with the secret box; undefined when none was given. */
  apiKeySealed: string | undefined;
  registerTime: number;
  updateTime: number;
  requestId: string | undefined;
  lastHeartbeatTime: number | undefined;
  reportedHealth: ReportedHealth | undefined;
  lastLoad: LoadReport | undefined;
  maintenance: Maintenance | undefined;
  health: HealthCheckState;
  /** The load balancer's reusable candidate for this entry (memory only). */
  candidate?: { id: string; activeTasks: number; maxConcurrent: number; weight: number };
}

/** An entry with what is derived at read time. */
export interface ServerView extends ServerEntry {
  status: ServerStatus;
  activeTasks: number;
  currentLoad: number;
  uptimeMs: number;
  timeSinceLastHeartbeatMs: number;
}

/** What a client gives to register a server. */
export interface NewServer {
  name: string;
  kind: ServerKind | undefined;
  endpoints?: Record<string, string>;
  maxConcurrent?: number;
  capabilities?: string[];
  groups?: string[];
  priority?: number;
  weight?: number;
  labels?: Record<string, string>;
  apiKey?: string;
  requestId?: string;
}

export interface ServerFilter {
  pageSize?: number;
  pageToken?: string;
  status?: ServerStatus;
  group?: string;
  capability?: string;
  kind?: ServerKind;
  name?: string;
}

export type NoServerReason = "no_match" | "none_available" | "all_at_capacity";

export interface PickResult {
  server: ServerView | undefined;
  reason: NoServerReason | undefined;
  algorithm: Algorithm;
  candidateCount: number;
  /** Servers that matched the request but were excluded by `excludeServerIds`. */
  excludedCount: number;
}

export interface ServerLoad {
  serverId: string;
  name: string;
  status: ServerStatus;
  load: number;
  activeTasks: number;
  maxConcurrent: number;
  weight: number;
  available: boolean;
}

export interface LoadBalancerStatus {
  algorithm: Algorithm;
  servers: ServerLoad[];
  totalActiveTasks: number;
  totalCapacity: number;
  averageLoad: number;
  availableCount: number;
  algorithmUpdateTime: number | undefined;
}

/** Task counts of one server, from the task engine's records. */
export interface ServerTaskCounts {
  tasksProcessed: number;
  successCount: number;
  failureCount: number;
  averageProcessingTimeMs: number;
}
