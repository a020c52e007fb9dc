import type { Command } from "commander";
import { LeaseSchema } from "../../../gen/switchyard/mail/v1/mail_pb.js";
import { LeaseService } from "../../../gen/switchyard/mail/v1/lease_service_pb.js";
import { intArg, type Ctx } from "../context.ts";
import { render, type Column } from "../output.ts";

const LEASE_COLUMNS: Column[] = [
  ["PATH", (l) => l.path],
  ["HOLDER", (l) => l.holder],
  ["TOKEN", (l) => l.fencing_token],
  ["ACQUIRED", (l) => l.acquire_time],
  ["EXPIRES", (l) => l.expire_time],
];

export function registerLeases(program: Command, ctx: () => Ctx): void {
  const leases = program.command("leases").description("file leases (advisory locks on paths)");
  const api = () => ctx().client(LeaseService);

  leases
    .command("list")
    .description("list live leases")
    .option("--prefix <path>", "only paths starting with this")
    .option("--holder <id>", "only leases of this holder")
    .option("-l, --limit <n>", "most leases to show", "1000")
    .action(async (o) => {
      const c = ctx();
      const limit = intArg(o.limit, "--limit", 1, 100_000)!;
      const out: unknown[] = [];
      let pageToken = "";
      do {
        const res = await api().listLeases({ prefix: o.prefix ?? "", holder: o.holder ?? "", pageSize: Math.min(1000, limit - out.length), pageToken }, { timeoutMs: c.timeoutMs });
        out.push(...res.leases.map((l) => c.json(LeaseSchema, l)));
        pageToken = res.nextPageToken;
      } while (pageToken && out.length < limit);
      render(c.out, out, LEASE_COLUMNS);
    });

  leases
    .command("get <path>")
    .description("show the lease on a path")
    .action(async (path: string) => {
      const c = ctx();
      render(c.out, c.json(LeaseSchema, (await api().getLease({ path }, { timeoutMs: c.timeoutMs })).lease!), LEASE_COLUMNS);
    });

  leases
    .command("release <path>")
    .description("release the lease on a path (with --fencing-token, only that holder's; else whoever holds it now)")
    .option("--fencing-token <n>", "release only if this is the current token")
    .action(async (path: string, o) => {
      const c = ctx();
      const token = o.fencingToken !== undefined ? BigInt(intArg(o.fencingToken, "--fencing-token", 0)!) : (await api().getLease({ path }, { timeoutMs: c.timeoutMs })).lease!.fencingToken;
      const res = await api().releaseLease({ path, fencingToken: token }, { timeoutMs: c.timeoutMs });
      render(c.out, c.json(LeaseSchema, res.lease!), LEASE_COLUMNS);
    });
}
