import { create } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Command } from "commander";
import { parse as parseYaml } from "yaml";
import { QueueConfigSchema, QueueMode, QueueSchema } from "../../../gen/switchyard/tasks/v1/tasks_pb.js";
import { QueueService } from "../../../gen/switchyard/tasks/v1/queues_service_pb.js";
import type { Ctx } from "../context.ts";
import { CliError, EXIT } from "../errors.ts";
import { render, short, type Column } from "../output.ts";

const QUEUE_COLUMNS: Column[] = [
  ["NAME", (q) => q.name],
  ["PAUSED", (q) => q.paused],
  ["PENDING", (q) => q.counts?.pending],
  ["RUNNING", (q) => q.counts?.running],
  ["SUCCEEDED", (q) => q.counts?.succeeded],
  ["FAILED", (q) => q.counts?.failed],
  ["TOTAL", (q) => q.counts?.total],
];

const CONFIG_COLUMNS: Column[] = [
  ["NAME", (c) => c.name],
  ["PRIORITY", (c) => c.priority],
  ["MODE", (c) => short(c.mode, "QUEUE_MODE_")],
  ["TIMEOUT", (c) => c.default_timeout ?? ""],
  ["ATTEMPTS", (c) => c.default_max_attempts],
  ["CONCURRENCY", (c) => c.concurrency_limit],
  ["SOURCE", (c) => c.source],
];

/** Reads a queue config file: the runqy-style `queues:` map the server's reload reads too. */
export function parseConfigFile(text: string, file: string) {
  let doc: any;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new CliError(`${file}: not valid YAML: ${(e as Error).message}`, EXIT.usage);
  }
  const queues = doc?.queues;
  if (!queues || typeof queues !== "object" || Array.isArray(queues)) throw new CliError(`${file}: expected a top-level \`queues:\` map from queue name to settings`, EXIT.usage);
  return Object.entries(queues as Record<string, any>).map(([name, v]) => {
    v ??= {};
    const num = (k: string) => {
      const x = v[k];
      if (x === undefined || x === null) return undefined;
      if (typeof x !== "number") throw new CliError(`${file}: queues.${name}.${k} must be a number`, EXIT.usage);
      return x;
    };
    const timeout = num("default_timeout_secs") ?? num("timeout");
    const maxRetry = num("max_retry");
    const mode = v.mode === undefined ? QueueMode.UNSPECIFIED : QueueMode[String(v.mode).toUpperCase() as keyof typeof QueueMode];
    if (mode === undefined) throw new CliError(`${file}: queues.${name}.mode must be long_running or one_shot`, EXIT.usage);
    return create(QueueConfigSchema, {
      name,
      priority: num("priority") ?? 0,
      mode,
      defaultTimeout: timeout === undefined ? undefined : durationFromMs(Math.round(timeout * 1000)),
      defaultMaxAttempts: num("max_attempts") ?? (maxRetry === undefined ? 0 : maxRetry + 1),
      concurrencyLimit: num("concurrency") ?? num("concurrency_limit") ?? 0,
      deployment: v.deployment,
    });
  });
}

export function registerQueues(program: Command, ctx: () => Ctx): void {
  const queues = program.command("queues").description("queues and their configs");
  const api = () => ctx().client(QueueService);

  queues
    .command("list")
    .description("list queues with their counts")
    .action(async () => {
      const c = ctx();
      const out: unknown[] = [];
      let pageToken = "";
      do {
        const res = await api().listQueues({ pageSize: 1000, pageToken }, { timeoutMs: c.timeoutMs });
        out.push(...res.queues.map((q) => c.json(QueueSchema, q)));
        pageToken = res.nextPageToken;
      } while (pageToken);
      render(c.out, out, QUEUE_COLUMNS);
    });

  for (const [verb, text] of [
    ["get", "show one queue"],
    ["pause", "stop claims from a queue (running tasks finish)"],
    ["resume", "let a paused queue be claimed again"],
  ] as const) {
    queues
      .command(`${verb} <name>`)
      .description(text)
      .action(async (name: string) => {
        const c = ctx();
        const call = verb === "get" ? api().getQueue : verb === "pause" ? api().pauseQueue : api().resumeQueue;
        const res = await call({ name }, { timeoutMs: c.timeoutMs });
        render(c.out, c.json(QueueSchema, res.queue!), QUEUE_COLUMNS);
      });
  }

  const configs = queues.command("configs").description("queue configurations (priority, mode, defaults, concurrency)");
  configs
    .command("list")
    .description("list queue configs")
    .action(async () => {
      const c = ctx();
      const out: unknown[] = [];
      let pageToken = "";
      do {
        const res = await api().listQueueConfigs({ pageSize: 1000, pageToken }, { timeoutMs: c.timeoutMs });
        out.push(...res.configs.map((q) => c.json(QueueConfigSchema, q)));
        pageToken = res.nextPageToken;
      } while (pageToken);
      render(c.out, out, CONFIG_COLUMNS);
    });
  configs
    .command("get <name>")
    .description("show one queue config")
    .action(async (name: string) => {
      const c = ctx();
      render(c.out, c.json(QueueConfigSchema, (await api().getQueueConfig({ name }, { timeoutMs: c.timeoutMs })).config!), CONFIG_COLUMNS);
    });
  configs
    .command("apply")
    .description("create or replace the configs of a YAML file (runqy format: a `queues:` map)")
    .requiredOption("-f, --file <path>", "YAML file, or - for stdin")
    .action(async (o) => {
      const c = ctx();
      const text = o.file === "-" ? await c.io.stdin() : await Bun.file(o.file).text().catch(() => {
        throw new CliError(`cannot read ${o.file}`, EXIT.usage);
      });
      const out: unknown[] = [];
      for (const config of parseConfigFile(text, o.file)) {
        // No update RPC: an existing config is replaced (deleted, then created with the file's values).
        const res = await api()
          .createQueueConfig({ config }, { timeoutMs: c.timeoutMs })
          .catch(async (e) => {
            if (ConnectError.from(e).code !== Code.AlreadyExists) throw e;
            await api().deleteQueueConfig({ name: config.name }, { timeoutMs: c.timeoutMs });
            return api().createQueueConfig({ config }, { timeoutMs: c.timeoutMs });
          });
        out.push(c.json(QueueConfigSchema, res.config!));
      }
      render(c.out, out, CONFIG_COLUMNS);
    });
  configs
    .command("delete <name>")
    .description("delete a queue config")
    .action(async (name: string) => {
      const c = ctx();
      render(c.out, c.json(QueueConfigSchema, (await api().deleteQueueConfig({ name }, { timeoutMs: c.timeoutMs })).config!), CONFIG_COLUMNS);
    });
  configs
    .command("reload")
    .description("reload the server's queue config file (SWITCHYARD_QUEUE_CONFIG)")
    .action(async () => {
      const c = ctx();
      const res = await api().reloadQueueConfigs({}, { timeoutMs: c.timeoutMs });
      const data = { configs: res.configs.map((q) => c.json(QueueConfigSchema, q)), added: res.added, updated: res.updated, removed: res.removed };
      if (c.out.format !== "table") return render(c.out, data, []);
      render(c.out, [...res.added.map((n) => ({ n, w: "added" })), ...res.updated.map((n) => ({ n, w: "updated" })), ...res.removed.map((n) => ({ n, w: "removed" }))], [
        ["NAME", (r) => r.n],
        ["CHANGE", (r) => r.w],
      ]);
    });
}
