import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { tenantOf } from "../core/principal.ts";
import { QueueService } from "../../gen/switchyard/tasks/v1/queues_service_pb.js";
import { TaskService, type CreateTaskRequest } from "../../gen/switchyard/tasks/v1/tasks_service_pb.js";
import {
  at,
  countsMessage,
  eventKindOf,
  eventMessage,
  jsonOf,
  leaseMessage,
  ms,
  objectOf,
  queueConfigMessage,
  queueConfigOf,
  queueMessage,
  stateOf,
  taskErrorOf,
  taskMessage,
  workerMessage,
  workerStatMessage,
} from "./convert.ts";
import type { TaskEngine } from "./engine.ts";
import { checkName, checkStrings } from "./rules.ts";
import type { NewTask, TaskState, WorkerMessage } from "./types.ts";
import type { TaskEventHub } from "./watch.ts";
import { durationFromMs } from "@bufbuild/protobuf/wkt";

function newTask(req: CreateTaskRequest): NewTask {
  const t = req.task!;
  return {
    id: t.id || undefined,
    queue: t.queue,
    type: t.type || undefined,
    priority: t.priority,
    payload: jsonOf(t.payload),
    requiredCapabilities: t.requiredCapabilities,
    runAt: at(t.runAt),
    delayMs: ms(req.delay),
    timeoutMs: ms(t.timeout),
    maxAttempts: t.maxAttempts,
    dependsOn: t.dependsOn,
    metadata: objectOf(t.metadata),
    title: t.title || undefined,
    description: t.description || undefined,
    tags: t.tags,
    requestId: req.requestId || undefined,
  };
}

const page = <T, M>(p: { items: T[]; nextPageToken: string }, map: (t: T) => M) => ({ items: p.items.map(map), nextPageToken: p.nextPageToken });

