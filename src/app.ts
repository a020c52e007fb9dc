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
import { createAuthGate, createPrincipalResolver } from "./server/interceptors/auth.ts";
import { operationsFamily } from "./server/legacy/operations.ts";
import { createLegacyRouter, type LegacyFamily } from "./server/legacy/table.ts";
import { listen, type Listener } from "./server/listener.ts";
import { createStaticSite } from "./server/static-site.ts";
import { createRestRouter } from "./server/rest/routes.ts";
import { createRpc, type Rpc, type ServiceRegistration } from "./server/rpc.ts";
import { allServices } from "./server/services.ts";
import { createHealthMonitor, type HealthMonitor } from "./system/health.ts";
import { registerDatabaseMetrics } from "./system/db-metrics.ts";
import { createRequestMetrics, type RequestMetrics } from "./system/metrics.ts";
import { grpcHealthService, systemService } from "./system/service.ts";
import { createSettings } from "./system/settings.ts";
import type { Bus } from "./bus/bus.ts";
import { Counter } from "./system/prom.ts";
import { watchEventLoop } from "./system/event-loop.ts";
import { createInProcessBus } from "./bus/in-process.ts";
import { createSqliteBusLog } from "./bus/sqlite-log.ts";
import type { DomainModule, ModuleContext } from "./server/module.ts";
import { createTasksModule } from "./tasks/module.ts";
import { createMailModule } from "./mail/module.ts";
import { createServersModule } from "./servers/module.ts";
import { createAuthModule } from "./auth/module.ts";
import { createAgentsModule } from "./agents/module.ts";
import { createEdge } from "./edge/edge.ts";
import { createWorkspacesModule } from "./workspaces/module.ts";
import { createInsightsModule } from "./insights/module.ts";
import { createRawRouter } from "./server/raw-route.ts";
import { combineShapes } from "./server/rest/shapes.ts";
import { createMemoryModule } from "./memory/module.ts";
import { DialectError } from "./db/dialect.ts";
import type { PgDatabase } from "./db/open.ts";
import { createPgProbe } from "./db/pg-health.ts";
import { createLeanGrpc } from "./server/lean-grpc.ts";

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
  /**
   * Graceful stop: NOT_SERVING and /readyz 503 at once; new connections still accepted for
   * `keepAcceptingMs` (so a load balancer sees the 503 and moves away); then stop accepting,
   * finish in-flight work, end streams, close the database.
   */
  close(options?: { keepAcceptingMs?: number }): Promise<void>;
}

