import type { Config } from "../config.ts";
import type { Bus } from "../bus/bus.ts";
import type { Clock } from "../core/clock.ts";
import type { Logger } from "../core/logger.ts";
import type { SecretBox } from "../core/secret-box.ts";
import type { Database } from "../db/client.ts";
import type { HealthMonitor } from "../system/health.ts";
import type { RequestMetrics } from "../system/metrics.ts";
import type { UpgradeRoute } from "./http.ts";
import type { PrincipalResolver } from "./interceptors/auth.ts";
import type { LegacyFamily } from "./legacy/table.ts";
import type { ServiceRegistration } from "./rpc.ts";
import type { RawRoute } from "./raw-route.ts";
import type { RestShapes } from "./rest/shapes.ts";

/** What a domain module is given to build itself. */
export interface ModuleContext {
  config: Config;
  database: Database;
  clock: Clock;
  log: Logger;
  bus: Bus;
  health: HealthMonitor;
  metrics: RequestMetrics;
  /** Seals secrets at rest (API keys, env-var secrets, provider credentials). */
  secrets: SecretBox;
  /** Maps credentials to principals (WebSocket handshakes use it; RPCs get `tenantOf(ctx)`). */
  auth: PrincipalResolver;
}

/**
 * A domain as the server sees it: the services it implements, its legacy route families and
 * WebSocket routes, and its lifecycle. `src/app.ts` lists the modules; nothing else is shared.
 */
export interface DomainModule {
  name: string;
  /**
   * The relational engines this module's stores run on (default: SQLite only). On PostgreSQL a
   * module without "postgres" is not started: its RPCs answer `unimplemented` saying so.
   */
  dialects?: readonly ("sqlite" | "postgres")[];
  services: ServiceRegistration[];
  legacy?: LegacyFamily[];
  upgrades?: UpgradeRoute[];
  /** Routes that stream their own HTTP bodies (blob upload/download). */
  rawRoutes?: RawRoute[];
  /** REST departures of the module's legacy-shaped canonical routes (seed 002 wire rules). */
  restShapes?: RestShapes;
  /** Starts timers (reapers, sweepers) once the server listens (on `listening.port`). */
  start?(listening?: { port: number }): void;
  /** Stops timers and ends streams; the database is closed after every module closed. */
  close?(): Promise<void>;
}