/** TaskService: thin mappings from RPCs onto the task E(ctx). */
export function taskService(engine: TaskEngine, hub: TaskEventHub): Partial<ServiceImpl<typeof TaskService>> {
  // Every call works on the caller's tenant only (another tenant's task is TASK_NOT_FOUND).
  const E = (ctx: HandlerContext) => engine.scoped(tenantOf(ctx));
  return {
    async createTask(req, ctx) {
      const { task, replayed } = await E(ctx).createTask(newTask(req));
      return { task: taskMessage(task), replayed };
    },
    async batchCreateTasks(req, ctx) {
      return { tasks: (await E(ctx).batchCreateTasks(req.requests.map(newTask))).map(taskMessage) };
    },
    getTask: async (req, ctx) => ({ task: taskMessage(await E(ctx).getTask(req.id)) }),
    async listTasks(req, ctx) {
      const p = await E(ctx).listTasks({
        pageSize: req.pageSize,
        pageToken: req.pageToken,
        queues: req.queues,
        states: req.states.map(stateOf).filter((s): s is TaskState => s !== undefined),
        type: req.type || undefined,
        workerId: req.workerId || undefined,
        capability: req.capability || undefined,
        createdAfter: at(req.createdAfter),
        createdBefore: at(req.createdBefore),
        tag: req.tag || undefined,
      });
      const { items, nextPageToken } = page(p, taskMessage);
      return { tasks: items, nextPageToken };
    },
    async listReadyTasks(req, ctx) {
      const { items, nextPageToken } = page(await E(ctx).listReadyTasks(req), taskMessage);
      return { tasks: items, nextPageToken };
    },
    async listDeadLetterTasks(req, ctx) {
      const { items, nextPageToken } = page(await E(ctx).listDeadLetterTasks(req), taskMessage);
      return { tasks: items, nextPageToken };
    },
    async updateTask(req, ctx) {
      const task = await E(ctx).updateTask({
        id: req.id,
        progress: req.progress,
        progressMessage: req.progressMessage,
        metadata: objectOf(req.metadata),
        state: stateOf(req.state),
        result: jsonOf(req.result),
        error: taskErrorOf(req.error),
        serverId: req.serverId || undefined,
        fencingToken: req.fencingToken === undefined ? undefined : Number(req.fencingToken),
        priority: req.priority,
        title: req.title,
        description: req.description,
        tags: req.replaceTags || req.tags.length > 0 ? req.tags : undefined,
      });
      return { task: taskMessage(task) };
    },
    deleteTask: async (req, ctx) => ({ task: taskMessage(await E(ctx).deleteTask(req.id)) }),
    async claimTask(req, ctx) {
      // An empty list is "not given" in proto3: no capability matching the caller did not ask for.
      const capabilities = req.capabilities.length > 0 ? req.capabilities : undefined;
      const a = await E(ctx).claimTask({ id: req.id, workerId: req.workerId, leaseMs: ms(req.leaseDuration), capabilities, ignoreDependencies: req.ignoreDependencies });
      return { task: taskMessage(a.task), lease: leaseMessage(a.lease) };
    },
    async claimTasks(req, ctx) {
      const assignments = await E(ctx).claimTasks({
        workerId: req.workerId,
        queues: req.queues,
        capabilities: req.capabilities,
        maxTasks: req.maxTasks || undefined,
        leaseMs: ms(req.leaseDuration),
      });
      return { assignments: assignments.map((a) => ({ task: taskMessage(a.task), lease: leaseMessage(a.lease) })) };
    },
    async *connectWorker(req, ctx) {
      const pending: WorkerMessage[] = [];
      let wake: (() => void) | undefined;
      const session = E(ctx).connectWorker(
        { workerId: req.workerId, queues: req.queues, capabilities: req.capabilities, credits: req.credits, leaseMs: ms(req.leaseDuration) },
        (m) => {
          pending.push(m);
          wake?.();
        },
      );
      const onAbort = () => wake?.();
      ctx.signal.addEventListener("abort", onAbort);
      try {
        while (!ctx.signal.aborted) {
          const next = pending.shift();
          if (next) {
            yield workerMessage(next);
            continue;
          }
          await new Promise<void>((resolve) => (wake = resolve));
          wake = undefined;
        }
      } finally {
        ctx.signal.removeEventListener("abort", onAbort);
        session.close();
        // Tasks handed to this stream but never written to it go back to the queue at once.
        for (const m of pending) {
          if (m.kind === "assigned") {
            void E(ctx).releaseTask({ id: m.assignment.task.id, fencingToken: m.assignment.lease.fencingToken }).catch(() => {});
          }
        }
      }
    },
    grantWorkerCredits: (req, ctx) => ({ credits: E(ctx).grantWorkerCredits(req.sessionId, req.credits) }),
    async heartbeatTask(req, ctx) {
      const r = await E(ctx).heartbeat({
        id: req.id,
        fencingToken: Number(req.fencingToken),
        leaseMs: ms(req.leaseDuration),
        progress: req.progress,
        progressMessage: req.progressMessage,
      });
      return { lease: leaseMessage(r.lease), cancelRequested: r.cancelRequested };
    },
    completeTask: async (req, ctx) => ({
      task: taskMessage(await E(ctx).completeTask({ id: req.id, fencingToken: Number(req.fencingToken), result: jsonOf(req.result) })),
    }),
    async batchCompleteTasks(req, ctx) {
      const results = await E(ctx).batchCompleteTasks(req.requests.map((r) => ({ id: r.id, fencingToken: Number(r.fencingToken), result: jsonOf(r.result) })));
      return {
        results: results.map((r) => (r.ok ? { id: r.id, ok: true } : { id: r.id, ok: false, errorReason: r.reason, errorMessage: r.message })),
      };
    },
    failTask: async (req, ctx) => ({
      task: taskMessage(
        await E(ctx).failTask({ id: req.id, fencingToken: Number(req.fencingToken), error: taskErrorOf(req.error)!, retryDelayMs: ms(req.retryDelay) }),
      ),
    }),
    releaseTask: async (req, ctx) => ({
      task: taskMessage(
        await E(ctx).releaseTask({ id: req.id, fencingToken: req.fencingToken === undefined ? undefined : Number(req.fencingToken), delayMs: ms(req.delay) }),
      ),
    }),
    async cancelTask(req, ctx) {
      const r = await E(ctx).cancelTask({ id: req.id, reason: req.reason || undefined });
      return { task: taskMessage(r.task), cancelledDependents: r.cancelledDependents };
    },
    retryTask: async (req, ctx) => ({ task: taskMessage(await E(ctx).retryTask({ id: req.id, runAt: at(req.runAt) })) }),
    async *watchTaskEvents(req, ctx) {
      // A stream answers nothing until its first event: a bad filter must fail here, at once.
      checkStrings("task_ids", req.taskIds, 1000);
      checkStrings("queues", req.queues, 100);
      for (const [i, id] of req.taskIds.entries()) checkName(`task_ids[${i}]`, id);
      for (const [i, q] of req.queues.entries()) checkName(`queues[${i}]`, q);
      const filter = { tenant: tenantOf(ctx), taskIds: req.taskIds, queues: req.queues, kinds: req.kinds.filter((k) => k !== 0).map(eventKindOf) };
      for await (const event of hub.watch(filter, ctx.signal)) yield { event: eventMessage(event) };
    },
    async getTaskStats(req, ctx) {
      const s = await E(ctx).getTaskStats({ date: req.date || undefined, queue: req.queue || undefined, topServersLimit: req.topServersLimit || undefined });
      return {
        date: s.date,
        totalTasks: BigInt(s.totalTasks),
        pendingTasks: BigInt(s.pendingTasks),
        runningTasks: BigInt(s.runningTasks),
        successfulTasks: BigInt(s.successfulTasks),
        failedTasks: BigInt(s.failedTasks),
        retriedTasks: BigInt(s.retriedTasks),
        cancelledTasks: BigInt(s.cancelledTasks),
        counts: countsMessage(s.counts),
        averageProcessingTime: durationFromMs(s.averageProcessingTimeMs),
        serverCount: BigInt(s.serverCount),
        topServers: s.topServers.map(workerStatMessage),
        hourlyTrend: s.hourlyTrend.map((h) => ({ hour: h.hour, tasks: BigInt(h.tasks) })),
        queues: s.queues.map((q) => ({ queue: q.queue, counts: countsMessage(q.counts), averageProcessingTime: durationFromMs(q.averageProcessingTimeMs) })),
      };
    },
    async getHourlyTaskStats(req, ctx) {
      const h = await E(ctx).getHourlyTaskStats({ date: req.date || undefined, queue: req.queue || undefined });
      return {
        date: h.date,
        hours: h.hours.map((x) => ({
          hour: x.hour,
          created: BigInt(x.created),
          completed: BigInt(x.completed),
          failed: BigInt(x.failed),
          averageTime: durationFromMs(x.averageTimeMs),
        })),
      };
    },
    async getWorkerTaskStats(req, ctx) {
      const w = await E(ctx).getWorkerTaskStats({ workerId: req.workerId, date: req.date || undefined });
      return { stats: workerStatMessage(w.stats), runningTasks: BigInt(w.runningTasks) };
    },
  };
}

