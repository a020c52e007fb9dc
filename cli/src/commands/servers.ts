// Workers and servers (ServerService) and the load balancer (LoadBalancerService).
import type { Command } from "commander";
import { LoadBalancerAlgorithm, LoadBalancerStatusSchema, ServerKind, ServerSchema } from "../../../gen/switchyard/servers/v1/servers_pb.js";
import { LoadBalancerService, ServerService, SetLoadBalancerAlgorithmResponseSchema } from "../../../gen/switchyard/servers/v1/servers_service_pb.js";
import { intArg, type Ctx } from "../context.ts";
import { CliError, EXIT } from "../errors.ts";
import { render, type Column } from "../output.ts";

const short = (v: unknown, prefix: string) => String(v ?? "").replace(prefix, "");
const SERVER_COLUMNS: Column[] = [
  ["ID", (s) => s.id],
  ["NAME", (s) => s.name],
  ["KIND", (s) => short(s.kind, "SERVER_KIND_")],
  ["STATUS", (s) => short(s.status, "SERVER_STATUS_")],
  ["ACTIVE", (s) => s.active_tasks],
  ["MAX", (s) => s.max_concurrent],
  ["HEARTBEAT", (s) => s.last_heartbeat_time ?? ""],
];
const LOAD_COLUMNS: Column[] = [
  ["SERVER", (s) => s.server_id],
  ["NAME", (s) => s.name],
  ["LOAD", (s) => s.load],
  ["ACTIVE", (s) => s.active_tasks],
  ["MAX", (s) => s.max_concurrent],
  ["WEIGHT", (s) => s.weight],
  ["AVAILABLE", (s) => s.available],
];
const ALGORITHMS: Record<string, LoadBalancerAlgorithm> = {
  "round-robin": LoadBalancerAlgorithm.ROUND_ROBIN,
  "least-connections": LoadBalancerAlgorithm.LEAST_CONNECTIONS,
  "weighted-round-robin": LoadBalancerAlgorithm.WEIGHTED_ROUND_ROBIN,
  random: LoadBalancerAlgorithm.RANDOM,
  "power-of-two-choices": LoadBalancerAlgorithm.POWER_OF_TWO_CHOICES,
};

function registerKind(program: Command, ctx: () => Ctx, name: string, kind: ServerKind, what: string): void {
  const cmd = program.command(name).description(what);
  const api = () => ctx().client(ServerService);
  cmd
    .command("list")
    .description(`list ${name}`)
    .option("--group <g>", "only this group")
    .option("--capability <c>", "only those having this capability")
    .option("-l, --limit <n>", `most ${name} to show`, "1000")
    .action(async (o) => {
      const c = ctx();
      const limit = intArg(o.limit, "--limit", 1, 100_000)!;
      const out: unknown[] = [];
      let pageToken = "";
      do {
        const res = await api().listServers({ kind, group: o.group ?? "", capability: o.capability ?? "", pageSize: Math.min(1000, limit - out.length), pageToken }, { timeoutMs: c.timeoutMs });
        out.push(...res.servers.map((s) => c.json(ServerSchema, s)));
        pageToken = res.nextPageToken;
      } while (pageToken && out.length < limit);
      render(c.out, out as never, SERVER_COLUMNS);
    });
  cmd
    .command("get <id>")
    .description(`show one of the ${name} by id`)
    .action(async (id: string) => {
      const c = ctx();
      const s = (await api().getServer({ id }, { timeoutMs: c.timeoutMs })).server!;
      if (kind !== ServerKind.UNSPECIFIED && s.kind !== kind) throw new CliError(`not_found: ${id} is not one of the ${name}`, EXIT.notFound);
      render(c.out, c.json(ServerSchema, s), SERVER_COLUMNS);
    });
  if (name === "servers")
    cmd
      .command("maintenance <id>")
      .description("turn maintenance on or off (a server in maintenance gets no new tasks)")
      .option("--on", "turn maintenance on")
      .option("--off", "turn maintenance off")
      .option("-r, --reason <text>", "why (shown in the server's maintenance info)")
      .action(async (id: string, o) => {
        const c = ctx();
        if (!!o.on === !!o.off) throw new CliError("give exactly one of --on, --off", EXIT.usage);
        const res = await api().setMaintenance({ id, enabled: !!o.on, reason: o.reason ?? "" }, { timeoutMs: c.timeoutMs });
        render(c.out, c.json(ServerSchema, res.server!), SERVER_COLUMNS);
      });
}

export function registerServers(program: Command, ctx: () => Ctx): void {
  registerKind(program, ctx, "workers", ServerKind.WORKER, "workers (servers of kind worker, which pull tasks)");
  registerKind(program, ctx, "servers", ServerKind.UNSPECIFIED, "servers: backends and workers");
  const lb = program.command("lb").description("the load balancer over backends");
  const api = () => ctx().client(LoadBalancerService);
  lb.command("status")
    .description("algorithm and per-backend load")
    .option("--group <g>", "only backends of this group")
    .action(async (o) => {
      const c = ctx();
      const st = c.json(LoadBalancerStatusSchema, (await api().getLoadBalancerStatus({ group: o.group ?? "" }, { timeoutMs: c.timeoutMs })).status!) as Record<string, unknown>;
      if (c.out.format !== "table") return render(c.out, st as never, []);
      c.out.write(`algorithm ${short(st.algorithm, "LOAD_BALANCER_ALGORITHM_")}  available ${st.available_count}  active ${st.total_active_tasks}/${st.total_capacity}  average load ${st.average_load}\n`);
      render(c.out, (st.servers ?? []) as never, LOAD_COLUMNS);
    });
  lb.command("algorithm <name>")
    .description(`set the algorithm: ${Object.keys(ALGORITHMS).join(", ")}`)
    .action(async (name: string) => {
      const c = ctx();
      const algorithm = ALGORITHMS[name.toLowerCase().replace(/_/g, "-")];
      if (algorithm === undefined) throw new CliError(`algorithm must be one of ${Object.keys(ALGORITHMS).join(", ")} (got ${name})`, EXIT.usage);
      const res = await api().setLoadBalancerAlgorithm({ algorithm }, { timeoutMs: c.timeoutMs });
      render(c.out, c.json(SetLoadBalancerAlgorithmResponseSchema, res), [
        ["ALGORITHM", (r) => short(r.algorithm, "LOAD_BALANCER_ALGORITHM_")],
        ["PREVIOUS", (r) => short(r.previous_algorithm, "LOAD_BALANCER_ALGORITHM_")],
      ]);
    });
}
