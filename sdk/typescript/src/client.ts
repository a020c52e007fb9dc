// The client half, browser-safe (no Node imports): give it any Connect transport —
// createConnectTransport / createGrpcWebTransport from @connectrpc/connect-web in a browser,
// grpcTransport() from "@switchyard/sdk/node" in Node or Bun.
import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import { Code, createClient, type Client, type Transport } from "@connectrpc/connect";
import { QueueService } from "./gen/switchyard/tasks/v1/queues_service_pb.js";
import { TaskService, type CreateTaskRequest } from "./gen/switchyard/tasks/v1/tasks_service_pb.js";
import { create } from "@bufbuild/protobuf";
import { CreateTaskRequestSchema } from "./gen/switchyard/tasks/v1/tasks_service_pb.js";
import { duration, FINAL_STATES, stateValue, taskEvent, taskInfo, toValue, type TaskEvent, type TaskInfo, type TaskStateName } from "./convert.ts";
import { SwitchyardError } from "./errors.ts";

/** Most creates in one BatchCreateTasks call (the server's limit). */
export const BATCH_LIMIT = 1000;

/** What `enqueue` takes besides queue, type and payload. */
export interface EnqueueOptions {
  id?: string;
  priority?: number;
  maxAttempts?: number;
  timeoutMs?: number;
  capabilities?: string[];
  dependsOn?: string[];
  tags?: string[];
  metadata?: JsonObject;
  title?: string;
  /** Idempotency key: a retried enqueue with the same key answers the first task. */
  requestId?: string;
  delayMs?: number;
}

export interface TaskSpec extends EnqueueOptions {
  queue: string;
  type?: string;
  payload?: JsonValue;
}

function createRequest(s: TaskSpec): CreateTaskRequest {
  return create(CreateTaskRequestSchema, {
    task: {
      queue: s.queue,
      type: s.type ?? "",
      id: s.id ?? "",
      payload: s.payload === undefined ? undefined : toValue(s.payload),
      priority: s.priority,
      maxAttempts: s.maxAttempts,
      timeout: duration(s.timeoutMs),
      requiredCapabilities: s.capabilities ?? [],
      dependsOn: s.dependsOn ?? [],
      tags: s.tags ?? [],
      metadata: s.metadata,
      title: s.title ?? "",
    },
    requestId: s.requestId ?? "",
    delay: duration(s.delayMs),
  });
}

async function call<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (e) {
    throw SwitchyardError.from(e);
  }
}

/** Enqueue, read, wait for and watch tasks. */
export class SwitchyardClient {
  readonly tasks: Client<typeof TaskService>;
  readonly queues: Client<typeof QueueService>;

  constructor(readonly transport: Transport) {
    this.tasks = createClient(TaskService, transport);
    this.queues = createClient(QueueService, transport);
  }

  /** Creates one task. */
  async enqueue(queue: string, type: string, payload?: JsonValue, opts: EnqueueOptions = {}): Promise<TaskInfo> {
    const res = await call(this.tasks.createTask(createRequest({ ...opts, queue, type, payload })));
    return taskInfo(res.task!);
  }

  /** Creates many tasks, 1,000 per durable commit, in order. */
  async enqueueMany(specs: Iterable<TaskSpec>): Promise<TaskInfo[]> {
    const out: TaskInfo[] = [];
    let batch: CreateTaskRequest[] = [];
    const flush = async () => {
      if (batch.length === 0) return;
      const res = await call(this.tasks.batchCreateTasks({ requests: batch }));
      out.push(...res.tasks.map(taskInfo));
      batch = [];
    };
    for (const s of specs) {
      batch.push(createRequest(s));
      if (batch.length === BATCH_LIMIT) await flush();
    }
    await flush();
    return out;
  }

  async get(id: string): Promise<TaskInfo> {
    return taskInfo((await call(this.tasks.getTask({ id }))).task!);
  }

  async cancel(id: string, reason = ""): Promise<TaskInfo> {
    return taskInfo((await call(this.tasks.cancelTask({ id, reason }))).task!);
  }

  async retry(id: string): Promise<TaskInfo> {
    return taskInfo((await call(this.tasks.retryTask({ id }))).task!);
  }

  /** Every task matching the filters, newest first, following pages. */
  async *list(filter: { queues?: string[]; states?: TaskStateName[]; type?: string; pageSize?: number } = {}): AsyncGenerator<TaskInfo> {
    let pageToken = "";
    do {
      const res = await call(
        this.tasks.listTasks({ queues: filter.queues, states: filter.states?.map(stateValue), type: filter.type, pageSize: filter.pageSize ?? 100, pageToken }),
      );
      for (const t of res.tasks) yield taskInfo(t);
      pageToken = res.nextPageToken;
    } while (pageToken);
  }

  /** Live task events (no replay) until `signal` aborts. */
  async *watch(filter: { taskIds?: string[]; queues?: string[] } = {}, signal?: AbortSignal): AsyncGenerator<TaskEvent> {
    try {
      for await (const m of this.tasks.watchTaskEvents({ taskIds: filter.taskIds, queues: filter.queues }, { signal })) yield taskEvent(m.event!);
    } catch (e) {
      if (signal?.aborted) return;
      throw SwitchyardError.from(e);
    }
  }

  /** Waits until the task is finished and answers it; rejects after `timeoutMs` or when `signal` aborts. */
  async wait(id: string, opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<TaskInfo> {
    const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) throw new SwitchyardError(Code.DeadlineExceeded, "WAIT_TIMEOUT", `task ${id} not finished in time`);
      opts.signal?.throwIfAborted();
      // Watch first, then read, so a change between the two is not missed; re-read every window.
      const window = new AbortController();
      const timer = setTimeout(() => window.abort(), Math.min(left, 2000));
      const onAbort = () => window.abort();
      opts.signal?.addEventListener("abort", onAbort);
      try {
        const stream = this.tasks.watchTaskEvents({ taskIds: [id] }, { signal: window.signal })[Symbol.asyncIterator]();
        const first = stream.next();
        first.catch(() => {});
        const task = await this.get(id);
        if (FINAL_STATES.has(task.state)) return task;
        for (let n = await first; !n.done; n = await stream.next()) {
          const e = taskEvent(n.value.event!);
          if (FINAL_STATES.has(e.task.state)) return e.task;
        }
      } catch (e) {
        const err = SwitchyardError.from(e);
        if (!window.signal.aborted && err.code !== Code.Unavailable) throw err;
        if (err.code === Code.Unavailable) await new Promise((r) => setTimeout(r, 200));
      } finally {
        clearTimeout(timer);
        opts.signal?.removeEventListener("abort", onAbort);
        window.abort();
      }
    }
  }

  /** Counts per state of one queue. */
  async queueCounts(queue: string): Promise<Record<string, number>> {
    const q = (await call(this.queues.getQueue({ name: queue }))).queue!;
    const c = q.counts!;
    return Object.fromEntries(Object.entries(c).filter(([k]) => k !== "$typeName").map(([k, v]) => [k, Number(v)]));
  }
}
