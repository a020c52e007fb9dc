import { ConversationService } from "../../gen/switchyard/workspaces/v1/conversation_service_pb.js";
import { InsightService } from "../../gen/switchyard/workspaces/v1/insight_service_pb.js";
import type { DomainModule, ModuleContext } from "../server/module.ts";
import type { ServiceRegistration } from "../server/rpc.ts";
import type { TaskEngine } from "../tasks/engine.ts";
import type { TaskEventHub } from "../tasks/watch.ts";
import { ALL_TENANTS } from "../tasks/watch.ts";
import type { WorkspaceDomain } from "../workspaces/context.ts";
import type { AtlasMemory, InsightsDomain, TaskPort } from "./context.ts";
import type { MemoryDomain } from "../memory/memory.ts";
import { runKind } from "./action-items.ts";
import { infrastructureKinds } from "./infrastructure.ts";
import { conversationSocket } from "./conversation-socket.ts";
import { summaryKind, turnKind } from "./conversations.ts";
import { decisionsKind } from "./decisions.ts";
import { driftKind } from "./drift-analysis.ts";
import { nextStepsKind } from "./next-steps.ts";
import { actionItemService, atlasService, conversationService, infrastructureService, insightService, scheduleService, workspaceDeployService } from "./service.ts";
import { WorkspaceService } from "../../gen/switchyard/workspaces/v1/workspace_service_pb.js";
import { ScheduleService } from "../../gen/switchyard/tasks/v1/schedule_service_pb.js";
import { runDueSchedules } from "./schedules.ts";
import { analyzeKind, BACKGROUND_JOBS, ensureBackgroundJobs, runBackgroundJobs } from "./background-jobs.ts";
import { AtlasService } from "../../gen/switchyard/workspaces/v1/atlas_service_pb.js";
import { diagramKind } from "./atlas.ts";
import { InfrastructureService } from "../../gen/switchyard/workspaces/v1/infrastructure_service_pb.js";
import { ActionItemService } from "../../gen/switchyard/workspaces/v1/action_item_service_pb.js";
import { createInsightsStore } from "./store.ts";
import { followTasks, registerKind } from "./task-call.ts";

export interface InsightsModule extends DomainModule {
  domain: InsightsDomain;
}

/** The task engine and hub as the domain's port. */
export function taskPort(tasks: { engine: TaskEngine; hub: TaskEventHub }): TaskPort {
  return {
    createTask: (tenant, input) => tasks.engine.scoped(tenant).createTask(input),
    async getTask(tenant, id) {
      try {
        return await tasks.engine.scoped(tenant).getTask(id);
      } catch {
        return undefined;
      }
    },
    follow: (queues, signal) => tasks.hub.watch({ tenant: ALL_TENANTS, taskIds: [], queues, kinds: [] }, signal),
    checkResults: (type, check) => tasks.engine.checkResults(type, check),
    updateMetadata: (tenant, id, metadata) => tasks.engine.scoped(tenant).updateTask({ id, metadata }),
  };
}

/** Built-in schedule types run in-process by the scheduler. */
export function builtinJobs(d: InsightsDomain): Record<string, (tenant: string, tick: number) => Promise<unknown>> {
  return { [BACKGROUND_JOBS]: (tenant, tick) => runBackgroundJobs(d, tenant, tick) };
}

/** Builds the domain (also what tests use) and registers its task kinds. */
/** The memory domain's functions as the Atlas' chunk store: scope `atlas:<project>`, type `atlas_chunk`, metadata `concept_id`. */
export function atlasMemory(memory: MemoryDomain): AtlasMemory {
  const scope = (projectId: string) => `atlas:${projectId}`;
  return {
    async replace(tenant, projectId, chunks) {
      for (let guard = 0; guard < 1000; guard++) {
        const old = memory.memories.list(tenant, { scope: scope(projectId), pageSize: 100 }).memories;
        if (old.length === 0) break;
        for (const m of old) await memory.memories.delete(tenant, m.id);
      }
      let embedded = 0;
      let error = "";
      for (let i = 0; i < chunks.length; i += 100) {
        const r = await memory.memories.create(tenant, chunks.slice(i, i + 100).map((c) => ({ content: c.text, type: "atlas_chunk", scope: scope(projectId), metadata: { concept_id: c.conceptId }, source: "atlas" })), (j) => `chunks[${i + j}].`);
        embedded += r.memories.filter((m) => m.embeddingState === "ready").length;
        error ||= r.embeddingError;
      }
      return { embedded, error };
    },
    has: (tenant, projectId) => memory.memories.list(tenant, { scope: scope(projectId), pageSize: 1, embeddingState: "ready" }).memories.length > 0,
    async search(tenant, projectId, query, k) {
      const hits = await memory.search.semantic(tenant, { queryText: query, topK: k, filter: { scope: scope(projectId), types: ["atlas_chunk"] } });
      return hits.map((h) => ({ conceptId: String((h.memory.metadata as Record<string, unknown>).concept_id ?? ""), score: h.score }));
    },
  };
}