/** Builds the application from its dependencies (what tests and main.ts call). */
export async function createApp(deps: AppDeps): Promise<App> {
  const { config, database, clock, log } = deps;
  const shutdown = new AbortController();
  const metrics = createRequestMetrics({ clock, version: VERSION });
  const auth = createPrincipalResolver({ apiToken: config.apiToken, auth: config.auth });
  await auth.prepare();
  const pgProbe = database.dialect === "postgres" ? createPgProbe((database as PgDatabase).pg, clock) : undefined;
  const health = createHealthMonitor({
    clock,
    checks: [
      {
        name: "database",
        required: true,
        check() {
          if (pgProbe) return pgProbe.state();
          database.sqlite.query("SELECT 1").get();
          return { status: "operational", message: `sqlite ${database.path}` };
        },
      },
      {
        name: "storage",
        required: true,
        check() {
          database.storage.check();
          const fault = database.storage.fault;
          if (!fault) return { status: "operational", message: `writes committing (${database.storage.pending} waiting)` };
          // A full or read-only disk still serves reads (degraded); a vanished file serves nothing durable.
          return { status: fault.permanent ? "down" : "degraded", message: `${fault.reason}: ${fault.message} (since ${new Date(fault.since).toISOString()})` };
        },
      },
      {
        name: "auth",
        required: false,
        check: () => ({
          status: auth.open ? "not configured" : "configured",
          configured: !auth.open,
          message: auth.open ? "open: no token or JWT key set" : "bearer token required",
        }),
      },
    ],
  });
  // The bus: NATS when configured (JetStream for durable streams), else in-process over SQLite.
  const bus: Bus = config.natsUrl
    ? await (await import("./bus/nats.ts")).createNatsBus({ servers: config.natsUrl, clock }) // loaded only when used (~15 MB of RSS)
    : createInProcessBus({ log: createSqliteBusLog(database), clock });
  health.add({ name: "bus", required: false, check: () => bus.health() });
  new Counter({
    name: "switchyard_storage_writes_refused_total",
    help: "Writes refused because of the storage (full, read-only, vanished, backlogged), by reason",
    labelNames: ["reason"] as const,
    registers: [metrics.registry],
    collect() {
      this.reset();
      for (const [reason, n] of Object.entries(database.storage.refused)) this.inc({ reason }, n);
    },
  });
  registerDatabaseMetrics(metrics.registry, database);
  const loop = watchEventLoop(metrics.registry);
  const secrets = await loadSecretBox(config);
  const ctx: ModuleContext = { config, database, clock, log, bus, health, metrics, secrets, auth };
  const edge = createEdge({ config, clock, log, database });
  // On PostgreSQL only the modules whose stores run there are started (`DomainModule.dialects`);
  // the RPCs of the others answer `unimplemented`, and /readyz and GetInfo name them.
  const skipped: string[] = [];
  const mount = async <M extends DomainModule>(name: string, make: () => M | Promise<M>, needs: (DomainModule | undefined)[] = []): Promise<M | undefined> => {
    if (needs.some((n) => n === undefined)) return void skipped.push(name), undefined;
    try {
      const m = await make();
      if (database.dialect !== "sqlite" && !(m.dialects ?? ["sqlite"]).includes(database.dialect)) {
        await m.close?.();
        return void skipped.push(name), undefined;
      }
      return m;
    } catch (error) {
      if (error instanceof DialectError) return void skipped.push(name), undefined;
      throw error;
    }
  };
  const tasksModule = await mount("tasks", () => createTasksModule(ctx));
  const workspacesModule = await mount("workspaces", () => createWorkspacesModule(ctx, { tasks: tasksModule! }), [tasksModule]);
  const memoryModule = await mount("memory", () => createMemoryModule(ctx, tasksModule!.engine), [tasksModule]);
  const modules: DomainModule[] = ([
    await mount("auth", () => createAuthModule(ctx)),
    tasksModule,
    await mount("mail", () => createMailModule(ctx)),
    await mount("servers", () => createServersModule(ctx, tasksModule!), [tasksModule]),
    await mount("agents", () => createAgentsModule(ctx, { tasks: tasksModule!, limiter: edge.limiter }), [tasksModule]),
    workspacesModule,
    memoryModule,
    await mount("insights", () => createInsightsModule(ctx, { tasks: tasksModule!, workspaces: workspacesModule!, memory: memoryModule! }), [tasksModule, workspacesModule, memoryModule]),
  ] as (DomainModule | undefined)[]).filter((m): m is DomainModule => m !== undefined);
  if (skipped.length) log.warn("modules without a store for this database are not started; their RPCs answer unimplemented", { database: database.dialect, modules: skipped });
  health.add({
    name: "modules",
    required: false,
    check: () =>
      skipped.length
        ? { status: "degraded", message: `not available on ${database.dialect}: ${skipped.join(", ")}` }
        : { status: "operational", message: `every domain runs on ${database.dialect}` },
  });

  const services: DescService[] = allServices();
  const implementations: ServiceRegistration[] = [
    {
      service: SystemService,
      impl: systemService({
        clock,
        version: VERSION,
        environment: config.environment,
        authRequired: !auth.open,
        // The engines really in use (the memory domain's vector index and embedder included).
        engines: {
          database: database.dialect,
          bus: config.natsUrl ? "nats" : "in-process",
          vectors: config.qdrantUrl ? "qdrant" : database.dialect === "postgres" ? "none (set QDRANT_URL for semantic search)" : "sqlite-vec",
          embeddings: config.embeddingsUrl ? `openai-compatible (${config.embeddingsModel})` : "builtin-lexical-v1",
        },
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
    requestGate: createAuthGate(auth),
    shutdownSignal: shutdown.signal,
    edgeInterceptors: edge.interceptors,
  });
  const families: LegacyFamily[] = [operationsFamily({ metrics, environment: config.environment, rateLimited: edge.enabled, agentsExpected: config.githubWebhookSecret !== undefined }), ...modules.flatMap((m) => m.legacy ?? [])];
  const handler = createRequestHandler({
    upgrades: modules.flatMap((m) => m.upgrades ?? []),
    docs: loadApiDocs(undefined, families),
    auth,
    handlers: rpc.handlers,
    rest: createRestRouter(rpc.methods.values()),
    legacy: createLegacyRouter(families),
    raw: createRawRouter(modules.flatMap((m) => m.rawRoutes ?? [])),
    shapes: combineShapes(modules.map((m) => m.restShapes)),
    log,
    metrics,
    health,
    corsOrigins: config.corsOrigins,
    maxMessageBytes: config.maxMessageBytes,
    maxBodyBytes: config.maxBodyBytes,
    site: createStaticSite({ root: config.uiDir, prefix: "/ui" }),
    maxDeadlineMs: config.maxDeadlineMs,
    leanGrpc: config.leanGrpc ? createLeanGrpc(rpc.unary, metrics.registry, { trailersWithData: config.grpcTrailersWithData }) : undefined,
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
      for (const m of modules) m.start?.({ port: listener.port });
      return listener;
    },
    close(options = {}) {
      closing ??= (async () => {
        health.setDraining();
        const accepting = Math.min(options.keepAcceptingMs ?? 0, config.shutdownGraceMs);
        if (listener && accepting > 0) await new Promise((r) => setTimeout(r, accepting));
        const grace = Math.max(config.shutdownGraceMs - accepting, 0);
        const stopping = listener?.close(grace);
        // Unary calls get a moment to finish; then streams are told to end (unavailable).
        await Promise.race([handler.idle(), new Promise((r) => setTimeout(r, Math.min(grace, 2000)))]);
        shutdown.abort(new ConnectError("server is shutting down", Code.Unavailable));
        await stopping;
        for (const m of modules) await m.close?.();
        await edge.close();
        pgProbe?.close();
        await bus.close();
        loop.stop();
        await database.close();
      })();
      return closing;
    },
  };
}
