import { join } from "node:path";
import { BlobService } from "../../gen/switchyard/workspaces/v1/blob_service_pb.js";
import { ProjectService } from "../../gen/switchyard/workspaces/v1/project_service_pb.js";
import { SnapshotService } from "../../gen/switchyard/workspaces/v1/snapshot_service_pb.js";
import { WorkspaceService } from "../../gen/switchyard/workspaces/v1/workspace_service_pb.js";
import { fastestBlobRoutes } from "../server/legacy/fastest/blob-routes.ts";
import { seed002Shapes } from "../server/legacy/fastest/wire.ts";
import type { DomainModule, ModuleContext } from "../server/module.ts";
import type { ServiceRegistration } from "../server/rpc.ts";
import type { TaskEngine } from "../tasks/engine.ts";
import type { TaskEventHub } from "../tasks/watch.ts";
import { createFsBlobStore } from "./blob-store-fs.ts";
import { taskConflictAdvisor } from "./conflict-advisor.ts";
import type { WorkspaceDomain } from "./context.ts";
import { createEventHub } from "./events.ts";
import { blobService, projectService, snapshotService, workspaceService } from "./service.ts";
import { createPgWorkspaceStore, createSqliteWorkspaceStore } from "./store.ts";
import { PREVIEW_TTL_MS } from "./sync.ts";

export interface WorkspacesModule extends DomainModule {
  domain: WorkspaceDomain;
}

/**
 * Builds the domain's state from the module context (also what tests and the benchmark use).
 * On PostgreSQL several instances share the database, the blob folder (`<dataDir>/blobs`, which
 * must then be shared storage) and, through `bus` (NATS), their project events.
 */
export function createWorkspaceDomain(ctx: Pick<ModuleContext, "config" | "database" | "clock" | "secrets"> & { bus?: ModuleContext["bus"]; log?: ModuleContext["log"] }): WorkspaceDomain {
  const pg = ctx.database.dialect === "postgres";
  return {
    database: ctx.database,
    store: pg ? createPgWorkspaceStore() : createSqliteWorkspaceStore(ctx.database.sqlite),
    blobs: createFsBlobStore(join(ctx.config.dataDir, "blobs"), { shared: pg }),
    clock: ctx.clock,
    secrets: ctx.secrets,
    events: createEventHub(pg && ctx.bus ? { bus: ctx.bus, onError: (error) => ctx.log?.warn("workspace events over the bus", { error: String(error) }) } : {}),
    limits: { blobMaxBytes: ctx.config.blobMaxBytes, manifestMaxBytes: 32 * 1024 * 1024, gcGraceMs: ctx.config.blobGcGraceMs, previewTtlMs: PREVIEW_TTL_MS },
    inflight: new Map(),
    deleting: new Map(),
    manifestCache: new Map(),
  };
}

/**
 * Projects, workspaces, snapshots, blobs: seed 002's API as the canonical REST of these services.
 * With `tasks` and `SWITCHYARD_SYNC_AGENT_DEADLINE_MS` > 0, text conflicts of a sync preview are
 * offered to an agent worker as a task (see conflict-advisor.ts).
 */
export function createWorkspacesModule(ctx: ModuleContext, deps: { tasks?: { engine: TaskEngine; hub: TaskEventHub } } = {}): WorkspacesModule {
  const domain = createWorkspaceDomain(ctx);
  const tasks = deps.tasks;
  if (tasks && ctx.config.syncAgentDeadlineMs > 0) {
    domain.advisor = taskConflictAdvisor(
      {
        createTask: async (tenant, t) => await tasks.engine.scoped(tenant).createTask(t),
        getTask: async (tenant, id) => await tasks.engine.scoped(tenant).getTask(id),
        cancelTask: async (tenant, input) => await tasks.engine.scoped(tenant).cancelTask(input),
        watch: (tenant, filter, signal) => tasks.hub.watch({ tenant, ...filter }, signal),
      },
      ctx.config.syncAgentDeadlineMs,
    );
  }
  let sweeper: ReturnType<typeof setInterval> | undefined;
  return {
    name: "workspaces",
    dialects: ["sqlite", "postgres"],
    domain,
    services: [
      { service: BlobService, impl: blobService(domain) } as ServiceRegistration,
      { service: ProjectService, impl: projectService(domain) } as ServiceRegistration,
      { service: WorkspaceService, impl: workspaceService(domain) } as ServiceRegistration,
      { service: SnapshotService, impl: snapshotService(domain) } as ServiceRegistration,
    ],
    rawRoutes: fastestBlobRoutes(),
    restShapes: seed002Shapes,
    start() {
      // Expired previews are kept a day (so executing one says "expired", not "not found"), then dropped.
      sweeper = setInterval(() => void domain.database.write((tx) => domain.store.deleteExpiredPreviews(tx, domain.clock.now())).catch(() => {}), 3600_000);
      sweeper.unref?.();
    },
    async close() {
      if (sweeper) clearInterval(sweeper);
      domain.events.close();
    },
  };
}