export function createInsightsDomain(ctx: Pick<ModuleContext, "database" | "clock" | "secrets" | "config">, deps: { tasks: TaskPort; workspaces: WorkspaceDomain; memory?: MemoryDomain }): InsightsDomain {
  const d: InsightsDomain = {
    database: ctx.database,
    store: createInsightsStore(ctx.database.sqlite),
    clock: ctx.clock,
    secrets: ctx.secrets,
    workspaces: deps.workspaces,
    tasks: deps.tasks,
    memory: deps.memory ? atlasMemory(deps.memory) : undefined,
    deadlineMs: ctx.config.insightsDeadlineMs,
    kinds: new Map(),
    callWaiters: new Map(),
    conversationWatchers: new Map(),
  };
  for (const kind of [nextStepsKind(d), decisionsKind(d), driftKind(d), runKind(d), turnKind(d), summaryKind(), diagramKind(d), analyzeKind(d), ...infrastructureKinds(d)]) registerKind(d, kind);
  return d;
}

/**
 * Seed 002's agent-backed features (next steps, decisions, drift analysis, conversations) as
 * task-backed calls on queue `insights`; see README.md.
 */
export function createInsightsModule(ctx: ModuleContext, deps: { tasks: { engine: TaskEngine; hub: TaskEventHub }; workspaces: { domain: WorkspaceDomain }; memory?: { memory: MemoryDomain } }): InsightsModule {
  const domain = createInsightsDomain(ctx, { tasks: taskPort(deps.tasks), workspaces: deps.workspaces.domain, memory: deps.memory?.memory });
  const socket = conversationSocket(domain, ctx.auth);
  const stop = new AbortController();
  let scheduler: ReturnType<typeof setInterval> | undefined;
  return {
    name: "insights",
    domain,
    services: [
      { service: InsightService, impl: insightService(domain) } as ServiceRegistration,
      { service: ConversationService, impl: conversationService(domain) } as ServiceRegistration,
      { service: ActionItemService, impl: actionItemService(domain) } as ServiceRegistration,
      { service: InfrastructureService, impl: infrastructureService(domain) } as ServiceRegistration,
      { service: AtlasService, impl: atlasService(domain) } as ServiceRegistration,
      { service: ScheduleService, impl: scheduleService(domain) } as ServiceRegistration,
      // Merged with the workspaces module's WorkspaceService (which leaves DeployWorkspace out).
      { service: WorkspaceService, impl: workspaceDeployService(domain) } as ServiceRegistration,
    ],
    upgrades: [socket],
    start() {
      // The default tenant's built-in background-jobs schedule, created once at startup.
      void ensureBackgroundJobs(domain, "default").catch((error) => ctx.log.error("background jobs schedule not created", { error: String(error) }));
      void followTasks(domain, stop.signal).catch((error) => ctx.log.error("insights follower stopped", { error: String(error) }));
      // Schedules tick at most once a second; one pass at a time.
      let running = false;
      scheduler = setInterval(() => {
        if (running) return;
        running = true;
        void runDueSchedules(domain, builtinJobs(domain))
          .catch((error) => ctx.log.error("schedules pass failed", { error: String(error) }))
          .finally(() => (running = false));
      }, 1000);
      scheduler.unref?.();
    },
    async close() {
      if (scheduler) clearInterval(scheduler);
      stop.abort();
      socket.close();
    },
  };
}
