import { ConversationService } from "../../gen/switchyard/workspaces/v1/conversation_service_pb.js";
import { InsightService } from "../../gen/switchyard/workspaces/v1/insight_service_pb.js";
import type { DomainModule, ModuleContext } from "../server/module.ts";
import type { ServiceRegistration } from "../server/rpc.ts";
import type { TaskEngine } from "../tasks/engine.ts";
import type { TaskEventHub } from "../tasks/watch.ts";
import { ALL_TENANTS } from "../tasks/watch.ts";
import type { WorkspaceDomain } from "../workspaces/context.ts";
import type { InsightsDomain, TaskPort } from "./context.ts";
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
    getTask(tenant, id) {
      try {
        return tasks.engine.scoped(tenant).getTask(id);
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
export function createInsightsDomain(ctx: Pick<ModuleContext, "database" | "clock" | "secrets" | "config">, deps: { tasks: TaskPort; workspaces: WorkspaceDomain }): InsightsDomain {
  const d: InsightsDomain = {
    database: ctx.database,
    store: createInsightsStore(ctx.database.sqlite),
    clock: ctx.clock,
    secrets: ctx.secrets,
    workspaces: deps.workspaces,
    tasks: deps.tasks,
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
export function createInsightsModule(ctx: ModuleContext, deps: { tasks: { engine: TaskEngine; hub: TaskEventHub }; workspaces: { domain: WorkspaceDomain } }): InsightsModule {
  const domain = createInsightsDomain(ctx, { tasks: taskPort(deps.tasks), workspaces: deps.workspaces.domain });
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
