import { create, fromJson, type JsonValue } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromDate, ValueSchema } from "@bufbuild/protobuf/wkt";
import type { Command } from "commander";
import { TaskEventKind, TaskEventSchema, TaskSchema, TaskState } from "../../../gen/switchyard/tasks/v1/tasks_pb.js";
import { CreateTaskRequestSchema, TaskService } from "../../../gen/switchyard/tasks/v1/tasks_service_pb.js";
import { durationArg, follow, intArg, jsonArg, type Ctx } from "../context.ts";
import { CliError, EXIT } from "../errors.ts";
import { render, short, streamer, type Column } from "../output.ts";

export const TASK_COLUMNS: Column[] = [
  ["ID", (t) => t.id],
  ["QUEUE", (t) => t.queue],
  ["TYPE", (t) => t.type],
  ["STATE", (t) => short(t.state, "TASK_STATE_")],
  ["ATTEMPT", (t) => t.attempt],
  ["PRIORITY", (t) => t.priority ?? ""],
  ["WORKER", (t) => t.worker_id],
  ["CREATED", (t) => t.create_time],
];

const EVENT_COLUMNS: Column[] = [
  ["SEQ", (e) => e.sequence],
  ["TIME", (e) => e.time],
  ["KIND", (e) => short(e.kind, "TASK_EVENT_KIND_")],
  ["TASK", (e) => e.task?.id],
  ["STATE", (e) => short(e.task?.state, "TASK_STATE_")],
  ["QUEUE", (e) => e.task?.queue],
];
const EVENT_WIDTHS = [6, 24, 16, 30, 10];

const collect = (v: string, prev: string[] = []) => [...prev, v];

function stateArg(s: string): TaskState {
  const v = TaskState[s.toUpperCase().replace(/^TASK_STATE_/, "") as keyof typeof TaskState];
  if (v === undefined || v === TaskState.UNSPECIFIED) throw new CliError(`--state: unknown state ${s} (pending, blocked, running, succeeded, failed, cancelled, timed_out)`, EXIT.usage);
  return v;
}

function kindArg(s: string): TaskEventKind {
  const v = TaskEventKind[s.toUpperCase().replace(/^TASK_EVENT_KIND_/, "") as keyof typeof TaskEventKind];
  if (v === undefined || v === TaskEventKind.UNSPECIFIED) throw new CliError(`--kind: unknown event kind ${s}`, EXIT.usage);
  return v;
}

