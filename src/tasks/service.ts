import type { ServiceImpl } from "@connectrpc/connect";
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

/** TaskService: thin mappings from RPCs onto the task engine. */
export function taskService(engine: TaskEngine, hub: TaskEventHub): Partial<ServiceImpl<typeof TaskService>> {
  return {
    async createTask(req) {
      const { task, replayed } = await engine.createTask(newTask(req));
      return { task: taskMessage(task), replayed };
    },
    async batchCreateTasks(req) {
      return { tasks: (await engine.batchCreateTasks(req.requests.map(newTask))).map(taskMessage) };
    },
    getTask: (req) => ({ task: taskMessage(engine.getTask(req.id)) }),
    listTasks(req) {
      const p = engine.listTasks({
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
    listReadyTasks(req) {
      const { items, nextPageToken } = page(engine.listReadyTasks(req), taskMessage);
      return { tasks: items, nextPageToken };
    },
    listDeadLetterTasks(req) {
      const { items, nextPageToken } = page(engine.listDeadLetterTasks(req), taskMessage);
      return { tasks: items, nextPageToken };
    },
    async updateTask(req) {
      const task = await engine.updateTask({
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
    deleteTask: async (req) => ({ task: taskMessage(await engine.deleteTask(req.id)) }),
    async claimTask(req) {
      // An empty list is "not given" in proto3: no capability matching the caller did not ask for.
      const capabilities = req.capabilities.length > 0 ? req.capabilities : undefined;
      const a = await engine.claimTask({ id: req.id, workerId: req.workerId, leaseMs: ms(req.leaseDuration), capabilities });
      return { task: taskMessage(a.task), lease: leaseMessage(a.lease) };
    },
    async claimTasks(req) {
      const assignments = await engine.claimTasks({
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
      const session = engine.connectWorker(
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
            void engine.releaseTask({ id: m.assignment.task.id, fencingToken: m.assignment.lease.fencingToken }).catch(() => {});
          }
        }
      }
    },
    grantWorkerCredits: (req) => ({ credits: engine.grantWorkerCredits(req.sessionId, req.credits) }),
    async heartbeatTask(req) {
      const r = await engine.heartbeat({
        id: req.id,
        fencingToken: Number(req.fencingToken),
        leaseMs: ms(req.leaseDuration),
        progress: req.progress,
        progressMessage: req.progressMessage,
      });
      return { lease: leaseMessage(r.lease), cancelRequested: r.cancelRequested };
    },
    completeTask: async (req) => ({
      task: taskMessage(await engine.completeTask({ id: req.id, fencingToken: Number(req.fencingToken), result: jsonOf(req.result) })),
    }),
    async batchCompleteTasks(req) {
      const results = await engine.batchCompleteTasks(req.requests.map((r) => ({ id: r.id, fencingToken: Number(r.fencingToken), result: jsonOf(r.result) })));
      return {
        results: results.map((r) => (r.ok ? { id: r.id, ok: true } : { id: r.id, ok: false, errorReason: r.reason, errorMessage: r.message })),
      };
    },
    failTask: async (req) => ({
      task: taskMessage(
        await engine.failTask({ id: req.id, fencingToken: Number(req.fencingToken), error: taskErrorOf(req.error)!, retryDelayMs: ms(req.retryDelay) }),
      ),
    }),
    releaseTask: async (req) => ({
      task: taskMessage(
        await engine.releaseTask({ id: req.id, fencingToken: req.fencingToken === undefined ? undefined : Number(req.fencingToken), delayMs: ms(req.delay) }),
      ),
    }),
    async cancelTask(req) {
      const r = await engine.cancelTask({ id: req.id, reason: req.reason || undefined });
      return { task: taskMessage(r.task), cancelledDependents: r.cancelledDependents };
    },
    retryTask: async (req) => ({ task: taskMessage(await engine.retryTask({ id: req.id, runAt: at(req.runAt) })) }),
    async *watchTaskEvents(req, ctx) {
      // A stream answers nothing until its first event: a bad filter must fail here, at once.
      checkStrings("task_ids", req.taskIds, 1000);
      checkStrings("queues", req.queues, 100);
      for (const [i, id] of req.taskIds.entries()) checkName(`task_ids[${i}]`, id);
      for (const [i, q] of req.queues.entries()) checkName(`queues[${i}]`, q);
      const filter = { taskIds: req.taskIds, queues: req.queues, kinds: req.kinds.filter((k) => k !== 0).map(eventKindOf) };
      for await (const event of hub.watch(filter, ctx.signal)) yield { event: eventMessage(event) };
    },
    getTaskStats(req) {
      const s = engine.getTaskStats({ date: req.date || undefined, queue: req.queue || undefined, topServersLimit: req.topServersLimit || undefined });
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
    getHourlyTaskStats(req) {
      const h = engine.getHourlyTaskStats({ date: req.date || undefined, queue: req.queue || undefined });
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
    getWorkerTaskStats(req) {
      const w = engine.getWorkerTaskStats({ workerId: req.workerId, date: req.date || undefined });
      return { stats: workerStatMessage(w.stats), runningTasks: BigInt(w.runningTasks) };
    },
  };
}

/** QueueService: thin mappings from RPCs onto the task engine's queues and configs. */
export function queueService(engine: TaskEngine): Partial<ServiceImpl<typeof QueueService>> {
  return {
    listQueues(req) {
      const p = engine.listQueues(req);
      return { queues: p.items.map(queueMessage), nextPageToken: p.nextPageToken };
    },
    getQueue: (req) => ({ queue: queueMessage(engine.getQueue(req.name)) }),
    pauseQueue: async (req) => ({ queue: queueMessage(await engine.pauseQueue(req.name)) }),
    resumeQueue: async (req) => ({ queue: queueMessage(await engine.resumeQueue(req.name)) }),
    listQueueConfigs(req) {
      const p = engine.listQueueConfigs(req);
      return { configs: p.items.map(queueConfigMessage), nextPageToken: p.nextPageToken };
    },
    getQueueConfig: (req) => ({ config: queueConfigMessage(engine.getQueueConfig(req.name)) }),
    createQueueConfig: async (req) => ({
      config: queueConfigMessage(await engine.createQueueConfig(queueConfigOf(req.config!), req.requestId || undefined)),
    }),
    deleteQueueConfig: async (req) => ({ config: queueConfigMessage(await engine.deleteQueueConfig(req.name)) }),
    async reloadQueueConfigs() {
      const r = await engine.reloadQueueConfigs();
      return { configs: r.configs.map(queueConfigMessage), added: r.added, updated: r.updated, removed: r.removed };
    },
  };
}
