import { QueueService } from "../../gen/switchyard/tasks/v1/queues_service_pb.js";
import { TaskService } from "../../gen/switchyard/tasks/v1/tasks_service_pb.js";
import type { DomainModule, ModuleContext } from "../server/module.ts";
import type { ServiceRegistration } from "../server/rpc.ts";
import { jetpackTaskFamilies } from "../server/legacy/jetpack-tasks.ts";
import { runqyFamily } from "../server/legacy/runqy.ts";
import { taskEventsSocket, taskProcessingFamily } from "../server/legacy/task-processing.ts";
import { eventMessage, taskMessage } from "./convert.ts";
import { createTaskEngine, type TaskEngine } from "./engine.ts";
import { queueService, taskService } from "./service.ts";
import { createTaskEventHub, type TaskEventHub } from "./watch.ts";
import { createTaskFleet, type TaskFleet } from "./fleet.ts";
import { newId } from "../core/ids.ts";

export interface TasksModule extends DomainModule {
  engine: TaskEngine;
  hub: TaskEventHub;
  /** Events and wake-ups across instances (PostgreSQL only). */
  readonly fleet: TaskFleet | undefined;
}

/** The tasks and queues domain as served: engine, event hub, TaskService and QueueService. */
export function createTasksModule(ctx: ModuleContext): TasksModule {
  const hub = createTaskEventHub();
  // Several instances (PostgreSQL): committed events travel to the others, whose watchers see
  // them and whose dispatchers wake for tasks made ready here (fleet.ts).
  let fleet: TaskFleet | undefined;
  const engine = createTaskEngine({
    database: ctx.database,
    clock: ctx.clock,
    config: { queueConfigPath: ctx.config.queueConfigPath },
    events: (event) => {
      hub.publish(event);
      fleet?.local(event);
    },
  });
  if (ctx.database.dialect === "postgres") {
    fleet = createTaskFleet({
      bus: ctx.bus,
      clock: ctx.clock,
      instance: newId("inst", ctx.clock.now()),
      log: ctx.log,
      deliver: (event) => hub.publish(event),
      wake: (tenant, queue) => engine.kick(tenant, queue),
      ended: (id, token, how) => engine.remoteTaskEnded(id, token, how),
    });
  }
  const socket = taskEventsSocket({
    auth: ctx.auth,
    log: ctx.log,
    source: {
      getTask: async (tenant, id) => taskMessage(await engine.scoped(tenant).getTask(id)),
      async *watch(tenant, taskIds, signal) {
        for await (const event of hub.watch({ tenant, taskIds, queues: [], kinds: [] }, signal)) yield eventMessage(event);
      },
    },
  });
  return {
    name: "tasks",
    dialects: ["sqlite", "postgres"],
    engine,
    get fleet() {
      return fleet;
    },
    hub,
    services: [
      { service: TaskService, impl: taskService(engine, hub) } as ServiceRegistration,
      { service: QueueService, impl: queueService(engine) } as ServiceRegistration,
    ],
    legacy: [...jetpackTaskFamilies(), taskProcessingFamily(), runqyFamily()],
    upgrades: [socket],
    start() {
      engine.start();
      // Queue configurations from the YAML file apply from startup, not only after a reload.
      if (ctx.config.queueConfigPath) {
        engine.reloadQueueConfigs().then(
          (r) => ctx.log.info("queue configs loaded", { path: ctx.config.queueConfigPath, added: r.added, updated: r.updated, removed: r.removed }),
          (error) => ctx.log.error("queue configs could not be loaded", { path: ctx.config.queueConfigPath, error }),
        );
      }
    },
    close: async () => {
      socket.close();
      await engine.stop();
      fleet?.close();
    },
  };
}