export function registerTasks(program: Command, ctx: () => Ctx): void {
  const tasks = program.command("tasks").description("create, list, read, watch and manage tasks");
  const api = () => ctx().client(TaskService);
  const show = (c: Ctx, t: unknown) => render(c.out, c.json(TaskSchema, t as never), TASK_COLUMNS);

  tasks
    .command("create")
    .description("create a task")
    .requiredOption("-q, --queue <queue>", "queue name")
    .option("-t, --type <type>", "task type", "")
    .option("-p, --payload <json>", "payload: JSON, @file or - (stdin)")
    .option("--id <id>", "choose the task id")
    .option("--priority <n>", "priority (higher first)")
    .option("--max-attempts <n>", "attempts before it fails for good")
    .option("--timeout <duration>", "time limit of one attempt (30s, 5m)")
    .option("--delay <duration>", "not before this much from now")
    .option("--capability <cap>", "required worker capability (repeatable)", collect)
    .option("--depends-on <id>", "wait for this task to succeed (repeatable)", collect)
    .option("--tag <tag>", "tag (repeatable)", collect)
    .option("--request-id <key>", "idempotency key: a retry answers the first task")
    .action(async (o) => {
      const c = ctx();
      const payload = (await jsonArg(c.io, o.payload, "--payload")) as JsonValue | undefined;
      const timeout = durationArg(o.timeout, "--timeout");
      const delay = durationArg(o.delay, "--delay");
      const req = create(CreateTaskRequestSchema, {
        task: {
          queue: o.queue,
          type: o.type,
          id: o.id ?? "",
          payload: payload === undefined ? undefined : fromJson(ValueSchema, payload),
          priority: intArg(o.priority, "--priority", -1_000_000, 1_000_000),
          maxAttempts: intArg(o.maxAttempts, "--max-attempts", 1, 1000),
          timeout: timeout === undefined ? undefined : durationFromMs(timeout),
          requiredCapabilities: o.capability ?? [],
          dependsOn: o.dependsOn ?? [],
          tags: o.tag ?? [],
        },
        requestId: o.requestId ?? "",
        delay: delay === undefined ? undefined : durationFromMs(delay),
      });
      const res = await api().createTask(req, { timeoutMs: c.timeoutMs });
      show(c, res.task);
    });

  tasks
    .command("list")
    .description("list tasks, newest first")
    .option("-q, --queue <queue>", "only this queue (repeatable)", collect)
    .option("-s, --state <state>", "only this state (repeatable)", collect)
    .option("-t, --type <type>", "only this type")
    .option("--worker <id>", "only tasks held or last held by this worker")
    .option("--tag <tag>", "only tasks with this tag")
    .option("--capability <cap>", "only tasks requiring this capability")
    .option("-l, --limit <n>", "most tasks to show (pages are followed)", "50")
    .action(async (o) => {
      const c = ctx();
      const limit = intArg(o.limit, "--limit", 1, 100_000)!;
      const states = (o.state ?? []).map(stateArg);
      const out: unknown[] = [];
      let pageToken = "";
      do {
        const res = await api().listTasks(
          { queues: o.queue ?? [], states, type: o.type ?? "", workerId: o.worker ?? "", tag: o.tag ?? "", capability: o.capability ?? "", pageSize: Math.min(1000, limit - out.length), pageToken },
          { timeoutMs: c.timeoutMs },
        );
        out.push(...res.tasks.map((t) => c.json(TaskSchema, t)));
        pageToken = res.nextPageToken;
      } while (pageToken && out.length < limit);
      render(c.out, out, TASK_COLUMNS);
    });

  tasks
    .command("get <id>")
    .description("show one task")
    .action(async (id: string) => {
      const c = ctx();
      show(c, (await api().getTask({ id }, { timeoutMs: c.timeoutMs })).task);
    });

  tasks
    .command("watch")
    .description("stream task events as they are committed (live; no replay)")
    .option("--task <id>", "only this task (repeatable)", collect)
    .option("-q, --queue <queue>", "only this queue (repeatable)", collect)
    .option("-k, --kind <kind>", "only this event kind (repeatable): created, claimed, succeeded…", collect)
    .option("--for <duration>", "stop after this long (exit 0)")
    .option("-n, --count <n>", "stop after this many events")
    .action(async (o) => {
      const c = ctx();
      const print = streamer(c.out, EVENT_COLUMNS, EVENT_WIDTHS);
      const kinds = (o.kind ?? []).map(kindArg);
      await follow(
        (signal) => api().watchTaskEvents({ taskIds: o.task ?? [], queues: o.queue ?? [], kinds }, { signal }),
        (m) => print(c.json(TaskEventSchema, m.event!)),
        { timeoutMs: durationArg(o.for, "--for"), count: intArg(o.count, "--count", 1) },
      );
    });

  tasks
    .command("cancel <id>")
    .description("cancel a pending, blocked or running task (and its unfinished dependents)")
    .option("-r, --reason <text>", "why", "")
    .action(async (id: string, o) => {
      const c = ctx();
      show(c, (await api().cancelTask({ id, reason: o.reason }, { timeoutMs: c.timeoutMs })).task);
    });

  tasks
    .command("retry <id>")
    .description("retry a failed, timed-out or cancelled task")
    .option("--at <time>", "not before this time (ISO 8601)")
    .action(async (id: string, o) => {
      const c = ctx();
      let runAt;
      if (o.at) {
        const d = new Date(o.at);
        if (Number.isNaN(d.getTime())) throw new CliError(`--at must be an ISO 8601 time (got ${o.at})`, EXIT.usage);
        runAt = timestampFromDate(d);
      }
      show(c, (await api().retryTask({ id, runAt }, { timeoutMs: c.timeoutMs })).task);
    });

  tasks
    .command("delete <id>")
    .description("delete a task in any state")
    .action(async (id: string) => {
      const c = ctx();
      show(c, (await api().deleteTask({ id }, { timeoutMs: c.timeoutMs })).task);
    });
}