/** QueueService: thin mappings from RPCs onto the task engine's queues and configs. */
export function queueService(engine: TaskEngine): Partial<ServiceImpl<typeof QueueService>> {
  const E = (ctx: HandlerContext) => engine.scoped(tenantOf(ctx));
  return {
    async listQueues(req, ctx) {
      const p = await E(ctx).listQueues(req);
      return { queues: p.items.map(queueMessage), nextPageToken: p.nextPageToken };
    },
    getQueue: async (req, ctx) => ({ queue: queueMessage(await E(ctx).getQueue(req.name)) }),
    pauseQueue: async (req, ctx) => ({ queue: queueMessage(await E(ctx).pauseQueue(req.name)) }),
    resumeQueue: async (req, ctx) => ({ queue: queueMessage(await E(ctx).resumeQueue(req.name)) }),
    async listQueueConfigs(req, ctx) {
      const p = await E(ctx).listQueueConfigs(req);
      return { configs: p.items.map(queueConfigMessage), nextPageToken: p.nextPageToken };
    },
    getQueueConfig: async (req, ctx) => ({ config: queueConfigMessage(await E(ctx).getQueueConfig(req.name)) }),
    createQueueConfig: async (req, ctx) => ({
      config: queueConfigMessage(await E(ctx).createQueueConfig(queueConfigOf(req.config!), req.requestId || undefined)),
    }),
    deleteQueueConfig: async (req, ctx) => ({ config: queueConfigMessage(await E(ctx).deleteQueueConfig(req.name)) }),
    async reloadQueueConfigs(_req, ctx) {
      const r = await E(ctx).reloadQueueConfigs();
      return { configs: r.configs.map(queueConfigMessage), added: r.added, updated: r.updated, removed: r.removed };
    },
  };
}
