import type { Command } from "commander";
import { GetHealthResponseSchema, GetInfoResponseSchema, SystemService } from "../../../gen/switchyard/system/v1/system_service_pb.js";
import type { Ctx } from "../context.ts";
import { CliError, EXIT } from "../errors.ts";
import { render, short } from "../output.ts";

export function registerSystem(program: Command, ctx: () => Ctx): void {
  const api = () => ctx().client(SystemService);
  program
    .command("health")
    .description("the server's health and its components (exit 1 when not healthy)")
    .action(async () => {
      const c = ctx();
      const h = c.json(GetHealthResponseSchema, await api().getHealth({}, { timeoutMs: c.timeoutMs })).health;
      if (c.out.format !== "table") render(c.out, h, []);
      else {
        const rows = [{ name: "(server)", status: h.status, message: h.draining ? "draining" : "" }, ...(h.components ?? []).map((x: any) => ({ name: x.name, status: x.status, message: x.message ?? "" }))];
        render(c.out, rows, [
          ["COMPONENT", (r) => r.name],
          ["STATUS", (r) => short(r.status, "HEALTH_STATUS_")],
          ["MESSAGE", (r) => r.message],
        ]);
      }
      if (h.status !== "HEALTH_STATUS_HEALTHY") throw new CliError("", EXIT.error);
    });
  program
    .command("info")
    .description("server version, environment, uptime and engines")
    .action(async () => {
      const c = ctx();
      const info = c.json(GetInfoResponseSchema, await api().getInfo({}, { timeoutMs: c.timeoutMs }));
      if (c.out.format !== "table") return render(c.out, info, []);
      const rows = [
        ["server", c.server],
        ["version", info.version],
        ["environment", info.environment],
        ["started", info.start_time],
        ["uptime", info.uptime],
        ["auth required", info.auth_required],
        ...Object.entries(info.engines ?? {}).map(([k, v]) => [`engine ${k}`, v]),
      ];
      render(c.out, rows, [
        ["KEY", (r) => r[0]],
        ["VALUE", (r) => r[1]],
      ]);
    });
}
