import type { DescService } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { Health as GrpcHealth } from "../gen/grpc/health/v1/health_pb.js";
import { SystemService } from "../gen/switchyard/system/v1/system_service_pb.js";
import pkg from "../package.json" with { type: "json" };
import type { Config } from "./config.ts";
import type { Clock } from "./core/clock.ts";
import type { Logger } from "./core/logger.ts";
import { loadSecretBox } from "./core/secret-box.ts";
import type { Database } from "./db/client.ts";
import { loadApiDocs } from "./server/docs.ts";
import { createRequestHandler, type RequestHandler } from "./server/http.ts";
import { createAuthGate } from "./server/interceptors/auth.ts";
import { operationsFamily } from "./server/legacy/operations.ts";
import { createLegacyRouter, type LegacyFamily } from "./server/legacy/table.ts";
import { listen, type Listener } from "./server/listener.ts";
import { createRestRouter } from "./server/rest/routes.ts";
import { createRpc, type Rpc, type ServiceRegistration } from "./server/rpc.ts";
import { loadServiceDescriptors } from "./server/services.ts";
import { createHealthMonitor, type HealthMonitor } from "./system/health.ts";
import { createRequestMetrics, type RequestMetrics } from "./system/metrics.ts";
import { grpcHealthService, systemService } from "./system/service.ts";
import { createSettings } from "./system/settings.ts";
import type { Bus } from "./bus/bus.ts";
import { createInProcessBus } from "./bus/in-process.ts";
import { createNatsBus } from "./bus/nats.ts";
import { createSqliteBusLog } from "./bus/sqlite-log.ts";
import type { DomainModule, ModuleContext } from "./server/module.ts";
import { createTasksModule } from "./tasks/module.ts";
import { createMailModule } from "./mail/module.ts";
import { createMemoryModule } from "./memory/module.ts";

export const VERSION: string = pkg.version;

export interface AppDeps {
  config: Config;
  database: Database;
  clock: Clock;
  log: Logger;
}

/** A composed Switchyard: every service behind one request handler, ready to listen. */
export interface App {
  readonly rpc: Rpc;
  readonly handler: RequestHandler;
  readonly health: HealthMonitor;
  readonly metrics: RequestMetrics;
  readonly bus: Bus;
  /** The domains served, by name. */
  readonly modules: Record<string, DomainModule>;
  /** Starts the one-port listener. */
  listen(): Promise<Listener>;
  /** Graceful stop: NOT_SERVING, stop accepting, drain, end streams, close the database. */
  close(): Promise<void>;
}

/** Builds the application from its dependencies (what tests and main.ts call). */
export async function createApp(deps: AppDeps): Promise<App> {
  const { config, database, clock, log } = deps;
  const shutdown = new AbortController();
  const metrics = createRequestMetrics({ clock, version: VERSION });
  const health = createHealthMonitor({
    clock,
    checks: [
      {
        name: "database",
        required: true,
        check() {
          database.sqlite.query("SELECT 1").get();
          return { status: "operational", message: `sqlite ${database.path}` };
        },
      },
      {
        name: "auth",
        required: false,
        check: () => ({
          status: config.apiToken ? "configured" : "not configured",
          configured: config.apiToken !== undefined,
          message: config.apiToken ? "bearer token required" : "open: no token set",
        }),
      },
    ],
  });
  // The bus: NATS when configured (JetStream for durable streams), else in-process over SQLite.
  const bus: Bus = config.natsUrl
    ? await createNatsBus({ servers: config.natsUrl })
    : createInProcessBus({ log: createSqliteBusLog(database), clock });
  const secrets = await loadSecretBox(config);
  const ctx: ModuleContext = { config, database, clock, log, bus, health, metrics, secrets };
  const tasks = createTasksModule(ctx);
  const modules: DomainModule[] = [tasks, await createMailModule(ctx), await createMemoryModule(ctx, tasks.engine)];

  const services: DescService[] = await loadServiceDescriptors();
  const implementations: ServiceRegistration[] = [
    {
      service: SystemService,
      impl: systemService({
        clock,
        version: VERSION,
        environment: config.environment,
        authRequired: config.apiToken !== undefined,
        engines: { database: "sqlite", bus: config.natsUrl ? "nats" : "in-process", vectors: config.qdrantUrl ? "qdrant" : "sqlite-vec" },
        health,
        metrics,
        settings: createSettings(database, clock),
        serviceNames: () => services.map((s) => s.typeName),
      }),
    } as ServiceRegistration,
    { service: GrpcHealth, impl: grpcHealthService({ health, serviceNames: () => services.map((s) => s.typeName) }) } as ServiceRegistration,
    ...modules.flatMap((m) => m.services),
  ];
  const rpc = createRpc({
    services,
    implementations,
    log,
    maxMessageBytes: config.maxMessageBytes,
    maxDeadlineMs: config.maxDeadlineMs,
    requestGate: createAuthGate(config.apiToken),
    shutdownSignal: shutdown.signal,
  });
  const families: LegacyFamily[] = [operationsFamily({ metrics, environment: config.environment }), ...modules.flatMap((m) => m.legacy ?? [])];
  const handler = createRequestHandler({
    upgrades: modules.flatMap((m) => m.upgrades ?? []),
    docs: loadApiDocs(),
    apiToken: config.apiToken,
    handlers: rpc.handlers,
    rest: createRestRouter(rpc.methods.values()),
    legacy: createLegacyRouter(families),
    log,
    metrics,
    health,
    corsOrigins: config.corsOrigins,
    maxMessageBytes: config.maxMessageBytes,
    maxBodyBytes: config.maxBodyBytes,
  });

  let listener: Listener | undefined;
  let closing: Promise<void> | undefined;
  return {
    rpc,
    handler,
    health,
    metrics,
    bus,
    modules: Object.fromEntries(modules.map((m) => [m.name, m])),
    async listen() {
      listener = await listen(handler, { host: config.host, port: config.port, maxConcurrentStreams: config.maxConcurrentStreams });
      for (const m of modules) m.start?.();
      return listener;
    },
    close() {
      closing ??= (async () => {
        health.setDraining();
        const grace = config.shutdownGraceMs;
        const stopping = listener?.close(grace);
        // Unary calls get a moment to finish; then streams are told to end (unavailable).
        await Promise.race([handler.idle(), new Promise((r) => setTimeout(r, Math.min(grace, 2000)))]);
        shutdown.abort(new ConnectError("server is shutting down", Code.Unavailable));
        await stopping;
        for (const m of modules) await m.close?.();
        await bus.close();
        await database.close();
      })();
      return closing;
    },
  };
}
